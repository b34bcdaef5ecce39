//! One osquery query, answered by a backend: one contained osqueryi process
//! per query ([`Osqueryi`]), a running osqueryd through its extensions socket
//! ([`Daemon`]), or both ([`Runner::Hybrid`]: event tables through the
//! socket, the rest osqueryi).
//!
//! This module knows nothing about MCP or tools; it takes SQL that has already
//! been built or checked by the caller, and gives back rows or a [`RunError`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

pub mod containment;
mod control;
mod daemon;
mod home;
mod locate;
mod parse;
mod run;
pub mod signals;
mod tally;
pub mod thrift;

pub use containment::ChildLimits;
pub use control::Control;
pub use daemon::{Daemon, VERSION_SQL};
pub use home::PrivateHome;
pub use locate::locate;
pub use parse::parse_rows;
pub use run::{Osqueryi, Slots};
pub use tally::{Counts, Tally, TallySnapshot};

pub type Row = Map<String, Value>;

/// What answers queries; callers hold a `Runner` and never name the process
/// or socket machinery.
#[derive(Debug)]
pub enum Runner {
    Osqueryi(Osqueryi),
    Daemon(Daemon),
    /// Queries that read event tables go to the daemon (only a daemon with
    /// events enabled has their rows), the rest to osqueryi.
    Hybrid(Osqueryi, Daemon),
}

/// Which backend a query goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Osqueryi,
    Osqueryd,
}

impl Runner {
    /// Where a query goes; whether it reads an event table matters only
    /// to hybrid.
    pub fn via(&self, reads_events: bool) -> Via {
        match (self, reads_events) {
            (Runner::Osqueryi(_), _) | (Runner::Hybrid(..), false) => Via::Osqueryi,
            (Runner::Daemon(_), _) | (Runner::Hybrid(..), true) => Via::Osqueryd,
        }
    }

    /// Runs one query to completion and returns its rows; `via` (from
    /// [`Runner::via`]) picks the backend when there are two.
    pub fn run(&self, via: Via, sql: &str, control: &Control) -> Result<Output, RunError> {
        match (self, via) {
            (Runner::Osqueryi(o), _) | (Runner::Hybrid(o, _), Via::Osqueryi) => o.run(sql, control),
            (Runner::Daemon(d), _) | (Runner::Hybrid(_, d), Via::Osqueryd) => d.run(sql, control),
        }
    }

    /// The osqueryi backend, unless every query goes to the daemon.
    pub fn osqueryi(&self) -> Option<&Osqueryi> {
        match self {
            Runner::Osqueryi(o) | Runner::Hybrid(o, _) => Some(o),
            Runner::Daemon(_) => None,
        }
    }

    /// The daemon backend, if any query goes there.
    pub fn daemon(&self) -> Option<&Daemon> {
        match self {
            Runner::Daemon(d) | Runner::Hybrid(_, d) => Some(d),
            Runner::Osqueryi(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// Nothing executable was found; holds `OSQUERY_PATH` when it was set.
    NotFound(Option<PathBuf>),
    Timeout(Duration),
    TooLarge(usize),
    Failed(String),
    Cancelled,
    Spawn(String),
    /// The daemon backend's failures, each worded for what can be done.
    Daemon(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound(None) => write!(f, "osqueryi not found (set OSQUERY_PATH)"),
            RunError::NotFound(Some(p)) => write!(
                f,
                "osqueryi not found at {} (OSQUERY_PATH names a missing or non-executable file)",
                p.display()
            ),
            RunError::Timeout(t) => {
                let s = if t.as_secs() == 1 { "" } else { "s" };
                write!(f, "Query timed out after {} second{s}", t.as_secs())
            }
            RunError::TooLarge(cap) => write!(
                f,
                "osqueryi output exceeded MAX_RESPONSE_SIZE ({cap} bytes); add a LIMIT or select fewer columns"
            ),
            RunError::Failed(why) => write!(f, "osqueryi execution failed: {why}"),
            RunError::Cancelled => write!(f, "cancelled"),
            RunError::Spawn(why) => write!(f, "could not run osqueryi: {why}"),
            RunError::Daemon(why) => f.write_str(why),
        }
    }
}

/// A successful run: the rows, and osquery's own warnings (glog lines) if any.
#[derive(Debug)]
pub struct Output {
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the
    // state inside is plain values, never left half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
