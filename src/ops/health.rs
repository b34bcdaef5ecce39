//! Health: is osqueryi there, which version, does it answer a trivial query
//! within the timeout, and which limits are in force. Shared by
//! `--health` on the command line and the `osquery://server/health` resource.
//!
//! A check runs osqueryi twice, so it may take up to twice the timeout: the
//! server runs it off the reader thread (see `server::health_reply`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::config::{Config, MAX_SQL_CHARS, QUEUE_CAPACITY, SERVER, WORKERS};
use crate::osquery::{Control, RunError, Runner};
use crate::tools::Engine;

/// The query that must answer for the server to be healthy.
pub const PROBE_SQL: &str = "SELECT 1 AS ok;";

/// The verdict, and the document the resource and `--health` print.
#[derive(Debug)]
pub struct HealthReport {
    pub healthy: bool,
    pub body: Value,
}

/// Runs the check now (blocking for up to twice the timeout).
pub fn check(config: &Config, engine: &Engine, started: Instant) -> HealthReport {
    let Runner::Osqueryi(runner) = &engine.runner;
    let mut reasons: Vec<String> = Vec::new();
    let path = runner.locate();
    let mut version = None;
    let mut query = json!({ "sql": PROBE_SQL, "ok": false, "duration_ms": null });
    if path.is_none() {
        reasons.push(RunError::NotFound(runner.osquery_path.clone()).to_string());
    } else {
        match runner.version() {
            Ok(v) if !v.is_empty() => version = Some(v),
            Ok(_) => reasons.push("osqueryi --version printed nothing".into()),
            Err(e) => reasons.push(format!("osqueryi --version: {e}")),
        }
        let t = Instant::now();
        let answer = runner.run(PROBE_SQL, &Control::default());
        query["duration_ms"] = json!(t.elapsed().as_millis() as u64);
        match answer {
            Ok(out) if out.rows.len() == 1 && out.rows.row(0).get("ok") == Some("1") => {
                query["ok"] = json!(true);
            }
            Ok(out) => reasons.push(format!(
                "{PROBE_SQL} answered {} rows, not one row with ok = 1",
                out.rows.len()
            )),
            Err(e) => reasons.push(format!("{PROBE_SQL} failed: {e}")),
        }
    }
    let healthy = reasons.is_empty();
    let denied: Vec<&str> = runner
        .disable_tables
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    let body = json!({
        "status": if healthy { "healthy" } else { "degraded" },
        "reasons": reasons,
        "server": { "name": SERVER.name, "version": SERVER.version },
        "uptime_seconds": started.elapsed().as_secs(),
        "osqueryi": {
            "found": path.is_some(),
            "path": path.map(|p| p.display().to_string()),
            "version": version,
            "query": query,
        },
        "limits": {
            "timeout_seconds": runner.timeout.as_secs(),
            "max_response_size_bytes": runner.max_output,
            "max_text_bytes": config.max_text_bytes,
            "max_held_bytes": config.max_held_bytes,
            "rate_limit_per_minute": config.rate_limit,
            "workers": WORKERS,
            "queue_capacity": QUEUE_CAPACITY,
            "max_sql_chars": MAX_SQL_CHARS,
            "child_nice": runner.limits.nice,
            "child_memory_bytes": runner.limits.address_space_bytes,
            "child_cpu_seconds": runner.limits.cpu_seconds,
            "denied_tables": denied,
            "allowed_tables": config.allow_tables,
            "redact": config.redact,
        },
    });
    HealthReport { healthy, body }
}
