//! Health: is osqueryi there, which version, does it answer a trivial query
//! within the timeout; with the daemon backend, does osqueryd answer a ping on
//! its socket and which version it runs; which limits are in force and which
//! tables are denied (and why), or re-opened by the operator. Shared by
//! `--health` on the command line and the `osquery://server/health` resource.
//!
//! A check runs osqueryi twice (and asks osqueryd twice), so it may take a few
//! timeouts: the server runs it off the reader thread (see `server::health_reply`).

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, QUEUE_CAPACITY, SERVER, WORKERS};
use crate::guard::{MAX_QUERY_CHARS, TablePolicy, built_in};
use crate::osquery::{Control, Daemon, Osqueryi, RunError, VERSION_SQL};
use crate::tools::Engine;

/// The query that must answer for the server to be healthy.
pub const PROBE_SQL: &str = "SELECT 1 AS ok;";

/// The verdict, and the document the resource and `--health` print.
#[derive(Debug)]
pub struct HealthReport {
    pub healthy: bool,
    pub body: Body,
}

/// The report, its keys in the order a person reads it (serde_json's maps
/// would sort them): the verdict and why, what was checked, then the
/// settings, the long table list last.
#[derive(Debug, Serialize)]
pub struct Body {
    pub status: &'static str,
    pub reasons: Vec<String>,
    pub server: Server,
    pub uptime_seconds: u64,
    /// osqueryi, daemon or hybrid.
    pub backend: &'static str,
    /// The osqueryi check, when the backend runs osqueryi.
    pub osqueryi: Option<Value>,
    /// The osqueryd check, when the backend asks osqueryd.
    pub osqueryd: Option<Value>,
    pub limits: Value,
    pub tables: Tables,
}

#[derive(Debug, Serialize)]
pub struct Server {
    pub name: &'static str,
    pub version: &'static str,
}

/// Which tables custom_query may read, and why the others not.
#[derive(Debug, Serialize)]
pub struct Tables {
    /// Built-in denied tables the operator re-opened.
    pub reopened: Vec<Denied>,
    pub denied: Vec<Denied>,
    /// The allow list, when allow-list mode is on.
    pub allowed: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct Denied {
    pub table: String,
    pub reason: String,
}

impl Tables {
    fn of(policy: &TablePolicy) -> Tables {
        let reopened = policy
            .reopened()
            .iter()
            .flat_map(|t| {
                t.names().map(|name| Denied {
                    table: name.to_string(),
                    reason: t.reason.to_string(),
                })
            })
            .collect();
        let denied = policy
            .deny()
            .iter()
            .map(|name| Denied {
                table: name.clone(),
                reason: match built_in(name) {
                    Some(t) if t.name == name => t.reason.to_string(),
                    Some(t) => format!("osquery's alias of {}: {}", t.name, t.reason),
                    None => "added by the operator (--deny-tables, OSQUERY_DENY_TABLES)".into(),
                },
            })
            .collect();
        Tables {
            reopened,
            denied,
            allowed: policy.allow().map(<[String]>::to_vec),
        }
    }
}

/// Runs the check now (blocking for up to twice the timeout).
pub fn check(config: &Config, engine: &Engine, started: Instant) -> HealthReport {
    let mut reasons: Vec<String> = Vec::new();
    let osqueryi = engine
        .runner
        .osqueryi()
        .map(|runner| check_osqueryi(runner, &mut reasons));
    let osqueryd = engine
        .runner
        .daemon()
        .map(|daemon| check_daemon(daemon, &mut reasons));
    let healthy = reasons.is_empty();
    let body = Body {
        status: if healthy { "healthy" } else { "degraded" },
        reasons,
        server: Server {
            name: SERVER.name,
            version: SERVER.version,
        },
        uptime_seconds: started.elapsed().as_secs(),
        backend: config.backend.as_str(),
        osqueryi,
        osqueryd,
        limits: json!({
            "timeout_seconds": config.timeout.as_secs(),
            "max_response_size_bytes": config.max_response_size,
            "max_text_bytes": config.max_text_bytes,
            "max_held_bytes": config.max_held_bytes,
            "rate_limit_per_minute": config.rate_limit,
            "workers": WORKERS,
            "queue_capacity": QUEUE_CAPACITY,
            "max_sql_chars": MAX_QUERY_CHARS,
            "child_nice": config.child_nice,
            "child_memory_bytes": config.child_memory_bytes,
            "child_cpu_seconds": config.child_cpu_seconds.unwrap_or(config.timeout.as_secs()),
            "redact": config.redact,
        }),
        tables: Tables::of(&engine.policy),
    };
    HealthReport { healthy, body }
}

/// osqueryi found, its version, and a trivial query.
fn check_osqueryi(runner: &Osqueryi, reasons: &mut Vec<String>) -> Value {
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
    json!({
        "found": path.is_some(),
        "path": path.map(|p| p.display().to_string()),
        "version": version,
        "query": query,
    })
}

/// osqueryd's socket answers a ping, and which version the daemon runs.
fn check_daemon(daemon: &Daemon, reasons: &mut Vec<String>) -> Value {
    let t = Instant::now();
    let ping = daemon.ping();
    let ping_ms = t.elapsed().as_millis() as u64;
    let mut version = None;
    match &ping {
        Err(e) => reasons.push(format!("osqueryd ping: {e}")),
        Ok(()) => match daemon.version() {
            Ok(v) if !v.is_empty() => version = Some(v),
            Ok(_) => reasons.push(format!("osqueryd answered {VERSION_SQL} without a version")),
            Err(e) => reasons.push(format!("osqueryd did not answer {VERSION_SQL} {e}")),
        },
    }
    json!({
        "socket": daemon.socket.display().to_string(),
        "answers": ping.is_ok(),
        "ping_ms": ping_ms,
        "version": version,
    })
}
