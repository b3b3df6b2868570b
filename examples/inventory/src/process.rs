//! The process's own resource use, read from the kernel for the `process_*` metrics.
//!
//! shadowgate compares the releases' memory and CPU, so the service reports them itself, under
//! the metric names Prometheus client libraries use. A value that cannot be read (another OS,
//! a restricted `/proc`) is left out of the exposition rather than reported as zero.

use std::fs;

use nix::sys::resource::{UsageWho, getrusage};

/// One reading of the process's resource use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    /// User plus system CPU time.
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
}

/// Reads the current values.
pub fn sample() -> ProcessStats {
    let resident_bytes = fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(resident_bytes_from_status);
    let cpu_seconds = getrusage(UsageWho::RUSAGE_SELF).ok().map(|usage| {
        let user = usage.user_time();
        let system = usage.system_time();
        (user.tv_sec() + system.tv_sec()) as f64
            + (user.tv_usec() + system.tv_usec()) as f64 / 1_000_000.0
    });
    let open_fds = fs::read_dir("/proc/self/fd").ok().map(|entries| entries.count() as u64);
    ProcessStats { resident_bytes, cpu_seconds, open_fds }
}

/// The `VmRSS:` line of `/proc/self/status` (in KiB there), in bytes.
pub fn resident_bytes_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kibibytes: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(kibibytes * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
