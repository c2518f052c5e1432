//! Process facts the progress lines report: resident and peak memory.
//!
//! Read from `/proc` on Linux; other platforms report nothing rather than a wrong number.

/// Current resident set size in bytes, where the platform tells.
pub fn current_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Peak resident set size in bytes (`VmHWM`), where the platform tells.
pub fn peak_rss() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `85 MiB`, or `n/a`.
pub fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{} MiB", b >> 20),
        None => "n/a".into(),
    }
}
