//! One osquery query, answered by a backend. Today that is one contained
//! osqueryi process per query ([`Osqueryi`]); the [`Runner`] enum is where a
//! second backend (osqueryd's extension socket) joins behind the same pool.
//!
//! This module knows nothing about MCP or tools; it takes SQL that has already
//! been built or checked by the caller, and gives back rows or a [`RunError`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

pub mod containment;
mod control;
mod home;
mod locate;
mod parse;
mod run;
pub mod signals;
pub mod thrift;

pub use containment::ChildLimits;
pub use control::Control;
pub use home::PrivateHome;
pub use locate::locate;
pub use parse::parse_rows;
pub use run::{Osqueryi, Slots};

pub type Row = Map<String, Value>;

/// What answers queries. A later backend is one more variant here; callers
/// hold a `Runner` and never name the process machinery.
#[derive(Debug)]
pub enum Runner {
    Osqueryi(Osqueryi),
}

impl Runner {
    /// Runs one query to completion and parses its rows.
    pub fn run(&self, sql: &str, control: &Control) -> Result<Output, RunError> {
        match self {
            Runner::Osqueryi(o) => o.run(sql, control),
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
