//! The JSON-RPC and MCP lifecycle as strict clients see it.

use crate::util::{DEADLINE, Server, rows};
use serde_json::{Value, json};

#[test]
fn initialize_negotiates_the_version() {
    let mut s = Server::start();
    for (asked, answered) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("2099-01-01", "2025-11-25"),
        ("2024-10-07", "2025-11-25"),
    ] {
        let r = s.request("initialize", json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}));
        let result = &r["result"];
        assert_eq!(result["protocolVersion"], answered, "asked {asked}");
        assert_eq!(result["serverInfo"]["name"], "mcp-osquery-server");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(result["capabilities"]["tools"].is_object());
        assert!(result["capabilities"]["prompts"].is_object());
        assert!(
            result["instructions"]
                .as_str()
                .is_some_and(|i| i.contains("custom_query") && i.contains("describe_table"))
        );
        assert!(r.get("error").is_none());
    }
}

#[test]
fn ping_tools_list_and_discover_work_before_initialize() {
    let mut s = Server::start();
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
    let list = s.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "system_info",
            "processes",
            "users",
            "network_interfaces",
            "network_connections",
            "open_files",
            "disk_usage",
            "installed_packages",
            "running_services",
            "list_tables",
            "describe_table",
            "custom_query"
        ]
    );
    assert!(list["result"].get("nextCursor").is_none());
    // server/discover (MCP 2026-07-28) is answered at once, not refused.
    s.send_raw(r#"{"jsonrpc":"2.0","id":"discover-1","method":"server/discover","params":{}}"#);
    let r = s.wait_for(&json!("discover-1"));
    assert_eq!(r["result"]["supportedVersions"][0], "2026-07-28");
    assert!(r.get("error").is_none());
}

#[test]
fn ids_come_back_byte_identical() {
    let mut s = Server::start();
    for id in [
        r#"7"#,
        r#""7""#,
        r#""""#,
        r#"9007199254740991"#,
        r#"-1"#,
        r#""ümlaut \"quoted\"""#,
    ] {
        s.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
        let line = s.recv_line(DEADLINE).expect("reply");
        assert_eq!(
            line,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
        );
    }
}

/// Lines that are not a request the server can serve: the bytes, the error
/// code, and the id the error carries (null when the line gives none).
const BAD_LINES: &[(&[u8], i64, Option<i64>)] = &[
    (b"{not json", -32700, None),
    (b"{bad", -32700, None),
    (b"{", -32700, None),
    (b"hello", -32700, None),
    (b"\xff\xfe{}", -32700, None),
    (
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}",
        -32700,
        None,
    ),
    (
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        -32600,
        None,
    ),
    (b"[]", -32600, None),
    (b"42", -32600, None),
    (br#""just a string""#, -32600, None),
    (
        br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        -32600,
        None,
    ),
    (
        br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        -32600,
        None,
    ),
    (br#"{"id":1,"method":"ping"}"#, -32600, Some(1)),
    (
        br#"{"jsonrpc":"1.0","id":10,"method":"ping"}"#,
        -32600,
        Some(10),
    ),
    (br#"{"jsonrpc":"2.0","id":9}"#, -32600, Some(9)),
    (
        br#"{"jsonrpc":"2.0","id":11,"method":"no/such"}"#,
        -32601,
        Some(11),
    ),
];

#[test]
fn bad_lines_get_their_error_and_the_server_keeps_serving() {
    let mut s = Server::start();
    s.initialize();
    for (line, code, id) in BAD_LINES {
        let case = String::from_utf8_lossy(line);
        s.send_raw_bytes(line);
        let r = s.recv(DEADLINE).expect("error reply");
        assert_eq!(r["error"]["code"], *code, "{case}: {r}");
        assert_eq!(r["id"], json!(id), "{case}: {r}");
        assert!(r.get("result").is_none(), "{case}: {r}");
        s.assert_serving();
    }
    assert!(!rows(&s.call("system_info", json!({}))).is_empty());
}

/// Well-formed requests the server refuses: the method, its params, the
/// error code, and what the message must name.
fn refused_requests() -> Vec<(&'static str, Value, i64, &'static [&'static str])> {
    vec![
        ("subscriptions/listen", json!({}), -32601, &[]),
        ("resources/templates/whatever", json!({}), -32601, &[]),
        ("tools/call", json!({"arguments": {}}), -32602, &[]),
        ("tools/call", json!({"name": 5}), -32602, &[]),
        (
            "prompts/get",
            json!({"name": "no_such_prompt"}),
            -32602,
            &["no_such_prompt", "memory_hogs"],
        ),
        ("prompts/get", json!({}), -32602, &[]),
        ("prompts/get", json!({"name": 3}), -32602, &[]),
        (
            "resources/read",
            json!({"uri": "osquery://server/nope"}),
            -32602,
            &[],
        ),
        ("resources/read", json!({}), -32602, &[]),
        ("logging/setLevel", json!({"level": "loud"}), -32602, &[]),
        ("logging/setLevel", json!({"level": "WARN"}), -32602, &[]),
        ("logging/setLevel", json!({}), -32602, &[]),
    ]
}

#[test]
fn refused_requests_get_their_error_code_before_and_after_initialize() {
    let mut s = Server::start();
    for initialized in [false, true] {
        if initialized {
            s.initialize();
        }
        for (method, params, code, names) in refused_requests() {
            let r = s.request(method, params.clone());
            let case = format!("{method} {params} (initialized: {initialized})");
            assert_eq!(r["error"]["code"], code, "{case}: {r}");
            assert!(r.get("result").is_none(), "{case}: {r}");
            let msg = r["error"]["message"].as_str().unwrap_or_default();
            assert!(names.iter().all(|n| msg.contains(n)), "{case}: {msg}");
        }
    }
}

#[test]
fn blank_lines_and_crlf_are_tolerated() {
    let mut s = Server::start();
    s.send_raw("");
    s.send_raw("   ");
    s.send_raw("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}\r");
    let r = s.recv(DEADLINE).expect("reply");
    assert_eq!(r, json!({"jsonrpc": "2.0", "id": 5, "result": {}}));
}

#[test]
fn notifications_are_never_answered() {
    let mut s = Server::start();
    s.notify("notifications/initialized", json!({}));
    s.notify("notifications/cancelled", json!({"requestId": 12345}));
    s.notify("notifications/whatever", json!({}));
    s.send_raw(r#"{"jsonrpc":"2.0","id":9,"result":{}}"#);
    s.send_raw(r#"{"jsonrpc":"2.0","id":10,"method":"ping"}"#);
    // The first thing back is the ping's reply: nothing was sent for the rest.
    let r = s.recv(DEADLINE).expect("reply");
    assert_eq!(r["id"], 10);
}

#[test]
fn eof_answers_everything_accepted_then_exits_zero() {
    let mut s = Server::start();
    for i in 0..5 {
        s.send_request(json!(i), "tools/call", json!({"name": "system_info"}));
    }
    s.send_request(json!("last"), "ping", json!({}));
    s.close_stdin();
    let all = s.drain();
    let status = s.wait_exit();
    assert!(status.success(), "{status:?}");
    let mut ids: Vec<String> = all.iter().map(|m| m["id"].to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["\"last\"", "0", "1", "2", "3", "4"]);
}

#[test]
fn stdout_carries_only_json_rpc_and_stderr_is_json_logs() {
    let mut s = Server::start();
    s.initialize();
    s.call("processes", json!({"limit": 2}));
    s.call("processes", json!({"limit": 0}));
    s.close_stdin();
    for m in s.drain() {
        assert_eq!(m["jsonrpc"], "2.0");
    }
    s.wait_exit();
    let lines = s.stderr_lines();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line not JSON ({e}): {l}"));
        for k in ["timestamp", "level", "logger", "message"] {
            assert!(v.get(k).is_some(), "{k} missing in {l}");
        }
    }
    let call = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["outcome"] == "ok")
        .expect("a tool-call log line");
    assert_eq!(call["tool"], "processes");
    assert!(call["duration_ms"].is_u64() && call["response_size"].is_u64());
}
