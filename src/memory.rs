//! Giving memory back to the system after a large result.
//!
//! A big answer is parsed into many small row allocations. glibc keeps freed
//! small blocks in the worker's arena (resident), so without a nudge the
//! memory of one 10 MB result's rows stays counted while the next buffer is
//! filled, and peak RSS is the sum of both. `malloc_trim` returns the free
//! pages at once. Other C libraries (musl) release eagerly on their own, so
//! there this is a no-op.

/// Results smaller than this are not worth a trim.
pub const TRIM_AFTER_BYTES: usize = 1024 * 1024;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
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
pub fn release_free_memory() {}
