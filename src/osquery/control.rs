//! Cancelling a run from another thread.

use std::sync::{Arc, Mutex};

use super::containment::kill_group;
use super::lock;

/// Lets another thread stop a run: the reader on `notifications/cancelled`,
/// the worker's own timeout, or shutdown. Holds the child's process group while
/// it runs, so a cancel that arrives at any moment either prevents the spawn or
/// kills what was spawned.
#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<ControlState>,
}

#[derive(Debug, Default)]
struct ControlState {
    cancelled: bool,
    pgid: Option<u32>,
}

impl Control {
    pub fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    pub fn cancel(&self) {
        let mut s = lock(&self.state);
        s.cancelled = true;
        if let Some(pgid) = s.pgid {
            kill_group(pgid);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        lock(&self.state).cancelled
    }

    /// Records the running group; false when a cancel came first (the caller
    /// then kills it).
    pub(super) fn attach(&self, pgid: u32) -> bool {
        let mut s = lock(&self.state);
        s.pgid = Some(pgid);
        !s.cancelled
    }

    pub(super) fn detach(&self) {
        lock(&self.state).pgid = None;
    }
}
