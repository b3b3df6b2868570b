//! Tests of step detection and resampling on jittered, unsorted and gappy input.

use super::*;

#[test]
fn step_is_the_median_spacing_despite_gaps_and_jitter() {
    let mut points: Vec<(i64, f64)> = (0..100).map(|i| (1_000 + i * 60, i as f64)).collect();
    points[10].0 += 3;
    points.retain(|(t, _)| !(3_000..3_600).contains(t));
    points.reverse();
    assert_eq!(detect_step(&points), Ok(60));
}

#[test]
fn resampling_averages_duplicates_and_interpolates_gaps() {
    let points = vec![(0, 1.0), (60, 2.0), (62, 4.0), (240, 9.0)];
    let series = resample(&points, 60).expect("valid input");
    assert_eq!(series.start, 0);
    assert_eq!(series.values, vec![1.0, 3.0, 5.0, 7.0, 9.0]);
    assert_eq!(series.filled_points, 2);
    assert_eq!(series.timestamp_at(4), 240);
}

#[test]
fn bad_input_gets_errors_that_name_the_problem() {
    assert_eq!(resample(&[], 60), Err(SeriesError::Empty { needed: 1 }));
    let nan = resample(&[(0, 1.0), (60, f64::NAN)], 60).expect_err("nan rejected");
    assert!(nan.to_string().contains("point 1"), "{nan}");
    assert_eq!(detect_step(&[(5, 1.0), (5, 2.0)]), Err(SeriesError::NoStep { points: 2 }));
    let huge = resample(&[(0, 1.0), (i64::MAX / 2, 2.0)], 1).expect_err("grid too large");
    assert!(huge.to_string().contains("unit"), "{huge}");
    assert_eq!(resample(&[(0, 1.0)], 0), Err(SeriesError::NonPositiveStep { step_seconds: 0 }));
}
