//! Queries answered and failed per backend, for the metrics: which backend
//! does the work. The engine counts each query where it picks the backend.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use super::{RunError, Via};

/// Counters shared by the engine (which counts) and the metrics (which read).
#[derive(Debug, Default)]
pub struct Tally {
    /// Indexed by [`Via`]: answered, failed (a cancelled query is neither).
    counts: [[AtomicU64; 2]; 2],
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TallySnapshot {
    pub osqueryi: Counts,
    pub osqueryd: Counts,
}

impl Tally {
    pub fn count<T>(&self, via: Via, result: &Result<T, RunError>) {
        let column = match result {
            Ok(_) => 0,
            Err(RunError::Cancelled) => return,
            Err(_) => 1,
        };
        self.counts[via as usize][column].fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> TallySnapshot {
        let read = |via: Via| Counts {
            ok: self.counts[via as usize][0].load(Relaxed),
            errors: self.counts[via as usize][1].load(Relaxed),
        };
        TallySnapshot {
            osqueryi: read(Via::Osqueryi),
            osqueryd: read(Via::Osqueryd),
        }
    }
}
