//! The server under faults: signals, cancellation, progress, the rate limit,
//! floods, EOF with work in flight, panics, resource limits, bad
//! configuration and oversized lines. Each test proves one guarantee of the
//! README's "Reliability" section against the built binary and the stand-in
//! (malformed lines are in `protocol`, misbehaving osqueryi in `failures`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Instant;

use crate::util::{
    DEADLINE, Server, Standin, all_gone, error_text, eventually, process_alive, rows, run,
    server_command, vm_hwm_kib, zombie_children,
};
use serde_json::{Value, json};

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

fn send_signal(pid: u32, sig: i32) {
    // SAFETY: a plain syscall on a pid this test started.
    let rc = unsafe { kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// SIGKILLs leftover processes even when an assertion failed first, so a
/// broken build leaves no hour-long `sleep` behind.
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if process_alive(pid) {
                // SAFETY: a plain syscall on a process this test started.
                unsafe {
                    kill(pid as i32, 9);
                }
            }
        }
    }
}

fn responses_by_id(messages: &[Value]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in messages.iter().filter(|m| m.get("method").is_none()) {
        *seen.entry(m["id"].to_string()).or_insert(0) += 1;
    }
    seen
}

#[test]
fn termination_signals_kill_running_osqueryi_groups_and_exit() {
    for (sig, name) in [(15, "TERM"), (2, "INT"), (1, "HUP")] {
        let standin = Standin::hanging("FROM users");
        let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "60")]);
        s.send_call(json!(1), "users", json!({}));
        let pids = standin.wait_hung();
        let _cleanup = KillOnDrop(pids.clone());
        send_signal(s.pid(), sig);
        let exit = s.wait_exit();
        assert_eq!(exit.code(), Some(128 + sig), "SIG{name}: {exit:?}");
        all_gone(&format!("after SIG{name}"), &pids);
    }
}

#[test]
fn a_sigkilled_server_takes_its_direct_osqueryi_child_with_it() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "60")]);
    s.send_call(json!(1), "users", json!({}));
    let pids = standin.wait_hung();
    // PR_SET_PDEATHSIG reaches only the direct child; the stand-in's own
    // `sleep` is an orphan afterwards (real osqueryi starts no children).
    let _cleanup = KillOnDrop(pids.clone());
    send_signal(s.pid(), 9);
    assert_eq!(s.wait_exit().code(), None);
    eventually("osqueryi died with its parent", || !process_alive(pids[0]));
}

#[test]
fn cancelling_a_running_call_kills_its_process_and_sends_no_response() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "60")]);
    s.initialize();
    s.send_call(json!("run-1"), "users", json!({}));
    let pids = standin.wait_hung();
    s.notify("notifications/cancelled", json!({"requestId": "run-1"}));
    all_gone("the cancelled stand-in and its child", &pids);
    eventually("cancelled stand-in reaped", || {
        zombie_children(s.pid()).is_empty()
    });
    // Unknown and finished ids are ignored; later calls are answered.
    s.notify(
        "notifications/cancelled",
        json!({"requestId": "never-sent"}),
    );
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    s.finish_without_answering(&json!("run-1"));
}

#[test]
fn cancelling_a_queued_call_removes_it_before_it_runs() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "60")]);
    s.initialize();
    // Distinct SQL, so no call joins another's run (see coalesce.rs).
    for i in 0..5 {
        s.send_call(json!(i), "custom_query", users_query(i));
    }
    eventually("five workers are busy", || standin.runs("FROM users") == 5);
    s.send_call(json!("queued"), "disk_usage", json!({}));
    s.notify("notifications/cancelled", json!({"requestId": "queued"}));
    for i in 0..5 {
        s.notify("notifications/cancelled", json!({"requestId": i}));
    }
    // The workers are free again and the cancelled call never reached osqueryi.
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    assert!(!standin.log().contains("FROM mounts"), "{}", standin.log());
    s.close_stdin();
    let rest = s.drain();
    let answered = responses_by_id(&rest);
    for id in [json!("queued"), json!(0), json!(4)] {
        assert!(
            !answered.contains_key(&id.to_string()),
            "cancelled {id} answered"
        );
    }
    assert_eq!(s.wait_exit().code(), Some(0));
}

#[test]
fn progress_notifications_echo_string_and_integer_tokens() {
    let mut s = Server::start();
    s.initialize();
    for (id, token) in [(json!(1), json!("tok-1")), (json!(2), json!(7))] {
        s.send_request(
            id.clone(),
            "tools/call",
            json!({"name": "system_info", "arguments": {}, "_meta": {"progressToken": token}}),
        );
        let (reply, before) = s.reply_and_before(&id);
        rows(&reply["result"]);
        let mut progress = Vec::new();
        for m in before {
            assert_eq!(m["method"], "notifications/progress", "{m}");
            progress.push(m["params"].clone());
        }
        assert!(progress.len() >= 2, "start and end: {progress:?}");
        // Exact JSON type: "7" would not equal 7.
        assert!(
            progress.iter().all(|p| p["progressToken"] == token),
            "{progress:?}"
        );
        let values: Vec<f64> = progress
            .iter()
            .map(|p| p["progress"].as_f64().expect("number"))
            .collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }
    // No token, no notifications.
    s.send_call(json!(3), "system_info", json!({}));
    let m = s.recv(DEADLINE).expect("reply");
    assert_eq!(m["id"], 3, "{m}");
}

#[test]
fn the_sixty_first_call_in_a_minute_is_told_when_to_retry() {
    let mut s = Server::with_env(&[("RATE_LIMIT", "60")]);
    s.initialize();
    for i in 0..61 {
        s.send_call(json!(i), "system_info", json!({}));
    }
    for i in 0..60 {
        rows(&s.wait_for(&json!(i))["result"]);
    }
    let e = error_text(&s.wait_for(&json!(60))["result"]);
    let secs: u64 = e
        .split("retry in ")
        .nth(1)
        .and_then(|t| t.strip_suffix(" seconds"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no retry time: {e}"));
    assert!((1..=60).contains(&secs), "{e}");
    assert!(e.contains("60 tool calls per minute"), "{e}");
    // Protocol requests are never limited.
    s.assert_serving();
    assert!(s.request("tools/list", json!({}))["result"]["tools"].is_array());
}

#[test]
fn a_flood_of_two_thousand_calls_gets_exactly_one_answer_each() {
    let mut s = Server::start();
    s.initialize();
    let n = 2000;
    for i in 0..n {
        if i % 10 == 0 {
            s.send_request(json!(i), "ping", json!({}));
        } else {
            s.send_call(json!(i), "system_info", json!({}));
        }
    }
    s.close_stdin();
    let all = s.drain();
    let answered = responses_by_id(&all);
    for i in 0..n {
        assert_eq!(answered.get(&i.to_string()), Some(&1), "id {i}");
    }
    assert_eq!(answered.len(), n, "answers for ids never sent");
    let busy: Vec<&Value> = all
        .iter()
        .filter(|m| {
            m["result"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("server busy"))
        })
        .collect();
    assert!(
        busy.iter().all(|m| m["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("retry in"))),
        "busy without a retry hint"
    );
    assert_eq!(s.wait_exit().code(), Some(0));
}

#[test]
fn eof_with_calls_in_flight_answers_all_of_them_then_exits_zero() {
    let standin = Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "0.3")]);
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    // Five running and three queued.
    for i in 0..8 {
        s.send_call(json!(i), "system_info", json!({}));
    }
    s.close_stdin();
    let all = s.drain();
    let answered = responses_by_id(&all);
    for i in 0..8 {
        assert_eq!(answered.get(&i.to_string()), Some(&1), "id {i}: {all:?}");
    }
    for m in all.iter().filter(|m| m.get("method").is_none()) {
        rows(&m["result"]);
    }
    assert_eq!(s.wait_exit().code(), Some(0));
    assert!(zombie_children(s.pid()).is_empty());
}

#[cfg(debug_assertions)]
#[test]
fn a_panic_is_an_error_for_that_call_and_the_pool_keeps_five_workers() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(
        &standin,
        &[
            ("MCP_OSQUERY_TEST_PANIC", "boom_marker"),
            ("OSQUERY_TIMEOUT", "60"),
        ],
    );
    s.initialize();
    // More panics than workers: every worker has panicked at least once if any died.
    for i in 0..10 {
        let sql = format!("SELECT {i} AS boom_marker");
        s.send_call(json!(i), "custom_query", json!({ "sql": sql }));
    }
    for i in 0..10 {
        let e = error_text(&s.wait_for(&json!(i))["result"]);
        assert!(e.contains("internal error"), "{e}");
    }
    // Five calls still run at the same time: five hanging stand-ins at once.
    for i in 100..105 {
        s.send_call(json!(i), "custom_query", users_query(i));
    }
    eventually("five workers run at once", || {
        standin.runs("FROM users") == 5
    });
    for i in 100..105 {
        s.notify("notifications/cancelled", json!({"requestId": i}));
    }
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
}

#[test]
fn a_cpu_limit_stops_a_spinning_query_before_the_timeout() {
    let standin = Standin::new(&[("STANDIN_MODE", "spin")]);
    let mut s = Server::with_standin(
        &standin,
        &[("OSQUERY_CPU_LIMIT", "1"), ("OSQUERY_TIMEOUT", "10")],
    );
    let e = error_text(&s.call("system_info", json!({})));
    assert!(e.contains("SIGXCPU") || e.contains("signal 9"), "{e}");
    assert!(!e.contains("timed out"), "{e}");
    if e.contains("SIGXCPU") {
        assert!(e.contains("narrow the query with WHERE"), "{e}");
    }
    assert!(zombie_children(s.pid()).is_empty());
    s.assert_serving();
}

#[test]
fn osqueryi_runs_niced_with_address_space_and_cpu_limits() {
    let standin = Standin::new(&[("STANDIN_MODE", "proc")]);
    let mut s = Server::with_standin(
        &standin,
        &[
            ("OSQUERY_NICE", "7"),
            ("OSQUERY_MEMORY_LIMIT", "512"),
            ("OSQUERY_CPU_LIMIT", "5"),
        ],
    );
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    let text = standin.proc_report();
    let (stat, limits) = text.split_once('\n').expect("stat line then limits");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    // Field 19 of stat is the niceness; fields here start at field 3.
    let ours: i32 = std::fs::read_to_string("/proc/self/stat")
        .expect("own stat")
        .rsplit_once(") ")
        .expect("stat")
        .1
        .split_whitespace()
        .nth(16)
        .and_then(|n| n.parse().ok())
        .expect("own nice");
    // setpriority sets an absolute niceness; an unprivileged child cannot go
    // below what it inherited.
    let nice: i32 = fields[16].parse().expect("nice field");
    if ours <= 7 {
        assert_eq!(nice, 7, "{stat}");
    } else {
        assert!(nice >= ours, "{stat}");
    }
    let limit = |name: &str| -> Vec<String> {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {limits}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let cpu = limit("Max cpu time");
    assert_eq!(&cpu[3..5], ["5", "6"], "{cpu:?}");
    let mem = limit("Max address space");
    assert_eq!(mem[3], (512u64 << 20).to_string(), "{mem:?}");
}

/// Settings that stop start-up: the variable, its value, and what the one
/// line on stderr says besides the variable's name.
const INVALID_SETTINGS: &[(&str, &str, &str)] = &[
    ("OSQUERY_TIMEOUT", "0", "expected"),
    ("MAX_RESPONSE_SIZE", "ten", "expected"),
    ("RATE_LIMIT", "-1", "expected"),
    ("LOG_LEVEL", "loud", "expected"),
    ("OSQUERY_NICE", "99", "expected"),
    ("OSQUERY_MEMORY_LIMIT", "x", "expected"),
    ("OSQUERY_CPU_LIMIT", "-1", "expected"),
    ("OSQUERY_DENY_TABLES", "curl;shadow", "expected"),
    ("OSQUERY_ALLOW_TABLES", "a b", "expected"),
    ("REDACT", "maybe", "use 1"),
];

#[test]
fn each_invalid_setting_stops_serve_and_call_with_one_line_and_status_two() {
    for (var, value, says) in INVALID_SETTINGS {
        for args in [&[][..], &["call", "system_info"]] {
            let ran = run(args, &[(var, value)]);
            let what = format!("{var}={value} {args:?}");
            assert_eq!(ran.code, Some(2), "{what}: {}", ran.stderr);
            let lines: Vec<&str> = ran.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{what}: {}", ran.stderr);
            assert!(
                lines[0].contains(var) && lines[0].contains(says),
                "{what}: {}",
                ran.stderr
            );
            assert!(ran.stdout.is_empty(), "{what}: {}", ran.stdout);
        }
    }
}

#[test]
fn a_line_over_the_limit_is_refused_without_being_buffered() {
    let mut s = Server::with_env(&[("MAX_RESPONSE_SIZE", "1024")]);
    let started = Instant::now();
    // 17 MiB of one JSON string, then a ping.
    let mut line =
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"".to_vec();
    line.resize(line.len() + 17 * 1024 * 1024, b'a');
    line.extend_from_slice(b"\"}}");
    s.send_raw_bytes(&line);
    s.send_raw(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
    let err = s.recv(DEADLINE).expect("error reply");
    assert_eq!(err["id"], Value::Null, "{err}");
    assert_eq!(err["error"]["code"], -32600, "{err}");
    let pong = s.recv(DEADLINE).expect("pong");
    assert_eq!(pong["id"], 2, "{pong}");
    let hwm = vm_hwm_kib(s.pid());
    assert!(hwm < 40 * 1024, "peak RSS {hwm} KiB for a 17 MiB line");
    assert_eq!(s.wait_exit().code(), Some(0));
    assert!(started.elapsed() < DEADLINE);
}

/// custom_query arguments that read the users table, different for each `i`.
fn users_query(i: i64) -> Value {
    json!({"sql": format!("SELECT * FROM users WHERE uid >= {i}")})
}

#[test]
fn a_client_that_never_reads_stderr_cannot_stall_the_server() {
    // stderr is a pipe nobody reads: once it is full, log lines are dropped
    // rather than blocking the reader (found in review: it stalled at ~300).
    let mut child = server_command(&[("LOG_LEVEL", "debug")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let _unread_stderr = child.stderr.take();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let n = 3000;
    let mut batch = String::new();
    for i in 0..n {
        batch.push_str(&format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"tools/call\",\"params\":{{\"name\":\"processes\",\"arguments\":{{\"limit\":0}}}}}}\n"
        ));
    }
    batch.push_str("{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"ping\"}\n");
    // A stalled server would stop reading; the writer must not hang the test.
    // It hands stdin back so it stays open until the test ends.
    let (keep_tx, keep_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = stdin.write_all(batch.as_bytes());
        let _ = stdin.flush();
        let _ = keep_tx.send(stdin);
    });
    let mut answered = 0;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the server stalled with stderr unread");
        answered += 1;
        if line.contains("\"id\":\"last\"") {
            break;
        }
    }
    assert_eq!(answered, n + 1);
    drop(keep_rx);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_id_reused_while_in_flight_is_refused_and_the_first_call_still_answered() {
    let standin = Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "1")]);
    let mut s = Server::with_standin(&standin, &[]);
    s.send_call(json!(7), "users", json!({}));
    s.send_call(json!(7), "system_info", json!({}));
    let first = s.recv(DEADLINE).expect("a reply");
    assert_eq!(first["id"], 7);
    assert_eq!(first["error"]["code"], -32600, "{first}");
    let second = s.recv(DEADLINE).expect("a reply");
    assert_eq!(second["id"], 7);
    assert!(
        rows(&second["result"]).len() > 1,
        "the users call: {second}"
    );
}
