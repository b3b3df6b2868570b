//! Tie-out of the rank-sum test and the shift interval against R and SciPy, and checks of the
//! pairwise selection against a brute-force sort.

use super::r_compatible::ShiftStatistic;
use super::*;
use crate::test_reference::{assert_close, numbers, r_wilcox, scipy};

/// Kayenta's suite asserts agreement with R to 1e-6; so do we.
const R_TOLERANCE: f64 = 1e-6;

#[test]
fn r_compatible_interval_matches_r_on_kayentas_reference_vectors() {
    let reference = r_wilcox();
    for case in reference["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let baseline = numbers(&case["baseline"]);
        let candidate = numbers(&case["candidate"]);
        let confidence = case["confidence"].as_f64().unwrap();
        let interval = shift_interval_r_compatible(&baseline, &candidate, confidence).unwrap();
        let expected_lower = case["ci_lower"].as_f64().unwrap();
        let expected_upper = case["ci_upper"].as_f64().unwrap();
        assert!((interval.lower - expected_lower).abs() < R_TOLERANCE, "{name}: {interval:?}");
        assert!((interval.upper - expected_upper).abs() < R_TOLERANCE, "{name}: {interval:?}");
        let expected_estimate = case["estimate"].as_f64().unwrap();
        let estimate = if case["estimate_uses_continuity_correction"].as_bool().unwrap() {
            ShiftStatistic::new(&baseline, &candidate).unwrap().estimate(true).unwrap()
        } else {
            interval.estimate
        };
        assert!((estimate - expected_estimate).abs() < R_TOLERANCE, "{name}: {estimate}");
    }
}

#[test]
fn r_compatible_statistic_matches_rs_intermediate_values() {
    let reference = r_wilcox();
    let case = &reference["cases"][2];
    let values = &case["intermediate"];
    let statistic =
        ShiftStatistic::new(&numbers(&case["baseline"]), &numbers(&case["candidate"])).unwrap();
    let (low, high) = statistic.range();
    assert!((low - values["mu_min"].as_f64().unwrap()).abs() < R_TOLERANCE);
    assert!((high - values["mu_max"].as_f64().unwrap()).abs() < R_TOLERANCE);
    let z = crate::normal::upper_quantile((1.0 - case["confidence"].as_f64().unwrap()) / 2.0);
    assert!((z - values["z_quantile"].as_f64().unwrap()).abs() < R_TOLERANCE);
    let checks = [
        (low, z, "f_lower_at_lower_quantile"),
        (high, z, "f_upper_at_lower_quantile"),
        (low, -z, "f_lower_at_upper_quantile"),
        (high, -z, "f_upper_at_upper_quantile"),
    ];
    for (shift, quantile, key) in checks {
        let actual = statistic.evaluate(shift, quantile, true).unwrap();
        assert!((actual - values[key].as_f64().unwrap()).abs() < R_TOLERANCE, "{key}: {actual}");
    }
}

#[test]
fn exact_interval_lies_within_rs_root_tolerance_of_rs_answer() {
    // R stops its root search within ~1e-4 of the jump it brackets; the exact interval is
    // that jump.
    let reference = r_wilcox();
    for case in reference["cases"].as_array().unwrap() {
        let baseline = numbers(&case["baseline"]);
        let candidate = numbers(&case["candidate"]);
        let confidence = case["confidence"].as_f64().unwrap();
        let exact = shift_interval(&baseline, &candidate, confidence).unwrap();
        let r = shift_interval_r_compatible(&baseline, &candidate, confidence).unwrap();
        let name = case["name"].as_str().unwrap();
        assert!((exact.lower - r.lower).abs() <= 1e-4, "{name}: {exact:?} vs {r:?}");
        assert!((exact.upper - r.upper).abs() <= 1e-4, "{name}: {exact:?} vs {r:?}");
        assert!((exact.estimate - r.estimate).abs() <= 1e-4, "{name}: {exact:?} vs {r:?}");
    }
}

#[test]
fn exact_interval_of_kayentas_first_r_case_is_the_half_step_below_zero() {
    // The data move in steps of 0.5, so every pairwise difference is a multiple of 0.5 and
    // R's interval (−0.500003, −0.000035) brackets the jumps at −0.5 and 0.
    let reference = r_wilcox();
    let case = &reference["cases"][0];
    let exact =
        shift_interval(&numbers(&case["baseline"]), &numbers(&case["candidate"]), 0.95).unwrap();
    assert_eq!((exact.lower, exact.upper), (-0.5, 0.0));
}

#[test]
fn rank_sum_test_matches_scipy() {
    let reference = scipy();
    for case in reference["mann_whitney"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let result =
            rank_sum_test(&numbers(&case["baseline"]), &numbers(&case["candidate"])).unwrap();
        assert_close(result.u, case["u"].as_f64().unwrap(), 1e-12, name);
        assert_close(result.p_value, case["p_value"].as_f64().unwrap(), 1e-9, name);
    }
}

#[test]
fn rank_sum_test_sign_follows_the_candidate() {
    let low = [1.0, 2.0, 3.0, 4.0, 5.0];
    let high = [6.0, 7.0, 8.0, 9.0, 10.0];
    let rising = rank_sum_test(&low, &high).unwrap();
    assert_eq!(rising.u, 25.0);
    assert!(rising.z > 0.0);
    let falling = rank_sum_test(&high, &low).unwrap();
    assert_eq!(falling.u, 0.0);
    assert!(falling.z < 0.0);
    assert_close(rising.p_value, falling.p_value, 1e-15, "symmetric p");
}

#[test]
fn bad_samples_are_errors_that_name_the_side() {
    assert_eq!(rank_sum_test(&[], &[1.0]), Err(RankTestError::Empty { side: Side::Baseline }));
    let error = shift_interval(&[1.0], &[2.0, f64::NAN], 0.9).unwrap_err();
    assert!(matches!(error, RankTestError::NonFinite { side: Side::Candidate, index: 1, .. }));
    assert_eq!(error.to_string(), "the candidate sample holds a non-finite value (NaN) at index 1");
    assert_eq!(rank_sum_test(&[2.0, 2.0], &[2.0]), Err(RankTestError::AllTied));
    assert_eq!(shift_interval(&[1.0], &[2.0], 1.0), Err(RankTestError::Confidence { value: 1.0 }));
    assert_eq!(shift_interval_r_compatible(&[2.0, 2.0], &[2.0], 0.95), Err(RankTestError::AllTied));
}

/// Deterministic, irregular test data with ties: (idx · stride) mod modulus, scaled.
fn scrambled(count: usize, stride: usize, modulus: usize, scale: f64) -> Vec<f64> {
    (0..count).map(|idx| ((idx * stride) % modulus) as f64 * scale).collect()
}

/// Every difference of two sorted samples, sorted.
fn all_differences(candidate: &[f64], baseline: &[f64]) -> Vec<f64> {
    let mut all: Vec<f64> =
        candidate.iter().flat_map(|x| baseline.iter().map(move |y| x - y)).collect();
    all.sort_by(f64::total_cmp);
    all
}

#[test]
fn kth_smallest_matches_a_brute_force_sort_on_small_matrices() {
    for (rows, columns) in [(1, 1), (1, 9), (9, 1), (7, 13), (40, 25), (60, 60)] {
        for modulus in [3, 17, 1009] {
            let mut candidate = scrambled(rows, 7919, modulus, 0.37);
            let mut baseline = scrambled(columns, 104_729, modulus, 0.41);
            candidate.sort_by(f64::total_cmp);
            baseline.sort_by(f64::total_cmp);
            let all = all_differences(&candidate, &baseline);
            let differences = pairwise::PairwiseDifferences::new(&candidate, &baseline);
            for (idx, expected) in all.iter().enumerate() {
                let actual = differences.kth_smallest(idx as u64 + 1);
                assert_eq!(actual, *expected, "{rows}×{columns} mod {modulus}, k = {}", idx + 1);
            }
        }
    }
}

#[test]
fn kth_smallest_matches_a_brute_force_sort_on_large_matrices() {
    // Large enough for the guesses, interpolation and weighted-median rounds to run; with
    // modulus 2 the middle difference is shared by more pairs than are ever gathered, so the
    // selection must stop on a pivot equal to the answer.
    let shapes = [
        (600, 500, 2),
        (400, 300, 3),
        (400, 300, 40),
        (300, 500, 100_003),
        (2, 40_000, 7),
        (700, 150, 977),
    ];
    for (rows, columns, modulus) in shapes {
        let mut candidate = scrambled(rows, 7919, modulus, 0.37);
        let mut baseline = scrambled(columns, 104_729, modulus, 0.41);
        // A heavy upper tail, as in latency data.
        for value in candidate.iter_mut().step_by(17) {
            *value *= 25.0;
        }
        candidate.sort_by(f64::total_cmp);
        baseline.sort_by(f64::total_cmp);
        let all = all_differences(&candidate, &baseline);
        let differences = pairwise::PairwiseDifferences::new(&candidate, &baseline);
        let pairs = all.len() as u64;
        let ranks = [
            1,
            2,
            pairs / 100,
            pairs / 3,
            pairs / 2,
            pairs / 2 + 1,
            pairs - pairs / 50,
            pairs - 1,
            pairs,
        ];
        for k in ranks {
            let actual = differences.kth_smallest(k);
            assert_eq!(actual, all[k as usize - 1], "{rows}×{columns} mod {modulus}, k = {k}");
        }
        let middle = all[all.len() / 2];
        assert_eq!(differences.count_up_to(middle), all.partition_point(|d| *d <= middle) as u64);
        let next = all.iter().copied().find(|d| *d > middle);
        assert_eq!(differences.next_above(middle), next);
    }
}

#[test]
fn estimate_is_the_median_of_pairwise_differences() {
    for (rows, columns) in [(5, 4), (6, 4), (31, 17), (50, 50)] {
        let candidate = scrambled(rows, 31, 97, 1.3);
        let baseline = scrambled(columns, 57, 89, 1.1);
        let mut all: Vec<f64> =
            candidate.iter().flat_map(|x| baseline.iter().map(move |y| x - y)).collect();
        all.sort_by(f64::total_cmp);
        let middle = all.len() / 2;
        let median = if all.len() % 2 == 1 {
            all[middle]
        } else {
            all[middle - 1] + (all[middle] - all[middle - 1]) / 2.0
        };
        let interval = shift_interval(&baseline, &candidate, 0.95).unwrap();
        assert_eq!(interval.estimate, median, "{rows}×{columns}");
        assert!(interval.lower <= interval.estimate && interval.estimate <= interval.upper);
    }
}

#[test]
fn exact_interval_stays_ordered_where_rs_tolerance_is_coarser_than_the_data() {
    // Most values are 0, so the statistic jumps by a wide step at a shift of 0. R stops within
    // 1e-4 of that jump on either side and prints a lower bound above its upper bound; the
    // exact roots are the jump itself.
    let reference = r_wilcox();
    let case = &reference["cases"][2];
    let (baseline, candidate) = (numbers(&case["baseline"]), numbers(&case["candidate"]));
    let r = shift_interval_r_compatible(&baseline, &candidate, 0.95).unwrap();
    assert!(r.lower > r.upper, "{r:?}");
    let exact = shift_interval(&baseline, &candidate, 0.95).unwrap();
    assert_eq!((exact.lower, exact.estimate, exact.upper), (0.0, 0.0, 0.0));
}
