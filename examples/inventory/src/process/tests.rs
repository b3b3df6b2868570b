//! Tests of reading the process's resource use.

use super::*;

#[test]
fn reads_vm_rss_in_bytes() {
    let status = "Name:\tinventory\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
    assert_eq!(resident_bytes_from_status(status), Some(12345 * 1024));
    assert_eq!(resident_bytes_from_status("Name:\tx\n"), None);
    assert_eq!(resident_bytes_from_status("VmRSS:\t12 MB\n"), None);
}

#[test]
fn samples_this_process() {
    let stats = sample();
    let resident = stats.resident_bytes.expect("Linux has /proc/self/status");
    assert!(resident > 1024 * 1024, "a test binary is larger than 1 MiB: {resident}");
    assert!(stats.cpu_seconds.expect("getrusage works") >= 0.0);
    assert!(stats.open_fds.expect("Linux has /proc/self/fd") >= 3);
}
