//! JSON-RPC 2.0 messages as MCP uses them over stdio: parsing one line into an
//! [`Incoming`] message, and the [`Outgoing`] envelopes the writer serialises.
//!
//! Nothing here knows about MCP methods or tools; envelopes are built only by the
//! constructors below so that no call site can produce `"error": null` or an id on
//! a notification.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// A request id exactly as the client sent it: a string or an integer that fits
/// in 64 bits. Kept as the parsed JSON value, which serde_json holds as an exact
/// i64/u64 or string, so it is echoed byte-identical and never via a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestId(Value);

impl RequestId {
    /// Accepts only what MCP allows as an id: a string or an integer.
    pub fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(_) => Some(RequestId(value.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(RequestId(value.clone())),
            _ => None,
        }
    }

    /// A key that keeps `7` and `"7"` apart, for the in-flight registry.
    pub fn key(&self) -> String {
        self.0.to_string()
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        RequestId::from_value(&value)
            .ok_or_else(|| serde::de::Error::custom("expected a string or an integer"))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug)]
pub enum Incoming {
    Request {
        id: RequestId,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A response from the client to a request of ours. We send none, so these
    /// are logged and dropped.
    Response,
}

/// Parses one line (without its newline). A line that is not a valid message
/// yields the error response to send back.
pub fn parse_line(line: &[u8]) -> Result<Incoming, Outgoing> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(Outgoing::error(
            None,
            PARSE_ERROR,
            "Parse error: line is not valid UTF-8",
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(Outgoing::error(
                None,
                PARSE_ERROR,
                format!("Parse error: {e}"),
            ));
        }
    };
    let Value::Object(mut obj) = value else {
        let what = if value.is_array() {
            "batches are not supported (removed in MCP 2025-06-18); send one message per line"
        } else {
            "a message must be a JSON object"
        };
        return Err(Outgoing::error(
            None,
            INVALID_REQUEST,
            format!("Invalid request: {what}"),
        ));
    };
    let id = match obj.get("id") {
        None => None,
        Some(raw) => match RequestId::from_value(raw) {
            Some(id) => Some(id),
            None => {
                return Err(Outgoing::error(
                    None,
                    INVALID_REQUEST,
                    "Invalid request: id must be a string or an integer",
                ));
            }
        },
    };
    let invalid = |id: Option<RequestId>, why: &str| {
        Outgoing::error(id, INVALID_REQUEST, format!("Invalid request: {why}"))
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id, "\"jsonrpc\" must be \"2.0\""));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(invalid(id, "\"method\" must be a string")),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            return Ok(Incoming::Response);
        }
        None => return Err(invalid(id, "\"method\" is missing")),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => None,
        Some(p @ Value::Object(_)) => Some(p),
        Some(_) => return Err(invalid(id, "\"params\" must be an object")),
    };
    Ok(match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    })
}

#[derive(Debug, Serialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    Result(Box<RawValue>),
    Error(ErrorObject),
}

/// Everything the writer thread may put on stdout.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    Response {
        jsonrpc: &'static str,
        /// `None` serialises as `null`: only for replies to unparseable lines.
        id: Option<RequestId>,
        #[serde(flatten)]
        body: Body,
    },
    Notification {
        jsonrpc: &'static str,
        method: &'static str,
        params: Value,
    },
}

impl Outgoing {
    pub fn result(id: RequestId, result: Value) -> Outgoing {
        match serde_json::value::to_raw_value(&result) {
            Ok(raw) => Outgoing::raw_result(id, raw),
            // A Value with string keys always serialises; keep the promise of one
            // answer per request even so.
            Err(e) => Outgoing::error(Some(id), INTERNAL_ERROR, format!("Internal error: {e}")),
        }
    }

    /// A result that was serialised already (large tool results are built once).
    pub fn raw_result(id: RequestId, result: Box<RawValue>) -> Outgoing {
        Outgoing::Response {
            jsonrpc: "2.0",
            id: Some(id),
            body: Body::Result(result),
        }
    }

    pub fn error(id: Option<RequestId>, code: i64, message: impl Into<String>) -> Outgoing {
        Outgoing::error_with_data(id, code, message, None)
    }

    pub fn error_with_data(
        id: Option<RequestId>,
        code: i64,
        message: impl Into<String>,
        data: Option<Value>,
    ) -> Outgoing {
        Outgoing::Response {
            jsonrpc: "2.0",
            id,
            body: Body::Error(ErrorObject {
                code,
                message: message.into(),
                data,
            }),
        }
    }

    pub fn notification(method: &'static str, params: Value) -> Outgoing {
        Outgoing::Notification {
            jsonrpc: "2.0",
            method,
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_id(line: &str) -> String {
        match parse_line(line.as_bytes()) {
            Ok(Incoming::Request { id, .. }) => {
                serde_json::to_string(&Outgoing::result(id, Value::Null)).unwrap_or_default()
            }
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn ids_are_echoed_exactly() {
        for (id, want) in [
            ("7", r#""id":7,"#),
            (r#""7""#, r#""id":"7","#),
            (r#""""#, r#""id":"","#),
            ("9007199254740991", r#""id":9007199254740991,"#),
            ("-3", r#""id":-3,"#),
            ("18446744073709551615", r#""id":18446744073709551615,"#),
        ] {
            let line = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            let out = roundtrip_id(&line);
            assert!(out.contains(want), "{id}: {out}");
        }
    }

    #[test]
    fn invalid_ids_and_shapes_are_rejected() {
        for (line, code) in [
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (r#"{"jsonrpc":"2.0","id":1}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":5}"#, INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
                INVALID_REQUEST,
            ),
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                INVALID_REQUEST,
            ),
            ("42", INVALID_REQUEST),
            ("{not json", PARSE_ERROR),
        ] {
            match parse_line(line.as_bytes()) {
                Err(Outgoing::Response {
                    body: Body::Error(e),
                    ..
                }) => assert_eq!(e.code, code, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_utf8_is_a_parse_error() {
        let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}";
        let out = parse_line(line)
            .err()
            .map(|o| serde_json::to_string(&o).unwrap_or_default());
        let out = out.unwrap_or_default();
        assert!(
            out.contains("-32700") && out.contains(r#""id":null"#),
            "{out}"
        );
    }

    #[test]
    fn envelopes_never_carry_both_or_null_error() {
        let ok = serde_json::to_string(&Outgoing::result(
            RequestId(Value::from(1)),
            serde_json::json!({}),
        ))
        .unwrap_or_default();
        assert_eq!(ok, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
        let err =
            serde_json::to_string(&Outgoing::error(None, PARSE_ERROR, "x")).unwrap_or_default();
        assert_eq!(
            err,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#
        );
        let note = serde_json::to_string(&Outgoing::notification("n", serde_json::json!({})))
            .unwrap_or_default();
        assert_eq!(note, r#"{"jsonrpc":"2.0","method":"n","params":{}}"#);
    }

    #[test]
    fn notifications_and_client_responses() {
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Incoming::Notification { .. })
        ));
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
            Ok(Incoming::Response)
        ));
    }
}
