//! Peak resident memory, for benchmarks. Linux reports it in /proc; elsewhere it is unknown.

/// Starts a new peak measurement from the current resident size.
pub fn reset_peak() {
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
