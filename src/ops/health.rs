//! Health: is osqueryi there, which version, does it answer a trivial query
//! within the timeout, and which limits are in force. Shared by
//! `--health` on the command line and the `osquery://server/health` resource.
//!
//! A check runs osqueryi twice, so it may take up to twice the timeout; the
//! reader must never wait for it. [`answer_later`] runs it on a short-lived
//! thread that replies through the writer's channel, and requests that arrive
//! while a check is running join it instead of starting another, so a client
//! asking in a loop costs at most one thread and one osqueryi at a time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel::Sender;
use serde_json::{Value, json};

use crate::config::{Config, MAX_SQL_CHARS, QUEUE_CAPACITY, SERVER, WORKERS};
use crate::jsonrpc::{INTERNAL_ERROR, Outgoing, RequestId};
use crate::modern::{self, Era};
use crate::osquery::{self, Control, Runner};
use crate::server::Context;

/// The query that must answer for the server to be healthy.
pub const PROBE_SQL: &str = "SELECT 1 AS ok;";

#[derive(Debug)]
pub struct Report {
    pub healthy: bool,
    pub body: Value,
}

/// Runs the check now (blocking for up to twice the timeout).
pub fn check(config: &Config, runner: &Runner, started: Instant) -> Report {
    let Runner::Osqueryi(runner) = runner;
    let mut reasons: Vec<String> = Vec::new();
    let path = runner.locate();
    let mut version = None;
    let mut query = json!({ "sql": PROBE_SQL, "ok": false, "duration_ms": null });
    if path.is_none() {
        reasons.push(osquery::RunError::NotFound(runner.osquery_path.clone()).to_string());
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
            Ok(out) if out.rows.len() == 1 && out.rows[0].get("ok") == Some(&json!("1")) => {
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
    Report { healthy, body }
}

/// Requests waiting for the check in progress; `None` when none runs.
#[derive(Default)]
pub struct Probe {
    waiting: Mutex<Option<Vec<(RequestId, Era)>>>,
}

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<(RequestId, Era)>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Vec<(RequestId, Era)> {
        self.lock().take().unwrap_or_default()
    }
}

/// Answers `id` with `reply(report)` once a check finishes, without blocking
/// the caller.
pub fn answer_later(
    ctx: &Context,
    id: RequestId,
    era: Era,
    out: &Sender<Outgoing>,
    reply: fn(&Report) -> Value,
) {
    let probe = ctx.health_probe.clone();
    {
        let mut waiting = probe.lock();
        if let Some(ids) = waiting.as_mut() {
            ids.push((id, era));
            return;
        }
        *waiting = Some(vec![(id, era)]);
    }
    let (config, engine, started) = (
        ctx.config.clone(),
        ctx.engine.clone(),
        ctx.metrics.started(),
    );
    let (thread_probe, thread_out) = (probe.clone(), out.clone());
    let spawned = std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                reply(&check(&config, &engine.runner, started))
            }));
            for (id, era) in thread_probe.take() {
                let msg = match &result {
                    Ok(body) => {
                        Outgoing::result(id, modern::decorate(era, "resources/read", body.clone()))
                    }
                    Err(_) => Outgoing::error(Some(id), INTERNAL_ERROR, "health check failed"),
                };
                let _ = thread_out.send(msg);
            }
        });
    if let Err(e) = spawned {
        log::error!("could not start the health check: {e}");
        for (id, _) in probe.take() {
            let _ = out.send(Outgoing::error(
                Some(id),
                INTERNAL_ERROR,
                format!("could not start the health check: {e}"),
            ));
        }
    }
}
