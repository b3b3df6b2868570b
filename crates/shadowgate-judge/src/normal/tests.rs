//! Tie-out of the normal distribution against SciPy and R.

use super::*;
use crate::test_reference::{assert_close, scipy};

#[test]
fn upper_tail_matches_scipy_in_both_tails() {
    let reference = scipy();
    for pair in reference["normal_upper_tail"].as_array().unwrap() {
        let (x, expected) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap());
        assert_close(upper_tail(x), expected, 1e-12, &format!("Q({x})"));
        assert_close(lower_tail(-x), expected, 1e-12, &format!("Φ({})", -x));
    }
}

#[test]
fn upper_quantile_matches_scipy_from_the_centre_to_1e_300() {
    let reference = scipy();
    for pair in reference["normal_upper_quantile"].as_array().unwrap() {
        let (p, expected) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap());
        let actual = upper_quantile(p);
        assert!((actual - expected).abs() <= 1e-12 * expected.abs().max(1.0), "q({p}) = {actual}");
    }
}

#[test]
fn upper_quantile_reproduces_the_quantile_r_printed_for_a_95_percent_interval() {
    // R: qnorm((1 - 0.95) / 2, lower.tail = FALSE), as recorded in Kayenta's suite.
    assert_close(upper_quantile((1.0 - 0.95) / 2.0), 1.9599639845400536, 1e-14, "z");
}

#[test]
fn upper_quantile_inverts_upper_tail() {
    for idx in 1..200 {
        let p = f64::from(idx) / 200.0;
        assert_close(upper_tail(upper_quantile(p)), p, 1e-13, &format!("Q(q({p}))"));
    }
}

#[test]
fn edge_probabilities_give_infinities_and_nan() {
    assert_eq!(upper_quantile(0.0), f64::INFINITY);
    assert_eq!(upper_quantile(1.0), f64::NEG_INFINITY);
    assert!(upper_quantile(1.5).is_nan());
    assert!(upper_quantile(f64::NAN).is_nan());
    assert!(upper_tail(f64::NAN).is_nan());
    assert_eq!(upper_tail(40.0), 0.0);
    assert_eq!(upper_tail(-40.0), 1.0);
}
