//! MCP resources: the server's own metrics and health, as JSON documents a
//! client can read (`resources/list`, `resources/read`).
//!
//! Their bodies come from the server: metrics from its counters at once,
//! health from a check that runs osqueryi (or asks osqueryd) off the reader
//! thread. This module only names them and wraps a body as a read result.

use serde_json::{Value, json};

pub const METRICS_URI: &str = "osquery://server/metrics";
pub const HEALTH_URI: &str = "osquery://server/health";
const MIME: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Metrics,
    Health,
}

impl Resource {
    pub fn find(uri: &str) -> Option<Resource> {
        match uri {
            METRICS_URI => Some(Resource::Metrics),
            HEALTH_URI => Some(Resource::Health),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Resource::Metrics => METRICS_URI,
            Resource::Health => HEALTH_URI,
        }
    }
}

pub fn list() -> Value {
    json!({ "resources": [
        {
            "uri": METRICS_URI,
            "name": "metrics",
            "title": "Server metrics",
            "description": "Requests, tool calls per tool and per outcome (ok, tool_error, timeout, rejected, cancelled, busy, rate_limited), a histogram of call durations in milliseconds, and the server's current and peak resident memory.",
            "mimeType": MIME,
        },
        {
            "uri": HEALTH_URI,
            "name": "health",
            "title": "Server health",
            "description": "Whether the backend answers (osqueryi found and answering a trivial query within the timeout; with OSQUERY_BACKEND=daemon or hybrid, osqueryd's socket answering a ping), their versions, the limits in force and the uptime; status is healthy or degraded (with reasons). Reading it runs osqueryi or asks osqueryd.",
            "mimeType": MIME,
        },
    ]})
}

/// The `resources/read` result holding `body` (its keys in its own order), as
/// compact JSON: a model pays for every byte of indentation.
pub fn contents(resource: Resource, body: &impl serde::Serialize) -> Value {
    let text = serde_json::to_string(body).unwrap_or_default();
    json!({ "contents": [{ "uri": resource.uri(), "mimeType": MIME, "text": text }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_resource_is_found_by_its_uri() {
        let list = list();
        let listed = list["resources"].as_array().expect("resources");
        for r in listed {
            let uri = r["uri"].as_str().unwrap_or_default();
            let found = Resource::find(uri).expect("a listed uri is found");
            assert_eq!(found.uri(), uri);
            let read = contents(found, &json!({"a": 1, "b": [1, 2]}));
            assert_eq!(read["contents"][0]["uri"], uri);
            assert_eq!(read["contents"][0]["text"], r#"{"a":1,"b":[1,2]}"#);
        }
        assert_eq!(Resource::find("osquery://nope"), None);
    }
}
