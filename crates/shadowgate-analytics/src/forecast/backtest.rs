//! Rolling-origin backtest: every candidate forecasts from several past origins and is scored
//! on what actually followed.
//!
//! MASE (Hyndman and Koehler, 2006) divides the mean absolute error by the in-sample mean
//! absolute error of the seasonal-naïve forecast, so 1.0 means "as good as repeating the last
//! cycle" whatever the series' unit. Seasonal naïve is itself a candidate and ties go to the
//! earlier candidate, so the chosen model is never worse than seasonal naïve on this backtest.

use super::models::{Candidate, ModelKind};
use super::resolution::WorkingSeries;

/// How one candidate fared on the backtest.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CandidateScore {
    pub model: ModelKind,
    /// Mean absolute scaled error over all origins; `None` if the model failed.
    pub mase: Option<f64>,
    /// Mean absolute error in the series' unit.
    pub mae: Option<f64>,
    /// Share of actual values inside the 80 % interval.
    pub coverage80: Option<f64>,
    /// Share of actual values inside the 95 % interval.
    pub coverage95: Option<f64>,
    /// Why the model could not be fitted, if it could not.
    pub error: Option<String>,
}

/// The backtest of the chosen model, with every candidate's score for comparison.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Backtest {
    pub mase: f64,
    pub mae: f64,
    pub coverage80: f64,
    pub coverage95: f64,
    /// MASE of seasonal naïve on the same origins (the bar the chosen model clears).
    pub seasonal_naive_mase: f64,
    /// How many forecast origins were scored.
    pub origins: usize,
    /// Forecast length at each origin, in steps of the original series.
    pub horizon_points: usize,
    /// Seasonal lag, in steps of the original series, of the naïve forecast that scales MASE.
    pub scaling_lag: usize,
    pub candidates: Vec<CandidateScore>,
}

/// Where the backtest cuts the working series.
pub(crate) struct BacktestPlan {
    /// Training lengths, in buckets, from the latest origin back.
    pub cuts: Vec<usize>,
    /// Forecast length at each origin, in original steps.
    pub horizon: usize,
}

impl BacktestPlan {
    /// Plans up to `origins` origins `horizon` steps apart, each leaving at least
    /// `min_training_buckets` buckets of training data. Shortens the horizon if the series
    /// cannot hold even one origin at the requested horizon. `None` if there is no room at all.
    pub fn new(
        working: &WorkingSeries,
        horizon: usize,
        origins: usize,
        min_training_buckets: usize,
    ) -> Option<BacktestPlan> {
        let bucket_count = working.coarse.len();
        let room = bucket_count.checked_sub(min_training_buckets).filter(|room| *room > 0)?;
        let mut horizon_buckets = horizon.div_ceil(working.factor).max(1);
        if horizon_buckets > room {
            horizon_buckets = room;
        }
        let origin_count = (room / horizon_buckets).clamp(1, origins.max(1));
        let cuts =
            (1..=origin_count).map(|origin| bucket_count - origin * horizon_buckets).collect();
        Some(BacktestPlan { cuts, horizon: horizon.min(horizon_buckets * working.factor) })
    }
}

/// Scores every candidate on the plan and returns the scores and the index of the best one.
pub(crate) fn run(
    working: &WorkingSeries,
    candidates: &[Candidate],
    plan: &BacktestPlan,
    scaling_lag: usize,
) -> (Vec<CandidateScore>, usize) {
    let earliest_cut = plan.cuts.iter().copied().min().unwrap_or(0) * working.factor;
    let scale = naive_scale(&working.fine[..earliest_cut], scaling_lag);
    let scores: Vec<CandidateScore> = candidates
        .iter()
        .map(|candidate| score_candidate(working, candidate, plan, scale))
        .collect();
    let best_idx = scores
        .iter()
        .enumerate()
        .filter_map(|(idx, score)| score.mase.map(|mase| (idx, mase)))
        .fold(None, |best: Option<(usize, f64)>, (idx, mase)| match best {
            Some((_, best_mase)) if best_mase <= mase => best,
            _ => Some((idx, mase)),
        })
        .map_or(0, |(idx, _)| idx);
    (scores, best_idx)
}

fn score_candidate(
    working: &WorkingSeries,
    candidate: &Candidate,
    plan: &BacktestPlan,
    scale: f64,
) -> CandidateScore {
    let mut absolute_error_sum = 0.0;
    let mut inside80 = 0usize;
    let mut inside95 = 0usize;
    let mut count = 0usize;
    for cut in &plan.cuts {
        let prediction = match candidate.predict(working, *cut, plan.horizon) {
            Ok(prediction) => prediction,
            Err(error) => {
                return CandidateScore {
                    model: candidate.kind(),
                    mase: None,
                    mae: None,
                    coverage80: None,
                    coverage95: None,
                    error: Some(error),
                };
            }
        };
        let first_actual = cut * working.factor;
        let actuals = &working.fine[first_actual..first_actual + plan.horizon];
        for (step, actual) in actuals.iter().enumerate() {
            absolute_error_sum += (actual - prediction.point[step]).abs();
            inside80 += usize::from(
                prediction.lower80[step] <= *actual && *actual <= prediction.upper80[step],
            );
            inside95 += usize::from(
                prediction.lower95[step] <= *actual && *actual <= prediction.upper95[step],
            );
            count += 1;
        }
    }
    let count_f = count.max(1) as f64;
    let mae = absolute_error_sum / count_f;
    CandidateScore {
        model: candidate.kind(),
        mase: Some(scaled_error(mae, scale)),
        mae: Some(mae),
        coverage80: Some(inside80 as f64 / count_f),
        coverage95: Some(inside95 as f64 / count_f),
        error: None,
    }
}

/// In-sample mean absolute error of the seasonal-naïve forecast with lag `lag`.
fn naive_scale(training: &[f64], lag: usize) -> f64 {
    let lag = lag.max(1);
    let differences: Vec<f64> = training.windows(lag + 1).map(|w| (w[lag] - w[0]).abs()).collect();
    if differences.is_empty() {
        return 0.0;
    }
    differences.iter().sum::<f64>() / differences.len() as f64
}

/// MAE over scale; a perfect forecast of a constant series scores 0 rather than NaN.
fn scaled_error(mae: f64, scale: f64) -> f64 {
    if scale > 0.0 {
        mae / scale
    } else if mae == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}
