//! Dying cleanly on SIGTERM, SIGINT and SIGHUP: every live osqueryi process
//! group is SIGKILLed before the server exits with status 128 + signal.
//!
//! Each osqueryi runs in its own process group, so a signal aimed at the
//! server (or at the client's terminal group) never reaches it; without this
//! handler a hung query would outlive the server. The handler may only make
//! async-signal-safe calls, so the live groups sit in a fixed table of atomics
//! that [`track`] fills and its guard clears, and the handler only reads it,
//! calls `kill` and `_exit`. `signal` and `_exit` are declared by hand like
//! the calls in `containment`: std links libc already.
//!
//! A SIGKILLed server cannot run a handler; for that case `containment` asks
//! the kernel (Linux `PR_SET_PDEATHSIG`) to kill osqueryi with its parent.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicI32, Ordering};

/// More slots than osqueryi processes can be alive at once (five workers and
/// the odd version probe).
const SLOTS: usize = 64;
const SIGHUP: c_int = 1;
const SIGINT: c_int = 2;
const SIGKILL: c_int = 9;
const SIGTERM: c_int = 15;

static LIVE_GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

unsafe extern "C" {
    fn signal(sig: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn _exit(status: c_int) -> !;
}

/// Installs the handler for SIGTERM, SIGINT and SIGHUP.
pub fn install() {
    for sig in [SIGTERM, SIGINT, SIGHUP] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that makes only
        // async-signal-safe calls; replacing the default action is the point.
        unsafe {
            signal(sig, on_signal);
        }
    }
}

extern "C" fn on_signal(sig: c_int) {
    kill_all_groups();
    // SAFETY: `_exit` is async-signal-safe and ends the process without
    // running destructors or flushing buffers that another thread may hold.
    unsafe { _exit(128 + sig) }
}

fn kill_all_groups() {
    for slot in &LIVE_GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 1 {
            // SAFETY: a plain syscall; a negative pid addresses the group.
            unsafe {
                kill(-pgid, SIGKILL);
            }
        }
    }
}

/// Keeps a process group in the table until dropped.
#[must_use = "the group is forgotten when the guard is dropped"]
pub struct Tracked(Option<usize>);

/// Records a live process group for the signal handler. Drop the guard once
/// the group's leader has been reaped.
pub fn track(pgid: u32) -> Tracked {
    let Ok(pgid) = i32::try_from(pgid) else {
        return Tracked(None);
    };
    for (i, slot) in LIVE_GROUPS.iter().enumerate() {
        if slot
            .compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Tracked(Some(i));
        }
    }
    log::warn!("signal table full: osqueryi group {pgid} will not be killed on SIGTERM");
    Tracked(None)
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            LIVE_GROUPS[i].store(0, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_and_given_back() {
        let held = |pgid: i32| {
            LIVE_GROUPS
                .iter()
                .filter(|s| s.load(Ordering::SeqCst) == pgid)
                .count()
        };
        let a = track(999_991);
        let b = track(999_992);
        assert_eq!((held(999_991), held(999_992)), (1, 1));
        drop(a);
        assert_eq!((held(999_991), held(999_992)), (0, 1));
        drop(b);
        assert_eq!(held(999_992), 0);
    }
}
