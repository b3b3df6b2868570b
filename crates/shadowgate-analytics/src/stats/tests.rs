//! Tests of the numerical helpers against textbook values.

use super::*;

#[test]
fn normal_upper_tail_matches_tables() {
    assert!((normal_upper_tail(1.96) - 0.024_998).abs() < 1e-5);
    assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-7);
    assert!((normal_upper_tail(-1.0) - 0.841_345).abs() < 1e-5);
    assert!((normal_upper_tail(4.0) - 3.167e-5).abs() < 1e-7);
}

#[test]
fn quantile_interpolates_between_order_statistics() {
    let mut values = vec![4.0, 1.0, 3.0, 2.0];
    assert_eq!(quantile_in_place(&mut values, 0.5), 2.5);
    assert_eq!(quantile_in_place(&mut values, 1.0), 4.0);
    assert!((quantile_in_place(&mut values, 0.9) - 3.7).abs() < 1e-12);
    assert!(quantile_in_place(&mut [], 0.5).is_nan());
}

#[test]
fn autocorrelation_finds_the_period_of_a_sine() {
    let values: Vec<f64> =
        (0..400).map(|i| (i as f64 * std::f64::consts::TAU / 20.0).sin()).collect();
    assert!(autocorrelation(&values, 20) > 0.9);
    assert!(autocorrelation(&values, 10) < -0.9);
    assert_eq!(autocorrelation(&[1.0; 50], 5), 0.0);
}
