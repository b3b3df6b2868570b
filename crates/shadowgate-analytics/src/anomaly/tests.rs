//! Detector tests on synthetic streams with known spikes and level shifts.

use super::baselines::{NullDetector, RandomDetector, WindowedGaussianDetector};
use super::*;
use shadowgate_core::rng::Rng;

const STEP: i64 = 300;
const DAY_ROWS: usize = 288;

fn daily_stream(rows: usize, seed: u64) -> Vec<(i64, f64)> {
    let mut rng = Rng::seed(seed);
    (0..rows)
        .map(|i| {
            let phase = std::f64::consts::TAU * (i % DAY_ROWS) as f64 / DAY_ROWS as f64;
            (i as i64 * STEP, 50.0 + 20.0 * phase.sin() + rng.normal())
        })
        .collect()
}

#[test]
fn a_spike_scores_high_and_ordinary_rows_score_low() {
    let mut points = daily_stream(4 * DAY_ROWS, 1);
    let spike_row = 3 * DAY_ROWS + 40;
    points[spike_row].1 += 12.0;
    let scores = score_series(&points, &DetectorConfig::default()).expect("valid config");
    assert!(scores[spike_row] >= DEFAULT_ALARM_SCORE, "spike score {}", scores[spike_row]);
    let warmup = DetectorConfig::default().warmup_rows;
    let ordinary_high = scores[warmup..]
        .iter()
        .enumerate()
        .filter(|(idx, score)| idx + warmup != spike_row && **score >= DEFAULT_ALARM_SCORE)
        .count();
    assert_eq!(ordinary_high, 0, "ordinary rows at or above the alarm score");
}

#[test]
fn the_seasonal_period_is_learned_during_warmup() {
    let points = daily_stream(3 * DAY_ROWS, 2);
    let mut detector = SeasonalCusumDetector::new(DetectorConfig::default()).expect("valid");
    for (timestamp, value) in &points {
        detector.observe(*timestamp, *value);
    }
    assert_eq!(detector.period(), DAY_ROWS);
}

#[test]
fn a_small_level_shift_is_confirmed_by_cusum_within_dozens_of_rows() {
    let mut points = daily_stream(4 * DAY_ROWS, 3);
    let shift_row = 3 * DAY_ROWS;
    for point in &mut points[shift_row..] {
        point.1 += 3.0;
    }
    let scores = score_series(&points, &DetectorConfig::default()).expect("valid config");
    // A confirmed shift counts as a 4.4-sigma residual, about 0.9999 on a calm series.
    let first_alarm = (shift_row..points.len()).find(|row| scores[*row] >= 0.999);
    let delay = first_alarm.map(|row| row - shift_row);
    assert!(delay.is_some_and(|delay| delay <= 40), "delay {delay:?}");
    // After the level moves to the new normal, the alarms stop.
    let late_alarms = scores[shift_row + 100..].iter().filter(|score| **score >= 0.999).count();
    assert!(late_alarms <= 2, "late alarms {late_alarms}");
}

#[test]
fn the_first_rows_score_zero_and_every_score_is_in_the_unit_interval() {
    let mut points = daily_stream(3 * DAY_ROWS, 4);
    points[700].1 = 1e12;
    let scores = score_series(&points, &DetectorConfig::default()).expect("valid config");
    assert!(scores[..600].iter().all(|score| *score == 0.0));
    assert!(scores.iter().all(|score| (0.0..=1.0).contains(score)));
    assert!(scores[700] >= DEFAULT_ALARM_SCORE, "score {}", scores[700]);
    // The next rows belong to the same incident and stay below the alarm score.
    assert!(scores[701..773].iter().all(|score| *score <= REFRACTORY_SCORE_CAP));
}

#[test]
fn a_flat_line_does_not_alarm_on_itself_but_does_on_a_step() {
    let mut points: Vec<(i64, f64)> = (0..2_000).map(|i| (i * 60, 5.0)).collect();
    points[1_500].1 = 5.5;
    let scores = score_series(&points, &DetectorConfig::default()).expect("valid config");
    assert!(scores[..1_500].iter().all(|score| *score < DEFAULT_ALARM_SCORE));
    // Without a tail to extrapolate, a record after n rows scores 1 − 1 / 2(n + 1).
    assert!(scores[1_500] > 0.9996, "step score {}", scores[1_500]);
}

#[test]
fn bad_settings_are_rejected_by_name() {
    let config = DetectorConfig { warmup_rows: 2, ..DetectorConfig::default() };
    let error = SeasonalCusumDetector::new(config).expect_err("too few warmup rows");
    assert_eq!(error.field, "warmup_rows");
    let mut config = DetectorConfig::default();
    config.smoothing.level = 0.0;
    assert!(SeasonalCusumDetector::new(config).is_err());
}

#[test]
fn baselines_behave_as_documented() {
    assert_eq!(NullDetector.observe(0, 1.0), 0.0);
    let first: Vec<f64> = (0..5).map(|i| RandomDetector::new(9).observe(i, 0.0)).collect();
    assert!(first.windows(2).all(|pair| pair[0] == pair[1]), "same seed, same stream");
    let mut gaussian = WindowedGaussianDetector::new(50);
    let mut rng = Rng::seed(5);
    for i in 0..100 {
        gaussian.observe(i, rng.normal());
    }
    assert!(gaussian.observe(100, 10.0) > 0.999);
    assert!(gaussian.observe(101, 0.1) < 0.2);
}
