//! Binning latencies into logarithmic buckets.

use crate::document::LatencyDistribution;

fn bounds(distribution: &LatencyDistribution) -> Vec<f64> {
    distribution.buckets.iter().map(|it| it.upper_bound_ms).collect()
}

fn counts(distribution: &LatencyDistribution) -> Vec<u64> {
    distribution.buckets.iter().map(|it| it.count).collect()
}

fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= 1e-9 * e.abs(), "{actual:?} vs {expected:?}");
    }
}

#[test]
fn a_latency_on_a_bound_falls_in_the_bucket_that_bound_closes() {
    let distribution = LatencyDistribution::from_latencies_ms([(10.0, 3), (100.0, 1)], 1);
    assert_close(&bounds(&distribution), &[10.0, 100.0]);
    assert_eq!(counts(&distribution), [3, 1]);
    assert!((distribution.lower_bound_ms - 1.0).abs() < 1e-12);
}

#[test]
fn empty_buckets_between_occupied_ones_are_kept() {
    let distribution = LatencyDistribution::from_latencies_ms([(1.5, 2), (150.0, 5)], 1);
    assert_close(&bounds(&distribution), &[10.0, 100.0, 1000.0]);
    assert_eq!(counts(&distribution), [2, 0, 5]);
}

#[test]
fn counts_are_preserved_and_bounds_follow_the_grid() {
    let latencies: Vec<(f64, u64)> = (1..=500).map(|idx| (idx as f64 * 0.37, 2)).collect();
    let distribution = LatencyDistribution::from_latencies_ms(latencies, 10);
    assert_eq!(counts(&distribution).iter().sum::<u64>(), 1000);
    for pair in distribution.buckets.windows(2) {
        let ratio = pair[1].upper_bound_ms / pair[0].upper_bound_ms;
        assert!((ratio - 10f64.powf(0.1)).abs() < 1e-9, "ratio {ratio}");
    }
    let first = distribution.buckets[0].upper_bound_ms;
    assert!(distribution.lower_bound_ms < 0.37 && 0.37 <= first);
    let last = distribution.buckets.last().map(|it| it.upper_bound_ms).unwrap_or_default();
    assert!(last >= 185.0 && last / 10f64.powf(0.1) < 185.0);
}

#[test]
fn both_arms_share_bounds_where_they_overlap() {
    let baseline = LatencyDistribution::from_latencies_ms([(3.0, 1), (40.0, 1)], 10);
    let candidate = LatencyDistribution::from_latencies_ms([(20.0, 1), (90.0, 1)], 10);
    let shared: Vec<f64> =
        bounds(&baseline).into_iter().filter(|bound| (20.0..=41.0).contains(bound)).collect();
    let candidate_bounds = bounds(&candidate);
    for bound in shared {
        assert!(
            candidate_bounds.iter().any(|it| (it - bound).abs() < 1e-9),
            "{bound} missing in {candidate_bounds:?}"
        );
    }
}

#[test]
fn non_finite_latencies_are_left_out_and_non_positive_ones_count_first() {
    let distribution = LatencyDistribution::from_latencies_ms(
        [(f64::NAN, 4), (f64::INFINITY, 1), (0.0, 2), (-1.0, 1), (5.0, 3)],
        1,
    );
    assert_eq!(counts(&distribution), [6]);
}

#[test]
fn no_latency_gives_an_empty_distribution() {
    assert_eq!(LatencyDistribution::from_latencies_ms([], 10), LatencyDistribution::default());
    assert_eq!(
        LatencyDistribution::from_latencies_ms([(f64::NAN, 1), (2.0, 0)], 0),
        LatencyDistribution::default()
    );
}
