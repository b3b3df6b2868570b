//! Tests reproducing the VPA recommender's documented behaviour.

use super::*;
use crate::recommend::histogram::ExponentialBuckets;

const MINUTE: i64 = 60;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn sample(timestamp: i64, cpu_cores: f64, memory_bytes: f64) -> UsageSample {
    UsageSample { timestamp, cpu_cores, memory_bytes, load: None }
}

/// The end of the CPU bucket holding `value` (what a percentile in that bucket returns).
fn cpu_bucket_end(value: f64) -> f64 {
    let buckets = ExponentialBuckets::new(1000.0, 0.01, 1.05, 1e-4);
    buckets.bucket_start(buckets.bucket_of(value) + 1)
}

fn memory_bucket_end(value: f64) -> f64 {
    let buckets = ExponentialBuckets::new(1e12, 1e7, 1.05, 1e-4);
    buckets.bucket_start(buckets.bucket_of(value) + 1)
}

fn feed(recommender: &mut VpaRecommender, minutes: i64, cpu: impl Fn(i64) -> f64, memory: f64) {
    for minute in 0..minutes {
        recommender.observe(&sample(minute * MINUTE, cpu(minute), memory));
    }
}

#[test]
fn buckets_grow_by_five_percent_from_the_first_size() {
    let buckets = ExponentialBuckets::new(1000.0, 0.01, 1.05, 1e-4);
    assert_eq!(buckets.bucket_of(0.005), 0);
    assert_eq!(buckets.bucket_of(0.01), 1);
    assert!((buckets.bucket_start(1) - 0.01).abs() < 1e-12);
    assert!((buckets.bucket_start(2) - 0.0205).abs() < 1e-12);
    // ceil(log_1.05(1000 · 0.05 / 0.01 + 1)) + 1 buckets.
    assert_eq!(buckets.count(), ((5_001f64).ln() / 1.05f64.ln()).ceil() as usize + 1);
    let width = buckets.bucket_start(101) - buckets.bucket_start(100);
    let previous = buckets.bucket_start(100) - buckets.bucket_start(99);
    assert!((width / previous - 1.05).abs() < 1e-9);
}

#[test]
fn target_is_p90_plus_fifteen_percent_rounded_up_to_a_bucket_end() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    // A day of one-minute samples: 80 % at 1 core, 20 % at 2 cores, so p90 is in 2's bucket.
    feed(&mut vpa, 1_440, |minute| if minute % 5 == 0 { 2.0 } else { 1.0 }, GIB);
    let recommendation = vpa.recommend(1_440 * MINUTE).expect("has history");
    let expected_cpu = cpu_bucket_end(2.0) * 1.15;
    assert!((recommendation.target.cpu_cores - expected_cpu).abs() < 1e-9);
    assert!(
        recommendation.target.cpu_cores > 2.0 * 1.15
            && recommendation.target.cpu_cores < 2.0 * 1.15 * 1.05
    );
    // The lower bound is p50 (1 core's bucket) with a negligible confidence factor after a day.
    assert!(
        (recommendation.lower_bound.cpu_cores / (cpu_bucket_end(1.0) * 1.15) - 1.0).abs() < 0.01
    );
    assert!((recommendation.target.memory_bytes - memory_bucket_end(GIB) * 1.15).abs() < 1.0);
}

#[test]
fn the_upper_bound_widens_with_little_history() {
    // VPA's documentation: 12 h of history → ×3, 24 h → ×2, a week → about ×1.14.
    for (minutes, factor) in [(720, 3.0), (1_440, 2.0), (7 * 1_440, 1.0 + 1.0 / 7.0)] {
        let mut vpa = VpaRecommender::new(VpaConfig::default());
        feed(&mut vpa, minutes + 1, |_| 1.0, GIB);
        let recommendation = vpa.recommend(minutes * MINUTE).expect("has history");
        let p95 = cpu_bucket_end(1.0) * 1.15;
        let observed = recommendation.upper_bound.cpu_cores / p95;
        assert!((observed - factor).abs() < 0.01, "{minutes} min: ×{observed} vs ×{factor}");
    }
}

#[test]
fn old_usage_loses_half_its_weight_per_day() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    // Two days at 1 core, then one day at 4 cores: the new day's weight is 2× each old day's
    // equivalent, so 4 cores holds 2 / (2 + 1 + 0.5) = 57 % of the weight: p50 moves, p90 too.
    feed(&mut vpa, 3 * 1_440, |minute| if minute >= 2 * 1_440 { 4.0 } else { 1.0 }, GIB);
    let recommendation = vpa.recommend(3 * 1_440 * MINUTE).expect("has history");
    assert!((recommendation.target.cpu_cores - cpu_bucket_end(4.0) * 1.15).abs() < 1e-9);
    let lower_bound_before_confidence = recommendation.lower_bound.cpu_cores;
    assert!(lower_bound_before_confidence > 4.0, "p50 {lower_bound_before_confidence}");
}

#[test]
fn memory_keeps_one_peak_per_day() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    // One day of 1 GiB with a single one-minute spike to 3 GiB: the day's only histogram
    // sample is the 3 GiB peak, so every percentile is 3 GiB.
    for minute in 0..1_440 {
        let memory = if minute == 700 { 3.0 * GIB } else { GIB };
        vpa.observe(&sample(minute * MINUTE, 0.5, memory));
    }
    let recommendation = vpa.recommend(1_440 * MINUTE).expect("has history");
    assert!((recommendation.target.memory_bytes - memory_bucket_end(3.0 * GIB) * 1.15).abs() < 1.0);
    assert!(
        (recommendation.lower_bound.memory_bytes / (memory_bucket_end(3.0 * GIB) * 1.15) - 1.0)
            .abs()
            < 0.01
    );
    assert!((vpa.memory_peaks.total_weight() - 1.0).abs() < 1e-9, "one peak in the histogram");
}

#[test]
fn an_oom_kill_bumps_memory_by_twenty_percent_or_a_hundred_mib() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    feed(&mut vpa, 600, |_| 0.5, GIB);
    vpa.record_oom(600 * MINUTE, 2.0 * GIB);
    let bumped = vpa.recommend(600 * MINUTE).expect("has history");
    // max(2 GiB + 100 MiB, 2 GiB × 1.2) = 2.4 GiB replaces the day's 1 GiB peak.
    assert!((bumped.target.memory_bytes - memory_bucket_end(2.4 * GIB) * 1.15).abs() < 1.0);

    let mut small = VpaRecommender::new(VpaConfig::default());
    feed(&mut small, 600, |_| 0.5, 300.0 * 1024.0 * 1024.0);
    small.record_oom(600 * MINUTE, 300.0 * 1024.0 * 1024.0);
    let needed = 400.0 * 1024.0 * 1024.0;
    let result = small.recommend(600 * MINUTE).expect("has history");
    assert!((result.target.memory_bytes - memory_bucket_end(needed) * 1.15).abs() < 1.0);
}

#[test]
fn an_oom_older_than_the_previous_window_is_ignored() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    feed(&mut vpa, 3 * 1_440, |_| 0.5, GIB);
    let before = vpa.recommend(3 * 1_440 * MINUTE).expect("has history");
    vpa.record_oom(0, 8.0 * GIB);
    assert_eq!(vpa.recommend(3 * 1_440 * MINUTE), Some(before));
}

#[test]
fn tiny_usage_gets_the_pod_minimums() {
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    feed(&mut vpa, 120, |_| 0.001, 1e6);
    let recommendation = vpa.recommend(120 * MINUTE).expect("has history");
    assert_eq!(recommendation.target.cpu_cores, 0.025);
    assert_eq!(recommendation.target.memory_bytes, 250.0 * 1024.0 * 1024.0);
    let two = VpaRecommender::new(VpaConfig { containers_in_pod: 2, ..VpaConfig::default() });
    let mut two = two;
    feed(&mut two, 120, |_| 0.001, 1e6);
    assert_eq!(two.recommend(0).expect("history").target.cpu_cores, 0.0125);
}

#[test]
fn no_history_means_no_recommendation() {
    assert_eq!(VpaRecommender::new(VpaConfig::default()).recommend(0), None);
}
