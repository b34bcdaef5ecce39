//! JSON-RPC 2.0 messages as MCP uses them over stdio: parsing one line into an
//! [`Incoming`] message, and the [`Outgoing`] envelopes the writer serialises.
//!
//! Nothing here knows about MCP methods or tools; envelopes are built only by the
//! constructors below so that no call site can produce `"error": null` or an id on
//! a notification.

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// The longest request id, or progress token, we accept, in bytes of JSON.
/// Clients send small integers or UUIDs (38 bytes quoted); 1 KiB leaves room
/// for any prefix or composite key a client may build, while a call, its
/// queue entry and each of its messages stay small. Longer ones are refused
/// with [`INVALID_REQUEST`] (issue 12: ids of 8 MiB, kept per message, cost
/// hundreds of MiB).
pub const MAX_ID_BYTES: usize = 1024;

/// A request id exactly as the client sent it: a string or an integer that fits
/// in 64 bits. Kept as the parsed JSON value, which serde_json holds as an exact
/// i64/u64 or string, so it is echoed byte-identical and never via a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestId(Value);

impl RequestId {
    /// What MCP allows as an id (and as a progress token): a string or an
    /// integer.
    pub fn is_shaped(value: &Value) -> bool {
        value.is_string() || value.is_i64() || value.is_u64()
    }

    /// Accepts only what MCP allows as an id.
    pub fn from_value(value: &Value) -> Option<RequestId> {
        RequestId::is_shaped(value).then(|| RequestId(value.clone()))
    }

    /// As [`RequestId::from_value`], and at most [`MAX_ID_BYTES`] long; the
    /// length is measured before anything is copied.
    pub fn checked(value: &Value) -> Result<RequestId, String> {
        if !RequestId::is_shaped(value) {
            return Err("id must be a string or an integer".into());
        }
        if json_len(value) > MAX_ID_BYTES {
            return Err(format!(
                "id is longer than {MAX_ID_BYTES} bytes, the limit for ids and progress tokens"
            ));
        }
        Ok(RequestId(value.clone()))
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

/// The length of `value` as compact JSON, counted without writing it anywhere.
pub fn json_len(value: &(impl Serialize + ?Sized)) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Counting cannot fail, and our values serialise.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
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
    match serde_json::from_str(text) {
        Ok(value) => read(value),
        Err(e) => Err(lone_surrogates(text)
            .unwrap_or_else(|| Outgoing::error(None, PARSE_ERROR, format!("Parse error: {e}")))),
    }
}

/// serde_json refuses a string escape that is half of a UTF-16 surrogate pair
/// (`"\ud800"`), and no UTF-8 message can carry one. A request whose line is
/// otherwise valid is refused with its own id, so the client learns which call
/// failed instead of waiting for it; the id is found by reading the line again
/// with each lone surrogate taken as U+FFFD. `None`: not that case.
fn lone_surrogates(text: &str) -> Option<Outgoing> {
    let mended = mend_lone_surrogates(text)?;
    let value = serde_json::from_str(&mended).ok()?;
    drop(mended);
    match read(value) {
        Ok(Incoming::Request { id, .. }) => {
            // An id that held one cannot be echoed as sent.
            let id = Some(id).filter(|id| !id.0.as_str().is_some_and(|s| s.contains('\u{fffd}')));
            Some(Outgoing::error(
                id,
                INVALID_REQUEST,
                "Invalid request: a string holds a lone UTF-16 surrogate escape (such as \\ud800), \
                 which no UTF-8 text can carry; send U+FFFD or the complete surrogate pair",
            ))
        }
        Err(refusal) => Some(refusal),
        Ok(_) => None,
    }
}

/// `text` with every lone surrogate escape in its strings turned into
/// `\ufffd` (the same length), or `None`, without a copy, when it has none.
fn mend_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let digits = bytes.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    // Where a `\uXXXX` escape starts at `at`, its code unit.
    let unit = |at: usize| match bytes.get(at..at + 2) {
        Some(br"\u") => hex(at + 2),
        _ => None,
    };
    let high = |u: u16| (0xD800..0xDC00).contains(&u);
    let low = |u: u16| (0xDC00..0xE000).contains(&u);
    let (mut i, mut in_string, mut lone) = (0, false, Vec::new());
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                match unit(i) {
                    Some(u) if high(u) && unit(i + 6).is_some_and(low) => i += 6,
                    Some(u) if high(u) || low(u) => lone.push(i + 2),
                    _ => {}
                }
                // Past the escaped character (for `\uXXXX`, its digits are
                // plain ASCII and change nothing).
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    if lone.is_empty() {
        return None;
    }
    let mut mended = bytes.to_vec();
    for at in lone {
        mended[at..at + 4].copy_from_slice(b"fffd");
    }
    // Only ASCII digits were replaced by ASCII digits.
    String::from_utf8(mended).ok()
}

/// A parsed line as a message, or the error response to send back.
fn read(value: Value) -> Result<Incoming, Outgoing> {
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
        Some(raw) => Some(RequestId::checked(raw).map_err(|why| {
            Outgoing::error(None, INVALID_REQUEST, format!("Invalid request: {why}"))
        })?),
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
        params: Params,
    },
}

/// A notification's params: a value built for it, or members of which the
/// first is JSON shared with other messages (a call's progress token goes out
/// with each of its progress notes without a copy).
#[derive(Debug)]
pub enum Params {
    Value(Value),
    Sharing {
        first: (&'static str, Arc<RawValue>),
        rest: Map<String, Value>,
    },
}

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Params::Value(v) => v.serialize(s),
            Params::Sharing {
                first: (key, shared),
                rest,
            } => {
                let mut map = s.serialize_map(Some(rest.len() + 1))?;
                map.serialize_entry(key, &**shared)?;
                for (k, v) in rest {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
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
        Outgoing::notification_with(method, Params::Value(params))
    }

    pub fn notification_with(method: &'static str, params: Params) -> Outgoing {
        Outgoing::Notification {
            jsonrpc: "2.0",
            method,
            params,
        }
    }

    /// The bytes this message takes on the wire, its newline included.
    pub fn weight(&self) -> usize {
        json_len(self) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn error_of(line: &str) -> (Value, i64, String) {
        match parse_line(line.as_bytes()) {
            Err(Outgoing::Response {
                id,
                body: Body::Error(e),
                ..
            }) => (
                serde_json::to_value(id).unwrap_or_default(),
                e.code,
                e.message,
            ),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn ids_longer_than_the_cap_are_refused_with_a_null_id() {
        let quoted = |n: usize| format!("\"{}\"", "7".repeat(n));
        // Exactly at the cap, as JSON: accepted and echoed as sent.
        let at_cap = quoted(MAX_ID_BYTES - 2);
        let line = format!(r#"{{"jsonrpc":"2.0","id":{at_cap},"method":"ping"}}"#);
        assert!(roundtrip_id(&line).contains(&at_cap));
        let over = quoted(MAX_ID_BYTES - 1);
        let line = format!(r#"{{"jsonrpc":"2.0","id":{over},"method":"ping"}}"#);
        let (id, code, message) = error_of(&line);
        assert_eq!((id, code), (Value::Null, INVALID_REQUEST));
        assert!(
            message.contains(&format!("longer than {MAX_ID_BYTES} bytes")),
            "{message}"
        );
        // Escapes count as they are echoed.
        let escaped = format!("\"{}\"", "\\n".repeat(MAX_ID_BYTES / 2));
        let line = format!(r#"{{"jsonrpc":"2.0","id":{escaped},"method":"ping"}}"#);
        assert_eq!(error_of(&line).1, INVALID_REQUEST);
    }

    #[test]
    fn a_request_with_a_lone_surrogate_is_refused_with_its_id() {
        for (line, want_id) in [
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"custom_query","arguments":{"sql":"SELECT '\ud800'"}}}"#,
                json!(7),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"a","method":"x\udc00"}"#,
                json!("a"),
            ),
            (
                r#"{"jsonrpc":"2.0","id":8,"method":"ping","params":{"s":"\ud83d\ud83d\ude00"}}"#,
                json!(8),
            ),
            // The id itself cannot be echoed as sent.
            (
                r#"{"jsonrpc":"2.0","id":"\ud800","method":"ping"}"#,
                Value::Null,
            ),
        ] {
            let (id, code, message) = error_of(line);
            assert_eq!((id, code), (want_id, INVALID_REQUEST), "{line}");
            assert!(message.contains("lone UTF-16 surrogate"), "{message}");
        }
        // Pairs, escaped backslashes and surrogates outside strings are not lone ones.
        assert!(matches!(
            parse_line(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud83d\ude00 \\ud800"}}"#),
            Ok(Incoming::Request { .. })
        ));
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud800"} oops"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{"s":"\ud800"}}"#,
        ] {
            let (id, code, _) = error_of(line);
            assert_eq!((id, code), (Value::Null, PARSE_ERROR), "{line}");
        }
    }

    #[test]
    fn shared_params_serialise_as_one_object() {
        let shared: Arc<RawValue> =
            Arc::from(RawValue::from_string("\"tok\"".into()).expect("valid JSON"));
        let mut rest = Map::new();
        rest.insert("progress".into(), json!(0.5));
        let note = Outgoing::notification_with(
            "n",
            Params::Sharing {
                first: ("progressToken", shared.clone()),
                rest,
            },
        );
        let text = serde_json::to_string(&note).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"jsonrpc":"2.0","method":"n","params":{"progressToken":"tok","progress":0.5}}"#
        );
        assert_eq!(note.weight(), text.len() + 1);
        assert_eq!(Arc::strong_count(&shared), 2, "shared, not copied");
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
