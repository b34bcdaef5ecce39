//! Counters an operator (or the client, through the `osquery://server/metrics`
//! resource) reads to see what the server has been doing: requests, tool calls
//! per tool and per outcome, a duration histogram, queries per backend, and
//! the process's memory.
//!
//! Every counter is an atomic bumped with `Relaxed` ordering: the numbers are
//! for people, not for synchronisation, and no thread ever waits on another to
//! count. Each tool call is counted exactly once, where its outcome is decided
//! (the reader or a worker). What is read out is one [`Snapshot`], the same
//! for the resource and the shutdown log line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::memory::Memory;
use crate::osquery::{Tally, TallySnapshot};
use crate::tools::{Outcome, TOOLS, ToolName};

/// Upper bounds (inclusive, milliseconds) of the duration buckets; one more
/// bucket holds everything slower.
pub const BUCKETS_MS: [u64; 10] = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

pub struct Metrics {
    started: Instant,
    requests: AtomicU64,
    notifications: AtomicU64,
    /// Indexed by [`ToolName`]; calls naming no known tool are not counted here.
    per_tool: [AtomicU64; TOOLS.len()],
    /// Indexed like [`Outcome::ALL`].
    outcomes: [AtomicU64; Outcome::ALL.len()],
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    duration_sum_ms: AtomicU64,
    /// Kept by the engine, which knows where each query went.
    backends: Arc<Tally>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            per_tool: [const { AtomicU64::new(0) }; TOOLS.len()],
            outcomes: [const { AtomicU64::new(0) }; Outcome::ALL.len()],
            buckets: [const { AtomicU64::new(0) }; BUCKETS_MS.len() + 1],
            duration_sum_ms: AtomicU64::new(0),
            backends: Arc::default(),
        }
    }

    /// Reports the engine's queries per backend with the other counters.
    pub fn with_backends(mut self, tally: Arc<Tally>) -> Metrics {
        self.backends = tally;
        self
    }

    /// A JSON-RPC request (anything with an id) arrived.
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    pub fn notification(&self) {
        self.notifications.fetch_add(1, Relaxed);
    }

    /// One tool call ended. `duration` is the time spent running it, for
    /// calls that reached a worker; refusals carry none.
    pub fn tool_call(&self, tool: Option<ToolName>, outcome: Outcome, duration: Option<Duration>) {
        if let Some(tool) = tool {
            self.per_tool[tool as usize].fetch_add(1, Relaxed);
        }
        self.outcomes[outcome as usize].fetch_add(1, Relaxed);
        if let Some(d) = duration {
            let ms = d.as_millis() as u64;
            let b = BUCKETS_MS
                .iter()
                .position(|&le| ms <= le)
                .unwrap_or(BUCKETS_MS.len());
            self.buckets[b].fetch_add(1, Relaxed);
            self.duration_sum_ms.fetch_add(ms, Relaxed);
        }
    }

    /// When the server started: uptime for metrics and health alike.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The counters now. `coalesced` is kept by the coalescer, which owns the
    /// calls it counts.
    pub fn snapshot(&self, coalesced: u64) -> Snapshot {
        let outcomes: Vec<(Outcome, u64)> = Outcome::ALL
            .iter()
            .zip(&self.outcomes)
            .map(|(o, c)| (*o, c.load(Relaxed)))
            .collect();
        let count = |wanted: Outcome| {
            outcomes
                .iter()
                .find(|(o, _)| *o == wanted)
                .map_or(0, |(_, n)| *n)
        };
        let buckets: Vec<Bucket> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, c)| Bucket {
                le_ms: BUCKETS_MS.get(i).map_or(json!("+Inf"), |&ms| json!(ms)),
                count: c.load(Relaxed),
            })
            .collect();
        Snapshot {
            uptime_seconds: self.started.elapsed().as_secs(),
            requests: self.requests.load(Relaxed),
            notifications: self.notifications.load(Relaxed),
            tool_calls: ToolCalls {
                total: outcomes.iter().map(|(_, n)| n).sum(),
                by_tool: TOOLS
                    .iter()
                    .zip(&self.per_tool)
                    .map(|(t, c)| (t.id, c.load(Relaxed)))
                    .collect(),
            },
            errors: outcomes
                .iter()
                .filter(|(o, _)| *o != Outcome::Ok)
                .map(|(_, n)| n)
                .sum(),
            timeouts: count(Outcome::Timeout),
            cancellations: count(Outcome::Cancelled),
            rate_limited: count(Outcome::RateLimited),
            busy: count(Outcome::Busy),
            outcomes: outcomes.iter().map(|(o, n)| (o.as_str(), *n)).collect(),
            coalesced,
            log_lines_dropped: crate::logging::dropped_lines(),
            duration_ms: Durations {
                count: buckets.iter().map(|b| b.count).sum(),
                sum: self.duration_sum_ms.load(Relaxed),
                buckets,
            },
            backends: self.backends.snapshot(),
            memory: Memory::read(),
        }
    }
}

/// The counters at one moment: the body of the metrics resource and the
/// fields of the shutdown summary.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub uptime_seconds: u64,
    pub requests: u64,
    pub notifications: u64,
    pub tool_calls: ToolCalls,
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Calls with any outcome but `ok`.
    pub errors: u64,
    pub timeouts: u64,
    pub cancellations: u64,
    pub rate_limited: u64,
    pub busy: u64,
    /// Calls answered from an identical call's run.
    pub coalesced: u64,
    pub log_lines_dropped: u64,
    pub duration_ms: Durations,
    /// Queries (a tool call may run more than one) answered or failed by
    /// osqueryi and by osqueryd.
    pub backends: TallySnapshot,
    pub memory: Memory,
}

#[derive(Debug, Serialize)]
pub struct ToolCalls {
    pub total: u64,
    pub by_tool: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub struct Durations {
    /// Calls that reached a worker.
    pub count: u64,
    pub sum: u64,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    /// The bucket's upper bound in milliseconds, or `"+Inf"`.
    pub le_ms: Value,
    pub count: u64,
}

impl Snapshot {
    /// The body of the `osquery://server/metrics` resource.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The one line logged at shutdown.
    pub fn log(&self) {
        log::info!(
            requests = self.requests,
            tool_calls = self.tool_calls.total,
            errors = self.errors,
            timeouts = self.timeouts,
            cancellations = self.cancellations,
            rate_limited = self.rate_limited,
            busy = self.busy,
            coalesced = self.coalesced,
            duration_sum_ms = self.duration_ms.sum,
            osqueryi_queries = self.backends.osqueryi.ok + self.backends.osqueryi.errors,
            osqueryd_queries = self.backends.osqueryd.ok + self.backends.osqueryd.errors,
            peak_rss_bytes = self.memory.peak_rss_bytes.unwrap_or(0),
            uptime_seconds = self.uptime_seconds;
            "shutdown summary"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osquery::{RunError, Via};

    #[test]
    fn calls_land_in_their_tool_outcome_and_bucket() {
        let m = Metrics::new();
        let processes = Some(ToolName::Processes);
        m.tool_call(processes, Outcome::Ok, Some(Duration::from_millis(10)));
        m.tool_call(processes, Outcome::Timeout, Some(Duration::from_secs(31)));
        m.tool_call(None, Outcome::Rejected, None);
        let v = m.snapshot(0).to_json();
        assert_eq!(v["tool_calls"]["total"], 3);
        assert_eq!(v["tool_calls"]["by_tool"]["processes"], 2);
        assert_eq!(v["tool_calls"]["by_tool"]["users"], 0);
        assert_eq!(v["outcomes"]["rejected"], 1);
        assert_eq!(v["outcomes"]["rate_limited"], 0);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["timeouts"], 1);
        let buckets = v["duration_ms"]["buckets"].as_array().expect("buckets");
        assert_eq!(buckets[0], json!({"le_ms": 10, "count": 1}));
        assert_eq!(buckets[10], json!({"le_ms": "+Inf", "count": 1}));
        assert_eq!(v["duration_ms"]["count"], 2);
        assert!(v["memory"].get("rss_bytes").is_some());
    }

    #[test]
    fn queries_are_counted_per_backend_and_cancelled_ones_not_at_all() {
        let tally = Arc::new(Tally::default());
        let m = Metrics::new().with_backends(tally.clone());
        tally.count(Via::Osqueryd, &Ok(()));
        tally.count::<()>(
            Via::Osqueryd,
            &Err(RunError::Timeout(Duration::from_secs(1))),
        );
        tally.count::<()>(Via::Osqueryi, &Err(RunError::Cancelled));
        tally.count(Via::Osqueryi, &Ok(()));
        assert_eq!(
            m.snapshot(0).to_json()["backends"],
            json!({"osqueryi": {"ok": 1, "errors": 0}, "osqueryd": {"ok": 1, "errors": 1}})
        );
    }
}
