//! Cancelling a run from another thread.

use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use super::containment::kill_group;
use super::lock;

/// Lets another thread stop a run: the reader on `notifications/cancelled`,
/// the worker's own timeout, or shutdown. Holds what the run is waiting on
/// (the child's process group, or the daemon connection's socket) while it
/// runs, so a cancel that arrives at any moment either prevents the start or
/// stops what was started.
#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<ControlState>,
}

#[derive(Debug, Default)]
struct ControlState {
    cancelled: bool,
    pgid: Option<u32>,
    /// A handle on the connection a daemon query waits on: shutting it down
    /// wakes the blocked read at once, wherever the reply is.
    socket: Option<Arc<UnixStream>>,
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
        if let Some(socket) = &s.socket {
            let _ = socket.shutdown(Shutdown::Both);
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

    /// Records the connection a query is about to use; false (and nothing
    /// kept) when a cancel came first.
    pub(super) fn attach_socket(&self, socket: Arc<UnixStream>) -> bool {
        let mut s = lock(&self.state);
        if s.cancelled {
            return false;
        }
        s.socket = Some(socket);
        true
    }

    /// After this, a cancel can no longer touch the connection, which may
    /// then serve another query.
    pub(super) fn detach_socket(&self) {
        lock(&self.state).socket = None;
    }
}
