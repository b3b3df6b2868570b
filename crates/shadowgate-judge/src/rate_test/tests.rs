//! Unit tests of the exact rate comparison.

use super::*;
use crate::test_reference::assert_close;

fn count(events: u64, exposure: f64) -> CountSample {
    CountSample { events, exposure }
}

#[test]
fn errors_only_in_the_candidate_are_significant_once_there_are_enough() {
    // With equal exposure each event is a fair coin under the null: P(all 9 in the
    // candidate) = 2⁻⁹, doubled for two sides.
    let result = compare_rates(count(0, 3000.0), count(9, 3000.0), 0.99).unwrap();
    assert_close(result.p_value, 2.0 * 0.5f64.powi(9), 1e-12, "p");
    assert_eq!(result.rate_ratio, None);
    assert_eq!(result.ratio_upper, None);
    assert!(result.ratio_lower > 1.0, "{result:?}");
}

#[test]
fn a_tiny_count_over_a_tiny_exposure_is_not_significant() {
    let result = compare_rates(count(0, 10.0), count(2, 10.0), 0.99).unwrap();
    assert_close(result.p_value, 0.5, 1e-12, "p");
    assert!(result.ratio_lower < 1.0);
}

#[test]
fn equal_rates_give_a_ratio_of_one_and_no_evidence() {
    let result = compare_rates(count(30, 3000.0), count(30, 3000.0), 0.95).unwrap();
    assert_eq!(result.rate_ratio, Some(1.0));
    assert_eq!(result.p_value, 1.0);
    assert!(result.ratio_lower < 1.0 && result.ratio_upper.unwrap() > 1.0);
}

#[test]
fn unequal_exposures_are_accounted_for() {
    // Same rate (1 %) over different exposures: no evidence of a change.
    let same = compare_rates(count(10, 1000.0), count(40, 4000.0), 0.95).unwrap();
    assert_close(same.rate_ratio.unwrap(), 1.0, 1e-12, "ratio");
    assert!(same.p_value > 0.5, "{same:?}");
    // Same count over a quarter of the exposure: four times the rate.
    let higher = compare_rates(count(40, 4000.0), count(40, 1000.0), 0.95).unwrap();
    assert_close(higher.rate_ratio.unwrap(), 4.0, 1e-12, "ratio");
    assert!(higher.p_value < 1e-6 && higher.ratio_lower > 2.0, "{higher:?}");
}

#[test]
fn no_events_at_all_is_no_evidence() {
    let result = compare_rates(count(0, 100.0), count(0, 100.0), 0.95).unwrap();
    assert_eq!(result.p_value, 1.0);
    assert_eq!((result.rate_ratio, result.ratio_lower, result.ratio_upper), (None, 0.0, None));
}

#[test]
fn interval_excludes_one_exactly_when_the_two_sided_test_rejects() {
    // The central p-value and the Clopper–Pearson interval are dual.
    for events in 0..40 {
        let result = compare_rates(count(20, 2000.0), count(events, 2000.0), 0.95).unwrap();
        let rejects = result.p_value < 0.05;
        let excludes_one =
            result.ratio_lower > 1.0 || result.ratio_upper.is_some_and(|upper| upper < 1.0);
        assert_eq!(rejects, excludes_one, "{events} events: {result:?}");
    }
}

#[test]
fn bad_exposure_and_confidence_are_errors() {
    assert_eq!(
        compare_rates(count(1, 0.0), count(1, 1.0), 0.9),
        Err(RateTestError::Exposure { side: Side::Baseline, value: 0.0 })
    );
    let error = compare_rates(count(1, 1.0), count(1, f64::NAN), 0.9).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the candidate exposure is NaN, but it must be a positive, finite number"
    );
    assert_eq!(
        compare_rates(count(1, 1.0), count(1, 1.0), 0.0),
        Err(RateTestError::Confidence { value: 0.0 })
    );
}
