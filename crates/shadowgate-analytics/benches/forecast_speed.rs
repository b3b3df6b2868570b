//! Forecast time on one year of minutely data (525,600 points), against the reference: MSTL
//! with an AutoETS trend fitted by augurs on the full series. Both forecast the next day and
//! are scored against the noise-free truth and against the held-out noisy day.
//!
//! Run: `cargo bench -p shadowgate-analytics --bench forecast_speed`

use std::time::Instant;

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_ets::trend::AutoETSTrendModel;
use augurs_mstl::MSTLModel;
use shadowgate_analytics::forecast::{self, ForecastConfig};
use shadowgate_core::rng::Rng;

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
const POINTS: usize = 525_600;
const HORIZON: usize = 1_440;
/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200;

/// Requests per second: a slow trend, a daily cycle, a weekend dip.
fn truth(timestamp: i64) -> f64 {
    let days = (timestamp - START) as f64 / DAY as f64;
    let daily = (std::f64::consts::TAU * ((timestamp % DAY) as f64 / DAY as f64 - 0.25)).sin();
    let weekend = ((timestamp - START) / DAY) % 7 >= 5;
    200.0 + 0.1 * days + 80.0 * daily - if weekend { 40.0 } else { 0.0 }
}

fn main() {
    let mut rng = Rng::seed(2024);
    let all: Vec<(i64, f64)> = (0..(POINTS + HORIZON) as i64)
        .map(|i| START + i * MINUTE)
        .map(|t| (t, truth(t) + 10.0 * rng.normal()))
        .collect();
    let (history, holdout) = all.split_at(POINTS);
    let score = |values: &[f64]| {
        let against_truth: f64 =
            holdout.iter().zip(values).map(|((t, _), v)| (truth(*t) - v).abs()).sum::<f64>()
                / HORIZON as f64;
        let against_holdout: f64 =
            holdout.iter().zip(values).map(|((_, y), v)| (y - v).abs()).sum::<f64>()
                / HORIZON as f64;
        (against_truth, against_holdout)
    };

    let config = ForecastConfig::new(HORIZON as i64 * MINUTE);
    let mut timings = Vec::new();
    let mut result = None;
    for _ in 0..3 {
        let started = Instant::now();
        result = Some(forecast::forecast(history, &config).expect("forecast"));
        timings.push(started.elapsed().as_secs_f64());
    }
    timings.sort_by(f64::total_cmp);
    let ours_seconds = timings[1];
    let ours = result.expect("three runs");
    let ours_values: Vec<f64> = ours.forecast.iter().map(|point| point.value).collect();
    let (ours_truth_mae, ours_holdout_mae) = score(&ours_values);
    let inside95 = holdout
        .iter()
        .zip(&ours.forecast)
        .filter(|((_, y), point)| point.lower95 <= *y && *y <= point.upper95)
        .count() as f64
        / HORIZON as f64;

    let values: Vec<f64> = history.iter().map(|(_, v)| *v).collect();
    let started = Instant::now();
    let reference =
        MSTLModel::new(vec![1_440, 10_080], AutoETSTrendModel::from(AutoETS::non_seasonal()))
            .fit(&values)
            .expect("reference fit")
            .predict(HORIZON, 0.95)
            .expect("reference forecast");
    let reference_seconds = started.elapsed().as_secs_f64();
    let (reference_truth_mae, reference_holdout_mae) = score(&reference.point);

    println!(
        "one year of minutely data ({POINTS} points), forecast {HORIZON} minutes ahead, release build"
    );
    println!(
        "shadowgate forecast: {ours_seconds:.3} s (median of 3), model {:?} at a {} s step, periods {:?} s, backtest MASE {:.3} (seasonal naive {:.3}), coverage80 {:.2}, coverage95 {:.2}",
        ours.model,
        ours.model_step_seconds,
        ours.periods,
        ours.backtest.mase,
        ours.backtest.seasonal_naive_mase,
        ours.backtest.coverage80,
        ours.backtest.coverage95
    );
    println!(
        "  next day: MAE vs noise-free truth {ours_truth_mae:.2}, vs held-out data {ours_holdout_mae:.2} (noise sigma 10), held-out inside the 95 % interval {inside95:.3}"
    );
    println!(
        "reference (augurs MSTL[1440, 10080] + AutoETS on all points): {reference_seconds:.3} s"
    );
    println!(
        "  next day: MAE vs noise-free truth {reference_truth_mae:.2}, vs held-out data {reference_holdout_mae:.2}"
    );
    println!(
        "ratio: {:.1}x faster than the reference; goal < 2 s: {}",
        reference_seconds / ours_seconds,
        if ours_seconds < 2.0 { "met" } else { "missed" }
    );
}
