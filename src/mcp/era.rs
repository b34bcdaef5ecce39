//! The revisions we speak and what each asks of a result: MCP 2026-07-28,
//! the stateless revision, next to the classic handshake ones.
//!
//! A 2026-07-28 request names its revision and its client in
//! `params._meta` instead of relying on an earlier `initialize`; this module
//! reads that envelope, decides for each request which era it speaks, and
//! adds what the revision requires to its results (`resultType`, cache hints
//! on list results, `serverInfo` in the result `_meta`). A request without
//! the envelope is served exactly as the handshake revisions want, so one
//! binary serves old and new clients on the same stdin.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::config::SERVER;
use crate::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, Outgoing, RequestId};

/// Handshake revisions we speak, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Stateless revisions we speak, newest first.
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];

/// The revision's `UnsupportedProtocolVersionError`.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Any of these in `_meta` marks the request as 2026-07-28; other
/// `io.modelcontextprotocol/` keys (such as a task reference) exist in the
/// handshake revisions too and say nothing about the era.
const ENVELOPE_KEYS: &[&str] = &[
    VERSION_KEY,
    CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
];

/// How long a client may reuse a list or discover result. The tool set is
/// fixed for the life of the process, but a restart may bring a new binary.
const LIST_TTL_MS: u64 = 300_000;

/// The era one request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// No envelope: the handshake revisions (2025-11-25 and earlier).
    Legacy,
    /// The 2026-07-28 envelope. `log_level` is the request's opt-in to
    /// `notifications/message`; without it none may be sent for the request.
    Modern { log_level: Option<&'static str> },
}

impl Era {
    pub fn is_modern(self) -> bool {
        matches!(self, Era::Modern { .. })
    }

    /// Members a tool result of this era carries besides content, as a JSON
    /// fragment that starts with a comma (empty for the handshake era), so
    /// results.rs can append it without building a value tree.
    pub fn tool_result_members(self) -> &'static str {
        match self {
            Era::Legacy => "",
            Era::Modern { .. } => MODERN_TOOL_RESULT_MEMBERS.as_str(),
        }
    }
}

static MODERN_TOOL_RESULT_MEMBERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        ",\"resultType\":\"complete\",\"_meta\":{{\"{SERVER_INFO_KEY}\":{}}}",
        server_info()
    )
});

/// A request the envelope rules refuse, with the error the revision defines.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl Rejection {
    pub fn reply(self, id: RequestId) -> Outgoing {
        Outgoing::error_with_data(Some(id), self.code, self.message, self.data)
    }

    fn invalid(why: String) -> Rejection {
        Rejection {
            code: INVALID_PARAMS,
            message: format!("Invalid params: {why}"),
            data: None,
        }
    }
}

/// Every revision we answer: the stateless ones first, then the handshakes.
pub fn supported_versions() -> Vec<&'static str> {
    MODERN_VERSIONS
        .iter()
        .chain(PROTOCOL_VERSIONS)
        .copied()
        .collect()
}

/// Decides the era of one request from its `params._meta`, checking the
/// envelope when there is one. Methods that the stateless revision removed
/// are refused when they arrive with its envelope.
pub fn classify(method: &str, params: &Option<Value>) -> Result<Era, Rejection> {
    let meta = params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object);
    let Some(meta) = meta.filter(|m| ENVELOPE_KEYS.iter().any(|k| m.contains_key(*k))) else {
        return Ok(Era::Legacy);
    };
    let version = match meta.get(VERSION_KEY) {
        Some(Value::String(v)) => v.as_str(),
        Some(_) => {
            return Err(Rejection::invalid(format!(
                "_meta[\"{VERSION_KEY}\"] must be a string such as \"{}\"",
                MODERN_VERSIONS[0]
            )));
        }
        None => {
            return Err(Rejection::invalid(format!(
                "_meta carries 2026-07-28 envelope keys but not \"{VERSION_KEY}\"; \
                 add it, or drop the envelope and send initialize first"
            )));
        }
    };
    if !MODERN_VERSIONS.contains(&version) {
        let hint = if PROTOCOL_VERSIONS.contains(&version) {
            format!(
                "; {version} is a handshake revision: send initialize without the _meta envelope"
            )
        } else {
            String::new()
        };
        return Err(Rejection {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: format!("Unsupported protocol version{hint}"),
            data: Some(json!({ "requested": version, "supported": supported_versions() })),
        });
    }
    match meta.get(CAPABILITIES_KEY) {
        Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(Rejection::invalid(format!(
                "_meta[\"{CAPABILITIES_KEY}\"] must be an object ({{}} for none)"
            )));
        }
        None => {
            return Err(Rejection::invalid(format!(
                "_meta[\"{CAPABILITIES_KEY}\"] is required with protocol version {version} ({{}} for none)"
            )));
        }
    }
    if let Some(info) = meta.get(CLIENT_INFO_KEY)
        && !info.get("name").is_some_and(Value::is_string)
    {
        return Err(Rejection::invalid(format!(
            "_meta[\"{CLIENT_INFO_KEY}\"] must be an object with a string \"name\""
        )));
    }
    let log_level = match meta.get(LOG_LEVEL_KEY) {
        None => None,
        Some(level) => match crate::logging::MCP_LEVELS
            .iter()
            .find(|l| level.as_str() == Some(**l))
        {
            Some(l) => Some(*l),
            None => {
                return Err(Rejection::invalid(format!(
                    "_meta[\"{LOG_LEVEL_KEY}\"] must be one of {}",
                    crate::logging::MCP_LEVELS.join(", ")
                )));
            }
        },
    };
    if let Some(token) = meta.get("progressToken")
        && !RequestId::is_shaped(token)
    {
        return Err(Rejection::invalid(
            "_meta[\"progressToken\"] must be a string or an integer".into(),
        ));
    }
    if let Some(instead) = removed(method) {
        return Err(Rejection {
            code: METHOD_NOT_FOUND,
            message: format!(
                "Method not found: {} is not part of MCP {version}; {instead}",
                crate::logging::truncate(method, 64)
            ),
            data: None,
        });
    }
    Ok(Era::Modern { log_level })
}

/// What replaced a handshake-era method the stateless revision dropped.
fn removed(method: &str) -> Option<&'static str> {
    Some(match method {
        "initialize" => {
            "requests carry the _meta envelope instead (server/discover lists what we support); \
             to use the handshake, send initialize without the envelope"
        }
        "ping" => "any request, such as server/discover, shows the server is alive",
        "logging/setLevel" => "set _meta[\"io.modelcontextprotocol/logLevel\"] on each request",
        "resources/subscribe" | "resources/unsubscribe" => "use subscriptions/listen",
        _ => return None,
    })
}

/// Who we are, for the `_meta` of every stateless result.
pub fn server_info() -> Value {
    json!(SERVER)
}

/// The `server/discover` result: everything a handshake would have told the
/// client, plus the revisions it may pick from.
pub fn discover(capabilities: Value, instructions: &str) -> Value {
    json!({
        "supportedVersions": supported_versions(),
        "capabilities": capabilities,
        "instructions": instructions,
        "resultType": "complete",
        "cacheScope": "public",
        "ttlMs": LIST_TTL_MS,
        "_meta": { SERVER_INFO_KEY: server_info() },
    })
}

/// Cache hints the revision requires on list and read results:
/// (ttlMs, cacheScope). Lists are the same for every user of this binary;
/// what a read returns is this host's state and is never reusable.
fn cache_hints(method: &str) -> Option<(u64, &'static str)> {
    match method {
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            Some((LIST_TTL_MS, "public"))
        }
        "resources/read" => Some((0, "private")),
        _ => None,
    }
}

/// Adds to a protocol-method result what its era requires; handshake-era
/// results pass through untouched.
pub fn decorate(era: Era, method: &str, result: Value) -> Value {
    if !era.is_modern() {
        return result;
    }
    let mut obj = match result {
        Value::Object(o) => o,
        // Every MCP result is an object; anything else is left for the
        // client to reject rather than silently reshaped.
        other => return other,
    };
    obj.entry("resultType")
        .or_insert_with(|| Value::String("complete".into()));
    if let Some((ttl, scope)) = cache_hints(method) {
        obj.entry("ttlMs").or_insert_with(|| json!(ttl));
        obj.entry("cacheScope").or_insert_with(|| json!(scope));
    }
    let meta = obj
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.entry(SERVER_INFO_KEY).or_insert_with(server_info);
    }
    Value::Object(obj)
}

/// The client named in a stateless request, for logs.
pub fn client_name(params: &Option<Value>) -> String {
    let info = params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(CLIENT_INFO_KEY));
    let part = |k: &str| {
        info.and_then(|i| i.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = format!("{} {}", part("name"), part("version"));
    match name.trim() {
        "" => "unknown".to_string(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(extra: Value) -> Option<Value> {
        let mut meta = json!({
            VERSION_KEY: "2026-07-28",
            CAPABILITIES_KEY: {},
            CLIENT_INFO_KEY: {"name": "t", "version": "1"},
        });
        if let (Some(m), Value::Object(e)) = (meta.as_object_mut(), extra) {
            m.extend(e);
        }
        Some(json!({ "_meta": meta }))
    }

    fn code(r: Result<Era, Rejection>) -> i64 {
        r.err().map_or(0, |e| e.code)
    }

    #[test]
    fn requests_without_the_envelope_are_legacy() {
        for params in [
            None,
            Some(json!({})),
            Some(json!({"_meta": 5})),
            Some(json!({"_meta": {"progressToken": 1}})),
            Some(json!({"_meta": {"io.modelcontextprotocol/related-task": {"taskId": "x"}}})),
        ] {
            assert_eq!(
                classify("tools/list", &params),
                Ok(Era::Legacy),
                "{params:?}"
            );
        }
        assert_eq!(classify("ping", &None), Ok(Era::Legacy));
    }

    #[test]
    fn a_full_envelope_is_modern_with_its_log_level() {
        assert_eq!(
            classify("tools/call", &envelope(json!({}))),
            Ok(Era::Modern { log_level: None })
        );
        assert_eq!(
            classify("tools/call", &envelope(json!({LOG_LEVEL_KEY: "warning"}))),
            Ok(Era::Modern {
                log_level: Some("warning")
            })
        );
    }

    #[test]
    fn unsupported_versions_name_what_we_support() {
        let r = classify("tools/list", &envelope(json!({VERSION_KEY: "1900-01-01"})));
        let e = r.expect_err("rejected");
        assert_eq!(e.code, UNSUPPORTED_PROTOCOL_VERSION);
        let data = e.data.expect("data");
        assert_eq!(data["requested"], "1900-01-01");
        assert_eq!(data["supported"][0], "2026-07-28");
        assert!(
            data["supported"]
                .as_array()
                .is_some_and(|s| s.contains(&json!("2025-11-25")))
        );
        let e = classify("tools/list", &envelope(json!({VERSION_KEY: "2025-11-25"})))
            .expect_err("handshake version in an envelope");
        assert!(e.message.contains("send initialize"), "{}", e.message);
    }

    #[test]
    fn malformed_envelopes_are_invalid_params_naming_the_key() {
        for (extra, key) in [
            (json!({VERSION_KEY: 20260728}), VERSION_KEY),
            (json!({CAPABILITIES_KEY: []}), CAPABILITIES_KEY),
            (json!({CLIENT_INFO_KEY: "me"}), CLIENT_INFO_KEY),
            (json!({LOG_LEVEL_KEY: "loud"}), LOG_LEVEL_KEY),
            (json!({"progressToken": 1.5}), "progressToken"),
        ] {
            let e = classify("tools/list", &envelope(extra.clone())).expect_err("rejected");
            assert_eq!(e.code, INVALID_PARAMS, "{extra}");
            assert!(e.message.contains(key), "{extra}: {}", e.message);
        }
        let missing = Some(json!({"_meta": {CAPABILITIES_KEY: {}}}));
        let e = classify("tools/list", &missing).expect_err("no version");
        assert!(e.message.contains(VERSION_KEY), "{}", e.message);
        let missing = Some(json!({"_meta": {VERSION_KEY: "2026-07-28"}}));
        let e = classify("tools/list", &missing).expect_err("no capabilities");
        assert!(e.message.contains(CAPABILITIES_KEY), "{}", e.message);
    }

    #[test]
    fn removed_methods_are_refused_only_with_the_envelope() {
        for m in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
        ] {
            assert_eq!(code(classify(m, &envelope(json!({})))), METHOD_NOT_FOUND);
            assert_eq!(classify(m, &None), Ok(Era::Legacy));
        }
    }

    #[test]
    fn modern_results_are_decorated_and_legacy_ones_untouched() {
        let modern = Era::Modern { log_level: None };
        let list = decorate(modern, "tools/list", json!({"tools": []}));
        assert_eq!(list["resultType"], "complete");
        assert_eq!(list["cacheScope"], "public");
        assert!(list["ttlMs"].is_u64());
        assert_eq!(list["_meta"][SERVER_INFO_KEY]["name"], SERVER.name);
        let other = decorate(modern, "completion/complete", json!({"_meta": {"x": 1}}));
        assert!(other.get("ttlMs").is_none());
        assert_eq!(other["_meta"]["x"], 1);
        assert!(other["_meta"][SERVER_INFO_KEY].is_object());
        let legacy = decorate(Era::Legacy, "tools/list", json!({"tools": []}));
        assert_eq!(legacy, json!({"tools": []}));
    }

    #[test]
    fn tool_result_members_are_a_valid_json_fragment() {
        assert_eq!(Era::Legacy.tool_result_members(), "");
        let body = format!(
            "{{\"content\":[]{}}}",
            Era::Modern { log_level: None }.tool_result_members()
        );
        let v: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["resultType"], "complete");
        assert_eq!(v["_meta"][SERVER_INFO_KEY], server_info());
    }
}
