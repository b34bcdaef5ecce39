//! MCP 2026-07-28 (stateless, `_meta` envelope on every request) and the
//! classic handshake, served by the same binary on the same stdin.

use crate::util::{Server, Standin, all_gone, error_text, rows};
use serde_json::{Value, json};

const VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const INFO: &str = "io.modelcontextprotocol/clientInfo";
const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// The envelope the Python SDK 2.3.0 client sends, plus `extra` keys.
fn envelope(extra: Value) -> Value {
    let mut meta = json!({
        VERSION: "2026-07-28",
        INFO: {"name": "mcp", "version": "0.1.0"},
        CAPS: {},
    });
    if let (Some(m), Value::Object(e)) = (meta.as_object_mut(), extra) {
        m.extend(e);
    }
    meta
}

/// Sends a stateless request (params plus the envelope) and returns the reply.
fn modern(s: &mut Server, method: &str, mut params: Value) -> Value {
    params["_meta"] = envelope(json!({}));
    s.request(method, params)
}

fn assert_modern_result(result: &Value) {
    assert_eq!(result["resultType"], "complete", "{result}");
    assert_eq!(
        result["_meta"][SERVER_INFO],
        json!({"name": "mcp-osquery-server", "title": "osquery (read-only)", "version": env!("CARGO_PKG_VERSION")}),
        "{result}"
    );
}

fn tool_names(list: &Value) -> Vec<String> {
    list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn the_python_2x_bytes_get_a_modern_session() {
    // Byte for byte what mcp 2.3.0 wrote in auto mode (notes/cap-modern.txt).
    let mut s = Server::start();
    s.send_raw(
        r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#,
    );
    let d = s.wait_for(&json!(1));
    let d = &d["result"];
    assert_eq!(d["supportedVersions"][0], "2026-07-28");
    for v in ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] {
        assert!(
            d["supportedVersions"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(v))),
            "{v} missing: {d}"
        );
    }
    assert_eq!(d["capabilities"]["tools"], json!({"listChanged": false}));
    assert!(
        d["instructions"]
            .as_str()
            .is_some_and(|i| i.contains("custom_query"))
    );
    assert_eq!(d["cacheScope"], "public");
    assert!(d["ttlMs"].is_u64());
    assert!(d.get("serverInfo").is_none(), "serverInfo lives in _meta");
    assert_modern_result(d);

    s.send_raw(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#,
    );
    let list = s.wait_for(&json!(2))["result"].clone();
    assert_modern_result(&list);
    assert_eq!(list["cacheScope"], "public");
    assert!(list["ttlMs"].is_u64());
    assert!(tool_names(&list).contains(&"custom_query".to_string()));

    s.send_raw(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"processes","arguments":{"limit":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{},"progressToken":3}}}"#,
    );
    let call = s.wait_for(&json!(3))["result"].clone();
    assert_modern_result(&call);
    assert_eq!(rows(&call).len(), 3);
    // No initialize was ever sent, and nothing asked for one.
    s.close_stdin();
    let rest = s.drain();
    let progress: Vec<&Value> = rest
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(!progress.is_empty(), "{rest:?}");
    assert!(progress.iter().all(|p| p["params"]["progressToken"] == 3));
    assert!(s.wait_exit().success());
}

#[test]
fn a_modern_session_calls_every_kind_of_tool() {
    let mut s = Server::start();
    let list = modern(&mut s, "tools/list", json!({}))["result"].clone();
    let classic = s.request("tools/list", json!({}))["result"].clone();
    assert_eq!(list["tools"], classic["tools"], "same tools in both eras");
    for (tool, args) in [
        ("system_info", json!({})),
        ("users", json!({})),
        ("disk_usage", json!({})),
        (
            "custom_query",
            json!({"sql": "SELECT name, pid FROM processes LIMIT 2"}),
        ),
    ] {
        let r = modern(
            &mut s,
            "tools/call",
            json!({"name": tool, "arguments": args}),
        );
        let result = &r["result"];
        assert_modern_result(result);
        assert!(!rows(result).is_empty(), "{tool}: {result}");
    }
    // Tool errors and refusals made on the reader thread carry the shape too.
    for (tool, args) in [
        ("processes", json!({"limit": 0})),
        ("no_such_tool", json!({})),
    ] {
        let r = modern(
            &mut s,
            "tools/call",
            json!({"name": tool, "arguments": args}),
        );
        assert_modern_result(&r["result"]);
        error_text(&r["result"]);
    }
    let r = modern(&mut s, "tools/call", json!({"arguments": {}}));
    assert_eq!(r["error"]["code"], -32602);
}

#[test]
fn progress_tokens_of_either_type_are_echoed() {
    let mut s = Server::start();
    for token in [json!("p-1"), json!(77)] {
        s.send_request(
            json!("call"),
            "tools/call",
            json!({"name": "system_info", "_meta": envelope(json!({"progressToken": token}))}),
        );
        let (r, seen) = s.reply_and_before(&json!("call"));
        assert_modern_result(&r["result"]);
        let progress: Vec<f64> = seen
            .iter()
            .filter(|m| m["params"]["progressToken"] == token)
            .filter_map(|m| m["params"]["progress"].as_f64())
            .collect();
        assert_eq!(progress, [0.0, 0.5, 1.0], "{token}: {seen:?}");
    }
}

#[test]
fn a_modern_call_is_cancelled_and_never_answered() {
    let standin = Standin::hanging("FROM users");
    let mut s = Server::with_standin(&standin, &[("OSQUERY_TIMEOUT", "30")]);
    s.send_request(
        json!(4),
        "tools/call",
        json!({"name": "users", "arguments": {}, "_meta": envelope(json!({}))}),
    );
    let pids = standin.wait_hung();
    // As the Python 2.x client sends it: no envelope on the notification.
    s.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4,"reason":"timed out after 1s"}}"#);
    all_gone("the cancelled query is killed", &pids);
    let r = modern(&mut s, "server/discover", json!({}));
    assert_modern_result(&r["result"]);
    s.close_stdin();
    let rest = s.drain();
    assert!(
        rest.iter().all(|m| m["id"] != 4),
        "cancelled call answered: {rest:?}"
    );
    assert!(s.wait_exit().success());
}

#[test]
fn a_classic_session_on_the_same_binary_is_unchanged() {
    let mut s = Server::start();
    let init = s.initialize();
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert!(init["result"].get("resultType").is_none());
    s.assert_serving();
    let list = s.request("tools/list", json!({}))["result"].clone();
    for k in ["resultType", "ttlMs", "cacheScope", "_meta"] {
        assert!(list.get(k).is_none(), "{k} in a classic list");
    }
    let call = s.call("processes", json!({"limit": 2}));
    assert_eq!(rows(&call).len(), 2);
    assert!(call.get("resultType").is_none() && call.get("_meta").is_none());
    let err = s.call("processes", json!({"limit": 0}));
    error_text(&err);
    assert!(err.get("resultType").is_none());
}

#[test]
fn the_era_is_decided_per_request_on_one_stdin() {
    let mut s = Server::start();
    s.initialize();
    let r = modern(&mut s, "tools/call", json!({"name": "system_info"}));
    assert_modern_result(&r["result"]);
    let r = s.call("system_info", json!({}));
    assert!(r.get("resultType").is_none(), "{r}");
    // Discover answers in either era: it only describes the server.
    let bare = s.request("server/discover", json!({}));
    assert_eq!(bare["result"]["supportedVersions"][0], "2026-07-28");
    // A handshake after stateless requests still negotiates as before.
    let again = s.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert_eq!(again["result"]["protocolVersion"], "2025-06-18");
}

#[test]
fn unsupported_versions_get_32022_with_the_supported_list() {
    let mut s = Server::start();
    for (method, asked) in [
        ("server/discover", "1900-01-01"),
        ("tools/call", "2099-12-31"),
        ("tools/list", "2025-11-25"),
    ] {
        let r = s.request(
            method,
            json!({"name": "system_info", "_meta": envelope(json!({VERSION: asked}))}),
        );
        let e = &r["error"];
        assert_eq!(e["code"], -32022, "{asked}: {r}");
        assert_eq!(e["data"]["requested"], asked);
        assert_eq!(e["data"]["supported"][0], "2026-07-28");
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Unsupported protocol version"))
        );
        assert!(r.get("result").is_none());
    }
    let r = s.request(
        "tools/list",
        json!({"_meta": envelope(json!({VERSION: "2025-11-25"}))}),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("send initialize")),
        "{r}"
    );
}

#[test]
fn malformed_and_mixed_envelopes_get_clear_errors() {
    let mut s = Server::start();
    for (meta, key) in [
        (json!({VERSION: 2026}), VERSION),
        (json!({CAPS: {}, INFO: {"name": "x"}}), VERSION),
        (json!({VERSION: "2026-07-28", INFO: {"name": "x"}}), CAPS),
        (envelope(json!({CAPS: "none"})), CAPS),
        (envelope(json!({INFO: ["mcp"]})), INFO),
        (
            envelope(json!({"io.modelcontextprotocol/logLevel": "verbose"})),
            "io.modelcontextprotocol/logLevel",
        ),
        (
            envelope(json!({"progressToken": {"a": 1}})),
            "progressToken",
        ),
    ] {
        let r = s.request("tools/call", json!({"name": "system_info", "_meta": meta}));
        assert_eq!(r["error"]["code"], -32602, "{meta}: {r}");
        let msg = r["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(key), "{meta}: {msg}");
    }
    // Handshake-era methods with the stateless envelope: the revision removed them.
    for (method, hint) in [
        ("initialize", "initialize without the envelope"),
        ("ping", "server/discover"),
        ("logging/setLevel", "logLevel"),
    ] {
        let r = modern(
            &mut s,
            method,
            json!({"protocolVersion": "2025-11-25", "level": "info"}),
        );
        assert_eq!(r["error"]["code"], -32601, "{method}: {r}");
        let msg = r["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("2026-07-28") && msg.contains(hint), "{msg}");
    }
    // The envelope was refused, not the server: both eras still work.
    s.assert_serving();
    let r = modern(&mut s, "tools/list", json!({}));
    assert_modern_result(&r["result"]);
    assert!(s.recv(std::time::Duration::ZERO).is_none());
}
