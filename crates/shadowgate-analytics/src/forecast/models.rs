//! The candidate models and how each produces a prediction from a training prefix.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_ets::trend::AutoETSTrendModel;
use augurs_mstl::{MSTLModel, NaiveTrend};

use super::resolution::{BucketForecast, Prediction, WorkingSeries, Z80, Z95};

/// Which model produced a forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Repeat the last cycle of the longest period.
    SeasonalNaive,
    /// Repeat the last value (the seasonal-naïve forecast of a series without seasonality).
    Naive,
    /// MSTL decomposition with an AutoETS model of the deseasonalised series.
    MstlEts,
    /// MSTL decomposition with the last deseasonalised value carried forward.
    MstlNaiveTrend,
    /// AutoETS without seasonality.
    Ets,
}

/// A model with its parameters, ready to be fitted on any training prefix.
#[derive(Clone, Debug)]
pub(crate) enum Candidate {
    /// Seasonal naïve at the original step; `period` 1 is the naive forecast.
    SeasonalNaive {
        period: usize,
    },
    MstlEts {
        bucket_periods: Vec<usize>,
    },
    MstlNaiveTrend {
        bucket_periods: Vec<usize>,
    },
    Ets,
}

impl Candidate {
    pub fn kind(&self) -> ModelKind {
        match self {
            Candidate::SeasonalNaive { period } if *period <= 1 => ModelKind::Naive,
            Candidate::SeasonalNaive { .. } => ModelKind::SeasonalNaive,
            Candidate::MstlEts { .. } => ModelKind::MstlEts,
            Candidate::MstlNaiveTrend { .. } => ModelKind::MstlNaiveTrend,
            Candidate::Ets => ModelKind::Ets,
        }
    }

    /// Fits on the first `cut_buckets` buckets of `working` and predicts `horizon` values at
    /// the original step. Errors are the model library's messages.
    pub fn predict(
        &self,
        working: &WorkingSeries,
        cut_buckets: usize,
        horizon: usize,
    ) -> Result<Prediction, String> {
        let bucket_horizon = horizon.div_ceil(working.factor) + 1;
        let training = &working.coarse[..cut_buckets];
        let bucket_forecast = match self {
            Candidate::SeasonalNaive { period } => {
                let training = &working.fine[..cut_buckets * working.factor];
                return Ok(seasonal_naive(training, *period, horizon));
            }
            Candidate::MstlEts { bucket_periods } => {
                let trend = AutoETSTrendModel::from(AutoETS::non_seasonal());
                let model = MSTLModel::new(bucket_periods.clone(), trend);
                let fitted = model.fit(training).map_err(|e| e.to_string())?;
                bucket_forecast_from(&fitted, bucket_horizon)?
            }
            Candidate::MstlNaiveTrend { bucket_periods } => {
                let model = MSTLModel::new(bucket_periods.clone(), NaiveTrend::new());
                let fitted = model.fit(training).map_err(|e| e.to_string())?;
                bucket_forecast_from(&fitted, bucket_horizon)?
            }
            Candidate::Ets => {
                let fitted = AutoETS::non_seasonal().fit(training).map_err(|e| e.to_string())?;
                bucket_forecast_from(&fitted, bucket_horizon)?
            }
        };
        Ok(working.to_fine(cut_buckets, &bucket_forecast, horizon))
    }
}

/// Point forecasts and the standard deviations implied by the 80 % and 95 % intervals.
fn bucket_forecast_from<P: Predict>(fitted: &P, horizon: usize) -> Result<BucketForecast, String> {
    let at80 = fitted.predict(horizon, 0.8).map_err(|e| e.to_string())?;
    let at95 = fitted.predict(horizon, 0.95).map_err(|e| e.to_string())?;
    let sigmas = |forecast: &augurs_core::Forecast, z: f64| -> Vec<f64> {
        match &forecast.intervals {
            Some(intervals) => intervals
                .lower
                .iter()
                .zip(&intervals.upper)
                .map(|(lower, upper)| ((upper - lower) / (2.0 * z)).max(0.0))
                .collect(),
            None => vec![0.0; forecast.point.len()],
        }
    };
    let result = BucketForecast {
        sigma80: sigmas(&at80, Z80),
        sigma95: sigmas(&at95, Z95),
        point: at80.point,
    };
    if result.point.iter().chain(&result.sigma95).any(|value| !value.is_finite()) {
        return Err("the model produced a non-finite forecast".to_string());
    }
    Ok(result)
}

/// Seasonal naïve with the normal intervals of Hyndman and Athanasopoulos (FPP3 §5.5): the
/// h-step standard deviation is σ·√(⌊(h−1)/m⌋ + 1), σ the root mean square of the in-sample
/// seasonal differences.
pub(crate) fn seasonal_naive(training: &[f64], period: usize, horizon: usize) -> Prediction {
    let period = period.clamp(1, training.len().max(1));
    let differences: Vec<f64> = training.windows(period + 1).map(|w| w[period] - w[0]).collect();
    let sigma = if differences.is_empty() {
        0.0
    } else {
        (differences.iter().map(|d| d * d).sum::<f64>() / differences.len() as f64).sqrt()
    };
    let last_cycle = &training[training.len().saturating_sub(period)..];
    let mut prediction = Prediction::with_capacity(horizon);
    for step in 0..horizon {
        let point = last_cycle.get(step % period).copied().unwrap_or(0.0);
        let cycles_ahead = (step / period) as f64 + 1.0;
        prediction.push_normal(point, sigma * cycles_ahead.sqrt());
    }
    prediction
}
