//! Unit tests of sample cleaning and summaries.

use super::*;

#[test]
fn non_finite_values_are_counted_and_left_out() {
    let sample = SortedSample::new(&[3.0, f64::NAN, 1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY]);
    assert_eq!(sample.values(), &[1.0, 2.0, 3.0]);
    assert_eq!(sample.dropped_non_finite(), 3);
}

#[test]
fn negative_zero_ties_with_zero() {
    let sample = SortedSample::new(&[0.0, -0.0, 0.0]);
    assert!(sample.values().iter().all(|value| value.is_sign_positive()));
}

#[test]
fn quantiles_interpolate_like_r_type_7() {
    // R: quantile(c(1, 2, 4, 8, 16), c(0.5, 0.9, 0.99)) = 4, 12.8, 15.68
    let sample = SortedSample::new(&[16.0, 1.0, 8.0, 2.0, 4.0]);
    assert_eq!(sample.median(), Some(4.0));
    assert!((sample.quantile(0.9).unwrap() - 12.8).abs() < 1e-12);
    assert!((sample.quantile(0.99).unwrap() - 15.68).abs() < 1e-12);
    assert_eq!(sample.quantile(0.0), Some(1.0));
    assert_eq!(sample.quantile(1.0), Some(16.0));
    assert_eq!(SortedSample::new(&[]).median(), None);
}

#[test]
fn mean_is_compensated() {
    let mut values = vec![1e16];
    values.extend(std::iter::repeat_n(1.0, 1000));
    values.push(-1e16);
    let sample = SortedSample::new(&values);
    assert!((sample.mean().unwrap() - 1000.0 / 1002.0).abs() < 1e-12);
}

#[test]
fn summary_reports_every_field() {
    let summary = SortedSample::new(&[5.0, 1.0, 3.0, f64::NAN]).summary();
    assert_eq!(summary.count, 3);
    assert_eq!(summary.dropped_non_finite, 1);
    assert_eq!(summary.mean, Some(3.0));
    assert_eq!(summary.median, Some(3.0));
    assert_eq!(summary.min, Some(1.0));
    assert_eq!(summary.max, Some(5.0));
    assert!(SortedSample::new(&[2.0, 2.0]).is_constant_and_equal_to(&SortedSample::new(&[2.0])));
    assert!(!SortedSample::new(&[2.0, 3.0]).is_constant_and_equal_to(&SortedSample::new(&[2.0])));
}
