//! `make bench`: start-up, memory, per-call overhead and concurrency of the
//! release server against the fixture stand-in, printed as a table and saved
//! as JSON (`bench-results.json` at the repo root and under `target/`).
//!
//! Usage: bench SERVER_BINARY OSQUERYI [--quick] [--memory] [--hostile]
//!
//! `--memory` runs only the peak-RSS cases (e.g. to compare another build's
//! binary with the same stand-in); `--hostile` only the hostile-size
//! measures of `hostile.rs`.
//!
//! Only std, serde_json and the project's own library: every figure comes from
//! wall clocks around real processes and from `/proc/PID/status`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_osquery_server::config::{QUEUE_CAPACITY, WORKERS};
use mcp_osquery_server::guard::TablePolicy;
use mcp_osquery_server::tools;
use serde_json::{Map, Value, json};

mod daemon;
mod hostile;

/// "10 MB" as a user means it: the largest osqueryi output whose rows still fit
/// in one MCP message (10 MiB), with the text copy left out.
const TEN_MB: usize = 10_000_000;

/// One result of many small rows: `SELECT 1 AS a` 800,000 times, as osqueryi
/// prints it (`  {"a":"1"},` a row).
const ROWS_800K_BYTES: usize = 10_400_003;

/// A result for the peak-RSS cases: how the stand-in makes it, what the
/// server is told, and the target for one and for five at once.
struct MemoryCase {
    name: &'static str,
    standin: &'static [(&'static str, &'static str)],
    server: &'static [(&'static str, &'static str)],
    output_bytes: usize,
    targets: [&'static str; 2],
}

const MEMORY_CASES: &[MemoryCase] = &[
    MemoryCase {
        name: "10 MB result of 1 kB rows",
        standin: &[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "10000000")],
        server: &[],
        output_bytes: TEN_MB,
        targets: ["", "< 150 MiB; no worse than before"],
    },
    MemoryCase {
        name: "800,000 one-column rows (10.4 MB)",
        standin: &[("STANDIN_MODE", "rows"), ("STANDIN_ROWS", "800000")],
        server: &[],
        output_bytes: ROWS_800K_BYTES,
        targets: ["<= 60 MiB", "<= 150 MiB"],
    },
    MemoryCase {
        name: "800,000 one-column rows, MAX_TEXT_BYTES=10 MiB (pages of ~9 MB)",
        standin: &[("STANDIN_MODE", "rows"), ("STANDIN_ROWS", "800000")],
        server: &[("MAX_TEXT_BYTES", "10485760")],
        output_bytes: ROWS_800K_BYTES,
        targets: ["", ""],
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(server), Some(standin)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench SERVER_BINARY OSQUERYI [--quick] [--memory] [--hostile]");
        std::process::exit(2);
    };
    let quick = args.iter().any(|a| a == "--quick");
    let memory_only = args.iter().any(|a| a == "--memory");
    let server = absolute(server);
    let standin = absolute(standin);
    let scratch = Scratch::new();
    let hostile = || {
        eprintln!("bench: 60 calls with 8 MiB progress tokens, 40 pings with 8 MiB ids…");
        let huge = scratch.wrapper(
            "huge4",
            &[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "4000000")],
            &standin,
        );
        eprintln!("bench: 30 results of 4 MB read late…");
        json!([
            hostile::big_tokens(&server, &standin, 60),
            hostile::big_ids(&server, &standin, 40),
            hostile::slow_reader(&server, &huge, 30),
        ])
    };
    if args.iter().any(|a| a == "--hostile") {
        let report = json!({ "hostile": hostile() });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return;
    }
    let b = Bench {
        server: server.clone(),
        standin: standin.clone(),
        scratch: &scratch,
    };

    if memory_only {
        let report = json!({ "server": server.display().to_string(), "huge": b.memory_cases() });
        print_table(&report);
        return;
    }
    let runs = if quick { 10 } else { 40 };
    let calls = if quick { 30 } else { 150 };
    eprintln!("bench: start-up ({runs} runs)…");
    let startup = b.startup(runs);
    eprintln!("bench: idle RSS…");
    let idle = b.idle_rss();
    eprintln!("bench: per-call latency ({calls} calls each way)…");
    let latency = b.latency(&standin, calls);
    // Real osqueryi takes about 0.25 s to answer `select 1` (osquery issue
    // #6383); the same comparison against a stand-in that takes that long
    // shows the server's cost relative to what users actually wait for.
    eprintln!("bench: per-call latency against a 250 ms osqueryi…");
    let sleeper = scratch.sleeper("sleep250", "0.25");
    let latency_250 = b.latency(&sleeper, if quick { 5 } else { 20 });
    let daemon_calls = if quick { 200 } else { 1000 };
    eprintln!("bench: per-call latency through osqueryd's socket ({daemon_calls} calls each way)…");
    let latency_daemon = daemon::latency(&b, daemon_calls);
    let mut concurrency = Vec::new();
    for n in [10, 50, 200] {
        eprintln!("bench: {n} concurrent 100 ms calls…");
        concurrency.push(b.concurrent(n));
    }
    let memory = b.memory_cases();
    let hostile = hostile();
    let sizes = binary_sizes(&server);

    let report = json!({
        "server": server.display().to_string(),
        "startup_ms": startup,
        "idle_rss_kib": idle,
        "latency": latency,
        "latency_250ms": latency_250,
        "latency_daemon": latency_daemon,
        "concurrency": concurrency,
        "huge": memory,
        "hostile": hostile,
        "binary_bytes": sizes,
        "note_concurrency": "distinct arguments per call (no coalescing); at most 64 calls in flight (the queue's capacity), the next sent as each answer arrives; errors counts calls answered with an error (busy)",
    });
    print_table(&report);
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for path in [
        repo.join("bench-results.json"),
        repo.join("target/bench-results.json"),
    ] {
        match std::fs::write(&path, &text) {
            Ok(()) => eprintln!("bench: wrote {}", path.display()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", path.display()),
        }
    }
}

struct Bench<'a> {
    server: PathBuf,
    standin: PathBuf,
    scratch: &'a Scratch,
}

impl Bench<'_> {
    fn spawn(&self, osqueryi: &Path, extra: &[(&str, &str)]) -> Conn {
        let mut cmd = Command::new(&self.server);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("OSQUERY_PATH", osqueryi)
            .env("RATE_LIMIT", "0");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Conn::spawn(cmd)
    }

    /// Process start to the `initialize` response, median and spread.
    fn startup(&self, runs: usize) -> Value {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let mut c = self.spawn(&self.standin, &[]);
            c.send(&initialize(1));
            c.read_reply();
            times.push(ms(started.elapsed()));
            c.finish();
        }
        summary(&mut times)
    }

    /// VmRSS right after the handshake, and VmHWM so far.
    fn idle_rss(&self) -> Value {
        let mut c = self.spawn(&self.standin, &[]);
        c.send(&initialize(1));
        c.read_reply();
        c.send_raw("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        c.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
        c.read_reply();
        let rss = status_kib(c.pid(), "VmRSS");
        let hwm = status_kib(c.pid(), "VmHWM");
        c.finish();
        json!({ "vm_rss": rss, "vm_hwm": hwm })
    }

    /// The same query through the server and straight to the stand-in with the
    /// arguments the server passes, interleaved so both see the same machine.
    fn latency(&self, osqueryi: &Path, calls: usize) -> Value {
        // The server's own niceness would slow the child on a busy machine;
        // the direct run gets none, so neither does the server's child here.
        let mut c = self.spawn(osqueryi, &[("OSQUERY_NICE", "0")]);
        c.send(&initialize(1));
        c.read_reply();
        let sql = users_sql();
        // The server's default policy, as the bench's server runs with it.
        let policy = TablePolicy::default();
        let home = self.scratch.dir.join("home");
        let _ = std::fs::create_dir_all(&home);
        let (mut via_server, mut direct, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        let cpu_before = cpu_ms(c.pid());
        for i in 0..calls + 5 {
            let started = Instant::now();
            c.send(&tool_call(i as i64 + 10, "users", json!({})));
            let reply = c.read_reply();
            let t_server = ms(started.elapsed());
            check_ok(&reply);
            let started = Instant::now();
            run_direct(osqueryi, &sql, &policy.disable_tables_flag(), &home);
            let t_direct = ms(started.elapsed());
            // The first few warm the page cache and the shell.
            if i >= 5 {
                via_server.push(t_server);
                direct.push(t_direct);
                ratio.push(t_server / t_direct);
            }
        }
        // The server's own threads only: osqueryi's CPU is its children's.
        let cpu_per_call = cpu_ms(c.pid())
            .zip(cpu_before)
            .map(|(after, before)| round2((after - before) / (calls + 5) as f64));
        c.finish();
        let s = summary(&mut via_server);
        let d = summary(&mut direct);
        let (sm, dm) = (s["median"].as_f64(), d["median"].as_f64());
        let overhead_ms = sm.zip(dm).map(|(s, d)| s - d);
        let overhead_pct = sm.zip(dm).map(|(s, d)| (s - d) * 100.0 / d);
        // Each pair ran back to back on the same machine state: the median of
        // their ratios is the least noisy figure.
        let pair = summary(&mut ratio)["median"].as_f64();
        json!({
            "query": sql,
            "median_pair_ratio": pair.map(|r| (r * 10000.0).round() / 10000.0),
            "pair_overhead_percent": pair.map(|r| round2((r - 1.0) * 100.0)),
            "server_cpu_ms_per_call": cpu_per_call,
            "server_ms": s,
            "direct_ms": d,
            "overhead_ms": overhead_ms.map(round2),
            "overhead_percent": overhead_pct.map(round2),
        })
    }

    /// `n` calls to a stand-in that takes 100 ms each, never more than 64 in
    /// flight. The server admits 5 running + 64 queued, but a worker sends an
    /// answer a moment before it takes the next call from the queue, so a
    /// client that refills up to 69 on each answer is sometimes told "busy";
    /// 64 in flight can never overflow the queue and still keeps all five
    /// workers busy.
    fn concurrent(&self, n: usize) -> Value {
        // A stand-in that does nothing but take 100 ms: the fixture's own
        // shell pipeline would add its CPU cost on a two-core machine.
        let slow = self.scratch.sleeper("sleep100", "0.1");
        let mut c = self.spawn(&slow, &[]);
        c.send(&initialize(1));
        c.read_reply();
        let window = QUEUE_CAPACITY;
        // Distinct arguments, so that no call joins another's run.
        let call = |i: usize| tool_call(1000 + i as i64, "processes", json!({"limit": i + 1}));
        let started = Instant::now();
        let mut sent = 0;
        while sent < n.min(window) {
            c.send(&call(sent));
            sent += 1;
        }
        let (mut done, mut busy) = (0, 0);
        while done < n {
            let reply = c.read_reply();
            done += 1;
            if reply["result"]["isError"] == true {
                busy += 1;
            }
            if sent < n {
                c.send(&call(sent));
                sent += 1;
            }
        }
        let wall = ms(started.elapsed());
        c.finish();
        let ideal = (n.div_ceil(WORKERS) as f64) * 100.0;
        // The same n runs without the server: five threads each starting the
        // stand-in directly; this is the best any server could do here.
        let direct = direct_pool(&slow, n, &self.scratch.dir);
        json!({
            "calls": n,
            "wall_ms": round2(wall),
            "ideal_ms": ideal,
            "over_ideal_percent": round2((wall - ideal) * 100.0 / ideal),
            "direct_pool_ms": round2(direct),
            "over_direct_pool_percent": round2((wall - direct) * 100.0 / direct),
            "errors": busy,
        })
    }

    /// Every memory case, once alone and five at once, each in a fresh server.
    fn memory_cases(&self) -> Vec<Value> {
        let mut results = Vec::new();
        for (i, case) in MEMORY_CASES.iter().enumerate() {
            for (n, target) in [1, 5].into_iter().zip(case.targets) {
                eprintln!("bench: peak RSS, {n} × {}…", case.name);
                let mut r = self.huge(i, case, n);
                r["case"] = json!(case.name);
                r["target"] = json!(target);
                results.push(r);
            }
        }
        results
    }

    /// Peak RSS of the server while `n` calls each get `case`'s result.
    fn huge(&self, i: usize, case: &MemoryCase, n: usize) -> Value {
        let huge = self
            .scratch
            .wrapper(&format!("memory{i}"), case.standin, &self.standin);
        let cap = (64 * 1024 * 1024).to_string();
        let mut vars = vec![("MAX_RESPONSE_SIZE", cap.as_str())];
        vars.extend_from_slice(case.server);
        let mut c = self.spawn(&huge, &vars);
        c.send(&initialize(1));
        c.read_reply();
        let before = status_kib(c.pid(), "VmHWM");
        for i in 0..n {
            // Distinct SQL, so each call has its own run and its own result.
            let sql = format!("SELECT * FROM users WHERE uid >= {i}");
            c.send(&tool_call(
                100 + i as i64,
                "custom_query",
                json!({"sql": sql}),
            ));
        }
        let mut response_bytes = 0;
        for _ in 0..n {
            let line = c.read_line();
            let reply: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            check_ok(&reply);
            response_bytes += line.len();
        }
        let peak = status_kib(c.pid(), "VmHWM");
        c.finish();
        let per_call = response_bytes / n.max(1);
        let peak_bytes = peak.unwrap_or(0) * 1024;
        let growth = peak.unwrap_or(0).saturating_sub(before.unwrap_or(0)) * 1024;
        let output = case.output_bytes * n;
        json!({
            "calls": n,
            "output_bytes_each": case.output_bytes,
            "first_response_bytes_each": per_call,
            "hwm_before_kib": before,
            "peak_hwm_kib": peak,
            "peak_mib": round2(peak_bytes as f64 / 1048576.0),
            "peak_growth_per_output_byte": round2(growth as f64 / output.max(1) as f64),
        })
    }
}

/// One server process and its pipes.
struct Conn {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Conn {
    fn spawn(mut cmd: Command) -> Conn {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start the server: {e}")));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| fail("no stdout")));
        Conn {
            child,
            stdin,
            stdout,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string());
    }

    fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| fail("stdin closed"));
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        stdin
            .write_all(&bytes)
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| fail(&format!("write to server: {e}")));
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => fail("server closed stdout"),
            Ok(_) => line,
            Err(e) => fail(&format!("read from server: {e}")),
        }
    }

    /// The next response (notifications skipped).
    fn read_reply(&mut self) -> Value {
        loop {
            let line = self.read_line();
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| fail(&format!("not JSON ({e}): {line}")));
            if v.get("id").is_some() {
                return v;
            }
        }
    }

    fn finish(mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

/// A temp directory for wrappers and osqueryi's HOME, removed at exit.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("mcp-osq-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&format!("scratch dir: {e}")));
        Scratch { dir }
    }

    /// A script that sets stand-in variables and execs it (the server clears
    /// the environment of osqueryi, so they must be baked in).
    fn wrapper(&self, name: &str, vars: &[(&str, &str)], standin: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir.join(name);
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("osqueryi");
        let mut script = String::from("#!/bin/sh\n");
        for (k, v) in vars {
            script.push_str(&format!("{k}='{v}'; export {k}\n"));
        }
        script.push_str(&format!("exec '{}' \"$@\"\n", standin.display()));
        std::fs::write(&path, script)
            .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)))
            .unwrap_or_else(|e| fail(&format!("wrapper: {e}")));
        path
    }
}

impl Scratch {
    /// A stand-in that only sleeps and prints one row: as cheap as a process
    /// that takes `seconds` can be.
    fn sleeper(&self, name: &str, seconds: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir.join(name);
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("osqueryi");
        let script =
            format!("#!/bin/sh\nsleep {seconds}\nprintf '[\\n  {{\"ok\":\"1\"}}\\n]\\n'\n");
        std::fs::write(&path, script)
            .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)))
            .unwrap_or_else(|e| fail(&format!("sleeper: {e}")));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// osqueryi as the server runs it (same flags, cleared environment), output
/// read to the end.
fn run_direct(osqueryi: &Path, sql: &str, disable_tables: &str, home: &Path) {
    let mut cmd = Command::new(osqueryi);
    cmd.args([
        "-S",
        "--json",
        "--flagfile=/dev/null",
        "--config_path=/dev/null",
        "--disable_extensions",
        "--disable_events",
        "--disable_database",
    ]);
    if !disable_tables.is_empty() {
        cmd.arg(format!("--disable_tables={disable_tables}"));
    }
    let out = cmd
        .arg("--")
        .arg(sql)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| fail(&format!("run {}: {e}", osqueryi.display())));
    if !out.status.success() || out.stdout.is_empty() {
        fail(&format!("direct run failed: {:?}", out.status));
    }
}

/// Wall time of `n` direct runs (distinct SQL, as the server would get) on
/// [`WORKERS`] threads.
fn direct_pool(osqueryi: &Path, n: usize, home: &Path) -> f64 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let base = tools::find("processes")
        .and_then(|t| tools::plan(t, &Map::new(), &TablePolicy::default()).ok())
        .map(|p| p.sql)
        .unwrap_or_default();
    let base = base
        .trim_end_matches(';')
        .rsplit_once(" LIMIT")
        .map_or(base.as_str(), |(b, _)| b);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    run_direct(osqueryi, &format!("{base} LIMIT {};", i + 2), "", home);
                }
            });
        }
    });
    ms(started.elapsed())
}

fn users_sql() -> String {
    let tool = tools::find("users").unwrap_or_else(|| fail("no users tool"));
    tools::plan(tool, &Map::new(), &TablePolicy::default())
        .unwrap_or_else(|e| fail(&e))
        .sql
}

fn initialize(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"}}})
}

fn tool_call(id: i64, name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": name, "arguments": args}})
}

fn check_ok(reply: &Value) {
    if reply["result"]["isError"] != false {
        fail(&format!(
            "tool call failed: {}",
            reply.to_string().chars().take(300).collect::<String>()
        ));
    }
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU time (user + system) of a process's own threads, in milliseconds.
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), counted from the pid.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    Some(ticks * 1000.0 / hz)
}

fn binary_sizes(server: &Path) -> Value {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    let mut sizes = Map::new();
    sizes.insert("measured".into(), json!(size(server)));
    for (name, path) in [
        ("release", "target/release/mcp-osquery-server"),
        (
            "static_x86_64_gnu",
            "target/x86_64-unknown-linux-gnu/release/mcp-osquery-server",
        ),
        (
            "musl_x86_64",
            "target/x86_64-unknown-linux-musl/release/mcp-osquery-server",
        ),
        (
            "musl_aarch64",
            "target/aarch64-unknown-linux-musl/release/mcp-osquery-server",
        ),
    ] {
        if let Some(s) = size(&repo.join(path)) {
            sizes.insert(name.into(), json!(s));
        }
    }
    Value::Object(sizes)
}

fn summary(times: &mut [f64]) -> Value {
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times.get(((times.len() as f64 - 1.0) * q).round() as usize);
    json!({
        "runs": times.len(),
        "median": pick(0.5).copied().map(round2),
        "p10": pick(0.1).copied().map(round2),
        "p90": pick(0.9).copied().map(round2),
    })
}

fn print_table(r: &Value) {
    let f = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    let rows: Vec<(String, String, String)> = {
        let mut rows = vec![
            (
                "start-up to initialize response (median)".to_string(),
                format!("{} ms", f(&r["startup_ms"]["median"])),
                "< 10 ms".to_string(),
            ),
            (
                "idle RSS after initialize".to_string(),
                format!(
                    "{:.2} MiB",
                    r["idle_rss_kib"]["vm_rss"].as_f64().unwrap_or(0.0) / 1024.0
                ),
                "< 5 MiB".to_string(),
            ),
            (
                "per call: server vs direct osqueryi (median)".to_string(),
                format!(
                    "{} vs {} ms (+{} ms); median of paired ratios +{} %; server CPU {} ms per call",
                    f(&r["latency"]["server_ms"]["median"]),
                    f(&r["latency"]["direct_ms"]["median"]),
                    f(&r["latency"]["overhead_ms"]),
                    f(&r["latency"]["pair_overhead_percent"]),
                    f(&r["latency"]["server_cpu_ms_per_call"])
                ),
                "< 2 %".to_string(),
            ),
            (
                "per call against a 250 ms osqueryi (its real start-up)".to_string(),
                format!(
                    "{} vs {} ms (+{} ms); median of paired ratios +{} %",
                    f(&r["latency_250ms"]["server_ms"]["median"]),
                    f(&r["latency_250ms"]["direct_ms"]["median"]),
                    f(&r["latency_250ms"]["overhead_ms"]),
                    f(&r["latency_250ms"]["pair_overhead_percent"]),
                ),
                "< 2 %".to_string(),
            ),
        ];
        // --memory measured nothing else.
        if r.get("startup_ms").is_none() {
            rows.clear();
        }
        for (tool, d) in r["latency_daemon"].as_object().into_iter().flatten() {
            rows.push((
                format!("per call through osqueryd's socket ({tool}): server vs direct Thrift client (median)"),
                format!(
                    "{} vs {} ms (+{} ms); server CPU {} ms per call",
                    f(&d["server_ms"]["median"]),
                    f(&d["direct_thrift_ms"]["median"]),
                    f(&d["overhead_ms"]),
                    f(&d["server_cpu_ms_per_call"]),
                ),
                "≤ 1 ms, within 0.5 ms; CPU ≤ 0.2 ms".to_string(),
            ));
        }
        for c in r["concurrency"].as_array().into_iter().flatten() {
            rows.push((
                format!("{} concurrent 100 ms calls", f(&c["calls"])),
                format!(
                    "{} ms ({} errors): ideal {} ms +{} %; direct 5-thread run of the stand-in {} ms, server +{} %",
                    f(&c["wall_ms"]),
                    f(&c["errors"]),
                    f(&c["ideal_ms"]),
                    f(&c["over_ideal_percent"]),
                    f(&c["direct_pool_ms"]),
                    f(&c["over_direct_pool_percent"])
                ),
                if c["calls"] == 200 {
                    "within 10 % of 4 s".to_string()
                } else {
                    String::new()
                },
            ));
        }
        for h in r["huge"].as_array().into_iter().flatten() {
            rows.push((
                format!(
                    "peak RSS, {} × {}",
                    f(&h["calls"]),
                    h["case"].as_str().unwrap_or_default()
                ),
                format!(
                    "{} MiB ({} B per output byte; first answer {} B)",
                    f(&h["peak_mib"]),
                    f(&h["peak_growth_per_output_byte"]),
                    f(&h["first_response_bytes_each"])
                ),
                h["target"].as_str().unwrap_or_default().to_string(),
            ));
        }
        for h in r["hostile"].as_array().into_iter().flatten() {
            let what = h["what"].as_str().unwrap_or_default();
            rows.push((
                format!("peak RSS, {} lines: {what}", f(&h["lines"])),
                format!(
                    "{} MiB, {} after; {} of {} answered",
                    f(&h["peak_mib"]),
                    f(&h["rss_after_mib"]),
                    f(&h["answered"]),
                    f(&h["lines"])
                ),
                if what.starts_with("8 MiB") {
                    "≤ 150 MiB, all answered".to_string()
                } else {
                    String::new()
                },
            ));
        }
        for (name, size) in r["binary_bytes"].as_object().into_iter().flatten() {
            rows.push((
                format!("binary size ({name})"),
                format!("{:.2} MiB", size.as_f64().unwrap_or(0.0) / 1048576.0),
                if name == "static_x86_64_gnu" {
                    "< 2 MiB".to_string()
                } else {
                    String::new()
                },
            ));
        }
        rows
    };
    println!("| measure | result | target |");
    println!("|---|---|---|");
    for (m, v, t) in rows {
        println!("| {m} | {v} | {t} |");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn absolute(p: &str) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|e| fail(&format!("{p}: {e}")))
}

fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1);
}
