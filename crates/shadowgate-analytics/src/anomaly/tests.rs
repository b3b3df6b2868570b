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

// --- the contextual detector ---------------------------------------------------------------

use super::combined::{COMBINED_ALARM_SCORE, CombinedConfig, CombinedDetector, REST_SCORE_CAP};
use super::context::{ContextConfig, ContextDetector};

/// A saw-tooth through eight levels: 0, 1, …, 7, 0, 1, …
fn saw_tooth(rows: usize) -> Vec<(i64, f64)> {
    (0..rows).map(|i| (i as i64 * STEP, (i % 8) as f64)).collect()
}

fn run(detector: &mut dyn StreamingDetector, points: &[(i64, f64)]) -> Vec<f64> {
    points.iter().map(|(timestamp, value)| detector.observe(*timestamp, *value)).collect()
}

#[test]
fn a_learnt_sequence_is_predicted_and_scores_zero() {
    let mut detector = ContextDetector::new(ContextConfig::for_warmup(100)).expect("valid");
    let scores = run(&mut detector, &saw_tooth(600));
    assert!(scores[..100].iter().all(|score| *score == 0.0), "warm-up rows score 0");
    assert!(scores[300..].iter().all(|score| *score == 0.0), "late rows {:?}", &scores[300..320]);
    assert!(detector.contexts() > 8);
}

#[test]
fn a_familiar_value_in_an_unfamiliar_order_is_an_anomaly() {
    let mut points = saw_tooth(600);
    // 3 where the saw-tooth always has 6: a value seen thousands of times, never after 5.
    points[510].1 = 3.0;
    let mut detector = ContextDetector::new(ContextConfig::for_warmup(100)).expect("valid");
    let scores = run(&mut detector, &points);
    assert!(scores[510] >= COMBINED_ALARM_SCORE, "score {}", scores[510]);
    // The rest period follows the alarm.
    assert!(scores[511..530].iter().all(|score| *score == 0.0));
    // A value far outside the warm-up range has levels (facts) of its own. Its low bits are
    // familiar, so some generalised contexts already exist and it scores a little lower.
    let mut detector = ContextDetector::new(ContextConfig::for_warmup(100)).expect("valid");
    let mut points = saw_tooth(600);
    points[540].1 = 80.0;
    let scores = run(&mut detector, &points);
    assert!(scores[540] > 0.6, "score {}", scores[540]);
    let others = scores[300..].iter().enumerate().filter(|(row, _)| *row + 300 != 540);
    assert!(others.into_iter().all(|(_, score)| *score < scores[540]));
}

#[test]
fn a_score_depends_only_on_earlier_rows() {
    let points = daily_stream(3 * DAY_ROWS, 8);
    let full = run(&mut ContextDetector::new(ContextConfig::for_warmup(200)).unwrap(), &points);
    let prefix =
        run(&mut ContextDetector::new(ContextConfig::for_warmup(200)).unwrap(), &points[..500]);
    assert_eq!(&full[..500], &prefix[..]);
    let mut changed = points.clone();
    changed[500..].iter_mut().for_each(|point| point.1 = -point.1);
    let combined = CombinedConfig::for_warmup(200);
    let full = run(&mut CombinedDetector::new(combined.clone()).unwrap(), &changed);
    let prefix = run(&mut CombinedDetector::new(combined).unwrap(), &points[..500]);
    assert_eq!(&full[..500], &prefix[..]);
}

#[test]
fn the_memory_stops_growing_at_its_capacity_but_still_sees_novelty() {
    let config = ContextConfig { max_contexts: 40, ..ContextConfig::for_warmup(100) };
    let mut detector = ContextDetector::new(config).expect("valid");
    let mut points = saw_tooth(600);
    points[510].1 = 3.0;
    let scores = run(&mut detector, &points);
    assert_eq!(detector.contexts(), 40);
    assert!(scores[510] >= COMBINED_ALARM_SCORE, "score {}", scores[510]);
}

#[test]
fn context_settings_are_rejected_by_name() {
    let bad = [
        (ContextConfig { value_bits: 0, ..ContextConfig::for_warmup(100) }, "context.value_bits"),
        (ContextConfig { warmup_rows: 1, ..ContextConfig::for_warmup(100) }, "context.warmup_rows"),
        (
            ContextConfig { base_threshold: 1.5, ..ContextConfig::for_warmup(100) },
            "context.base_threshold",
        ),
        (
            ContextConfig { range: Some((2.0, 1.0)), ..ContextConfig::for_warmup(100) },
            "context.range",
        ),
    ];
    for (config, field) in bad {
        let error = ContextDetector::new(config).expect_err(field);
        assert_eq!(error.field, field);
    }
}

// --- the combined detector -------------------------------------------------------------------

#[test]
fn the_seasonal_alarm_lands_on_the_combined_alarm() {
    use super::combined::seasonal_on_combined_scale;
    assert!((seasonal_on_combined_scale(DEFAULT_ALARM_SCORE) - COMBINED_ALARM_SCORE).abs() < 1e-9);
    assert!(seasonal_on_combined_scale(0.99) < COMBINED_ALARM_SCORE);
    assert_eq!(seasonal_on_combined_scale(1.0), 1.0);
    assert_eq!(seasonal_on_combined_scale(0.0), 0.0);
}

#[test]
fn the_combined_detector_catches_what_either_part_catches() {
    // A spike on a noisy seasonal series: the seasonal part's kind of anomaly.
    let mut points = daily_stream(4 * DAY_ROWS, 11);
    let spike_row = 3 * DAY_ROWS + 40;
    points[spike_row].1 += 12.0;
    let mut detector = CombinedDetector::new(CombinedConfig::default()).expect("valid");
    let scores = run(&mut detector, &points);
    assert!(scores[spike_row] >= COMBINED_ALARM_SCORE, "spike {}", scores[spike_row]);
    let warmup = CombinedConfig::default().seasonal.warmup_rows;
    let false_alarms = scores[warmup..spike_row].iter().filter(|s| **s >= COMBINED_ALARM_SCORE);
    assert!(false_alarms.count() <= 1, "false alarms before the spike");
    assert!(
        scores[spike_row + 1..spike_row + 120].iter().all(|s| *s <= REST_SCORE_CAP),
        "one incident, one alarm"
    );
    assert_eq!(detector.period(), Some(DAY_ROWS));

    // An out-of-order value on a saw-tooth: the contextual part's kind.
    let mut points = saw_tooth(1_200);
    points[1_010].1 = 3.0;
    let mut detector = CombinedDetector::new(CombinedConfig::for_warmup(200)).expect("valid");
    let scores = run(&mut detector, &points);
    assert!(scores[1_010] >= COMBINED_ALARM_SCORE, "score {}", scores[1_010]);
    assert!(scores[600..1_010].iter().all(|s| *s < COMBINED_ALARM_SCORE));
}

#[test]
fn every_detector_kind_builds_and_scores_in_the_unit_interval() {
    let mut points = daily_stream(3 * DAY_ROWS, 12);
    points[700].1 = f64::NAN;
    points[701].1 = 1e12;
    for kind in [DetectorKind::Combined, DetectorKind::Seasonal, DetectorKind::Context] {
        let mut detector = kind.build(300).expect("valid");
        let scores = run(detector.as_mut(), &points);
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{kind:?}");
        assert!(scores[701] >= kind.alarm_score(), "{kind:?}: {}", scores[701]);
    }
    assert!(DetectorKind::Seasonal.build(2).is_err());
}
