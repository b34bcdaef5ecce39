//! osqueryi misbehaving in every way the stand-in can: the server answers each
//! with a clear error, leaves nothing behind, and keeps serving.

use crate::util::{
    DEADLINE, Server, Standin, TempDir, all_gone, error_text, rows, zombie_children,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn a_hang_is_killed_at_the_timeout_with_its_children_and_reaped() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "1")]);
    let started = Instant::now();
    let e = error_text(&s.call("users", json!({})));
    let took = started.elapsed();
    assert!(
        e.starts_with(
            "Error: Query timed out after 1 second; ask for less: narrow the query with WHERE"
        ),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    all_gone("the hung stand-in and its child", &standin.wait_hung());
    assert!(zombie_children(s.pid()).is_empty(), "zombies left behind");
    // Other queries still work.
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    s.assert_serving();
}

/// Stand-in modes that end osqueryi badly: the mode, the tool called, what
/// the error starts with and what else it says.
const BAD_ENDINGS: &[(&str, &str, &str, &[&str])] = &[
    (
        "crash",
        "processes",
        "Error: osqueryi execution failed:",
        &["signal 11"],
    ),
    (
        "garbage",
        "users",
        "Error: ",
        &["not a JSON array of objects"],
    ),
    (
        "truncated",
        "users",
        "Error: ",
        &["not a JSON array of objects"],
    ),
    (
        "fail",
        "users",
        "Error: ",
        &["syntax error", "exit status 1"],
    ),
    ("exit78", "users", "Error: ", &["exit status 78"]),
];

#[test]
fn each_bad_ending_is_a_clear_error_and_leaves_nothing_behind() {
    for (mode, tool, starts, says) in BAD_ENDINGS {
        let standin = Standin::new(&[("STANDIN_MODE", mode)]);
        let mut s = Server::with_standin(&standin, &[]);
        let e = error_text(&s.call(tool, json!({})));
        assert!(
            e.starts_with(starts) && says.iter().all(|n| e.contains(n)),
            "{mode}: {e}"
        );
        assert!(zombie_children(s.pid()).is_empty(), "{mode}: zombies");
        s.assert_serving();
    }
}

#[test]
fn five_megabytes_of_rows_succeed() {
    let standin = Standin::new(&[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "5242880")]);
    let mut s = Server::with_standin(&standin, &[]);
    s.send_call(
        json!("big"),
        "custom_query",
        json!({"sql": "SELECT * FROM big"}),
    );
    // Read the raw line: it must stay under the 10 MiB clients accept.
    let line = s.recv_line(DEADLINE).expect("an answer");
    assert!(line.len() < 10 * 1024 * 1024, "{} bytes", line.len());
    let r: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(r["result"]["isError"], false);
    let rows = r["result"]["structuredContent"]["rows"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(rows > 1000, "{rows}");
    // Twice the rows would not fit: the text item says where they are.
    let text = r["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("structuredContent.rows only"), "{text}");
    s.assert_serving();
}

#[test]
fn an_answer_too_large_for_one_message_is_a_clear_error() {
    let standin = Standin::new(&[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "11534336")]);
    let mut s = Server::with_standin(&standin, &[("MAX_RESPONSE_SIZE", "20971520")]);
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM big"})));
    assert!(
        e.contains("MCP message") && e.contains("add a LIMIT"),
        "{e}"
    );
    s.assert_serving();
}

#[test]
fn output_over_the_cap_is_stopped_early() {
    let standin = Standin::new(&[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "52428800")]);
    let mut s = Server::with_standin(&standin, &[("MAX_RESPONSE_SIZE", "1048576")]);
    let e = error_text(&s.call("custom_query", json!({"sql": "SELECT * FROM big"})));
    assert!(
        e.contains("MAX_RESPONSE_SIZE (1048576 bytes)") && e.contains("LIMIT"),
        "{e}"
    );
    assert!(
        !standin.log().contains("huge-done"),
        "the stand-in ran to completion"
    );
    assert!(zombie_children(s.pid()).is_empty());
    s.assert_serving();
}

#[test]
fn stderr_noise_with_exit_zero_still_succeeds() {
    for mode in ["noise", "stderr_flood"] {
        let standin = Standin::new(&[("STANDIN_MODE", mode)]);
        let mut s = Server::with_standin(&standin, &[]);
        assert_eq!(rows(&s.call("system_info", json!({}))).len(), 1, "{mode}");
    }
}

#[test]
fn an_osqueryi_that_cannot_run_is_an_error_per_call_not_at_start() {
    let dir = TempDir::new("noexec");
    let noexec = dir.path("osqueryi");
    std::fs::write(&noexec, "#!/bin/sh\n").expect("write");
    let noexec = noexec.display().to_string();
    let named = |p: &str| {
        format!(
            "Error: osqueryi not found at {p} (OSQUERY_PATH names a missing or non-executable file)"
        )
    };
    for (path, error) in [
        // Unset (empty): the search finds nothing on this machine.
        (
            "",
            "Error: osqueryi not found (set OSQUERY_PATH)".to_string(),
        ),
        // A wrong path is named, so the user sees which setting to fix.
        ("/nonexistent/osqueryi", named("/nonexistent/osqueryi")),
        (&noexec, named(&noexec)),
    ] {
        let mut s = Server::with_env(&[("OSQUERY_PATH", path)]);
        s.initialize();
        let list = s.request("tools/list", json!({}));
        assert_eq!(
            list["result"]["tools"].as_array().map(Vec::len),
            Some(12),
            "{path:?}"
        );
        assert_eq!(
            error_text(&s.call("system_info", json!({}))),
            error,
            "{path:?}"
        );
    }
}
