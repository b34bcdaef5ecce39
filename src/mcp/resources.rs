//! MCP resources: the server's own metrics and health, as JSON documents a
//! client can read (`resources/list`, `resources/read`).
//!
//! Metrics are answered at once from the counters. Health runs osqueryi, so
//! its read becomes [`Action::Health`] and is answered later by
//! [`crate::health::answer_later`]; the reader never waits for it.

use serde_json::{Value, json};

use crate::health::Report;
use crate::jsonrpc::{self, INVALID_PARAMS, Outgoing, RequestId};
use crate::mcp::Action;
use crate::modern::{self, Era};
use crate::server::Context;

pub const METRICS_URI: &str = "osquery://server/metrics";
pub const HEALTH_URI: &str = "osquery://server/health";
const MIME: &str = "application/json";

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
            "description": "Whether osqueryi is found and answers a trivial query within the timeout, its version, the limits in force and the uptime; status is healthy or degraded (with reasons). Reading it runs osqueryi.",
            "mimeType": MIME,
        },
    ]})
}

pub fn read(ctx: &Context, id: RequestId, era: Era, params: &Option<Value>) -> Action {
    match jsonrpc::param(params, "uri").and_then(Value::as_str) {
        Some(METRICS_URI) => Action::Reply(Outgoing::result(
            id,
            modern::decorate(
                era,
                "resources/read",
                contents(
                    METRICS_URI,
                    &ctx.metrics.snapshot(ctx.coalesced_calls()).to_json(),
                ),
            ),
        )),
        Some(HEALTH_URI) => Action::Health(id, era),
        Some(other) => Action::Reply(Outgoing::error_with_data(
            Some(id),
            INVALID_PARAMS,
            format!("Resource not found: {other}"),
            Some(json!({ "uri": other })),
        )),
        None => Action::Reply(Outgoing::error(
            Some(id),
            INVALID_PARAMS,
            "Invalid params: resources/read needs \"uri\" (a string)",
        )),
    }
}

/// The `resources/read` result for a finished health check.
pub fn health_contents(report: &Report) -> Value {
    contents(HEALTH_URI, &report.body)
}

fn contents(uri: &str, body: &Value) -> Value {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
    json!({ "contents": [{ "uri": uri, "mimeType": MIME, "text": text }] })
}
