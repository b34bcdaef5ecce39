//! The five-worker pool as a client feels it: five slow calls run together,
//! a sixth waits, and the reader keeps answering protocol requests meanwhile.

use crate::util::{Server, Standin, rows};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn five_slow_calls_run_together_and_a_sixth_waits_while_ping_is_instant() {
    let standin = Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "1")]);
    let mut s = Server::with_standin(&standin, &[]);
    s.initialize();
    let started = Instant::now();
    // Distinct arguments, so no call joins another's run (see coalesce.rs).
    for i in 0..6 {
        s.send_call(json!(i), "processes", json!({"limit": i + 1}));
    }
    // All five workers are busy now; the reader still answers at once.
    let ping_sent = Instant::now();
    let pong = s.request("ping", json!({}));
    assert_eq!(pong["result"], json!({}));
    let ping_time = ping_sent.elapsed();
    let mut finished = Vec::new();
    for i in 0..6 {
        let r = s.wait_for(&json!(i));
        rows(&r["result"]);
        finished.push((i, started.elapsed()));
    }
    let firsts: Vec<Duration> = finished[..5].iter().map(|(_, t)| *t).collect();
    let sixth = finished[5].1;
    assert!(
        ping_time < Duration::from_millis(500),
        "ping took {ping_time:?}"
    );
    assert!(
        firsts.iter().all(|t| *t < Duration::from_millis(1900)),
        "first five: {firsts:?}"
    );
    assert!(
        sixth >= Duration::from_millis(1900),
        "the sixth did not wait: {sixth:?}"
    );
}

#[test]
fn a_full_queue_answers_busy_at_once() {
    // Calls take 5 s, so every reply that arrives sooner is a refusal.
    let standin = Standin::new(&[("STANDIN_MODE", "slow"), ("STANDIN_DELAY", "5")]);
    let mut s = Server::with_standin(&standin, &[]);
    let n = 5 + 64 + 10;
    for i in 0..n {
        s.send_call(json!(i), "processes", json!({"limit": i + 1}));
    }
    let sent = Instant::now();
    let mut busy = 0;
    while busy < 10 {
        let r = s.recv(Duration::from_secs(4)).expect("a prompt busy reply");
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            text.contains("server busy") && text.contains("retry"),
            "{text}"
        );
        busy += 1;
    }
    assert!(sent.elapsed() < Duration::from_secs(4));
    s.assert_serving();
}
