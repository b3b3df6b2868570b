//! Forecast tests on synthetic series whose seasonality and noise are known.

use super::*;
use shadowgate_core::rng::Rng;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// The noise-free signal: a level, a daily cycle of amplitude 10 and, if asked, a weekend dip.
fn truth(timestamp: i64, weekly: bool) -> f64 {
    let daily = 10.0 * (std::f64::consts::TAU * (timestamp % DAY) as f64 / DAY as f64).sin();
    let weekend = weekly && (timestamp / DAY) % 7 >= 5;
    100.0 + daily - if weekend { 15.0 } else { 0.0 }
}

fn synthetic(step: i64, days: i64, weekly: bool, noise: f64, seed: u64) -> Vec<(i64, f64)> {
    let mut rng = Rng::seed(seed);
    (0..days * DAY / step)
        .map(|i| i * step)
        .map(|t| (t, truth(t, weekly) + noise * rng.normal()))
        .collect()
}

#[test]
fn daily_seasonality_is_detected_and_forecast() {
    let points = synthetic(300, 28, false, 1.0, 1);
    let result = forecast(&points, &ForecastConfig::new(DAY)).expect("forecast");
    assert_eq!(result.periods, vec![DAY], "periods {:?}", result.periods);
    assert_eq!(result.step_seconds, 300);
    assert_eq!(result.forecast.len(), 288);
    assert_ne!(result.model, ModelKind::Naive);
    let mean_error: f64 = result
        .forecast
        .iter()
        .map(|point| (point.value - truth(point.timestamp, false)).abs())
        .sum::<f64>()
        / result.forecast.len() as f64;
    assert!(mean_error < 1.0, "mean error against the noise-free truth {mean_error}");
    for point in &result.forecast {
        assert!(point.lower95 <= point.lower80 && point.lower80 <= point.value);
        assert!(point.value <= point.upper80 && point.upper80 <= point.upper95);
    }
    let backtest = &result.backtest;
    assert!(backtest.mase <= backtest.seasonal_naive_mase);
    assert!(backtest.coverage95 > 0.85, "coverage95 {}", backtest.coverage95);
    assert!(backtest.coverage80 > 0.65 && backtest.coverage80 < 0.95, "{}", backtest.coverage80);
    assert_eq!(backtest.origins, 3);
}

#[test]
fn weekly_and_daily_periods_are_both_verified() {
    let points = synthetic(1_800, 42, true, 1.0, 2);
    let result = forecast(&points, &ForecastConfig::new(2 * DAY)).expect("forecast");
    assert_eq!(result.periods, vec![DAY, WEEK]);
    let mean_error: f64 = result
        .forecast
        .iter()
        .map(|point| (point.value - truth(point.timestamp, true)).abs())
        .sum::<f64>()
        / result.forecast.len() as f64;
    assert!(mean_error < 1.5, "mean error {mean_error}");
}

#[test]
fn a_weekly_period_is_not_invented_for_a_daily_series() {
    let points = synthetic(1_800, 42, false, 1.0, 3);
    let result = forecast(&points, &ForecastConfig::new(DAY)).expect("forecast");
    assert_eq!(result.periods, vec![DAY]);
}

#[test]
fn noise_has_no_periods_and_falls_back_to_non_seasonal_models() {
    let mut rng = Rng::seed(4);
    let points: Vec<(i64, f64)> = (0..2_000).map(|i| (i * 60, 50.0 + rng.normal())).collect();
    let result = forecast(&points, &ForecastConfig::new(3_600)).expect("forecast");
    assert!(result.periods.is_empty(), "periods {:?}", result.periods);
    assert!(matches!(result.model, ModelKind::Naive | ModelKind::Ets));
    assert!(result.backtest.mase <= result.backtest.seasonal_naive_mase);
}

#[test]
fn an_unlisted_period_is_found_by_the_search() {
    let mut rng = Rng::seed(5);
    let points: Vec<(i64, f64)> = (0..3_000)
        .map(|i| (i * 60, 20.0 * (std::f64::consts::TAU * i as f64 / 37.0).sin() + rng.normal()))
        .collect();
    let result = forecast(&points, &ForecastConfig::new(3_600)).expect("forecast");
    assert_eq!(result.periods, vec![37 * 60]);
    assert!(result.backtest.mase < 0.8, "mase {}", result.backtest.mase);
}

#[test]
fn irregular_timestamps_and_gaps_are_resampled() {
    let mut points = synthetic(300, 21, false, 0.5, 6);
    let mut rng = Rng::seed(60);
    for point in points.iter_mut() {
        point.0 += rng.range_i64(-20, 20);
    }
    points.retain(|(t, _)| !(10 * DAY..10 * DAY + 6 * 3_600).contains(t));
    points.reverse();
    let result = forecast(&points, &ForecastConfig::new(6 * 3_600)).expect("forecast");
    assert_eq!(result.step_seconds, 300);
    assert!(result.filled_points >= 70, "filled {}", result.filled_points);
    assert_eq!(result.periods, vec![DAY]);
    assert!(result.backtest.mase < 1.2);
}

#[test]
fn long_minutely_history_is_bucketed_and_stays_accurate() {
    let points = synthetic(60, 70, true, 2.0, 7);
    let result = forecast(&points, &ForecastConfig::new(DAY)).expect("forecast");
    assert!(result.model_step_seconds > 60, "model step {}", result.model_step_seconds);
    assert_eq!(result.history_points % (result.model_step_seconds / 60) as usize, 0);
    assert_eq!(result.periods, vec![DAY, WEEK]);
    assert_eq!(result.forecast.len(), 1_440);
    let backtest = &result.backtest;
    assert!(backtest.coverage95 > 0.85, "coverage95 {}", backtest.coverage95);
    assert!(backtest.mase < 1.0, "mase {}", backtest.mase);
}

#[test]
fn too_short_input_gets_an_error_naming_the_need() {
    let points: Vec<(i64, f64)> = (0..10).map(|i| (i * 60, i as f64)).collect();
    let error = forecast(&points, &ForecastConfig::new(3_600)).expect_err("too short");
    let message = error.to_string();
    assert!(message.contains("too short") && message.contains("at least"), "{message}");
    assert!(matches!(forecast(&[], &ForecastConfig::new(60)), Err(ForecastError::Series(_))));
}

#[test]
fn bad_settings_are_rejected_by_name() {
    let points = synthetic(300, 3, false, 1.0, 8);
    let error = forecast(&points, &ForecastConfig::new(0)).expect_err("zero horizon");
    assert!(error.to_string().contains("horizon_seconds"), "{error}");
    let mut config = ForecastConfig::new(DAY);
    config.step_seconds = Some(-5);
    assert!(forecast(&points, &config).expect_err("bad step").to_string().contains("step_seconds"));
    let huge = forecast(&points, &ForecastConfig::new(i64::MAX)).expect_err("huge horizon");
    assert!(huge.to_string().contains("shorten the horizon"), "{huge}");
}

#[test]
fn a_constant_series_is_forecast_exactly() {
    let points: Vec<(i64, f64)> = (0..500).map(|i| (i * 60, 7.0)).collect();
    let result = forecast(&points, &ForecastConfig::new(600)).expect("forecast");
    assert!(result.forecast.iter().all(|point| (point.value - 7.0).abs() < 1e-9));
    assert_eq!(result.backtest.mase, 0.0);
}

#[test]
fn the_result_serializes_to_the_documented_shape() {
    let points = synthetic(3_600, 21, false, 1.0, 9);
    let result = forecast(&points, &ForecastConfig::new(DAY)).expect("forecast");
    let json = serde_json::to_value(&result).expect("serialize");
    for key in ["timestamp", "value", "lower80", "upper80", "lower95", "upper95"] {
        assert!(json["forecast"][0].get(key).is_some(), "missing forecast.{key}");
    }
    for key in ["mase", "coverage80", "coverage95", "candidates"] {
        assert!(json["backtest"].get(key).is_some(), "missing backtest.{key}");
    }
    assert!(json["model"].is_string());
    assert_eq!(json["periods"][0], DAY);
}

#[test]
fn hostile_input_gets_an_error_or_a_result_never_a_panic() {
    let same_time: Vec<(i64, f64)> = (0..100).map(|i| (42, i as f64)).collect();
    let error = forecast(&same_time, &ForecastConfig::new(60)).expect_err("no step");
    assert!(error.to_string().contains("distinct times"), "{error}");
    let huge: Vec<(i64, f64)> =
        (0..500).map(|i| (i * 60, if i % 2 == 0 { 1e300 } else { -1e300 })).collect();
    let result = forecast(&huge, &ForecastConfig::new(600));
    assert!(result.is_ok_and(|result| result.forecast.len() == 10));
    let negative_time: Vec<(i64, f64)> =
        (0..500).map(|i| (-1_000_000 + i * 60, i as f64)).collect();
    assert!(forecast(&negative_time, &ForecastConfig::new(600)).is_ok());
}
