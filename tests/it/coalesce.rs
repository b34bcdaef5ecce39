//! Identical calls in flight at the same time share one osqueryi run; each
//! caller still gets its own answer, and one caller's cancellation does not
//! stop the run for the others.

use crate::util::{Server, Standin, TempDir, eventually, process_alive, rows};
use serde_json::{Value, json};

fn slow() -> Standin {
    Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "1")])
}

/// Query lines the stand-in logged (the `--version` probe aside).
fn runs(standin: &Standin, needle: &str) -> usize {
    standin.log().lines().filter(|l| l.contains(needle)).count()
}

fn call(s: &mut Server, id: i64, tool: &str, args: Value) {
    s.send_request(
        json!(id),
        "tools/call",
        json!({"name": tool, "arguments": args}),
    );
}

#[test]
fn five_identical_calls_share_one_run_and_each_gets_its_answer() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    // `5` and `"5"` are the same call once normalised.
    for i in 0..5 {
        let limit = if i % 2 == 0 { json!(5) } else { json!("5") };
        call(&mut s, i, "processes", json!({"limit": limit}));
    }
    for i in 0..5 {
        let r = s.wait_for(&json!(i));
        assert_eq!(r["id"], json!(i));
        assert_eq!(rows(&r["result"]).len(), 5);
    }
    assert_eq!(runs(&standin, "FROM processes"), 1, "{}", standin.log());
    let read = s.request("resources/read", json!({"uri": "osquery://server/metrics"}));
    let text = read["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let metrics: serde_json::Value = serde_json::from_str(text).expect("metrics JSON");
    assert_eq!(metrics["coalesced"], 4, "{metrics}");
}

#[test]
fn different_arguments_run_separately() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    call(&mut s, 1, "processes", json!({"limit": 3}));
    call(&mut s, 2, "processes", json!({"limit": 4}));
    call(&mut s, 3, "users", json!({}));
    assert_eq!(rows(&s.wait_for(&json!(1))["result"]).len(), 3);
    assert_eq!(rows(&s.wait_for(&json!(2))["result"]).len(), 4);
    assert!(!rows(&s.wait_for(&json!(3))["result"]).is_empty());
    assert_eq!(runs(&standin, "FROM processes"), 2, "{}", standin.log());
    assert_eq!(runs(&standin, "FROM users"), 1, "{}", standin.log());
}

#[test]
fn cancelling_one_caller_leaves_the_shared_run_to_the_others() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    for i in 1..=3 {
        call(&mut s, i, "users", json!({}));
    }
    eventually("the shared run started", || {
        runs(&standin, "FROM users") == 1
    });
    // Cancel the caller whose call leads the run.
    s.notify(
        "notifications/cancelled",
        json!({"requestId": 1, "reason": "test"}),
    );
    assert!(!rows(&s.wait_for(&json!(2))["result"]).is_empty());
    assert!(!rows(&s.wait_for(&json!(3))["result"]).is_empty());
    // The cancelled caller gets nothing, up to the server's exit.
    s.close_stdin();
    let all = s.drain();
    assert!(
        !all.iter().any(|m| m.get("id") == Some(&json!(1))),
        "the cancelled caller was answered: {all:?}"
    );
    assert_eq!(runs(&standin, "FROM users"), 1, "{}", standin.log());
}

#[test]
fn cancelling_every_caller_stops_the_run() {
    let pids_file = TempDir::new("coalesce-pids");
    let pids = pids_file.0.join("pids").display().to_string();
    let standin = Standin::new(&[
        ("STANDIN_MODE", "hang"),
        ("STANDIN_MATCH", "FROM users"),
        ("STANDIN_PIDS", &pids),
    ]);
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    for i in 1..=3 {
        call(&mut s, i, "users", json!({}));
    }
    eventually("the shared run started", || {
        runs(&standin, "FROM users") == 1
    });
    for i in 1..=3 {
        s.notify("notifications/cancelled", json!({"requestId": i}));
    }
    eventually("the hung stand-in wrote its pids", || {
        std::fs::read_to_string(&pids).is_ok_and(|p| p.split_whitespace().count() == 2)
    });
    let alive: Vec<u32> = std::fs::read_to_string(&pids)
        .expect("pids")
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    eventually("the shared run's process group was killed", || {
        alive.iter().all(|p| !process_alive(*p))
    });
    s.close_stdin();
    let all = s.drain();
    assert!(
        !all.iter()
            .any(|m| [1, 2, 3].iter().any(|i| m.get("id") == Some(&json!(i)))),
        "a cancelled caller was answered: {all:?}"
    );
}

#[test]
fn a_caller_that_joins_a_running_call_still_hears_start_and_end_progress() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    call(&mut s, 1, "users", json!({}));
    eventually("the first run started", || {
        runs(&standin, "FROM users") == 1
    });
    s.send_request(
        json!(2),
        "tools/call",
        json!({"name": "users", "arguments": {}, "_meta": {"progressToken": "joined"}}),
    );
    let mut progress = Vec::new();
    loop {
        let m = s.recv(crate::util::DEADLINE).expect("a message");
        if m.get("id") == Some(&json!(2)) {
            rows(&m["result"]);
            break;
        }
        if m["method"] == "notifications/progress" {
            assert_eq!(m["params"]["progressToken"], "joined");
            progress.push(m["params"]["progress"].as_f64().expect("number"));
        }
    }
    assert!(progress.len() >= 2, "start and end: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(runs(&standin, "FROM users"), 1, "{}", standin.log());
}
