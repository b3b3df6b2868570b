//! Seasonal forecasting with intervals, chosen by a rolling-origin backtest.
//!
//! shadowgate forecasts the load a release will face so that the shadow environment can be
//! driven at that load. A forecast that is worse than "same as last week" would mislead, so the
//! seasonal-naïve forecast is always a candidate and the backtest picks the winner. The steps:
//!
//! 1. Put the input on a regular grid (the median spacing), interpolating gaps.
//! 2. Keep the recent history (`history_seconds`) and detect and verify seasonal periods on it
//!    ([`periods`]).
//! 3. Average it into buckets so that the models see at most `max_model_points` values
//!    (the `resolution` module explains why and how predictions are mapped back).
//! 4. Backtest every candidate from several origins and keep the lowest MASE.
//! 5. Refit the winner on the whole window and forecast the horizon.

mod backtest;
mod models;
pub mod periods;
mod resolution;

pub use backtest::{Backtest, CandidateScore};
pub use models::ModelKind;

use crate::series::{self, SeriesError};
use models::Candidate;
use periods::PeriodSearch;
use resolution::WorkingSeries;

/// What to forecast and how hard to look.
#[derive(Clone, Debug)]
pub struct ForecastConfig {
    /// How far ahead to forecast, in seconds.
    pub horizon_seconds: i64,
    /// The grid step; detected from the input (median spacing) when `None`.
    pub step_seconds: Option<i64>,
    /// How much recent history is modelled, in seconds (default eight weeks).
    pub history_seconds: i64,
    /// At most this many values are given to the models; longer windows are averaged into
    /// buckets (default 2 048).
    pub max_model_points: usize,
    /// Where seasonal periods are looked for.
    pub period_search: PeriodSearch,
    /// How many backtest origins to score (default 3).
    pub backtest_origins: usize,
}

impl ForecastConfig {
    /// Defaults for a forecast `horizon_seconds` ahead.
    pub fn new(horizon_seconds: i64) -> ForecastConfig {
        ForecastConfig {
            horizon_seconds,
            step_seconds: None,
            history_seconds: 56 * 86_400,
            max_model_points: 2_048,
            period_search: PeriodSearch::default(),
            backtest_origins: 3,
        }
    }
}

/// The largest horizon accepted, in steps. It bounds memory on hostile input.
pub const MAX_HORIZON_POINTS: usize = 1_000_000;

/// One forecast step.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ForecastPoint {
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    pub value: f64,
    pub lower80: f64,
    pub upper80: f64,
    pub lower95: f64,
    pub upper95: f64,
}

/// A forecast with the evidence for trusting it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Forecast {
    pub forecast: Vec<ForecastPoint>,
    /// The model the backtest chose.
    pub model: ModelKind,
    /// Verified seasonal periods, in seconds, shortest first.
    pub periods: Vec<i64>,
    pub backtest: Backtest,
    /// The grid step of the input and of the forecast, in seconds.
    pub step_seconds: i64,
    /// The bucket width the models were fitted at, in seconds.
    pub model_step_seconds: i64,
    /// How many steps of history were modelled.
    pub history_points: usize,
    /// How many of the input's grid points were missing and interpolated.
    pub filled_points: usize,
}

/// Why no forecast could be made.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ForecastError {
    #[error(transparent)]
    Series(#[from] SeriesError),
    #[error("invalid forecast setting `{field}`: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
}

/// The fewest buckets a model is fitted on when the series has no seasonality.
const MIN_NON_SEASONAL_TRAINING: usize = 16;

/// Forecasts `points` (seconds since the epoch, value) `config.horizon_seconds` ahead.
pub fn forecast(points: &[(i64, f64)], config: &ForecastConfig) -> Result<Forecast, ForecastError> {
    validate(config)?;
    let regular = match config.step_seconds {
        Some(step_seconds) => series::resample(points, step_seconds)?,
        None => series::regularize(points)?,
    };
    let step = regular.step_seconds;
    let horizon = (config.horizon_seconds as u128).div_ceil(step as u128);
    if horizon > MAX_HORIZON_POINTS as u128 {
        return Err(ForecastError::InvalidConfig {
            field: "horizon_seconds",
            reason: format!(
                "{} s is {horizon} steps of {step} s, more than {MAX_HORIZON_POINTS}: shorten the horizon",
                config.horizon_seconds
            ),
        });
    }
    let horizon = horizon as usize;
    let history_points =
        usize::try_from(config.history_seconds / step).unwrap_or(usize::MAX).max(1);
    let window = &regular.values[regular.values.len().saturating_sub(history_points)..];

    let detected = periods::detect_periods(window, step, &config.period_search);
    let fine_periods: Vec<usize> = detected.iter().map(|period| period.steps).collect();
    let factor =
        resolution::choose_factor(window.len().div_ceil(config.max_model_points), &fine_periods);
    let working = WorkingSeries::new(window, factor);
    let bucket_periods: Vec<usize> = fine_periods
        .iter()
        .filter(|period| *period % factor == 0 && *period / factor >= 2)
        .map(|period| period / factor)
        .collect();
    let longest_period = fine_periods.iter().copied().max().unwrap_or(1);
    let min_training = match bucket_periods.iter().max() {
        Some(longest) => 2 * longest + 1,
        None => MIN_NON_SEASONAL_TRAINING,
    };
    let plan =
        backtest::BacktestPlan::new(&working, horizon, config.backtest_origins, min_training)
            .ok_or(SeriesError::TooShort {
                what: "a forecast with a backtest",
                needed: (min_training + 1) * factor,
                got: working.fine.len(),
                step_seconds: step,
            })?;

    let candidates = candidates_for(longest_period, &bucket_periods);
    let (scores, best_idx) = backtest::run(&working, &candidates, &plan, longest_period);
    let seasonal_naive_mase = scores[0].mase.unwrap_or(f64::NAN);
    let best = &scores[best_idx];
    let chosen = &candidates[best_idx];
    let prediction = chosen
        .predict(&working, working.coarse.len(), horizon)
        .or_else(|_| candidates[0].predict(&working, working.coarse.len(), horizon))
        .unwrap_or_default();
    let last_timestamp = regular.timestamp_at(regular.values.len() - 1);
    let forecast_points = (0..prediction.point.len())
        .map(|step_idx| ForecastPoint {
            timestamp: last_timestamp + step * (step_idx as i64 + 1),
            value: prediction.point[step_idx],
            lower80: prediction.lower80[step_idx],
            upper80: prediction.upper80[step_idx],
            lower95: prediction.lower95[step_idx],
            upper95: prediction.upper95[step_idx],
        })
        .collect();
    let backtest = Backtest {
        mase: best.mase.unwrap_or(f64::NAN),
        mae: best.mae.unwrap_or(f64::NAN),
        coverage80: best.coverage80.unwrap_or(f64::NAN),
        coverage95: best.coverage95.unwrap_or(f64::NAN),
        seasonal_naive_mase,
        origins: plan.cuts.len(),
        horizon_points: plan.horizon,
        scaling_lag: longest_period,
        candidates: scores.clone(),
    };
    Ok(Forecast {
        forecast: forecast_points,
        model: chosen.kind(),
        periods: fine_periods.iter().map(|period| *period as i64 * step).collect(),
        backtest,
        step_seconds: step,
        model_step_seconds: step * factor as i64,
        history_points: working.fine.len(),
        filled_points: regular.filled_points,
    })
}

/// Seasonal naïve first (ties go to it), then the models that use the detected periods.
fn candidates_for(longest_period: usize, bucket_periods: &[usize]) -> Vec<Candidate> {
    let mut candidates = vec![Candidate::SeasonalNaive { period: longest_period }];
    if bucket_periods.is_empty() {
        candidates.push(Candidate::Ets);
    } else {
        candidates.push(Candidate::MstlNaiveTrend { bucket_periods: bucket_periods.to_vec() });
        candidates.push(Candidate::MstlEts { bucket_periods: bucket_periods.to_vec() });
    }
    candidates
}

fn validate(config: &ForecastConfig) -> Result<(), ForecastError> {
    let invalid = |field: &'static str, reason: &str| {
        Err(ForecastError::InvalidConfig { field, reason: reason.to_string() })
    };
    if config.horizon_seconds <= 0 {
        return invalid("horizon_seconds", "must be positive, e.g. 86400 for one day ahead");
    }
    if config.history_seconds <= 0 {
        return invalid("history_seconds", "must be positive, e.g. 4838400 for eight weeks");
    }
    if config.max_model_points < 64 {
        return invalid("max_model_points", "must be at least 64; 2048 is the default");
    }
    if config.backtest_origins == 0 {
        return invalid("backtest_origins", "must be at least 1; 3 is the default");
    }
    if !(0.0..1.0).contains(&config.period_search.min_autocorrelation) {
        return invalid(
            "period_search.min_autocorrelation",
            "must be in [0, 1); 0.3 is the default",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
