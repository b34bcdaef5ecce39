//! This process's memory: how much it holds (for metrics), and giving it
//! back to the system after a large result.
//!
//! glibc keeps freed blocks in the worker's arena (resident), so without a
//! nudge the memory of one large result stays counted while the next buffer
//! is filled, and peak RSS is the sum of both. `malloc_trim` returns the free
//! pages at once. Other C libraries (musl) release eagerly on their own, so
//! there this is a no-op.

use serde::Serialize;

/// Less freed memory than this is not worth a trim.
const TRIM_AFTER_BYTES: usize = 1024 * 1024;

/// After `bytes` were freed (a large result, line or snapshot): hands the
/// free pages back to the system when there are enough to be worth it.
pub fn freed(bytes: usize) {
    if bytes >= TRIM_AFTER_BYTES {
        release_free_memory();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: malloc_trim takes a plain integer, is thread-safe (it locks each
    // arena) and only returns free pages to the kernel.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

/// Resident memory of this process, from `/proc/self/status` (Linux only;
/// `None` elsewhere or when the file cannot be read).
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Memory {
    pub rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
}

impl Memory {
    pub fn read() -> Memory {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| Memory::parse(&s))
            .unwrap_or_default()
    }

    pub fn parse(status: &str) -> Memory {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                let kb = rest.trim().strip_suffix("kB")?.trim();
                kb.parse::<u64>().ok().map(|n| n * 1024)
            })
        };
        Memory {
            rss_bytes: field("VmRSS"),
            peak_rss_bytes: field("VmHWM"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_bytes() {
        let m = Memory::parse("Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n");
        assert_eq!(m.rss_bytes, Some(1024 * 1024));
        assert_eq!(m.peak_rss_bytes, Some(2048 * 1024));
        assert_eq!(Memory::parse("VmRSS: lots\n"), Memory::default());
    }
}
