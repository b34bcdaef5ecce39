//! osqueryi misbehaving in every way the stand-in can: the server answers each
//! with a clear error, leaves nothing behind, and keeps serving.

use crate::util::{Server, Standin, error_text, eventually, process_alive, rows, zombie_children};
use serde_json::json;
use std::time::{Duration, Instant};

fn still_serving(s: &mut Server) {
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
}

#[test]
fn a_hang_is_killed_at_the_timeout_with_its_children_and_reaped() {
    let pids_dir = crate::util::TempDir::new("pids");
    let pids = pids_dir.path("pids");
    let pids_env = pids.display().to_string();
    let standin = Standin::new(&[
        ("STANDIN_MODE", "hang"),
        ("STANDIN_MATCH", "FROM users"),
        ("STANDIN_PIDS", &pids_env),
    ]);
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "1")]);
    let started = Instant::now();
    let e = error_text(&s.call("users", json!({})));
    let took = started.elapsed();
    assert_eq!(e, "Error: Query timed out after 1 seconds");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let text = std::fs::read_to_string(&pids).expect("stand-in wrote its pids");
    for pid in text
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
    {
        eventually("hung stand-in and its child are gone", || {
            !process_alive(pid)
        });
    }
    assert!(zombie_children(s.pid()).is_empty(), "zombies left behind");
    // Other queries still work.
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
    still_serving(&mut s);
}

#[test]
fn a_crash_by_signal_is_an_error() {
    let standin = Standin::new(&[("STANDIN_MODE", "crash")]);
    let mut s = Server::with_standin(&standin, &[]);
    let e = error_text(&s.call("processes", json!({})));
    assert!(
        e.starts_with("Error: osqueryi execution failed:") && e.contains("signal 11"),
        "{e}"
    );
    assert!(zombie_children(s.pid()).is_empty());
    still_serving(&mut s);
}

#[test]
fn garbage_and_truncated_output_are_errors() {
    for mode in ["garbage", "truncated"] {
        let standin = Standin::new(&[("STANDIN_MODE", mode)]);
        let mut s = Server::with_standin(&standin, &[]);
        let e = error_text(&s.call("users", json!({})));
        assert!(e.contains("not a JSON array of objects"), "{mode}: {e}");
        still_serving(&mut s);
    }
}

#[test]
fn five_megabytes_of_rows_succeed() {
    let standin = Standin::new(&[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "5242880")]);
    let mut s = Server::with_standin(&standin, &[]);
    s.send_request(
        json!("big"),
        "tools/call",
        json!({"name": "custom_query", "arguments": {"sql": "SELECT * FROM big"}}),
    );
    // Read the raw line: it must stay under the 10 MiB clients accept.
    let line = s.recv_line(crate::util::DEADLINE).expect("an answer");
    assert!(line.len() < 10 * 1024 * 1024, "{} bytes", line.len());
    let r: serde_json::Value = serde_json::from_str(&line).expect("JSON");
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
    still_serving(&mut s);
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
    still_serving(&mut s);
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
    still_serving(&mut s);
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
fn non_zero_exits_report_the_reason() {
    let standin = Standin::new(&[("STANDIN_MODE", "fail")]);
    let mut s = Server::with_standin(&standin, &[]);
    let e = error_text(&s.call("users", json!({})));
    assert!(
        e.contains("syntax error") && e.contains("exit status 1"),
        "{e}"
    );
    let standin = Standin::new(&[("STANDIN_MODE", "exit78")]);
    let mut s = Server::with_standin(&standin, &[]);
    let e = error_text(&s.call("users", json!({})));
    assert!(e.contains("exit status 78"), "{e}");
    still_serving(&mut s);
}

#[test]
fn a_binary_that_is_not_executable_is_not_found() {
    let dir = crate::util::TempDir::new("noexec");
    let path = dir.path("osqueryi");
    std::fs::write(&path, "#!/bin/sh\n").expect("write");
    let p = path.display().to_string();
    let mut s = Server::with_env(&[("OSQUERY_PATH", p.as_str())]);
    let e = error_text(&s.call("users", json!({})));
    assert!(e.contains(&format!("not found at {p}")), "{e}");
}
