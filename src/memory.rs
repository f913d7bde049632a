//! Peak resident memory, for benchmarks. Linux reports it in /proc; elsewhere it is unknown.

/// Starts a new peak measurement from the current resident size, after handing freed heap pages
/// back to the system so that the peak counts live memory, not what the allocator kept from
/// loading (a model built from a file of several hundred megabytes frees most of it).
pub fn reset_peak() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            /// glibc: releases free memory at the top of the heap and in the middle of arenas.
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only inspects glibc's own free lists; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
    #[cfg(target_os = "linux")]
    {
        // "5" resets the peak resident set size (VmHWM) of the process.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

pub fn peak_rss_mb() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The resident memory of the process now, in MiB.
pub fn resident_mb() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
