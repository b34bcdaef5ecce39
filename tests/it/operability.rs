//! Operating the server: JSON logs on stderr, the metrics and health
//! resources, MCP logging, and the command line (`--health`, `--help`, `call`).

use crate::util::{DEADLINE, Server, Standin, error_text, eventually, resource, rows, run};
use serde_json::{Value, json};

/// Every stderr line, parsed; waits for the shutdown summary (the last info line).
fn log_lines(server: &mut Server) -> Vec<Value> {
    assert!(server.wait_exit().success());
    eventually("the shutdown summary on stderr", || {
        server
            .stderr_lines()
            .iter()
            .any(|l| l.contains("all answers written"))
    });
    server
        .stderr_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn every_log_line_is_json_and_tool_calls_carry_their_fields() {
    let mut s = Server::start();
    s.initialize();
    rows(&s.call("processes", json!({"limit": 2})));
    error_text(&s.call("processes", json!({"limit": 0})));
    error_text(&s.call("nosuch", json!({})));
    rows(&s.call(
        "custom_query",
        json!({"sql": "SELECT name, pid FROM processes LIMIT 1"}),
    ));
    let lines = log_lines(&mut s);
    for v in &lines {
        for field in ["timestamp", "level", "logger", "message"] {
            assert!(v[field].is_string(), "{field} missing: {v}");
        }
        let ts = v["timestamp"].as_str().unwrap_or_default();
        assert!(ts.len() == 24 && ts.ends_with('Z'), "timestamp {ts}");
        if v.get("outcome").is_some() {
            assert!(v["tool"].is_string(), "{v}");
            assert!(v["duration_ms"].is_u64(), "{v}");
            assert!(v["response_size"].is_u64(), "{v}");
        }
    }
    let outcomes: Vec<&str> = lines.iter().filter_map(|v| v["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["ok", "rejected", "rejected", "ok"]);
    // At info, neither rows nor SQL reach the log.
    let all = s.stderr_lines().join("\n");
    assert!(
        !all.contains("FROM processes") && !all.contains("snapd"),
        "{all}"
    );
    let summary = lines
        .iter()
        .find(|v| v["message"] == "shutdown summary")
        .expect("a shutdown summary line");
    assert_eq!(summary["tool_calls"], 4);
    assert_eq!(summary["errors"], 2);
    assert_eq!(summary["requests"], 5);
}

#[test]
fn sql_is_logged_at_debug_only_and_truncated() {
    let long = format!(
        "SELECT name FROM processes WHERE name <> '{}' LIMIT 1",
        "x".repeat(400)
    );
    let mut s = Server::with_env(&[("LOG_LEVEL", "debug")]);
    s.initialize();
    rows(&s.call("custom_query", json!({ "sql": long })));
    let lines = log_lines(&mut s);
    let sql_line = lines
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("sql: "))
        })
        .expect("a debug line with the SQL");
    assert_eq!(sql_line["level"], "DEBUG");
    let msg = sql_line["message"].as_str().unwrap_or_default();
    assert!(msg.len() < 300 && msg.contains("bytes)"), "{msg}");
}

#[test]
fn health_flag_reports_healthy_and_degraded() {
    let ok = run(&["--health"], &[]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let report: Value = serde_json::from_str(&ok.stdout).expect("health is JSON");
    assert_eq!(report["status"], "healthy");
    assert_eq!(report["osqueryi"]["version"], "5.13.1");
    assert_eq!(report["osqueryi"]["query"]["ok"], true);
    assert_eq!(report["limits"]["timeout_seconds"], 30);
    assert_eq!(report["limits"]["workers"], 5);
    assert_eq!(report["server"]["version"], env!("CARGO_PKG_VERSION"));

    let missing = run(&["--health"], &[("OSQUERY_PATH", "/nonexistent")]);
    assert_eq!(missing.code, Some(1));
    let report: Value = serde_json::from_str(&missing.stdout).expect("health is JSON");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["osqueryi"]["found"], false);
    assert!(
        report["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("not found"))
    );

    let hanging = Standin::new(&[("STANDIN_MODE", "fail")]);
    let failing = run(
        &["--health"],
        &[("OSQUERY_PATH", hanging.path.to_str().expect("utf-8 path"))],
    );
    assert_eq!(failing.code, Some(1));
    assert!(failing.stdout.contains("SELECT 1 AS ok; failed"));
}

#[test]
fn version_and_help() {
    let v = run(&["--version"], &[]);
    assert_eq!(v.code, Some(0));
    assert_eq!(
        v.stdout.trim(),
        format!("mcp-osquery-server {}", env!("CARGO_PKG_VERSION"))
    );
    let h = run(&["--help"], &[]);
    assert_eq!(h.code, Some(0));
    let text = h.stdout;
    for needle in [
        "processes",
        "custom_query",
        "running_services",
        "OSQUERY_TIMEOUT",
        "[30]",
        "MAX_RESPONSE_SIZE",
        "RATE_LIMIT",
        "LOG_LEVEL",
        "--health",
        "call TOOL",
        "EXIT STATUS",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn resources_list_and_read_metrics_and_health() {
    let mut s = Server::start();
    let init = s.initialize();
    let caps = &init["result"]["capabilities"];
    assert!(
        caps["resources"].is_object() && caps["logging"].is_object(),
        "{init}"
    );

    let list = s.request("resources/list", json!({}));
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| {
            assert_eq!(r["mimeType"], "application/json");
            assert!(r["name"].is_string() && r["description"].is_string());
            r["uri"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        uris,
        ["osquery://server/metrics", "osquery://server/health"]
    );

    for _ in 0..3 {
        rows(&s.call("processes", json!({"limit": 3})));
    }
    error_text(&s.call("processes", json!({"limit": 0})));
    let m = s.read_resource("osquery://server/metrics");
    // initialize, resources/list, 4 tools/call, this resources/read
    assert_eq!(m["requests"], 7, "{m}");
    assert_eq!(m["tool_calls"]["total"], 4);
    assert_eq!(m["tool_calls"]["by_tool"]["processes"], 4);
    assert_eq!(m["tool_calls"]["by_tool"]["users"], 0);
    assert_eq!(m["outcomes"]["ok"], 3);
    assert_eq!(m["outcomes"]["rejected"], 1);
    assert_eq!(m["errors"], 1);
    assert_eq!(m["timeouts"], 0);
    assert_eq!(m["duration_ms"]["count"], 3);
    let in_buckets: u64 = m["duration_ms"]["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(in_buckets, 3);
    assert!(m["memory"]["rss_bytes"].as_u64().is_some_and(|n| n > 0));
    assert!(m["memory"]["peak_rss_bytes"].as_u64() >= m["memory"]["rss_bytes"].as_u64());

    let h = s.read_resource("osquery://server/health");
    assert_eq!(h["status"], "healthy", "{h}");
}

#[test]
fn a_slow_health_check_never_blocks_the_reader() {
    let slow = Standin::new(&[
        ("STANDIN_MODE", "slow"),
        ("STANDIN_DELAY", "1.5"),
        ("STANDIN_MATCH", "SELECT 1 AS ok"),
    ]);
    let mut s = Server::with_standin(&slow, &[]);
    s.initialize();
    s.send_request(
        json!("h1"),
        "resources/read",
        json!({"uri": "osquery://server/health"}),
    );
    s.send_request(
        json!("h2"),
        "resources/read",
        json!({"uri": "osquery://server/health"}),
    );
    s.send_request(json!("p"), "ping", json!({}));
    let first = s.recv(DEADLINE).expect("a reply");
    assert_eq!(first["id"], "p", "ping must not wait for the health check");
    // Both health reads are answered, by one check (one probe query).
    let h1 = resource(&s.wait_for(&json!("h1")), "osquery://server/health");
    let h2 = resource(&s.wait_for(&json!("h2")), "osquery://server/health");
    assert_eq!(h1["status"], "healthy");
    assert_eq!(h1, h2);
    assert_eq!(slow.log().matches("SELECT 1 AS ok").count(), 1);
}

#[test]
fn call_prints_rows_as_json_or_a_table() {
    let ok = run(&["call", "processes", r#"{"limit":3}"#], &[]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let rows: Value = serde_json::from_str(&ok.stdout).expect("rows are JSON");
    let rows = rows.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["pid"].is_string() && r["name"].is_string())
    );

    let table = run(&["call", "processes", r#"{"limit":3}"#, "--table"], &[]);
    assert_eq!(table.code, Some(0));
    let text = table.stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].contains("name") && lines[0].contains("pid"));
    assert!(lines[1].starts_with("---"));
    assert!(lines[2].contains(rows[0]["name"].as_str().unwrap_or("?")));

    let none = run(&["call", "system_info"], &[]);
    assert_eq!(none.code, Some(0));
}

/// A command line that fails: what it runs, the environment it adds, the
/// exit status, and what stderr must say.
struct Failing {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    says: &'static [&'static str],
}

/// A failing command line that needs no environment of its own.
const fn fails(code: i32, args: &'static [&'static str], says: &'static [&'static str]) -> Failing {
    Failing {
        args,
        env: &[],
        code,
        says,
    }
}

const FAILING: &[Failing] = &[
    fails(
        1,
        &["call", "processes", r#"{"limit":0}"#],
        &["Error: limit must be an integer between 1 and 1000"],
    ),
    // The same guard as the MCP path.
    fails(
        1,
        &["call", "custom_query", r#"{"sql":"DELETE FROM processes"}"#],
        &[],
    ),
    Failing {
        args: &["call", "system_info"],
        env: &[("OSQUERY_PATH", "/nonexistent")],
        code: 1,
        says: &["osqueryi not found"],
    },
    fails(
        2,
        &["call", "nosuch"],
        &["unknown tool \"nosuch\" (tools: system_info,", "see --help"],
    ),
    fails(2, &["--version", "extra"], &[]),
    fails(2, &["--frobnicate"], &[]),
    fails(2, &["call", "processes", "{bad json"], &[]),
    fails(2, &["call", "processes", "[1]"], &[]),
    fails(2, &["call"], &[]),
    fails(2, &["call", "processes", "{}", "extra"], &[]),
];

#[test]
fn failing_command_lines_exit_with_their_status_and_say_why_on_stderr() {
    let logged = Standin::new(&[]);
    let path = logged.path.to_str().expect("utf-8 path");
    for case in FAILING {
        let mut env = vec![("OSQUERY_PATH", path)];
        env.extend_from_slice(case.env);
        let ran = run(case.args, &env);
        let what = format!("{:?} {:?}", case.args, case.env);
        assert_eq!(ran.code, Some(case.code), "{what}: {}", ran.stderr);
        // Status 1 is the tool's error; 2 is a usage error, named as the program's.
        let prefix = match case.code {
            1 => "Error: ",
            _ => "mcp-osquery-server: ",
        };
        assert!(ran.stderr.starts_with(prefix), "{what}: {}", ran.stderr);
        for part in case.says {
            assert!(ran.stderr.contains(part), "{what}: {}", ran.stderr);
        }
        assert!(ran.stdout.is_empty(), "{what}: {}", ran.stdout);
        assert_eq!(logged.log(), "", "{what} reached osqueryi");
    }
}

fn messages(all: &[Value]) -> Vec<&Value> {
    all.iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect()
}

#[test]
fn set_level_forwards_warnings_and_a_refused_level_changes_nothing() {
    let noisy = Standin::new(&[("STANDIN_MODE", "noise")]);
    let mut s = Server::with_standin(&noisy, &[]);
    s.initialize();
    let ok = s.request("logging/setLevel", json!({"level": "warning"}));
    assert_eq!(ok["result"], json!({}), "{ok}");
    // A refused level (protocol.rs has them all) leaves this one in place.
    let bad = s.request("logging/setLevel", json!({"level": "loud"}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    rows(&s.call("system_info", json!({})));
    s.close_stdin();
    let all = s.drain();
    let msgs = messages(&all);
    assert!(!msgs.is_empty(), "no notifications/message in {all:?}");
    for m in &msgs {
        assert_eq!(m["params"]["level"], "warning");
        assert!(m["params"]["logger"].is_string());
        assert!(m.get("id").is_none());
    }
    assert!(msgs.iter().any(|m| {
        m["params"]["data"]["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("osqueryi: "))
    }));
}

#[test]
fn nothing_is_forwarded_before_initialize_or_below_the_level() {
    let noisy = Standin::new(&[("STANDIN_MODE", "noise")]);
    let mut s = Server::with_standin(&noisy, &[]);
    rows(&s.call("system_info", json!({})));
    s.close_stdin();
    assert!(messages(&s.drain()).is_empty());

    let mut s = Server::with_standin(&noisy, &[]);
    s.initialize();
    let ok = s.request("logging/setLevel", json!({"level": "error"}));
    assert_eq!(ok["result"], json!({}));
    rows(&s.call("system_info", json!({})));
    s.close_stdin();
    assert!(messages(&s.drain()).is_empty());
}
