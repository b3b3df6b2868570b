//! Tie-out of the binomial functions against SciPy.

use super::*;
use crate::test_reference::{assert_close, scipy};

#[test]
fn ln_gamma_matches_scipy() {
    let reference = scipy();
    for pair in reference["ln_gamma"].as_array().unwrap() {
        let (x, expected) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap());
        let tolerance = if expected.abs() < 1.0 { 1e-13 / expected.abs().max(1e-3) } else { 1e-13 };
        assert_close(ln_gamma(x), expected, tolerance, &format!("lnΓ({x})"));
    }
}

#[test]
fn binomial_tails_match_scipy() {
    let reference = scipy();
    for case in reference["binomial_tails"].as_array().unwrap() {
        let k = case["k"].as_u64().unwrap();
        let n = case["n"].as_u64().unwrap();
        let p = case["p"].as_f64().unwrap();
        let what = format!("k={k} n={n} p={p}");
        assert_close(upper_tail(k, n, p), case["at_least"].as_f64().unwrap(), 1e-9, &what);
        assert_close(lower_tail(k, n, p), case["at_most"].as_f64().unwrap(), 1e-9, &what);
    }
}

#[test]
fn clopper_pearson_matches_scipy() {
    let reference = scipy();
    for case in reference["clopper_pearson"].as_array().unwrap() {
        let k = case["k"].as_u64().unwrap();
        let n = case["n"].as_u64().unwrap();
        let confidence = case["confidence"].as_f64().unwrap();
        let (lower, upper) = clopper_pearson(k, n, confidence);
        let what = format!("k={k} n={n} confidence={confidence}");
        assert_close(lower, case["lower"].as_f64().unwrap(), 1e-9, &what);
        assert_close(upper, case["upper"].as_f64().unwrap(), 1e-9, &what);
    }
}

#[test]
fn tails_of_one_distribution_add_up_to_one_plus_the_point_mass() {
    // P(X ≥ k) + P(X ≤ k − 1) = 1 for every k.
    for k in 1..=40 {
        let total = upper_tail(k, 40, 0.3) + lower_tail(k - 1, 40, 0.3);
        assert_close(total, 1.0, 1e-13, &format!("k={k}"));
    }
}

#[test]
fn degenerate_counts_have_certain_tails() {
    assert_eq!(upper_tail(0, 5, 0.2), 1.0);
    assert_eq!(upper_tail(6, 5, 0.2), 0.0);
    assert_eq!(lower_tail(5, 5, 0.2), 1.0);
    assert_eq!(clopper_pearson(0, 5, 0.95).0, 0.0);
    assert_eq!(clopper_pearson(5, 5, 0.95).1, 1.0);
}
