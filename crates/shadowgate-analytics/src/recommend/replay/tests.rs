//! Replay accounting checked on a trace small enough to count by hand.

use super::*;
use crate::recommend::Recommendation;

/// Recommends fixed limits and remembers the OOMs it was told about.
struct FixedLimits {
    limit: Resources,
    ooms: Vec<(i64, f64)>,
    observed: usize,
}

impl Recommender for FixedLimits {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn observe(&mut self, _sample: &UsageSample) {
        self.observed += 1;
    }
    fn record_oom(&mut self, timestamp: i64, memory_limit_bytes: f64) {
        self.ooms.push((timestamp, memory_limit_bytes));
    }
    fn recommend(&self, _now: i64) -> Option<Recommendation> {
        (self.observed > 0).then_some(Recommendation {
            target: self.limit,
            lower_bound: self.limit,
            upper_bound: self.limit,
        })
    }
}

fn sample(timestamp: i64, cpu_cores: f64, memory_bytes: f64) -> UsageSample {
    UsageSample { timestamp, cpu_cores, memory_bytes, load: None }
}

#[test]
fn events_throttling_and_slack_are_counted_against_the_limit_in_force() {
    let limit = Resources { cpu_cores: 2.0, memory_bytes: 100.0 };
    let mut recommender = FixedLimits { limit, ooms: Vec::new(), observed: 0 };
    // The first sample trains only (no limit yet); the limit applies from the next
    // recomputation at t = 10.
    let trace = vec![
        sample(0, 1.0, 50.0),
        sample(10, 1.0, 50.0),
        sample(20, 3.0, 120.0),
        sample(30, 2.0, 100.0),
        sample(40, 0.5, 150.0),
    ];
    let config = ReplayConfig { recompute_interval_seconds: 10, warmup_seconds: 0 };
    let report = replay(&trace, &mut recommender, &config).expect("valid trace");
    assert_eq!(report.scored_samples, 4);
    assert_eq!(report.oom_events, 2);
    assert_eq!(report.oom_timestamps, vec![20, 40]);
    assert_eq!(recommender.ooms, vec![(20, 100.0), (40, 100.0)]);
    assert_eq!(report.throttled_fraction, 0.25);
    // CPU unused: 1 + 0 + 0 + 1.5 over 6.5 used; memory unused: 50 + 0 + 0 + 0 over 420.
    assert!((report.cpu_slack - 2.5 / 6.5).abs() < 1e-12);
    assert!((report.memory_slack - 50.0 / 420.0).abs() < 1e-12);
    assert_eq!(report.mean_limit, limit);
}

#[test]
fn warmup_samples_only_train() {
    let limit = Resources { cpu_cores: 0.1, memory_bytes: 1.0 };
    let mut recommender = FixedLimits { limit, ooms: Vec::new(), observed: 0 };
    let trace: Vec<UsageSample> = (0..10).map(|i| sample(i * 60, 1.0, 10.0)).collect();
    let config = ReplayConfig { recompute_interval_seconds: 60, warmup_seconds: 300 };
    let report = replay(&trace, &mut recommender, &config).expect("valid trace");
    assert_eq!(report.scored_samples, 5);
    assert_eq!(report.oom_events, 5);
    assert_eq!(recommender.observed, 10);
}

#[test]
fn bad_traces_are_rejected_with_the_offending_sample() {
    let limit = Resources { cpu_cores: 1.0, memory_bytes: 1.0 };
    let mut recommender = FixedLimits { limit, ooms: Vec::new(), observed: 0 };
    let config = ReplayConfig::default();
    assert_eq!(replay(&[], &mut recommender, &config), Err(ReplayError::EmptyTrace));
    let unordered = vec![sample(10, 1.0, 1.0), sample(10, 1.0, 1.0)];
    assert_eq!(
        replay(&unordered, &mut recommender, &config),
        Err(ReplayError::NotIncreasing { index: 1 })
    );
    let negative = vec![sample(0, 1.0, 1.0), sample(10, -1.0, 1.0)];
    let error = replay(&negative, &mut recommender, &config).expect_err("negative usage");
    assert_eq!(error, ReplayError::BadUsage { index: 1 });
    assert!(error.to_string().contains("sample 1"));
    let zero_interval = ReplayConfig { recompute_interval_seconds: 0, ..ReplayConfig::default() };
    assert_eq!(
        replay(&unordered, &mut recommender, &zero_interval),
        Err(ReplayError::BadInterval(0))
    );
}
