//! The process's peak resident set (Linux's VmHWM), and its reset: what `bench` and
//! `simulate` print.

/// Starts the high-water mark again from the current resident set (Linux 4.0 and later),
/// once the allocator has handed back what it no longer uses.
pub fn reset() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own heap.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn read() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
