//! Fuzzes the Prometheus exposition parser with arbitrary bytes.
//!
//! The parser must never panic, and what it accepts must be well formed: names and labels
//! non-empty, label names unique within a sample, and a line number for every rejection.
//! Run: `cargo +nightly fuzz run exposition` in `crates/shadowgate-ingest/fuzz`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shadowgate_ingest::exposition::parse_bytes;

fuzz_target!(|data: &[u8]| {
    match parse_bytes(data) {
        Ok(samples) => {
            for sample in &samples {
                assert!(!sample.name.is_empty() && !sample.family.is_empty());
                for (idx, (name, _)) in sample.labels.iter().enumerate() {
                    assert!(!name.is_empty());
                    assert!(sample.labels[..idx].iter().all(|(other, _)| other != name));
                }
            }
        }
        Err(error) => assert!(error.line >= 1 && error.column >= 1 && !error.message.is_empty()),
    }
});
