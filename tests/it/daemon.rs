//! The daemon backend through the binary, against the fake osqueryd: every
//! tool, prompt and resource with no osqueryi at all; hybrid routing; the
//! guard in front of the socket; and each way a daemon can fail, answered
//! clearly while the server keeps serving.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::daemon_host::{self, process_events};
use crate::fake_daemon::{Answer, Call, FakeDaemon};
use crate::util::{
    Server, Standin, error_text, eventually, rows, run, server_command, sql_blocks, vm_hwm_kib,
};

/// No osqueryi there: a query that reached for it would fail.
const NO_OSQUERYI: &str = "/nonexistent/osqueryi";

fn daemon_vars(daemon: &FakeDaemon) -> Vec<(&'static str, String)> {
    vec![
        ("OSQUERY_BACKEND", "daemon".into()),
        ("OSQUERY_SOCKET", daemon.path().display().to_string()),
        ("OSQUERY_PATH", NO_OSQUERYI.into()),
    ]
}

/// The server on the daemon backend; `vars` come last, so they override.
fn server(daemon: &FakeDaemon, vars: &[(&str, &str)]) -> Server {
    let base = daemon_vars(daemon);
    let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(vars);
    Server::with_env(&all)
}

/// The host's fake osqueryd, except that queries containing `marker` get
/// `answer`.
fn host_except(marker: &str, answer: Answer) -> impl Fn(&Call) -> Answer + use<> {
    let marker = marker.to_string();
    move |call: &Call| {
        if call.sql.contains(&marker) {
            answer.clone()
        } else {
            daemon_host::answer(call)
        }
    }
}

/// How many calls the daemon got whose SQL contains `needle`.
fn calls_with(daemon: &FakeDaemon, needle: &str) -> usize {
    daemon
        .calls()
        .iter()
        .filter(|c| c.sql.contains(needle))
        .count()
}

fn arguments(tool: &str) -> Value {
    match tool {
        "custom_query" => json!({"sql": "SELECT pid, name FROM processes LIMIT 3"}),
        "describe_table" => json!({"table": "processes"}),
        "open_files" => json!({"pid": 1}),
        _ => json!({}),
    }
}

#[test]
fn every_tool_prompt_and_resource_works_with_no_osqueryi_at_all() {
    let daemon = FakeDaemon::with(daemon_host::answer);
    let mut s = server(&daemon, &[]);
    s.initialize();
    let list = s.request("tools/list", json!({}));
    let tools: Vec<String> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(tools.len(), 12, "{tools:?}");
    for tool in &tools {
        let got = rows(&s.call(tool, arguments(tool)));
        assert!(!got.is_empty(), "{tool} answered no rows");
    }
    let described = rows(&s.call("describe_table", json!({"table": "processes"})));
    assert_eq!(described[0], json!({"name": "pid", "type": "BIGINT"}));
    assert_eq!(
        calls_with(&daemon, "SELECT * FROM \"processes\""),
        2,
        "describe_table asks getQueryColumns"
    );
    let unknown = error_text(&s.call("describe_table", json!({"table": "no_such_thing"})));
    assert_eq!(
        unknown,
        "Error: no such table: no_such_thing; use list_tables"
    );

    let prompts = s.request("prompts/list", json!({}));
    let mut ran = 0;
    for p in prompts["result"]["prompts"].as_array().expect("prompts") {
        let got = s.request("prompts/get", json!({"name": p["name"], "arguments": {}}));
        let text = got["result"]["messages"][0]["content"]["text"]
            .as_str()
            .expect("prompt text");
        for sql in sql_blocks(text) {
            let result = s.call("custom_query", json!({ "sql": sql }));
            assert_eq!(result["isError"], false, "{sql}: {result}");
            assert_eq!(
                calls_with(&daemon, &sql),
                1,
                "{sql} reached the daemon as given"
            );
            ran += 1;
        }
    }
    assert!(ran >= 6, "{ran} prompt queries");

    let metrics = s.read_resource("osquery://server/metrics");
    let queries = daemon.calls().iter().filter(|c| c.method != "ping").count();
    let b = &metrics["backends"];
    // The unknown table is osqueryd's error, and no rows for the model.
    assert_eq!(b["osqueryd"]["ok"], json!(queries - 1), "{b}");
    assert_eq!(b["osqueryd"]["errors"], 1, "{b}");
    assert_eq!(b["osqueryi"], json!({"ok": 0, "errors": 0}));

    let health = s.read_resource("osquery://server/health");
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["backend"], "daemon");
    assert_eq!(health["osqueryi"], Value::Null);
    let d = &health["osqueryd"];
    assert_eq!(d["socket"], daemon.path().display().to_string());
    assert_eq!(
        (&d["answers"], &d["version"]),
        (&json!(true), &json!("5.13.1"))
    );
    // One call at a time needs one connection, reused throughout.
    assert_eq!(daemon.connections(), 1);
}

#[test]
fn the_command_line_uses_the_daemon_too() {
    let daemon = FakeDaemon::with(daemon_host::answer);
    let base = daemon_vars(&daemon);
    let vars: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let health = run(&["--health"], &vars);
    assert_eq!(health.code, Some(0), "{}{}", health.stdout, health.stderr);
    let report: Value = serde_json::from_str(&health.stdout).expect("JSON");
    assert_eq!(report["osqueryd"]["version"], "5.13.1");
    let call = run(&["call", "processes", r#"{"limit":2}"#], &vars);
    assert_eq!(call.code, Some(0), "{}", call.stderr);
    let printed: Value = serde_json::from_str(&call.stdout).expect("JSON rows");
    assert_eq!(printed.as_array().map(Vec::len), Some(2));

    let mut gone = daemon_vars(&daemon);
    gone[1].1 = "/nonexistent/osquery.em".into();
    let vars: Vec<(&str, &str)> = gone.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let health = run(&["--health"], &vars);
    assert_eq!(health.code, Some(1), "{}", health.stdout);
    assert!(
        health
            .stdout
            .contains("no osqueryd socket at /nonexistent/osquery.em"),
        "{}",
        health.stdout
    );
}

#[test]
fn hybrid_sends_event_tables_to_the_daemon_and_the_rest_to_osqueryi() {
    let daemon = FakeDaemon::with(daemon_host::answer);
    let standin = Standin::new(&[]);
    let socket = daemon.path().display().to_string();
    let mut s = Server::with_standin(
        &standin,
        &[("OSQUERY_BACKEND", "hybrid"), ("OSQUERY_SOCKET", &socket)],
    );
    let events = rows(&s.call(
        "custom_query",
        json!({"sql": "SELECT pid, path, cmdline FROM process_events WHERE time > 0"}),
    ));
    assert_eq!(events.len(), process_events().len());
    assert_eq!(events[0]["path"], "/usr/bin/curl");
    assert!(!rows(&s.call("processes", json!({"limit": 3}))).is_empty());
    let columns = rows(&s.call("describe_table", json!({"table": "process_events"})));
    assert!(
        columns.iter().any(|c| c["name"] == "cmdline"),
        "{columns:?}"
    );

    // Progress notes say which backend is at work.
    for (tool, args, says) in [
        ("processes", json!({}), "running osqueryi"),
        (
            "custom_query",
            json!({"sql": "SELECT count(*) AS n FROM process_events"}),
            "querying osqueryd",
        ),
    ] {
        let id = json!(format!("progress-{tool}"));
        let params = json!({"name": tool, "arguments": args, "_meta": {"progressToken": tool}});
        s.send_request(id.clone(), "tools/call", params);
        let (_, before) = s.reply_and_before(&id);
        let notes: Vec<&Value> = before
            .iter()
            .filter(|m| m["params"]["progressToken"] == tool)
            .map(|m| &m["params"]["message"])
            .collect();
        assert!(notes.contains(&&json!(says)), "{tool}: {notes:?}");
    }
    assert_eq!(standin.runs("FROM processes"), 2);
    assert!(
        !standin.log().contains("process_events"),
        "{}",
        standin.log()
    );
    assert_eq!(calls_with(&daemon, "process_events"), 3);
    assert_eq!(calls_with(&daemon, "FROM processes"), 0);
    let b = s.read_resource("osquery://server/metrics")["backends"].clone();
    assert_eq!(b["osqueryi"]["ok"], 2, "{b}");
    assert_eq!(b["osqueryd"]["ok"], 3, "{b}");
}

#[test]
fn the_guard_and_table_lists_stand_before_the_socket() {
    let daemon = FakeDaemon::with(daemon_host::answer);
    let mut s = server(&daemon, &[]);
    for (tool, args) in [
        ("custom_query", json!({"sql": "SELECT * FROM shadow"})),
        (
            "custom_query",
            json!({"sql": "SELECT * FROM processes; DROP TABLE x"}),
        ),
        ("describe_table", json!({"table": "shadow"})),
    ] {
        error_text(&s.call(tool, args));
    }
    let listed = rows(&s.call("list_tables", json!({})));
    let names: Vec<&str> = listed.iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"processes") && names.contains(&"process_events"));
    for denied in ["shadow", "curl", "hash"] {
        assert!(!names.contains(&denied), "{denied} listed");
    }
    assert_eq!(calls_with(&daemon, "shadow"), 0);
    assert_eq!(calls_with(&daemon, "DROP"), 0);

    let mut allow = server(&daemon, &[("OSQUERY_ALLOW_TABLES", "processes")]);
    error_text(&allow.call("custom_query", json!({"sql": "SELECT * FROM users"})));
    error_text(&allow.call("describe_table", json!({"table": "users"})));
    let listed = rows(&allow.call("list_tables", json!({})));
    assert_eq!(listed, vec![json!({"name": "processes"})]);
    assert_eq!(calls_with(&daemon, "users"), 0);
}

#[test]
fn no_socket_is_an_error_that_names_the_fixes() {
    let mut daemon = FakeDaemon::start();
    let path = daemon.path().display().to_string();
    daemon.stop();
    let mut s = server(&daemon, &[]);
    let e = error_text(&s.call("system_info", json!({})));
    assert_eq!(
        e,
        format!(
            "Error: no osqueryd socket at {path} — is osqueryd running? set OSQUERY_SOCKET, or OSQUERY_BACKEND=osqueryi"
        )
    );
    s.assert_serving();
}

#[test]
fn a_root_only_socket_says_so() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let daemon = FakeDaemon::with(daemon_host::answer);
    std::fs::set_permissions(daemon.path(), std::fs::Permissions::from_mode(0o000))
        .expect("chmod the socket");
    let base = daemon_vars(&daemon);
    let vars: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cmd = server_command(&vars);
    if UnixStream::connect(daemon.path()).is_ok() {
        // Root connects whatever the mode says; nobody does not.
        cmd.uid(65534).gid(65534);
    }
    let out = cmd
        .args(["call", "users"])
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("permission denied on the osqueryd socket") && stderr.contains("root-only"),
        "{stderr}"
    );
    assert!(daemon.calls().is_empty());
}

#[test]
fn a_hung_daemon_is_answered_at_the_timeout_while_the_rest_is_served() {
    let daemon = FakeDaemon::with(host_except("'hang_me'", Answer::Hang));
    let mut s = server(&daemon, &[("OSQUERY_TIMEOUT", "3")]);
    s.initialize();
    let started = Instant::now();
    s.send_call(
        json!("hung"),
        "custom_query",
        json!({"sql": "SELECT * FROM processes WHERE name = 'hang_me'"}),
    );
    eventually("the daemon has the query", || {
        calls_with(&daemon, "hang_me") == 1
    });
    s.send_request(json!("ping"), "ping", json!({}));
    s.send_call(json!("users"), "users", json!({}));
    let (hung, before) = s.reply_and_before(&json!("hung"));
    let took = started.elapsed();
    let ids: Vec<&Value> = before.iter().map(|m| &m["id"]).collect();
    assert!(
        ids.contains(&&json!("ping")) && ids.contains(&&json!("users")),
        "not answered while the daemon hung: {ids:?}"
    );
    assert_eq!(
        error_text(&hung["result"]),
        "Error: Query timed out after 3 seconds; ask for less: narrow the query with WHERE (indexed columns are cheapest, see describe_table) and add a LIMIT"
    );
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    // The timed-out connection is closed; the one users used stays for reuse.
    eventually("the hung connection is closed", || {
        daemon.open_connections() == 1
    });
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    let m = s.read_resource("osquery://server/metrics");
    assert_eq!(m["timeouts"], 1);
}

#[test]
fn a_trickled_reply_is_cut_at_the_timeout_not_each_read() {
    let trickle = Answer::Trickle(Duration::from_millis(100));
    let daemon = FakeDaemon::with(host_except("'drip'", trickle));
    let mut s = server(&daemon, &[("OSQUERY_TIMEOUT", "1")]);
    let started = Instant::now();
    let e = error_text(&s.call(
        "custom_query",
        json!({"sql": "SELECT * FROM processes WHERE name = 'drip'"}),
    ));
    assert_eq!(
        e,
        "Error: Query timed out after 1 second; ask for less: narrow the query with WHERE (indexed columns are cheapest, see describe_table) and add a LIMIT"
    );
    // The whole reply would take over 10 s.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!rows(&s.call("users", json!({}))).is_empty());
}

#[test]
fn misbehaving_daemons_get_clear_errors_and_the_server_keeps_serving() {
    // What the daemon does, what the error says, and how often the query
    // is sent: twice when a reused connection closes without answering.
    let cases: Vec<(Answer, &[&str], usize)> = vec![
        (
            Answer::Garbage,
            &["garbled reply from osqueryd", "extensions socket?"],
            1,
        ),
        (
            Answer::Close,
            &["osqueryd closed the connection", "try again"],
            2,
        ),
        (
            Answer::CloseMidReply,
            &["osqueryd closed the connection after", "bytes of its reply"],
            1,
        ),
        (
            Answer::Status(1, "no such table: nosuch".into()),
            &["Error: osqueryd could not run the query: no such table: nosuch; use list_tables"],
            1,
        ),
        (
            Answer::Exception(6, "Internal error".into()),
            &["Thrift exception (INTERNAL_ERROR): Internal error"],
            1,
        ),
        (
            Answer::LyingLength(0x7fff_ffff),
            &["exceeded MAX_RESPONSE_SIZE (10485760 bytes)"],
            1,
        ),
        (Answer::LyingLength(0xffff_ffff), &["negative length"], 1),
        (
            Answer::LyingLength(100_000),
            &["osqueryd closed the connection after"],
            1,
        ),
    ];
    let daemon = FakeDaemon::with(daemon_host::answer);
    let mut s = server(&daemon, &[]);
    for (i, (answer, says, sent)) in cases.into_iter().enumerate() {
        // A good call first, so the bad one goes out on a reused connection.
        assert!(!rows(&s.call("system_info", json!({}))).is_empty());
        let marker = format!("'bad{i}'");
        daemon.respond_with(host_except(&marker, answer.clone()));
        let sql = format!("SELECT * FROM processes WHERE name = {marker}");
        let e = error_text(&s.call("custom_query", json!({ "sql": sql })));
        assert!(says.iter().all(|n| e.contains(n)), "{answer:?}: {e}");
        assert_eq!(calls_with(&daemon, &marker), sent, "{answer:?}");
    }
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
}

#[test]
fn a_40_mb_reply_is_refused_within_bounded_memory() {
    let daemon = FakeDaemon::with(host_except("'huge'", Answer::Oversize(40 << 20)));
    let mut s = server(&daemon, &[]);
    let e = error_text(&s.call(
        "custom_query",
        json!({"sql": "SELECT * FROM processes WHERE name = 'huge'"}),
    ));
    assert!(
        e.contains("exceeded MAX_RESPONSE_SIZE (10485760 bytes)") && e.contains("LIMIT"),
        "{e}"
    );
    let peak = vm_hwm_kib(s.pid());
    assert!(peak < 150 * 1024, "peak RSS {peak} KiB");
    assert!(!rows(&s.call("users", json!({}))).is_empty());
}

#[test]
fn a_restarted_daemon_is_found_again_without_restarting_the_server() {
    let mut daemon = FakeDaemon::with(daemon_host::answer);
    let mut s = server(&daemon, &[]);
    let pid = s.pid();
    assert!(!rows(&s.call("users", json!({}))).is_empty());
    // Restarted under the server's idle connection: the next call reconnects.
    daemon.restart();
    assert!(!rows(&s.call("users", json!({}))).is_empty());
    daemon.stop();
    let down = error_text(&s.call("users", json!({})));
    assert!(down.contains("no osqueryd socket at"), "{down}");
    daemon.restart();
    assert!(!rows(&s.call("users", json!({}))).is_empty());
    assert_eq!(s.pid(), pid);
    assert_eq!(daemon.connections(), 3, "one per daemon life");
}

#[test]
fn calls_at_once_use_at_most_one_connection_per_worker() {
    let slow = Answer::Slow(
        Duration::from_millis(200),
        Box::new(Answer::Rows(process_events())),
    );
    let daemon = FakeDaemon::with(host_except("slow", slow));
    let mut s = server(&daemon, &[]);
    s.initialize();
    // Distinct SQL, so no call joins another's run.
    for i in 0..12 {
        let sql = format!("SELECT pid FROM processes WHERE name = 'slow{i}'");
        s.send_call(json!(i), "custom_query", json!({ "sql": sql }));
    }
    for i in 0..12 {
        let reply = s.wait_for(&json!(i));
        assert_eq!(rows(&reply["result"]).len(), process_events().len());
    }
    let opened = daemon.connections();
    assert!((1..=5).contains(&opened), "{opened} connections");
}

#[test]
fn cancelling_a_daemon_query_closes_its_connection_and_answers_nothing() {
    let daemon = FakeDaemon::with(host_except("'hang_me'", Answer::Hang));
    let mut s = server(&daemon, &[("OSQUERY_TIMEOUT", "60")]);
    s.initialize();
    s.send_call(
        json!("c1"),
        "custom_query",
        json!({"sql": "SELECT * FROM processes WHERE name = 'hang_me'"}),
    );
    eventually("the daemon has the query", || {
        calls_with(&daemon, "hang_me") == 1
    });
    s.notify("notifications/cancelled", json!({"requestId": "c1"}));
    eventually("the cancelled call's connection is closed", || {
        daemon.open_connections() == 0
    });
    assert!(!rows(&s.call("users", json!({}))).is_empty());
    s.finish_without_answering(&json!("c1"));
    assert_eq!(calls_with(&daemon, "hang_me"), 1);
}

/// The binary on the daemon backend against Apache Thrift's own server
/// (`tests/interop/fake_extension_manager.py`); `make interop` starts it and
/// runs this with OSQUERY_INTEROP_SOCKET set.
#[test]
#[ignore = "needs the Python Thrift server: make interop"]
fn interop_the_binary_against_a_python_thrift_server() {
    let socket = std::env::var("OSQUERY_INTEROP_SOCKET").expect("OSQUERY_INTEROP_SOCKET");
    let vars = [
        ("OSQUERY_BACKEND", "daemon"),
        ("OSQUERY_SOCKET", socket.as_str()),
        ("OSQUERY_PATH", NO_OSQUERYI),
    ];
    let mut s = Server::with_env(&vars);
    s.initialize();
    let got = rows(&s.call(
        "custom_query",
        json!({"sql": "SELECT name, pid FROM processes"}),
    ));
    println!("custom_query: {got:?}");
    assert_eq!(
        got,
        vec![
            json!({"name": "osqueryd", "pid": "1"}),
            json!({"name": "sshd", "pid": "812"}),
        ]
    );
    let columns = rows(&s.call("describe_table", json!({"table": "processes"})));
    println!("describe_table: {columns:?}");
    assert_eq!(
        columns,
        vec![
            json!({"name": "name", "type": "TEXT"}),
            json!({"name": "pid", "type": "BIGINT"}),
        ]
    );
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM nosuch"})));
    println!("status 1: {e}");
    assert_eq!(
        e,
        "Error: osqueryd could not run the query: no such table: nosuch; use list_tables to see the tables this host's osquery has"
    );
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT 'raise' AS x"})));
    println!("exception: {e}");
    assert!(e.contains("INTERNAL_ERROR"), "{e}");
    let health = s.read_resource("osquery://server/health");
    println!("health: {}", health["osqueryd"]);
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["osqueryd"]["version"], "5.13.1");
    s.close_stdin();
    assert_eq!(s.wait_exit().code(), Some(0));
}
