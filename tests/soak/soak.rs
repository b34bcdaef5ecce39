//! `make soak`: 100,000 messages of mixed good and bad input through one
//! release server running against the stand-in, read back concurrently.
//!
//! Usage: `soak SERVER_BINARY STANDIN [COUNT]`. Reports messages sent, answers
//! expected and received, lost or duplicated answers, the server's peak RSS
//! (VmHWM), zombies and leftover children, and the elapsed time. Exits 1 if
//! any answer is lost or duplicated, a zombie or child is left, or the server
//! does not exit 0 after EOF.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Default)]
struct Seen {
    by_id: HashMap<String, u32>,
    null_id_errors: u64,
    progress: u64,
    busy: u64,
    tool_errors: u64,
    lines: u64,
}

/// A tiny deterministic generator: the same run every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(server), Some(standin)) = (args.first(), args.get(1)) else {
        eprintln!("usage: soak SERVER_BINARY STANDIN [COUNT]");
        return ExitCode::from(2);
    };
    let total: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    match soak(server, standin, total) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

fn soak(server: &str, standin: &str, total: u64) -> std::io::Result<bool> {
    let started = Instant::now();
    let mut child = Command::new(server)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("OSQUERY_PATH", standin)
        .env("RATE_LIMIT", "0")
        .env("OSQUERY_TIMEOUT", "10")
        .env("LOG_LEVEL", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || read_all(stdout, &seen))
    };
    let max_zombies = Arc::new(Mutex::new(0usize));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (max_zombies, sampling) = (max_zombies.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let z = children(pid, true).len();
                let mut m = max_zombies.lock().unwrap_or_else(|p| p.into_inner());
                *m = (*m).max(z);
                drop(m);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let mut stdin = BufWriter::new(
        child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?,
    );
    let mut rng = Lcg(0x5eed);
    let mut expected: HashSet<String> = HashSet::new();
    let mut cancelled: HashSet<String> = HashSet::new();
    let mut malformed = 0u64;
    let mut last_call: Option<String> = None;
    let mut kinds: HashMap<&str, u64> = HashMap::new();
    let init = json!({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}});
    writeln!(stdin, "{init}")?;
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc":"2.0","method":"notifications/initialized"})
    )?;
    expected.insert(json!("init").to_string());
    for n in 0..total.saturating_sub(2) {
        let id = json!(n);
        let request = |method: &str, params: Value| {
            json!({"jsonrpc": "2.0", "id": n, "method": method, "params": params}).to_string()
        };
        let roll = rng.next() % 100;
        let (kind, line, needs_answer, is_call): (&str, String, bool, bool) = match roll {
            0..=19 => ("ping", request("ping", json!({})), true, false),
            20..=24 => ("tools/list", request("tools/list", json!({})), true, false),
            25..=34 => (
                "refused custom_query",
                request(
                    "tools/call",
                    json!({"name":"custom_query","arguments":{"sql":"DELETE FROM users"}}),
                ),
                true,
                false,
            ),
            35..=39 => (
                "invalid arguments",
                request(
                    "tools/call",
                    json!({"name":"open_files","arguments":{"pid":"x"}}),
                ),
                true,
                false,
            ),
            40..=41 => (
                "unknown tool",
                request("tools/call", json!({"name":"no_such_tool"})),
                true,
                false,
            ),
            42..=51 => (
                "fixture call",
                request("tools/call", json!({"name":"system_info","arguments":{}})),
                true,
                true,
            ),
            52..=56 => (
                "fixture call with progress",
                request(
                    "tools/call",
                    json!({"name":"custom_query","arguments":{"sql":"SELECT * FROM uptime"},"_meta":{"progressToken": n}}),
                ),
                true,
                true,
            ),
            57..=66 => {
                malformed += 1;
                let bad = [
                    "{",
                    "not json",
                    "[]",
                    "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
                ];
                (
                    "malformed line",
                    bad[(n % 4) as usize].to_string(),
                    false,
                    false,
                )
            }
            67..=76 => (
                "unknown method",
                request("resources/nope", json!({})),
                true,
                false,
            ),
            77..=86 => {
                // Half aim at the last tool call (queued, running or done), half at nothing.
                let target = match (&last_call, n % 2) {
                    (Some(t), 0) => {
                        cancelled.insert(t.clone());
                        serde_json::from_str::<Value>(t).unwrap_or(Value::Null)
                    }
                    _ => json!(format!("ghost-{n}")),
                };
                (
                    "cancellation",
                    json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId": target}}).to_string(),
                    false,
                    false,
                )
            }
            _ => (
                "other notification",
                json!({"jsonrpc":"2.0","method":"notifications/whatever"}).to_string(),
                false,
                false,
            ),
        };
        *kinds.entry(kind).or_default() += 1;
        if needs_answer {
            expected.insert(id.to_string());
        }
        if is_call {
            last_call = Some(id.to_string());
        }
        writeln!(stdin, "{line}")?;
    }
    stdin.flush()?;
    let sent_at = started.elapsed();

    // Wait until every answer that must come has come, then look at the idle server.
    let must_answer: HashSet<&String> = expected.difference(&cancelled).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = {
            let s = seen.lock().unwrap_or_else(|p| p.into_inner());
            must_answer.iter().all(|id| s.by_id.contains_key(*id)) && s.null_id_errors >= malformed
        };
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle_deadline = Instant::now() + Duration::from_secs(15);
    while !children(pid, false).is_empty() && Instant::now() < idle_deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let leftover_children = children(pid, false).len();
    let zombies_at_end = children(pid, true).len();
    let hwm = vm_hwm_kib(pid);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();

    drop(stdin);
    let status = child.wait()?;
    let _ = reader.join();
    let elapsed = started.elapsed();
    let s = seen.lock().unwrap_or_else(|p| p.into_inner());

    let lost: Vec<&&String> = must_answer
        .iter()
        .filter(|id| !s.by_id.contains_key(**id))
        .collect();
    let duplicated = s.by_id.values().filter(|&&c| c > 1).count();
    let unexpected = s.by_id.keys().filter(|id| !expected.contains(*id)).count();
    let cancelled_answered = cancelled
        .iter()
        .filter(|id| s.by_id.contains_key(*id))
        .count();
    let received: u64 = s.by_id.values().map(|&c| u64::from(c)).sum::<u64>() + s.null_id_errors;

    println!("soak: {total} messages through one server process (pid {pid})");
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    for (kind, count) in &kinds {
        println!("  {kind:<28} {count}");
    }
    println!(
        "answers required            {} (request ids not cancelled + one error per malformed line)",
        must_answer.len() as u64 + malformed
    );
    println!(
        "answers received            {received} (incl. {} null-id errors, {cancelled_answered} for calls done before their cancel)",
        s.null_id_errors
    );
    println!("  busy answers              {}", s.busy);
    println!("  tool errors (isError)     {}", s.tool_errors);
    println!("progress notifications      {}", s.progress);
    println!(
        "cancelled calls             {} ({cancelled_answered} had already been answered)",
        cancelled.len()
    );
    println!("lost answers                {}", lost.len());
    println!("duplicated answers          {duplicated}");
    println!("answers to unknown ids      {unexpected}");
    println!("server peak RSS (VmHWM)     {:.1} MiB", hwm as f64 / 1024.0);
    println!(
        "zombies: max seen {}, at end {zombies_at_end}; children left when idle {leftover_children}",
        max_zombies.lock().unwrap_or_else(|p| p.into_inner())
    );
    println!("server exit status          {status}");
    println!(
        "elapsed                     {:.1} s (all sent after {:.1} s), {} stdout lines",
        elapsed.as_secs_f64(),
        sent_at.as_secs_f64(),
        s.lines
    );

    let ok = lost.is_empty()
        && duplicated == 0
        && unexpected == 0
        && s.null_id_errors == malformed
        && zombies_at_end == 0
        && leftover_children == 0
        && status.code() == Some(0);
    println!("{}", if ok { "soak: PASS" } else { "soak: FAIL" });
    Ok(ok)
}

fn read_all(stdout: impl std::io::Read, seen: &Mutex<Seen>) {
    for line in BufReader::with_capacity(1 << 16, stdout)
        .lines()
        .map_while(Result::ok)
    {
        let msg: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
        s.lines += 1;
        if msg.get("method").and_then(Value::as_str) == Some("notifications/progress") {
            s.progress += 1;
            continue;
        }
        match msg.get("id") {
            Some(Value::Null) | None => s.null_id_errors += 1,
            Some(id) => *s.by_id.entry(id.to_string()).or_insert(0) += 1,
        }
        if msg["result"]["isError"] == true {
            s.tool_errors += 1;
            if msg["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("server busy"))
            {
                s.busy += 1;
            }
        }
    }
}

/// Children of `parent`; only zombies when `zombies_only`.
fn children(parent: u32, zombies_only: bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent)
                && (!zombies_only || f.first() == Some(&"Z"))
        })
        .collect()
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
