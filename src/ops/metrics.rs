//! Counters an operator (or the client, through the `osquery://server/metrics`
//! resource) reads to see what the server has been doing: requests, tool calls
//! per tool and per outcome, a duration histogram, and the process's memory.
//!
//! Every counter is an atomic bumped with `Relaxed` ordering: the numbers are
//! for people, not for synchronisation, and no thread ever waits on another to
//! count. Each tool call is counted exactly once, where its outcome is decided
//! (the reader, `mcp`, or a worker).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::tools::TOOLS;

/// Every way a tool call can end, as logged in the `outcome` field.
pub const OUTCOMES: [&str; 7] = [
    "ok",
    "tool_error",
    "timeout",
    "rejected",
    "cancelled",
    "busy",
    "rate_limited",
];

/// Upper bounds (inclusive, milliseconds) of the duration buckets; one more
/// bucket holds everything slower.
pub const BUCKETS_MS: [u64; 10] = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

pub struct Metrics {
    started: Instant,
    requests: AtomicU64,
    notifications: AtomicU64,
    /// Indexed like [`TOOLS`]; calls naming no known tool are not counted here.
    per_tool: [AtomicU64; TOOLS.len()],
    outcomes: [AtomicU64; OUTCOMES.len()],
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    duration_sum_ms: AtomicU64,
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
            outcomes: [const { AtomicU64::new(0) }; OUTCOMES.len()],
            buckets: [const { AtomicU64::new(0) }; BUCKETS_MS.len() + 1],
            duration_sum_ms: AtomicU64::new(0),
        }
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
    pub fn tool_call(&self, tool: &str, outcome: &str, duration: Option<Duration>) {
        if let Some(i) = TOOLS.iter().position(|t| t.id == tool) {
            self.per_tool[i].fetch_add(1, Relaxed);
        }
        // An outcome missing from the list is a programming error; count it as
        // a tool error rather than lose it.
        let o = OUTCOMES.iter().position(|&x| x == outcome).unwrap_or(1);
        self.outcomes[o].fetch_add(1, Relaxed);
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

    pub fn outcome(&self, outcome: &str) -> u64 {
        OUTCOMES
            .iter()
            .position(|&x| x == outcome)
            .map_or(0, |i| self.outcomes[i].load(Relaxed))
    }

    pub fn tool_calls(&self) -> u64 {
        self.outcomes.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Calls with any outcome but `ok`, summed directly: a difference of two
    /// reads could go negative while a call finishes in between.
    pub fn errors(&self) -> u64 {
        OUTCOMES
            .iter()
            .zip(&self.outcomes)
            .filter(|(o, _)| **o != "ok")
            .map(|(_, c)| c.load(Relaxed))
            .sum()
    }

    /// When the server started: uptime for metrics and health alike.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// The body of the `osquery://server/metrics` resource. `coalesced` is
    /// kept by the coalescer, which owns the calls it counts.
    pub fn to_json(&self, coalesced: u64) -> Value {
        let per_tool: Map<String, Value> = TOOLS
            .iter()
            .zip(&self.per_tool)
            .map(|(t, c)| (t.id.to_string(), json!(c.load(Relaxed))))
            .collect();
        let outcomes: Map<String, Value> = OUTCOMES
            .iter()
            .zip(&self.outcomes)
            .map(|(o, c)| (o.to_string(), json!(c.load(Relaxed))))
            .collect();
        let buckets: Vec<Value> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let le = BUCKETS_MS.get(i).map_or(json!("+Inf"), |&ms| json!(ms));
                json!({ "le_ms": le, "count": c.load(Relaxed) })
            })
            .collect();
        let timed: u64 = self.buckets.iter().map(|c| c.load(Relaxed)).sum();
        let memory = Memory::read();
        json!({
            "uptime_seconds": self.started.elapsed().as_secs(),
            "requests": self.requests(),
            "notifications": self.notifications.load(Relaxed),
            "tool_calls": {
                "total": self.tool_calls(),
                "by_tool": per_tool,
            },
            "outcomes": outcomes,
            "errors": self.errors(),
            "timeouts": self.outcome("timeout"),
            "cancellations": self.outcome("cancelled"),
            "rate_limited": self.outcome("rate_limited"),
            "busy": self.outcome("busy"),
            "coalesced": coalesced,
            "log_lines_dropped": crate::logging::dropped_lines(),
            "duration_ms": {
                "count": timed,
                "sum": self.duration_sum_ms.load(Relaxed),
                "buckets": buckets,
            },
            "memory": {
                "rss_bytes": memory.rss_bytes,
                "peak_rss_bytes": memory.peak_rss_bytes,
            },
        })
    }

    /// The one line logged at shutdown.
    pub fn log_summary(&self, coalesced: u64) {
        let memory = Memory::read();
        log::info!(
            requests = self.requests(),
            tool_calls = self.tool_calls(),
            errors = self.errors(),
            timeouts = self.outcome("timeout"),
            cancellations = self.outcome("cancelled"),
            rate_limited = self.outcome("rate_limited"),
            busy = self.outcome("busy"),
            coalesced = coalesced,
            duration_sum_ms = self.duration_sum_ms.load(Relaxed),
            peak_rss_bytes = memory.peak_rss_bytes.unwrap_or(0),
            uptime_seconds = self.started.elapsed().as_secs();
            "shutdown summary"
        );
    }
}

/// Resident memory of this process, from `/proc/self/status` (Linux only;
/// `None` elsewhere or when the file cannot be read).
#[derive(Debug, Default, PartialEq)]
pub struct Memory {
    pub rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
}

impl Memory {
    pub fn read() -> Memory {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| Memory::parse(&s))
            .unwrap_or_default()
    }

    pub fn parse(status: &str) -> Memory {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                let kb = rest.trim().strip_suffix("kB")?.trim();
                kb.parse::<u64>().ok().map(|n| n * 1024)
            })
        };
        Memory {
            rss_bytes: field("VmRSS"),
            peak_rss_bytes: field("VmHWM"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_bytes() {
        let m = Memory::parse("Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n");
        assert_eq!(m.rss_bytes, Some(1024 * 1024));
        assert_eq!(m.peak_rss_bytes, Some(2048 * 1024));
        assert_eq!(Memory::parse("VmRSS: lots\n"), Memory::default());
    }

    #[test]
    fn calls_land_in_their_tool_outcome_and_bucket() {
        let m = Metrics::new();
        m.tool_call("processes", "ok", Some(Duration::from_millis(10)));
        m.tool_call("processes", "timeout", Some(Duration::from_secs(31)));
        m.tool_call("nosuch", "rejected", None);
        let v = m.to_json(0);
        assert_eq!(v["tool_calls"]["total"], 3);
        assert_eq!(v["tool_calls"]["by_tool"]["processes"], 2);
        assert_eq!(v["outcomes"]["rejected"], 1);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["timeouts"], 1);
        let buckets = v["duration_ms"]["buckets"].as_array().expect("buckets");
        assert_eq!(buckets[0], json!({"le_ms": 10, "count": 1}));
        assert_eq!(buckets[10], json!({"le_ms": "+Inf", "count": 1}));
        assert_eq!(v["duration_ms"]["count"], 2);
    }
}
