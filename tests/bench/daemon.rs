//! The daemon backend's figures: a tool call through the server on
//! `OSQUERY_BACKEND=daemon` against a fake osqueryd that answers at once,
//! interleaved with the same query from a direct Thrift client on its own
//! connection, so both see the same machine. The server's CPU per call is
//! its own threads' (the fake runs in this process).
//!
//! The fake is the smallest that serves the wire: a thread per connection,
//! one request at a time, the stand-in's canned rows of the table after FROM
//! (`users`: 35 rows, as the osqueryi figures use; `system_info`: one).

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mcp_osquery_server::osquery::thrift::{Request, read_reply, send};
use serde_json::{Map, Value, json};

use mcp_osquery_server::guard::TablePolicy;
use mcp_osquery_server::tools;

use super::{Bench, check_ok, cpu_ms, fail, initialize, ms, round2, summary, tool_call};

const T_STOP: u8 = 0;
const T_I32: u8 = 8;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_LIST: u8 = 15;

/// The tables the fake serves, one per tool measured.
const TABLES: [&str; 2] = ["users", "system_info"];

/// The server's and a direct client's time per call: for one row, for 35,
/// and for 35 without redaction (what masking secrets costs).
pub fn latency(b: &Bench, calls: usize) -> Value {
    let socket = start_fake(&b.scratch.dir, &b.standin);
    let runs = [
        ("system_info", "system_info", "1"),
        ("users", "users", "1"),
        ("users, REDACT=0", "users", "0"),
    ];
    let figures: Map<String, Value> = runs
        .iter()
        .map(|(label, tool, redact)| {
            let figures = latency_of(b, &socket, tool, &[("REDACT", redact)], calls);
            (label.to_string(), figures)
        })
        .collect();
    Value::Object(figures)
}

fn latency_of(b: &Bench, socket: &Path, tool: &str, vars: &[(&str, &str)], calls: usize) -> Value {
    let socket_arg = socket.display().to_string();
    let mut env = vec![
        ("OSQUERY_BACKEND", "daemon"),
        ("OSQUERY_SOCKET", &socket_arg),
    ];
    env.extend_from_slice(vars);
    let mut c = b.spawn(Path::new("/nonexistent/osqueryi"), &env);
    c.send(&initialize(1));
    c.read_reply();
    let sql = tools::find(tool)
        .and_then(|t| tools::plan(t, &Map::new(), &TablePolicy::default()).ok())
        .map(|p| p.sql)
        .unwrap_or_else(|| fail(&format!("no plan for {tool}")));
    let stream = UnixStream::connect(socket).unwrap_or_else(|e| fail(&format!("{e}")));
    let mut writer = stream.try_clone().unwrap_or_else(|e| fail(&format!("{e}")));
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let (mut via_server, mut direct) = (Vec::new(), Vec::new());
    let warm = 20;
    let mut cpu_before = None;
    for i in 0..calls + warm {
        if i == warm {
            cpu_before = cpu_ms(c.pid());
        }
        let started = Instant::now();
        c.send(&tool_call(i as i64 + 10, tool, json!({})));
        let reply = c.read_reply();
        let t_server = ms(started.elapsed());
        check_ok(&reply);
        let started = Instant::now();
        let seq = i as i32 + 1;
        let mut rows = 0;
        send(&mut writer, Request::Query(&sql), seq)
            .and_then(|()| {
                read_reply(&mut reader, Request::Query(&sql), seq, 10 << 20, |_| {
                    rows += 1
                })
            })
            .unwrap_or_else(|e| fail(&format!("direct Thrift call: {e}")));
        let t_direct = ms(started.elapsed());
        if rows == 0 {
            fail("the fake osqueryd answered no rows");
        }
        if i >= warm {
            via_server.push(t_server);
            direct.push(t_direct);
        }
    }
    let cpu_per_call = cpu_ms(c.pid())
        .zip(cpu_before)
        .map(|(after, before)| round2((after - before) / calls as f64));
    c.finish();
    let s = summary(&mut via_server);
    let d = summary(&mut direct);
    let overhead = s["median"]
        .as_f64()
        .zip(d["median"].as_f64())
        .map(|(s, d)| round2(s - d));
    json!({
        "query": sql,
        "server_ms": s,
        "direct_thrift_ms": d,
        "overhead_ms": overhead,
        "server_cpu_ms_per_call": cpu_per_call,
    })
}

/// Starts the fake osqueryd on a socket in `dir`; it lives as long as the
/// bench.
fn start_fake(dir: &Path, standin: &Path) -> PathBuf {
    let path = dir.join("osquery.em");
    let listener = UnixListener::bind(&path).unwrap_or_else(|e| fail(&format!("bind: {e}")));
    // The rows the stand-in's tables hold, as the osqueryi path gets them.
    let bodies: HashMap<String, Vec<u8>> = TABLES
        .iter()
        .map(|table| {
            let file = standin
                .with_file_name("tables")
                .join(format!("{table}.rows"));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", file.display())));
            let rows: Vec<Map<String, Value>> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            (format!("FROM {table}"), rows_body(&rows))
        })
        .collect();
    let bodies = Arc::new(bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let bodies = Arc::clone(&bodies);
            std::thread::spawn(move || serve(stream, &bodies));
        }
    });
    path
}

fn serve(stream: UnixStream, bodies: &HashMap<String, Vec<u8>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(read_half);
    let mut w = stream;
    while let Ok((method, seq, sql)) = read_call(&mut r) {
        let body = bodies
            .iter()
            .find(|(from, _)| sql.contains(from.as_str()))
            .map_or(&[][..], |(_, body)| body.as_slice());
        let mut out = Vec::with_capacity(body.len() + 32);
        out.extend(0x8001_0002u32.to_be_bytes());
        put_string(&mut out, &method);
        out.extend(seq.to_be_bytes());
        if method == "ping" {
            out.extend([T_STRUCT, 0, 0]);
            put_status(&mut out);
            out.push(T_STOP);
        } else if body.is_empty() {
            // Not a table the bench asks for: an empty answer shows up as
            // a failed check.
            out.extend(rows_body(&[]));
        } else {
            out.extend_from_slice(body);
        }
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

/// A call's method, sequence id and SQL (empty for ping).
fn read_call(r: &mut impl Read) -> io::Result<(String, i32, String)> {
    let mut word = [0; 4];
    r.read_exact(&mut word)?;
    let method = read_string(r)?;
    r.read_exact(&mut word)?;
    let seq = i32::from_be_bytes(word);
    let mut sql = String::new();
    loop {
        let mut ty = [0; 1];
        r.read_exact(&mut ty)?;
        match ty[0] {
            T_STOP => return Ok((method, seq, sql)),
            T_STRING => {
                r.read_exact(&mut [0; 2])?;
                sql = read_string(r)?;
            }
            _ => return Err(io::ErrorKind::InvalidData.into()),
        }
    }
}

fn read_string(r: &mut impl Read) -> io::Result<String> {
    let mut len = [0; 4];
    r.read_exact(&mut len)?;
    let len = usize::try_from(i32::from_be_bytes(len)).map_err(|_| io::ErrorKind::InvalidData)?;
    let mut buf = vec![0; len];
    r.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as i32).to_be_bytes());
    out.extend(s.as_bytes());
}

/// `ExtensionStatus {1: code 0, 2: "OK"}` and its stop.
fn put_status(out: &mut Vec<u8>) {
    out.extend([T_I32, 0, 1]);
    out.extend(0i32.to_be_bytes());
    out.extend([T_STRING, 0, 2]);
    put_string(out, "OK");
    out.push(T_STOP);
}

/// A query reply after its header: the result struct holding the response
/// (status, then the rows).
fn rows_body(rows: &[Map<String, Value>]) -> Vec<u8> {
    let mut out = vec![T_STRUCT, 0, 0, T_STRUCT, 0, 1];
    put_status(&mut out);
    out.extend([T_LIST, 0, 2, T_MAP]);
    out.extend((rows.len() as i32).to_be_bytes());
    for row in rows {
        out.extend([T_STRING, T_STRING]);
        out.extend((row.len() as i32).to_be_bytes());
        for (k, v) in row {
            put_string(&mut out, k);
            put_string(&mut out, v.as_str().unwrap_or_default());
        }
    }
    out.extend([T_STOP, T_STOP]);
    out
}
