//! Request params, read once at the edge into one struct per method.
//!
//! Every field is optional and lenient: one of the wrong type reads as absent,
//! as the server has always treated it, so a handler decides what a missing
//! required field means and keeps the error text clients already see.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::job::ProgressToken;
use crate::jsonrpc::{MAX_ID_BYTES, RequestId, json_len};

/// Refuses a `_meta.progressToken` longer than ids may be, whatever its type
/// and whatever the method: measured where it lies, before anything copies it.
pub fn check_progress_token(params: &Option<Value>) -> Result<(), String> {
    let token = params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get("progressToken"));
    match token {
        Some(t) if json_len(t) > MAX_ID_BYTES => Err(format!(
            "Invalid request: _meta.progressToken is longer than {MAX_ID_BYTES} bytes, the limit for ids and progress tokens"
        )),
        _ => Ok(()),
    }
}

/// The params as `T`; absent params read as all fields absent.
pub fn parse<T: DeserializeOwned + Default>(params: Option<Value>) -> T {
    params
        .and_then(|p| serde_json::from_value(p).ok())
        .unwrap_or_default()
}

/// A field that is `None` unless it has the expected shape.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// `tools/call`.
#[derive(Debug, Default, Deserialize)]
pub struct CallParams {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    /// Absent or null: no arguments. Anything but an object is refused, so
    /// it is kept as it came.
    #[serde(default)]
    pub arguments: Option<Value>,
    #[serde(default, rename = "_meta", deserialize_with = "lenient")]
    pub meta: Option<CallMeta>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallMeta {
    #[serde(default, rename = "progressToken", deserialize_with = "lenient")]
    pub progress_token: Option<ProgressToken>,
}

/// `initialize`.
#[derive(Debug, Default, Deserialize)]
pub struct InitializeParams {
    #[serde(default, rename = "protocolVersion", deserialize_with = "lenient")]
    pub protocol_version: Option<String>,
    #[serde(default, rename = "clientInfo", deserialize_with = "lenient")]
    pub client_info: Option<ClientInfo>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClientInfo {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub version: Option<String>,
}

/// `prompts/get` (its arguments are ignored: no prompt of ours takes any).
#[derive(Debug, Default, Deserialize)]
pub struct GetPromptParams {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
}

/// `resources/read`.
#[derive(Debug, Default, Deserialize)]
pub struct ReadParams {
    #[serde(default, deserialize_with = "lenient")]
    pub uri: Option<String>,
}

/// `logging/setLevel`.
#[derive(Debug, Default, Deserialize)]
pub struct SetLevelParams {
    #[serde(default, deserialize_with = "lenient")]
    pub level: Option<String>,
}

/// `notifications/cancelled`.
#[derive(Debug, Default, Deserialize)]
pub struct CancelledParams {
    #[serde(default, rename = "requestId", deserialize_with = "lenient")]
    pub request_id: Option<RequestId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_read_as_absent_and_right_ones_as_given() {
        let p: CallParams = parse(Some(json!({
            "name": 5,
            "arguments": null,
            "_meta": {"progressToken": 1.5},
        })));
        assert!(p.name.is_none() && p.arguments.is_none());
        assert!(p.meta.is_some_and(|m| m.progress_token.is_none()));
        let p: CallParams = parse(Some(json!({
            "name": "users",
            "arguments": [1],
            "_meta": {"progressToken": "t"},
        })));
        assert_eq!(p.name.as_deref(), Some("users"));
        assert_eq!(p.arguments, Some(json!([1])));
        assert!(p.meta.is_some_and(|m| m.progress_token.is_some()));
        let p: CallParams = parse(Some(json!({"_meta": 5})));
        assert!(p.meta.is_none());
        let p: CancelledParams = parse(Some(json!({"requestId": 1.5})));
        assert!(p.request_id.is_none());
        let p: InitializeParams = parse(None);
        assert!(p.protocol_version.is_none() && p.client_info.is_none());
        let p: InitializeParams = parse(Some(json!({"clientInfo": "me"})));
        assert!(p.client_info.is_none());
    }
}
