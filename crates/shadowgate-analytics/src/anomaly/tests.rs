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
fn a_flat_line_does_not_alarm_on_itself_and_scores_a_step_as_its_record() {
    let mut points: Vec<(i64, f64)> = (0..2_000).map(|i| (i * 60, 5.0)).collect();
    points[1_500].1 = 5.5;
    let scores = score_series(&points, &DetectorConfig::default()).expect("valid config");
    assert!(scores[..1_500].iter().all(|score| *score < 0.99));
    // Without a tail to extrapolate, a record after n statistics has the empirical probability
    // 1 / 2(n + 1); asking two questions (row and sustained) doubles it: 1 − 1 / (n + 1).
    assert!(scores[1_500] > 0.9993, "step score {}", scores[1_500]);
}

/// Half-hourly traffic for `weeks` weeks: busy days and quiet nights (the night at a tenth of
/// the afternoon), weekends at 60 %, multiplicative noise of 4 %.
fn weekly_traffic(weeks: usize, seed: u64) -> Vec<(i64, f64)> {
    const HALF_HOUR: i64 = 1_800;
    let mut rng = Rng::seed(seed);
    (0..weeks * 336)
        .map(|row| {
            let hour = (row % 48) as f64 / 2.0;
            let daily =
                0.1 + 0.9 * (0.5 - 0.5 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos());
            let weekend = if (row / 48) % 7 >= 5 { 0.6 } else { 1.0 };
            let noise = 1.0 + 0.04 * rng.normal();
            (row as i64 * HALF_HOUR, 20_000.0 * daily * weekend * noise)
        })
        .collect()
}

#[test]
fn a_quiet_weekday_in_weekly_traffic_alarms_and_ordinary_weeks_do_not() {
    let mut points = weekly_traffic(8, 21);
    // A public holiday: the Wednesday of week 6 runs at 65 % of a Wednesday, like a Saturday
    // (so no row of it is unusual for the time of day on a daily profile).
    let holiday = 5 * 336 + 2 * 48;
    for point in &mut points[holiday..holiday + 48] {
        point.1 *= 0.65;
    }
    let config = DetectorConfig { warmup_rows: 750, ..DetectorConfig::default() };
    let mut detector = SeasonalCusumDetector::new(config).expect("valid");
    let scores = run(&mut detector, &points);
    assert_eq!(detector.period(), 336, "the weekly period contains the daily one");
    assert!(detector.log_scale(), "traffic that swings tenfold is modelled on a log scale");
    let during = scores[holiday..holiday + 48].iter().copied().fold(0.0, f64::max);
    assert!(during >= DEFAULT_ALARM_SCORE, "holiday's highest score {during}");
    let elsewhere = scores
        .iter()
        .enumerate()
        .filter(|(row, score)| {
            !(holiday..holiday + 96).contains(row) && **score >= DEFAULT_ALARM_SCORE
        })
        .count();
    assert_eq!(elsewhere, 0, "alarms outside the holiday and the day after");
}

#[test]
fn only_positive_series_with_a_wide_range_get_a_log_scale() {
    let traffic: Vec<f64> = weekly_traffic(3, 22).iter().map(|(_, value)| *value).collect();
    let floor = log_scale_floor(&traffic, 3.0).expect("tenfold range");
    let smallest = traffic.iter().copied().fold(f64::INFINITY, f64::min);
    assert!((floor - smallest / 2.0).abs() < 1e-9);
    assert_eq!(log_scale_floor(&traffic, 0.0), None, "0 turns it off");
    let narrow: Vec<f64> = daily_stream(600, 23).iter().map(|(_, value)| *value).collect();
    assert_eq!(log_scale_floor(&narrow, 3.0), None, "50 ± 20 is additive enough");
    let mut with_zero = traffic.clone();
    with_zero[10] = 0.0;
    assert_eq!(log_scale_floor(&with_zero, 3.0), None, "a zero has no logarithm");
    assert_eq!(log_scale_floor(&[], 3.0), None);
}

#[test]
fn a_zero_after_a_log_scale_warmup_is_an_alarm_not_a_crash() {
    let mut points = weekly_traffic(4, 24);
    let row = 3 * 336 + 30;
    points[row].1 = 0.0;
    let config = DetectorConfig { warmup_rows: 750, ..DetectorConfig::default() };
    let scores = score_series(&points, &config).expect("valid");
    assert!(scores.iter().all(|score| (0.0..=1.0).contains(score)));
    assert!(scores[row] >= DEFAULT_ALARM_SCORE, "score of the zero {}", scores[row]);
}

#[test]
fn bad_settings_are_rejected_by_name() {
    let config = DetectorConfig { warmup_rows: 2, ..DetectorConfig::default() };
    let error = SeasonalCusumDetector::new(config).expect_err("too few warmup rows");
    assert_eq!(error.field, "warmup_rows");
    let mut config = DetectorConfig::default();
    config.smoothing.level = 0.0;
    assert!(SeasonalCusumDetector::new(config).is_err());
    for ratio in [0.5, f64::NAN, -1.0] {
        let config = DetectorConfig { log_scale_ratio: ratio, ..DetectorConfig::default() };
        let error = SeasonalCusumDetector::new(config).expect_err("bad ratio");
        assert_eq!(error.field, "log_scale_ratio");
    }
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
