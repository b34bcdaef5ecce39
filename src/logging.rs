//! Logs: one JSON object per line on stderr, through env_logger with our own
//! format. stdout belongs to the protocol, so nothing here may ever touch it.
//!
//! Fields: `timestamp` (RFC 3339 UTC, milliseconds), `level`, `logger`,
//! `message`, then any key-values the call site attached (tool calls add
//! `tool`, `duration_ms`, `response_size`, `outcome`).
//!
//! Records at or above the level an MCP client chose (`logging/setLevel`,
//! default `warning` once the client has initialized) are also sent to it as
//! `notifications/message` through the writer's channel. Forwarding never
//! blocks (a full channel drops the notification) and never logs, so a log call
//! on any thread, the writer's included, cannot stall or recurse.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{Key, Value as KvValue, VisitSource};
use serde_json::{Map, Value, json};

use crate::jsonrpc::Outgoing;

/// MCP's eight levels, least severe first; a threshold is an index + 1 here.
pub const MCP_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];
/// 0: nothing is forwarded (the client has not initialized yet).
static THRESHOLD: AtomicU8 = AtomicU8::new(0);
/// Offers a note to the writer without waiting (false: dropped).
type Forward = Arc<dyn Fn(Outgoing) -> bool + Send + Sync>;
/// The writer's outbox while a server runs; taken away at shutdown so the
/// writer sees its channel close.
static FORWARD: Mutex<Option<Forward>> = Mutex::new(None);
const DEFAULT_THRESHOLD: u8 = 4; // warning

thread_local! {
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

pub fn init(level: log::LevelFilter) {
    let inner = env_logger::Builder::new()
        .filter_level(level)
        .target(env_logger::Target::Pipe(Box::new(StderrQueue::start())))
        .format(|buf, record| {
            let line = render(record);
            buf.write_all(line.as_bytes())?;
            buf.write_all(b"\n")
        })
        .build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(Forwarding { inner })).is_ok() {
        log::set_max_level(max);
        // Panics become log lines too (one JSON line, through the queue), so
        // a panicking worker never writes raw text to stderr or blocks on it.
        std::panic::set_hook(Box::new(|info| {
            let thread = std::thread::current();
            log::error!(
                "panic in thread {}: {info}",
                thread.name().unwrap_or("unnamed")
            );
        }));
    }
}

/// Log lines waiting for the stderr thread. A client may never read our
/// stderr; once its pipe is full, lines are dropped (and counted) instead of
/// blocking whichever thread logged — the reader above all.
const STDERR_QUEUE: usize = 1024;
static STDERR_STARTED: OnceLock<()> = OnceLock::new();
/// Lines queued or being written; `flush` waits for this to reach zero.
static PENDING: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

struct StderrQueue(crossbeam_channel::Sender<Vec<u8>>);

impl StderrQueue {
    fn start() -> StderrQueue {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(STDERR_QUEUE);
        let _ = STDERR_STARTED.set(());
        let spawned = std::thread::Builder::new()
            .name("stderr".into())
            .spawn(move || {
                let mut err = std::io::stderr();
                for line in rx.iter() {
                    let _ = err.write_all(&line);
                    PENDING.fetch_sub(1, Ordering::AcqRel);
                }
            });
        if spawned.is_err() {
            // No thread, no logs; the server itself is unaffected.
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        StderrQueue(tx)
    }
}

impl Write for StderrQueue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        PENDING.fetch_add(1, Ordering::AcqRel);
        if self.0.try_send(buf.to_vec()).is_err() {
            PENDING.fetch_sub(1, Ordering::AcqRel);
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Gives the stderr thread up to `limit` to write what is queued, before exit.
pub fn flush(limit: std::time::Duration) {
    if STDERR_STARTED.get().is_none() {
        return;
    }
    let deadline = std::time::Instant::now() + limit;
    while PENDING.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Log lines dropped because stderr was not being read.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Starts forwarding to an MCP client through `offer`, which must never
/// wait (threshold still unset).
pub fn forward_to(offer: impl Fn(Outgoing) -> bool + Send + Sync + 'static) {
    *lock_forward() = Some(Arc::new(offer));
}

/// Stops forwarding and drops our handle on the writer's channel.
pub fn stop_forwarding() {
    *lock_forward() = None;
    THRESHOLD.store(0, Ordering::Relaxed);
}

/// The client initialized: forward warnings and worse unless it chose a level.
pub fn client_ready() {
    let _ = THRESHOLD.compare_exchange(0, DEFAULT_THRESHOLD, Ordering::Relaxed, Ordering::Relaxed);
}

/// `logging/setLevel`: false when `level` is not one of the eight MCP levels.
pub fn set_client_level(level: &str) -> bool {
    match MCP_LEVELS.iter().position(|&l| l == level) {
        Some(i) => {
            THRESHOLD.store(i as u8 + 1, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

fn lock_forward() -> std::sync::MutexGuard<'static, Option<Forward>> {
    FORWARD.lock().unwrap_or_else(|p| p.into_inner())
}

/// env_logger for stderr, plus the forwarding to the MCP client.
struct Forwarding {
    inner: env_logger::Logger,
}

impl log::Log for Forwarding {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.inner.matches(record) {
            return;
        }
        self.inner.log(record);
        let threshold = THRESHOLD.load(Ordering::Relaxed);
        let rank = mcp_rank(record.level());
        if threshold == 0 || rank < threshold || FORWARDING.with(Cell::get) {
            return;
        }
        FORWARDING.with(|f| f.set(true));
        forward(record, rank);
        FORWARDING.with(|f| f.set(false));
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

fn mcp_rank(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 5,
        log::Level::Warn => 4,
        log::Level::Info => 2,
        log::Level::Debug | log::Level::Trace => 1,
    }
}

fn forward(record: &log::Record<'_>, rank: u8) {
    let Some(offer) = lock_forward().clone() else {
        return;
    };
    let mut data = Map::new();
    data.insert("message".into(), Value::String(record.args().to_string()));
    let _ = record.key_values().visit(&mut Fields(&mut data));
    let params = json!({
        "level": MCP_LEVELS[usize::from(rank - 1)],
        "logger": logger_name(record),
        "data": data,
    });
    // Never waits: the writer itself logs, and a full outbox must not stall anyone.
    offer(Outgoing::notification("notifications/message", params));
}

fn logger_name<'a>(record: &'a log::Record<'_>) -> &'a str {
    record.module_path().unwrap_or(record.target())
}

fn render(record: &log::Record<'_>) -> String {
    let mut obj = Map::new();
    obj.insert("timestamp".into(), Value::String(rfc3339_now()));
    obj.insert("level".into(), Value::String(record.level().to_string()));
    obj.insert(
        "logger".into(),
        Value::String(logger_name(record).to_string()),
    );
    obj.insert("message".into(), Value::String(record.args().to_string()));
    let mut fields = Fields(&mut obj);
    let _ = record.key_values().visit(&mut fields);
    Value::Object(obj).to_string()
}

/// Cuts text (SQL, for debug logs) to about `max` bytes on a char boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: KvValue<'kvs>) -> Result<(), log::kv::Error> {
        let v = if let Some(n) = value.to_u64() {
            Value::from(n)
        } else if let Some(n) = value.to_i64() {
            Value::from(n)
        } else if let Some(b) = value.to_bool() {
            Value::from(b)
        } else {
            Value::String(value.to_string())
        };
        self.0.insert(key.as_str().to_string(), v);
        Ok(())
    }
}

pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_millis())
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` with std only.
pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_632_798, 123), "2026-11-25T18:53:18.123Z");
        assert_eq!(rfc3339(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é… (6 bytes)");
    }

    #[test]
    fn client_levels_are_the_eight_mcp_levels() {
        assert!(set_client_level("notice"));
        assert!(!set_client_level("warn"));
        assert!(!set_client_level("WARNING"));
        stop_forwarding();
    }

    #[test]
    fn records_render_as_one_json_object() {
        let kvs: &[(&str, &str)] = &[("tool", "processes")];
        let record = log::Record::builder()
            .args(format_args!("tool call \"done\"\n"))
            .level(log::Level::Info)
            .module_path(Some("mcp_osquery_server::pool"))
            .key_values(&kvs)
            .build();
        let line = render(&record);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["logger"], "mcp_osquery_server::pool");
        assert_eq!(v["message"], "tool call \"done\"\n");
        assert_eq!(v["tool"], "processes");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
