//! Limits on what a client may make the server hold: ids and progress tokens
//! over 1 KiB of JSON are refused with -32600 naming the limit, whatever
//! their size, and the server keeps serving; lone surrogates keep their id.

use crate::util::{DEADLINE, Server, Standin};
use serde_json::{Value, json};

const CAP: usize = 1024;

/// A JSON string exactly `len` bytes long as sent, with an escape and a
/// non-ASCII character in it, which the server must echo as they are.
fn string_of(len: usize) -> String {
    let inner = "é \\\"q\\\" ";
    let fill = len - 2 - inner.len();
    format!("\"{inner}{}\"", "x".repeat(fill))
}

#[test]
fn ids_over_the_cap_are_refused_and_one_at_the_cap_is_echoed_as_sent() {
    let mut s = Server::start();
    let refusal = format!(
        r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":-32600,"message":"Invalid request: id is longer than {CAP} bytes, the limit for ids and progress tokens"}}}}"#
    );
    for len in [CAP + 1, 8 * 1024 * 1024] {
        let id = string_of(len);
        s.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
        let line = s.recv_line(DEADLINE).expect("an answer");
        assert_eq!(line, refusal, "an id of {len} bytes");
        s.assert_serving();
    }
    let id = string_of(CAP);
    s.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
    let line = s.recv_line(DEADLINE).expect("an answer");
    assert_eq!(
        line,
        format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
    );
}

#[test]
fn progress_tokens_over_the_cap_are_refused_without_running_the_call() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let call = |id: u32, token: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"users","_meta":{{"progressToken":{token}}}}}}}"#
        )
    };
    for (id, len) in [(1, CAP + 1), (2, 8 * 1024 * 1024)] {
        s.send_raw(&call(id, &string_of(len)));
        let line = s.recv_line(DEADLINE).expect("an answer");
        assert_eq!(
            line,
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32600,"message":"Invalid request: _meta.progressToken is longer than {CAP} bytes, the limit for ids and progress tokens"}}}}"#
            ),
            "a token of {len} bytes"
        );
        s.assert_serving();
    }
    assert_eq!(standin.runs("FROM users"), 0, "{}", standin.log());
    // A token at the cap is served, and every note carries it as sent.
    let token = string_of(CAP);
    s.send_raw(&call(3, &token));
    let (reply, before) = s.reply_and_before(&json!(3));
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let sent: Value = serde_json::from_str(&token).expect("JSON");
    let notes: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(notes.len(), 3, "{before:?}");
    assert!(notes.iter().all(|n| n["params"]["progressToken"] == sent));
}

#[test]
fn a_request_with_a_lone_surrogate_is_refused_with_its_id() {
    let mut s = Server::start();
    s.send_raw(
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"custom_query","arguments":{"sql":"SELECT '\ud800'"}}}"#,
    );
    let r = s.wait_for(&json!(7));
    assert_eq!(r["error"]["code"], -32600, "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("lone UTF-16 surrogate"), "{message}");
    // A complete pair is a character like any other.
    let r = s.request(
        "tools/call",
        json!({"name": "custom_query", "arguments": {"sql": "SELECT '\u{1F600}' AS s"}}),
    );
    assert_eq!(r["result"]["isError"], false, "{r}");
    s.assert_serving();
}
