//! Keeping osqueryi from hurting the host: lower CPU priority, an address-space
//! limit and a CPU-time limit set in the child between fork and exec, and
//! killing a whole process group. On Linux the child also dies with the
//! server (`PR_SET_PDEATHSIG`), even when the server is SIGKILLed and has no
//! chance to run its signal handler (see `signals`).
//!
//! osqueryi run as a shell has no watchdog of its own, so these are the only
//! brakes on a runaway query besides the wall-clock timeout. The three libc
//! calls are declared by hand: std already links libc, and the `libc` crate
//! would be a seventh dependency for three prototypes.

use std::os::raw::{c_int, c_ulong};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Resource limits applied to the child before it execs.
#[derive(Debug, Clone, Copy)]
pub struct ChildLimits {
    pub nice: i32,
    pub address_space_bytes: u64,
    pub cpu_seconds: u64,
}

#[repr(C)]
struct Rlimit {
    cur: c_ulong,
    max: c_ulong,
}

unsafe extern "C" {
    fn setpriority(which: c_int, who: u32, prio: c_int) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const Rlimit) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    #[cfg(target_os = "linux")]
    fn prctl(option: c_int, ...) -> c_int;
    #[cfg(target_os = "linux")]
    fn getppid() -> c_int;
}

#[cfg(target_os = "linux")]
const PR_SET_PDEATHSIG: c_int = 1;
#[cfg(target_os = "linux")]
const ESRCH: i32 = 3;

const PRIO_PROCESS: c_int = 0;
const RLIMIT_CPU: c_int = 0;
#[cfg(target_os = "linux")]
const RLIMIT_AS: c_int = 9;
#[cfg(not(target_os = "linux"))]
const RLIMIT_AS: c_int = 5;
const SIGKILL: c_int = 9;

/// Arranges for the limits to be applied in the child just before exec.
/// A limit of 0 means "do not set it".
pub fn apply(cmd: &mut Command, limits: ChildLimits) {
    #[cfg(target_os = "linux")]
    let parent = std::process::id() as c_int;
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls on plain stack values; it allocates
    // nothing and touches no locks.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong);
                // The server may have died between fork and prctl; then the
                // death signal will never come, so do not start at all. (A raw
                // OS error: nothing may allocate between fork and exec.)
                if getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(ESRCH));
                }
            }
            if limits.nice != 0 {
                // Best effort: an unprivileged user may not lower priority further
                // in some containers, which must not stop the query.
                setpriority(PRIO_PROCESS, 0, limits.nice);
            }
            // Failure leaves a limit the host already set, which can only be
            // tighter (an unprivileged process cannot raise a hard limit).
            set_limit(
                RLIMIT_AS,
                limits.address_space_bytes,
                limits.address_space_bytes,
            );
            // The hard CPU limit one second above the soft one: SIGXCPU first,
            // SIGKILL if it is ignored.
            set_limit(
                RLIMIT_CPU,
                limits.cpu_seconds,
                limits.cpu_seconds.saturating_add(1),
            );
            Ok(())
        });
    }
}

fn set_limit(resource: c_int, soft: u64, hard: u64) {
    if soft == 0 {
        return;
    }
    let lim = Rlimit {
        cur: soft as c_ulong,
        max: hard as c_ulong,
    };
    // SAFETY: `lim` is a valid, initialised rlimit for the duration of the call.
    unsafe {
        setrlimit(resource, &lim);
    }
}

/// SIGKILL to every process in the group. Errors (the group is already gone)
/// are expected and ignored.
pub fn kill_group(pgid: u32) {
    let Ok(pgid) = c_int::try_from(pgid) else {
        return;
    };
    if pgid > 1 {
        // SAFETY: a plain syscall; a negative pid addresses the process group.
        unsafe {
            kill(-pgid, SIGKILL);
        }
    }
}
