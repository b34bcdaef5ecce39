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
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

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
                Ok(snap) => pages::unheld(
                    Fetched {
                        rows: snap.table,
                        meta: snap.meta,
                        note: snap.note,
                    },
                    end,
                    self.max_bytes,
                    era,
                ),
                Err(snap) => pages::page(&snap, 0, end, 1, None, era),
            },
        }
    }

    /// The page `cursor` names, for a call of `tool`. Cheap enough for the
    /// reader: it serialises at most one page and never waits on osqueryi.
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
        let (snap, start, known_end) = {
            let mut state = self.lock();
            self.expire(&mut state, now);
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
            let mut state = self.lock();
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
        let bytes = snap.heap_bytes();
        let mut state = self.lock();
        self.expire(&mut state, now);
        if bytes > self.max_bytes {
            self.metrics.held_dropped(1);
            return None;
        }
        while !state.entries.is_empty()
            && (state.bytes + bytes > self.max_bytes || state.entries.len() >= MAX_HELD)
        {
            let oldest = state.entries.remove(0);
            state.bytes -= oldest.bytes;
            self.metrics.held_dropped(1);
        }
        let id = self.new_id();
        state.entries.push(Entry {
            id,
            snap,
            starts: vec![0, end],
            bytes,
            used: now,
        });
        state.bytes += bytes;
        self.metrics.held(state.entries.len(), state.bytes);
        Some(id)
    }

    fn expire(&self, state: &mut State, now: Instant) {
        let before = state.entries.len();
        state
            .entries
            .retain(|e| now.saturating_duration_since(e.used) < HELD_FOR);
        let expired = before - state.entries.len();
        if expired > 0 {
            state.bytes = state.entries.iter().map(|e| e.bytes).sum();
            self.metrics.held_expired(expired);
        }
        self.metrics.held(state.entries.len(), state.bytes);
    }

    fn new_id(&self) -> u64 {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        self.keys.hash_one((nanos, n, std::process::id()))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the entries and their byte count consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
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
