//! Result snapshots held for paging, shared by the workers (which hold a
//! result too large for one answer and answer its first page) and the reader
//! (which answers each later page from the snapshot, without running the
//! query again).
//!
//! Held snapshots are bounded by bytes (`MAX_HELD_BYTES` in all), by count
//! and by age ([`HELD_FOR`] since a page of it was last served); the least
//! recently used goes first. A cursor names a snapshot and a page of it;
//! identical calls that shared one run share its snapshot and may all walk
//! it. Cursors are not a security boundary (one client per server), only
//! unlikely to collide: the snapshot's number is a hash of the time, a
//! counter and this process, keyed by std's per-process random keys.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::lock;
use crate::mcp::pages::{self, Refused, Snapshot};
use crate::mcp::{Answer, Era, results};
use crate::ops::metrics::Metrics;
use crate::tools::{Failure, Fetched, Outcome, ToolName};

/// How long a snapshot is kept after its last page was served.
pub const HELD_FOR: Duration = Duration::from_secs(10 * 60);
/// At most this many snapshots, however small.
pub const MAX_HELD: usize = 256;

pub struct Held {
    /// `MAX_TEXT_BYTES`: the text one answer may carry.
    budget: usize,
    /// `MAX_HELD_BYTES`: all snapshots together.
    max_bytes: usize,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
    keys: RandomState,
    made: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Least recently used first.
    entries: Vec<Entry>,
    bytes: usize,
}

struct Entry {
    id: u64,
    snap: Arc<Snapshot>,
    /// Where each page served so far starts, and where the last one ends.
    starts: Vec<usize>,
    bytes: usize,
    used: Instant,
}

impl Held {
    pub fn new(budget: usize, max_bytes: usize, metrics: Arc<Metrics>) -> Held {
        Held {
            budget,
            max_bytes,
            state: Mutex::new(State::default()),
            metrics,
            keys: RandomState::new(),
            made: AtomicU64::new(0),
        }
    }

    /// The first answer to a fresh run: every row when they fit the budget,
    /// else page 1, holding the rest for the cursor it carries.
    pub fn answer(&self, fetched: Result<Fetched, Failure>, tool: ToolName, era: Era) -> Answer {
        let fetched = match fetched {
            Ok(f) => f,
            Err(failure) => return pages::failure(failure, era),
        };
        let Some(end) = pages::first_page(&fetched, self.budget) else {
            return pages::whole(fetched, era);
        };
        let snap = Arc::new(Snapshot::new(tool, fetched));
        match self.hold(snap.clone(), end, Instant::now()) {
            Some(id) => pages::page(&snap, 0, end, 1, Some(cursor(id, 2)), era),
            None => match Arc::try_unwrap(snap) {
                Ok(snap) => pages::unheld(snap, end, self.max_bytes, era),
                Err(snap) => pages::page(&snap, 0, end, 1, None, era),
            },
        }
    }

    /// The page `cursor` names, for a call of `tool`. Cheap enough for the
    /// reader: it serialises at most one page and runs no query.
    pub fn page(&self, cursor: &str, tool: ToolName, era: Era) -> Answer {
        catch_unwind(AssertUnwindSafe(|| {
            self.serve(cursor, tool, era, Instant::now())
        }))
        .unwrap_or_else(|_| {
            log::error!(tool = tool.as_str(); "panic while serving a page");
            Answer {
                result: results::error(
                    "internal error while serving this page; the server keeps running",
                    era,
                ),
                outcome: Outcome::ToolError,
            }
        })
    }

    fn serve(&self, asked: &str, tool: ToolName, era: Era, now: Instant) -> Answer {
        let refused = |why| pages::refused(why, tool, HELD_FOR.as_secs() / 60, era);
        let Some((id, number)) = parse_cursor(asked) else {
            return refused(Refused::Unknown);
        };
        self.sweep(now);
        let (snap, start, known_end) = {
            let mut state = lock(&self.state);
            let Some(i) = state.entries.iter().position(|e| e.id == id) else {
                return refused(Refused::Unknown);
            };
            let mut entry = state.entries.remove(i);
            entry.used = now;
            let found = match entry.starts.get(number - 1) {
                _ if entry.snap.tool != tool => Err(Refused::OtherTool(entry.snap.tool)),
                Some(&start) if start < entry.snap.table.len() => {
                    Ok((entry.snap.clone(), start, entry.starts.get(number).copied()))
                }
                _ => Err(Refused::Unknown),
            };
            state.entries.push(entry);
            match found {
                Ok(found) => found,
                Err(why) => return refused(why),
            }
        };
        let end = known_end.unwrap_or_else(|| snap.page_end(start, self.budget));
        if known_end.is_none() {
            let mut state = lock(&self.state);
            if let Some(e) = state.entries.iter_mut().find(|e| e.id == id)
                && e.starts.len() == number
            {
                e.starts.push(end);
            }
        }
        self.metrics.page_served();
        let next = (end < snap.table.len()).then(|| cursor(id, number + 1));
        pages::page(&snap, start, end, number, next, era)
    }

    /// Keeps `snap`, whose first page ends at `end`; its number, or `None`
    /// when it is larger than everything that may be held.
    fn hold(&self, snap: Arc<Snapshot>, end: usize, now: Instant) -> Option<u64> {
        self.sweep(now);
        let bytes = snap.heap_bytes();
        if bytes > self.max_bytes {
            self.metrics.held_dropped(1);
            return None;
        }
        let mut dropped = Vec::new();
        let id = self.new_id();
        {
            let mut state = lock(&self.state);
            while !state.entries.is_empty()
                && (state.bytes + bytes > self.max_bytes || state.entries.len() >= MAX_HELD)
            {
                let oldest = state.entries.remove(0);
                state.bytes -= oldest.bytes;
                dropped.push(oldest);
            }
            state.entries.push(Entry {
                id,
                snap,
                starts: vec![0, end],
                bytes,
                used: now,
            });
            state.bytes += bytes;
            self.metrics.held(state.entries.len(), state.bytes);
        }
        self.metrics.held_dropped(dropped.len());
        release(dropped);
        Some(id)
    }

    /// Drops the snapshots not used for [`HELD_FOR`]. Runs whenever one is
    /// held or served, and for every message the reader reads, so an idle
    /// server lets them go at its next message.
    pub fn sweep(&self, now: Instant) {
        let fresh = |e: &Entry| now.saturating_duration_since(e.used) < HELD_FOR;
        let expired: Vec<Entry> = {
            let mut state = lock(&self.state);
            // What nearly every message finds: nothing to drop, nothing to
            // rebuild or count.
            if state.entries.iter().all(fresh) {
                return;
            }
            let (kept, expired) = std::mem::take(&mut state.entries)
                .into_iter()
                .partition(fresh);
            state.entries = kept;
            state.bytes = state.entries.iter().map(|e| e.bytes).sum();
            self.metrics.held(state.entries.len(), state.bytes);
            expired
        };
        self.metrics.held_expired(expired.len());
        release(expired);
    }

    fn new_id(&self) -> u64 {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        self.keys.hash_one((nanos, n, std::process::id()))
    }
}

/// Frees dropped snapshots outside the lock (unless a page being served
/// still holds one) and hands large ones' pages back to the system.
fn release(dropped: Vec<Entry>) {
    let bytes: usize = dropped.iter().map(|e| e.bytes).sum();
    drop(dropped);
    crate::memory::freed(bytes);
}

/// Sixteen hex digits of the snapshot's number, then the page's.
fn cursor(id: u64, page: usize) -> String {
    format!("{id:016x}{page:x}")
}

fn parse_cursor(cursor: &str) -> Option<(u64, usize)> {
    let (id, page) = (cursor.get(..16)?, cursor.get(16..)?);
    if page.is_empty() || page.len() > 8 || !cursor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let page = usize::from_str_radix(page, 16).ok()?;
    (page >= 2).then_some((u64::from_str_radix(id, 16).ok()?, page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osquery::TableBuilder;
    use crate::tools::StructuredMeta;
    use serde_json::Value;

    const TOOL: ToolName = ToolName::CustomQuery;

    /// A run's `rows` rows of about 110 bytes each.
    fn fetched(rows: usize) -> Fetched {
        let mut t = TableBuilder::new();
        for i in 0..rows {
            t.push_row([("n", i.to_string()), ("pad", "x".repeat(100))]);
        }
        Fetched {
            rows: t.finish().expect("small"),
            meta: StructuredMeta {
                row_count: rows,
                ..StructuredMeta::default()
            },
            note: None,
        }
    }

    fn snapshot(rows: usize) -> Arc<Snapshot> {
        Arc::new(Snapshot::new(TOOL, fetched(rows)))
    }

    fn page(held: &Held, id: u64, number: usize, now: Instant) -> Value {
        let answer = held.serve(&cursor(id, number), TOOL, Era::Legacy, now);
        serde_json::from_str(answer.result.get()).expect("a result")
    }

    #[test]
    fn a_snapshot_lives_ten_minutes_after_its_last_page() {
        let metrics = Arc::new(Metrics::new());
        let held = Held::new(4096, 1 << 20, metrics.clone());
        let t0 = Instant::now();
        let id = held.hold(snapshot(200), 30, t0).expect("held");
        let later = t0 + HELD_FOR - Duration::from_secs(1);
        assert_eq!(page(&held, id, 2, later)["structuredContent"]["page"], 2);
        // The clock starts again at every page served.
        let much_later = later + HELD_FOR - Duration::from_secs(1);
        assert_eq!(
            page(&held, id, 3, much_later)["structuredContent"]["page"],
            3
        );
        let expired = page(&held, id, 4, much_later + HELD_FOR);
        assert_eq!(expired["isError"], true, "{expired}");
        let counted = metrics.snapshot(0).to_json()["paging"].clone();
        assert_eq!(
            (counted["expired"].clone(), counted["held"].clone()),
            (1.into(), 0.into())
        );
    }

    #[test]
    fn the_least_recently_used_snapshot_goes_first() {
        let metrics = Arc::new(Metrics::new());
        let size = snapshot(200).heap_bytes();
        let held = Held::new(4096, 2 * size + size / 2, metrics.clone());
        let t0 = Instant::now();
        let a = held.hold(snapshot(200), 30, t0).expect("held");
        let b = held.hold(snapshot(200), 30, t0).expect("held");
        assert_eq!(page(&held, a, 2, t0)["isError"], false);
        held.hold(snapshot(200), 30, t0).expect("held");
        assert_eq!(
            page(&held, b, 2, t0)["isError"],
            true,
            "b was used least recently"
        );
        assert_eq!(page(&held, a, 3, t0)["isError"], false);
        assert_eq!(metrics.snapshot(0).to_json()["paging"]["dropped"], 1);
        assert!(
            held.hold(snapshot(2000), 30, t0).is_none(),
            "larger than all held"
        );
    }

    #[test]
    fn a_result_larger_than_all_that_may_be_held_answers_its_first_page_alone() {
        let metrics = Arc::new(Metrics::new());
        let held = Held::new(4096, snapshot(2000).heap_bytes() / 2, metrics.clone());
        let answer = held.answer(Ok(fetched(2000)), TOOL, Era::Legacy);
        let v: Value = serde_json::from_str(answer.result.get()).expect("a result");
        let meta = &v["structuredContent"];
        assert_eq!(meta["total_rows"], 2000, "{meta}");
        assert!(meta.get("next_cursor").is_none(), "nothing held to page");
        let shown = meta["row_count"].as_u64().unwrap_or_default();
        assert!((1..2000).contains(&shown), "{shown}");
        let note = v["content"][1]["text"].as_str().unwrap_or_default();
        assert!(
            note.starts_with(&format!(
                "Showing rows 1-{shown} of 2000: the other {} rows",
                2000 - shown
            )) && note.contains("held for paging (MAX_HELD_BYTES)"),
            "{note}"
        );
        assert_eq!(metrics.snapshot(0).to_json()["paging"]["dropped"], 1);
    }

    #[test]
    fn pages_are_served_only_once_they_were_offered() {
        let held = Held::new(4096, 1 << 20, Arc::new(Metrics::new()));
        let id = held.hold(snapshot(200), 30, Instant::now()).expect("held");
        let now = Instant::now();
        assert_eq!(
            page(&held, id, 3, now)["isError"],
            true,
            "page 3 before page 2"
        );
        let two = page(&held, id, 2, now);
        let again = page(&held, id, 2, now);
        assert_eq!(two, again, "a page may be asked for again");
        let other = held.serve(&cursor(id, 2), ToolName::Processes, Era::Legacy, now);
        let other: Value = serde_json::from_str(other.result.get()).expect("a result");
        let text = other["content"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("belongs to a result of custom_query"),
            "{text}"
        );
    }

    #[test]
    fn cursors_name_a_snapshot_and_a_page() {
        assert_eq!(parse_cursor(&cursor(u64::MAX, 2)), Some((u64::MAX, 2)));
        assert_eq!(parse_cursor(&cursor(7, 0x1234)), Some((7, 0x1234)));
        for bad in [
            "",
            "0123456789abcdef",
            "0123456789abcdef1",
            "0123456789abcdefg",
            "é123456789abcdef2",
            "0123456789abcdef123456789",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
        let held = Held::new(4096, 1 << 20, Arc::new(Metrics::new()));
        assert_ne!(held.new_id(), held.new_id());
    }
}
