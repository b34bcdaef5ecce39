//! Limits on what a client may make the server hold: ids and progress tokens
//! over 1 KiB of JSON are refused with -32600 naming the limit, whatever
//! their size, and the server keeps serving; lone surrogates keep their id;
//! a client that reads late makes the server wait, and loses nothing.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use crate::util::{DEADLINE, Server, Standin, eventually, server_command};
use serde_json::{Value, json};
use wait_timeout::ChildExt;

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

#[test]
fn a_client_that_reads_late_gets_every_answer() {
    // Answers of about 5 MB: three fill the writer's 16 MiB outbox.
    let standin = Standin::new(&[("STANDIN_MODE", "huge"), ("STANDIN_HUGE_BYTES", "2500000")]);
    let path = standin.path.display().to_string();
    // Masking is not what this test is about, and costs time in a debug build;
    // the largest text budget makes each answer one page of its whole result.
    let mut child = server_command(&[
        ("OSQUERY_PATH", &path),
        ("REDACT", "0"),
        ("MAX_TEXT_BYTES", "10485760"),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start the server");
    let mut stdin = child.stdin.take().expect("stdin");
    // One for each worker, so all of them run at once.
    let calls = 5;
    for i in 0..calls {
        let call = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
            "name": "custom_query", "arguments": {"sql": format!("SELECT * FROM users WHERE uid > {i}")}}});
        writeln!(stdin, "{call}").expect("send");
    }
    // Five answers are more than the outbox and the pipe hold: from here on
    // the server waits for this client, which has read nothing yet.
    eventually("every run finished", || standin.runs("huge-done") == 5);
    // EOF: the server answers what it accepted and exits, so a lost answer
    // shows as an early end of output rather than a wait.
    drop(stdin);
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ids = Vec::new();
    for _ in 0..calls {
        let mut line = String::new();
        out.read_line(&mut line).expect("an answer");
        let reply: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            reply["result"]["isError"],
            false,
            "{}",
            &line[..line.len().min(300)]
        );
        assert!(reply["result"]["structuredContent"]["row_count"].as_u64() > Some(2000));
        ids.push(reply["id"].as_i64().expect("an id"));
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..calls).collect::<Vec<i64>>());
    let status = child
        .wait_timeout(DEADLINE)
        .expect("wait")
        .expect("exits at EOF");
    assert!(status.success());
}

#[test]
fn names_the_client_made_up_are_echoed_cut_short() {
    let mut s = Server::start();
    s.initialize();
    let long = "m".repeat(1024 * 1024);
    for (method, params) in [
        (long.as_str(), json!({})),
        (
            "resources/read",
            json!({"uri": format!("osquery://{long}")}),
        ),
        ("prompts/get", json!({"name": long})),
    ] {
        let reply = s.request(method, params);
        let message = reply["error"]["message"].as_str().expect("an error");
        assert!(message.len() < 600, "{method:.20}: {} bytes", message.len());
        assert!(message.contains("(1048"), "{message}");
        assert!(reply.to_string().len() < 1200, "{method:.20}");
    }
    s.assert_serving();
}
