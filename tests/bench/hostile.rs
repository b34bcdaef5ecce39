//! Hostile sizes: request ids and progress tokens of 8 MiB (issue 12). The
//! server must answer every line, refusals included, stay under its memory
//! target while doing so, and give the memory back afterwards.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{fail, round2, status_kib};

const EIGHT_MIB: usize = 8 * 1024 * 1024;

/// `calls` tool calls, each with its own 8 MiB `_meta.progressToken`.
pub fn big_tokens(server: &Path, osqueryi: &Path, calls: usize) -> Value {
    let filler = "x".repeat(EIGHT_MIB);
    flood(
        server,
        osqueryi,
        "8 MiB progress tokens",
        calls,
        Duration::ZERO,
        |i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"processes","arguments":{{"limit":{}}},"_meta":{{"progressToken":"t{i}-{filler}"}}}}}}"#,
                100 + i,
                i + 1
            )
        },
    )
}

/// `pings` pings, each with its own 8 MiB string id.
pub fn big_ids(server: &Path, osqueryi: &Path, pings: usize) -> Value {
    let filler = "x".repeat(EIGHT_MIB);
    flood(server, osqueryi, "8 MiB ids", pings, Duration::ZERO, |i| {
        format!(r#"{{"jsonrpc":"2.0","id":"p{i}-{filler}","method":"ping"}}"#)
    })
}

/// `calls` distinct calls that each return about 4 MB, from a client that
/// starts reading 5 s after it sent them: what waits for it is the writer's
/// outbox (and workers holding finished answers).
pub fn slow_reader(server: &Path, huge: &Path, calls: usize) -> Value {
    let late = Duration::from_secs(5);
    flood(
        server,
        huge,
        "4 MB results read 5 s late",
        calls,
        late,
        |i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"custom_query","arguments":{{"sql":"SELECT * FROM users WHERE uid >= {i}"}}}}}}"#,
                100 + i
            )
        },
    )
}

/// Sends `n` lines from `line` as fast as the server reads them, as a client
/// that reads its answers late: `late` after it has written everything, or
/// after writing has taken 5 s (a server that waits for the client to read
/// would otherwise wait for ever, as would the client). Reports the peak RSS,
/// the RSS once all were answered, and how many responses came back (one per
/// line is the promise).
fn flood(
    server: &Path,
    osqueryi: &Path,
    what: &str,
    n: usize,
    late: Duration,
    line: impl Fn(usize) -> String,
) -> Value {
    let mut child = Command::new(server)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("OSQUERY_PATH", osqueryi)
        .env("RATE_LIMIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start the server: {e}")));
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap_or_else(|| fail("no stdin"));
    let stdout = child.stdout.take().unwrap_or_else(|| fail("no stdout"));
    // Each response, as the length of its line, the moment it arrives.
    let (tx, rx) = mpsc::channel::<usize>();
    let (go, wait) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut buf = Vec::new();
        let mut first = true;
        loop {
            buf.clear();
            match out.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            // A notification has a method; anything else is a response.
            let v: Value = serde_json::from_slice(&buf).unwrap_or(Value::Null);
            if v.get("method").is_none() && tx.send(buf.len()).is_err() {
                return;
            }
            // The handshake's answer is read at once, the rest late.
            if std::mem::take(&mut first) {
                let _ = wait.recv_timeout(Duration::from_secs(5));
                std::thread::sleep(late);
            }
        }
    });
    let send = |stdin: &mut std::process::ChildStdin, text: &str| {
        stdin
            .write_all(text.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| fail(&format!("write to server: {e}")));
    };
    send(&mut stdin, &super::initialize(1).to_string());
    let _ = rx.recv();
    let hwm_before = status_kib(pid, "VmHWM");
    let started = Instant::now();
    for i in 0..n {
        send(&mut stdin, &line(i));
    }
    let _ = go.send(());
    let mut answered = 0;
    let mut largest = 0;
    while answered < n {
        match rx.recv() {
            Ok(len) => {
                answered += 1;
                largest = largest.max(len);
            }
            Err(_) => break,
        }
    }
    let wall = started.elapsed();
    let peak = status_kib(pid, "VmHWM");
    // One small round trip more, so the server has finished with the last
    // big line before its RSS is read.
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":"after","method":"ping"}"#,
    );
    let _ = rx.recv();
    let after = status_kib(pid, "VmRSS");
    drop(stdin);
    let status = child.wait().ok();
    let _ = reader.join();
    let mib = |k: Option<u64>| k.map(|k| round2(k as f64 / 1024.0));
    json!({
        "what": what,
        "lines": n,
        "answered": answered,
        "largest_answer_bytes": largest,
        "hwm_before_mib": mib(hwm_before),
        "peak_mib": mib(peak),
        "rss_after_mib": mib(after),
        "wall_ms": round2(wall.as_secs_f64() * 1000.0),
        "exit": status.map(|s| s.to_string()),
    })
}
