//! The judge's cost on large samples, beside two references.
//!
//! Run with `cargo bench -p shadowgate-judge --bench judge` (release mode). It reports, for
//! each measurement, the fastest and the median wall time of several repetitions (the fastest
//! is the least disturbed by other processes on a shared machine):
//!
//! - the whole `judge()` call on one latency metric with 2 × 100,000 samples;
//! - its parts: the rank-sum test (U, z, p) and the exact Hodges–Lehmann interval;
//! - reference 1, R's algorithm: the interval found by R's root-finder on the standardized
//!   statistic (`shift_interval_r_compatible`, each evaluation one O(n) merge);
//! - reference 2, the textbook algorithm: all n·m pairwise differences materialised and the
//!   interval bounds selected from them, at 2 × 3,000 (2 × 100,000 would need 80 GB), beside
//!   the exact selection at the same size.
//!
//! SciPy's `mannwhitneyu` on the same sizes is timed by `benches/scipy_reference.py`.

#[path = "../tests/it/simulate.rs"]
#[allow(dead_code)]
mod simulate;

use shadowgate_judge::{
    JudgeConfig, MetricInput,
    config::MetricConfig,
    judge,
    rank_test::{rank_sum_test, shift_interval, shift_interval_r_compatible},
    source::MetricSource,
};
use simulate::{Rng, latencies};
use std::{hint::black_box, time::Instant};

const LARGE: usize = 100_000;
const SMALL: usize = 3_000;
const CONFIDENCE: f64 = 0.99;

/// The fastest and the median wall time of `repetitions` runs of `work`, in milliseconds.
struct Timing {
    fastest: f64,
    median: f64,
}

fn time(repetitions: usize, mut work: impl FnMut()) -> Timing {
    let mut times: Vec<f64> = (0..repetitions)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Timing { fastest: times[0], median: times[times.len() / 2] }
}

/// One line of the report; `reference` adds "N× faster" against another timing.
fn report(what: &str, timing: &Timing, reference: Option<&Timing>) {
    let ratio = reference
        .map(|reference| format!("   ours is {:.1}x faster", reference.fastest / timing.fastest))
        .unwrap_or_default();
    println!("  {what:<44} {:>9.2} ms (median {:>9.2} ms){ratio}", timing.fastest, timing.median);
}

/// The interval the textbook way: every pairwise difference in memory, bounds by selection.
/// The ranks of the bounds come from the exact method's definition, so both compute the same
/// numbers.
fn materialised_interval(baseline: &[f64], candidate: &[f64], ranks: [usize; 3]) -> [f64; 3] {
    let mut differences: Vec<f64> =
        candidate.iter().flat_map(|x| baseline.iter().map(move |y| x - y)).collect();
    ranks.map(|rank| *differences.select_nth_unstable_by(rank, f64::total_cmp).1)
}

fn main() {
    let mut rng = Rng::new(42);
    let baseline = latencies(&mut rng, LARGE, 1.0);
    let candidate = latencies(&mut rng, LARGE, 1.05);
    let config = JudgeConfig {
        metrics: vec![MetricConfig::new("request_latency", MetricSource::RequestLatency)],
        ..JudgeConfig::default()
    };
    let inputs = [MetricInput::continuous("request_latency", baseline.clone(), candidate.clone())];

    println!("shadowgate-judge bench: fastest of repeated runs (release build)");
    let whole = time(21, || {
        black_box(judge(&config, black_box(&inputs)));
    });
    let rank_sum = time(21, || {
        black_box(rank_sum_test(&baseline, &candidate).ok());
    });
    let exact = time(21, || {
        black_box(shift_interval(&baseline, &candidate, CONFIDENCE).ok());
    });
    let r_style = time(9, || {
        black_box(shift_interval_r_compatible(&baseline, &candidate, CONFIDENCE).ok());
    });
    println!("2 x {LARGE} samples:");
    report("judge(), one latency metric", &whole, None);
    report("rank-sum test (U, z, p)", &rank_sum, None);
    report("exact Hodges-Lehmann interval", &exact, None);
    report("reference: R's root-finding algorithm", &r_style, None);
    report("exact interval vs R's algorithm", &exact, Some(&r_style));

    let small_baseline = &baseline[..SMALL];
    let small_candidate = &candidate[..SMALL];
    let exact_small = time(21, || {
        black_box(shift_interval(small_baseline, small_candidate, CONFIDENCE).ok());
    });
    let interval = shift_interval(small_baseline, small_candidate, CONFIDENCE).ok();
    let mut sorted_differences: Vec<f64> =
        small_candidate.iter().flat_map(|x| small_baseline.iter().map(move |y| x - y)).collect();
    sorted_differences.sort_by(f64::total_cmp);
    let rank_of = |value: f64| sorted_differences.partition_point(|d| *d < value);
    let ranks = interval.map_or([0; 3], |interval| {
        [rank_of(interval.lower), rank_of(interval.estimate), rank_of(interval.upper)]
    });
    let materialised = time(5, || {
        black_box(materialised_interval(small_baseline, small_candidate, ranks));
    });
    println!("2 x {SMALL} samples:");
    report("exact Hodges-Lehmann interval", &exact_small, None);
    report("reference: all 9M differences materialised", &materialised, None);
    report("exact interval vs materialised", &exact_small, Some(&materialised));
}
