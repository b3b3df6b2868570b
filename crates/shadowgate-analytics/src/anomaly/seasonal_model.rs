//! An online additive decomposition (level + seasonal profile) with a robust residual scale.
//!
//! It is Holt–Winters without a trend term, made robust the way robust STL is: each update
//! uses the residual clipped to a few scale units (a Huber step), so a spike does not drag the
//! level or the profile and a level shift is learned only gradually (the changepoint detector
//! resets the level when a shift is confirmed). The scale is an exponentially weighted mean
//! absolute residual, converted to a standard deviation under normality.

use crate::forecast::periods::subtract_moving_average;
use crate::stats;

/// Mean absolute deviation of a normal variable divided by its standard deviation, √(2/π).
const MEAN_ABSOLUTE_TO_SIGMA: f64 = 1.253_314_137_315_500_3;

/// Smoothing constants of the online model.
#[derive(Clone, Debug, PartialEq)]
pub struct SmoothingConfig {
    /// Weight of a new residual in the level.
    pub level: f64,
    /// Weight of a new residual in its phase of the seasonal profile.
    pub seasonal: f64,
    /// Weight of a new absolute residual in the scale.
    pub scale: f64,
    /// Residuals are clipped to this many scale units before they update anything.
    pub clip_sigmas: f64,
}

impl Default for SmoothingConfig {
    fn default() -> Self {
        SmoothingConfig { level: 0.05, seasonal: 0.05, scale: 0.02, clip_sigmas: 3.0 }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SeasonalModel {
    level: f64,
    profile: Vec<f64>,
    /// Phase of the next row within `profile`.
    phase: usize,
    mean_absolute_residual: f64,
    /// The smallest scale allowed, so that a flat history does not make every wiggle infinite.
    scale_floor: f64,
    smoothing: SmoothingConfig,
}

impl SeasonalModel {
    /// Initialises from a history: the profile is the mean of each phase after removing a
    /// moving average one period long, the level is the mean of the last cycle without its
    /// profile, and the scale is the mean absolute remainder. `period` 0 or 1 means none.
    /// Also returns the history's absolute remainders in units of the scale, which calibrate
    /// the detector before it has seen any scored row.
    pub fn from_history(
        history: &[f64],
        period: usize,
        smoothing: SmoothingConfig,
    ) -> (SeasonalModel, Vec<f64>) {
        let period = if period >= 2 && history.len() >= 2 * period { period } else { 1 };
        let window = if period > 1 { period } else { 16 };
        // Two passes, as in STL: a first profile from the rows where a full-period moving
        // average fits, then the trend of the deseasonalised series (valid to the ends), then
        // the profile again against that trend.
        let first_detrended = subtract_moving_average(history, window);
        let central = (window / 2)..history.len().saturating_sub(window / 2);
        let first_profile = phase_means(&first_detrended, period, central);
        let deseasonalised: Vec<f64> = history
            .iter()
            .enumerate()
            .map(|(idx, value)| value - first_profile[idx % period])
            .collect();
        let trend_removed = subtract_moving_average(&deseasonalised, window);
        let detrended: Vec<f64> = trend_removed
            .iter()
            .enumerate()
            .map(|(idx, value)| value + first_profile[idx % period])
            .collect();
        let mut profile = if period > 1 {
            median_smooth_circular(&phase_means(&detrended, period, 0..history.len()), period / 48)
        } else {
            vec![0.0]
        };
        let profile_mean = stats::mean(&profile);
        profile.iter_mut().for_each(|value| *value -= profile_mean);
        let tail_start = history.len().saturating_sub(window);
        let deseasonalised_tail: Vec<f64> =
            (tail_start..history.len()).map(|idx| history[idx] - profile[idx % period]).collect();
        let level = stats::mean(&deseasonalised_tail);
        let absolute_remainders: Vec<f64> = detrended
            .iter()
            .enumerate()
            .map(|(idx, value)| (value - profile[idx % period]).abs())
            .collect();
        let mean_absolute_residual =
            stats::mean(&absolute_remainders) * in_sample_correction(history.len() / period);
        let spread = {
            let mut sorted = history.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            stats::quantile_of_sorted(&sorted, 0.95) - stats::quantile_of_sorted(&sorted, 0.05)
        };
        let scale_floor = (1e-3 * spread).max(1e-6 * (level.abs() + 1.0));
        let model = SeasonalModel {
            level,
            profile,
            phase: history.len() % period,
            mean_absolute_residual,
            scale_floor,
            smoothing,
        };
        let sigma = model.sigma();
        let statistics = absolute_remainders.iter().map(|remainder| remainder / sigma).collect();
        (model, statistics)
    }

    /// The prediction for the next row.
    pub fn predict(&self) -> f64 {
        self.level + self.profile[self.phase]
    }

    /// The residual standard deviation.
    pub fn sigma(&self) -> f64 {
        (self.mean_absolute_residual * MEAN_ABSOLUTE_TO_SIGMA).max(self.scale_floor)
    }

    /// Learns from the next row, given its residual against [`Self::predict`].
    pub fn update(&mut self, residual: f64) {
        let sigma = self.sigma();
        let limit = self.smoothing.clip_sigmas * sigma;
        let clipped = residual.clamp(-limit, limit);
        self.level += self.smoothing.level * clipped;
        if self.profile.len() > 1 {
            let remaining = clipped * (1.0 - self.smoothing.level);
            self.profile[self.phase] += self.smoothing.seasonal * remaining;
        }
        let absolute = residual.abs().min(2.0 * limit);
        self.mean_absolute_residual +=
            self.smoothing.scale * (absolute - self.mean_absolute_residual);
        self.phase = (self.phase + 1) % self.profile.len();
    }

    /// Moves the level by `shift` (after a confirmed level shift).
    pub fn shift_level(&mut self, shift: f64) {
        self.level += shift;
    }
}

/// The mean of each phase of `period` over the rows in `rows` (over all rows for a phase that
/// `rows` does not reach).
fn phase_means(values: &[f64], period: usize, rows: std::ops::Range<usize>) -> Vec<f64> {
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for idx in rows.filter(|idx| *idx < values.len()) {
        sums[idx % period] += values[idx];
        counts[idx % period] += 1;
    }
    (0..period)
        .map(|phase| {
            if counts[phase] > 0 {
                sums[phase] / counts[phase] as f64
            } else {
                let fallback: Vec<f64> =
                    values.iter().skip(phase).step_by(period).copied().collect();
                if fallback.is_empty() { 0.0 } else { stats::mean(&fallback) }
            }
        })
        .collect()
}

/// A circular running median of `profile` over `radius` phases either side. Telemetry profiles
/// are smooth except at steps (a batch job starting at 09:00); a median removes the noise of a
/// profile learned from few cycles without rounding off those steps.
fn median_smooth_circular(profile: &[f64], radius: usize) -> Vec<f64> {
    if radius == 0 || profile.len() < 2 * radius + 1 {
        return profile.to_vec();
    }
    let length = profile.len();
    (0..length)
        .map(|idx| {
            let neighbourhood: Vec<f64> = (0..=2 * radius)
                .map(|offset| profile[(idx + length + offset - radius) % length])
                .collect();
            stats::median(&neighbourhood)
        })
        .collect()
}

/// Residuals against a profile fitted to the same `cycles` cycles understate the error on new
/// data; this widens the scale by √(c / (c − 1)) to compensate.
fn in_sample_correction(cycles: usize) -> f64 {
    if cycles >= 2 { (cycles as f64 / (cycles as f64 - 1.0)).sqrt() } else { 1.0 }
}
