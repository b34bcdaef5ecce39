//! Identical calls in flight at the same time share one osqueryi run; each
//! caller still gets its own answer, and one caller's cancellation does not
//! stop the run for the others.

use crate::util::{Server, Standin, all_gone, eventually, rows};
use serde_json::json;

fn slow() -> Standin {
    Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "1")])
}

#[test]
fn five_identical_calls_share_one_run_and_each_gets_its_answer() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    // `5` and `"5"` are the same call once normalised.
    for i in 0..5 {
        let limit = if i % 2 == 0 { json!(5) } else { json!("5") };
        s.send_call(json!(i), "processes", json!({"limit": limit}));
    }
    for i in 0..5 {
        let r = s.wait_for(&json!(i));
        assert_eq!(r["id"], json!(i));
        assert_eq!(rows(&r["result"]).len(), 5);
    }
    assert_eq!(standin.runs("FROM processes"), 1, "{}", standin.log());
    let metrics = s.read_resource("osquery://server/metrics");
    assert_eq!(metrics["coalesced"], 4, "{metrics}");
}

#[test]
fn different_arguments_run_separately() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    s.send_call(json!(1), "processes", json!({"limit": 3}));
    s.send_call(json!(2), "processes", json!({"limit": 4}));
    s.send_call(json!(3), "users", json!({}));
    assert_eq!(rows(&s.wait_for(&json!(1))["result"]).len(), 3);
    assert_eq!(rows(&s.wait_for(&json!(2))["result"]).len(), 4);
    assert!(!rows(&s.wait_for(&json!(3))["result"]).is_empty());
    assert_eq!(standin.runs("FROM processes"), 2, "{}", standin.log());
    assert_eq!(standin.runs("FROM users"), 1, "{}", standin.log());
}

#[test]
fn cancelling_one_caller_leaves_the_shared_run_to_the_others() {
    let standin = slow();
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    for i in 1..=3 {
        s.send_call(json!(i), "users", json!({}));
    }
    eventually("the shared run started", || standin.runs("FROM users") == 1);
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
    assert_eq!(standin.runs("FROM users"), 1, "{}", standin.log());
}

#[test]
fn cancelling_every_caller_stops_the_run() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    for i in 1..=3 {
        s.send_call(json!(i), "users", json!({}));
    }
    eventually("the shared run started", || standin.runs("FROM users") == 1);
    for i in 1..=3 {
        s.notify("notifications/cancelled", json!({"requestId": i}));
    }
    all_gone(
        "the shared run's process group was killed",
        &standin.wait_hung(),
    );
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
    s.send_call(json!(1), "users", json!({}));
    eventually("the first run started", || standin.runs("FROM users") == 1);
    s.send_request(
        json!(2),
        "tools/call",
        json!({"name": "users", "arguments": {}, "_meta": {"progressToken": "joined"}}),
    );
    let (reply, before) = s.reply_and_before(&json!(2));
    rows(&reply["result"]);
    let mut progress = Vec::new();
    for m in before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
    {
        assert_eq!(m["params"]["progressToken"], "joined");
        progress.push(m["params"]["progress"].as_f64().expect("number"));
    }
    assert!(progress.len() >= 2, "start and end: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(standin.runs("FROM users"), 1, "{}", standin.log());
}
