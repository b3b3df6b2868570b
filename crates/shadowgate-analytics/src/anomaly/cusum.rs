//! Two-sided CUSUM (Page, 1954) on standardised residuals, for level shifts.
//!
//! A single residual of two sigmas is unremarkable; twenty in a row are a level shift. CUSUM
//! accumulates residuals beyond a drift allowance and signals when the sum crosses a decision
//! threshold, which finds shifts of about one sigma within a few dozen rows while staying
//! quiet on noise. It also estimates the shift (the median of the latest residuals of the
//! run), which the seasonal model uses to re-centre its level after the signal.

use crate::stats;

/// CUSUM parameters in units of the residual standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct CusumConfig {
    /// Allowance subtracted from each standardised residual (half the smallest shift of
    /// interest).
    pub drift: f64,
    /// Decision threshold: the sum at which a shift is confirmed.
    pub threshold: f64,
    /// Standardised residuals are clipped to this magnitude so one spike cannot confirm a
    /// shift on its own.
    pub clip: f64,
}

impl Default for CusumConfig {
    fn default() -> Self {
        CusumConfig { drift: 0.75, threshold: 10.0, clip: 4.0 }
    }
}

/// How many of the latest residuals estimate the size of a confirmed shift.
const SHIFT_ESTIMATE_ROWS: usize = 9;

/// One side of the CUSUM: the sum and the latest residuals it has absorbed since it left zero.
#[derive(Clone, Debug, Default)]
struct Side {
    sum: f64,
    recent_residuals: std::collections::VecDeque<f64>,
}

impl Side {
    fn add(&mut self, standardised: f64, residual: f64, drift: f64) {
        self.sum = (self.sum + standardised - drift).max(0.0);
        if self.sum > 0.0 {
            self.recent_residuals.push_back(residual);
            if self.recent_residuals.len() > SHIFT_ESTIMATE_ROWS {
                self.recent_residuals.pop_front();
            }
        } else {
            *self = Side::default();
        }
    }

    /// The median of the latest residuals: robust to a spike inside the run, and close to the
    /// shift that is still unexplained at the end of the run.
    fn shift_estimate(&self) -> f64 {
        let residuals: Vec<f64> = self.recent_residuals.iter().copied().collect();
        if residuals.is_empty() { 0.0 } else { stats::median(&residuals) }
    }
}

/// A confirmed level shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LevelShift {
    /// Estimated size of the shift in the series' unit.
    pub shift: f64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Cusum {
    upper: Side,
    lower: Side,
    config: CusumConfig,
}

impl Cusum {
    pub fn new(config: CusumConfig) -> Cusum {
        Cusum { upper: Side::default(), lower: Side::default(), config }
    }

    /// The larger of the two sums as a fraction of the decision threshold (1 = confirmed).
    pub fn evidence(&self) -> f64 {
        self.upper.sum.max(self.lower.sum) / self.config.threshold
    }

    /// Adds a residual (in the series' unit) with its standard deviation; returns the shift if
    /// this row confirms one, and then restarts.
    pub fn add(&mut self, residual: f64, sigma: f64) -> Option<LevelShift> {
        let standardised = (residual / sigma).clamp(-self.config.clip, self.config.clip);
        self.upper.add(standardised, residual, self.config.drift);
        self.lower.add(-standardised, residual, self.config.drift);
        let confirmed = [&self.upper, &self.lower]
            .into_iter()
            .find(|side| side.sum >= self.config.threshold)
            .map(|side| LevelShift { shift: side.shift_estimate() });
        if confirmed.is_some() {
            self.upper = Side::default();
            self.lower = Side::default();
        }
        confirmed
    }
}
