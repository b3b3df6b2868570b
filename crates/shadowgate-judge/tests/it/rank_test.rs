//! The exact Hodges–Lehmann interval against R's root-finder and a brute-force median, on
//! seeded random data.

use crate::simulate::Rng;
use shadowgate_judge::rank_test::{rank_sum_test, shift_interval, shift_interval_r_compatible};

/// Integer-valued samples: every pairwise difference is an integer, so the jumps of the
/// statistic are at least 1 apart and R's root (within 1e-4 of a jump) pins the exact one.
fn integers(rng: &mut Rng, count: usize, range: u64, offset: i64) -> Vec<f64> {
    (0..count).map(|_| (rng.next_u64() % range) as f64 + offset as f64).collect()
}

#[test]
fn exact_bounds_are_the_jumps_r_converges_to() {
    let mut rng = Rng::new(11);
    for trial in 0..60 {
        let n = 1 + (rng.next_u64() % 80) as usize;
        let m = 1 + (rng.next_u64() % 80) as usize;
        let range = 2 + rng.next_u64() % 60;
        let baseline = integers(&mut rng, m, range, 0);
        let offset = (rng.next_u64() % 7) as i64 - 3;
        let candidate = integers(&mut rng, n, range, offset);
        let confidence = [0.8, 0.9, 0.95, 0.99][trial % 4];
        let exact = shift_interval(&baseline, &candidate, confidence);
        let r = shift_interval_r_compatible(&baseline, &candidate, confidence);
        match (exact, r) {
            (Ok(exact), Ok(r)) => {
                let what = format!("trial {trial}: n={n} m={m} exact {exact:?} R {r:?}");
                assert!((exact.lower - r.lower).abs() < 1e-3, "{what}");
                assert!((exact.upper - r.upper).abs() < 1e-3, "{what}");
                assert!(exact.lower <= exact.estimate && exact.estimate <= exact.upper, "{what}");
            }
            // R gives up when every observation is tied at its trial points; the exact
            // method still answers, and both agree that ties are the issue.
            (Ok(_), Err(error)) => assert_eq!(
                error.to_string(),
                "every observation in both samples is equal, so the ranks carry no information"
            ),
            (exact, r) => panic!("trial {trial}: {exact:?} {r:?}"),
        }
    }
}

#[test]
fn exact_estimate_is_the_median_of_all_differences_on_continuous_data() {
    let mut rng = Rng::new(12);
    for _ in 0..20 {
        let n = 50 + (rng.next_u64() % 400) as usize;
        let m = 50 + (rng.next_u64() % 400) as usize;
        let baseline: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        let candidate: Vec<f64> = (0..n).map(|_| 0.3 + 2.0 * rng.normal()).collect();
        let mut all: Vec<f64> =
            candidate.iter().flat_map(|x| baseline.iter().map(move |y| x - y)).collect();
        all.sort_by(f64::total_cmp);
        let half = all.len() / 2;
        let median = if all.len() % 2 == 1 {
            all[half]
        } else {
            all[half - 1] + (all[half] - all[half - 1]) / 2.0
        };
        let exact = shift_interval(&baseline, &candidate, 0.95).unwrap();
        assert_eq!(exact.estimate, median);
        // Both bounds are pairwise differences.
        assert!(all.binary_search_by(|d| d.total_cmp(&exact.lower)).is_ok());
        assert!(all.binary_search_by(|d| d.total_cmp(&exact.upper)).is_ok());
        let r = shift_interval_r_compatible(&baseline, &candidate, 0.95).unwrap();
        assert!(
            (exact.lower - r.lower).abs() < 2e-4 && (exact.upper - r.upper).abs() < 2e-4,
            "{exact:?} {r:?}"
        );
    }
}

#[test]
fn u_statistics_of_both_arms_add_up_and_p_values_agree() {
    let mut rng = Rng::new(13);
    for _ in 0..30 {
        let (m, n) = (1 + (rng.next_u64() % 200) as usize, 1 + (rng.next_u64() % 200) as usize);
        let baseline = integers(&mut rng, m, 20, 0);
        let candidate = integers(&mut rng, n, 20, 1);
        let (Ok(forward), Ok(backward)) =
            (rank_sum_test(&baseline, &candidate), rank_sum_test(&candidate, &baseline))
        else {
            continue;
        };
        let pairs = (baseline.len() * candidate.len()) as f64;
        assert_eq!(forward.u + backward.u, pairs);
        assert!((forward.z + backward.z).abs() < 1e-12);
        assert!((forward.p_value - backward.p_value).abs() < 1e-12);
    }
}
