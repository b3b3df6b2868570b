//! Sustained deviations: the mean standardised residual over a short window.
//!
//! A public holiday takes a third off a day of traffic. No single row is extreme, and the
//! seasonal model's level follows the dip within hours, so neither the row's own residual nor
//! CUSUM (which races that level) sees much. The mean of the latest `rows` standardised
//! residuals, times √rows, is a z-statistic for "this stretch sits off the profile". Residuals
//! are autocorrelated, so its normal tail is optimistic; like the row statistic it is also
//! judged against its own history (see `calibration`) and the less extreme probability counts.

use std::collections::VecDeque;

use super::calibration::ExceedanceCounter;

/// Standardised residuals are clipped to this magnitude, so one spike cannot fill the window.
const CLIP: f64 = 4.0;

#[derive(Clone, Debug)]
pub(crate) struct SustainedDeviation {
    rows: usize,
    recent: VecDeque<f64>,
    sum: f64,
    /// Rows added since `sum` was last recomputed from `recent` (bounds rounding drift).
    since_exact_sum: usize,
    calibration: ExceedanceCounter,
}

impl SustainedDeviation {
    /// A window of `rows` rows (at least 2).
    pub fn new(rows: usize) -> SustainedDeviation {
        let rows = rows.max(2);
        SustainedDeviation {
            rows,
            recent: VecDeque::with_capacity(rows + 1),
            sum: 0.0,
            since_exact_sum: 0,
            calibration: ExceedanceCounter::new(),
        }
    }

    /// Adds the next standardised residual; returns the probability of a window mean at least
    /// this far from zero (1 until the window is full).
    pub fn observe(&mut self, standardised: f64) -> f64 {
        let clipped = standardised.clamp(-CLIP, CLIP);
        self.recent.push_back(clipped);
        self.sum += clipped;
        if self.recent.len() > self.rows {
            self.sum -= self.recent.pop_front().unwrap_or(0.0);
        }
        self.since_exact_sum += 1;
        if self.since_exact_sum >= self.rows {
            self.sum = self.recent.iter().sum();
            self.since_exact_sum = 0;
        }
        if self.recent.len() < self.rows {
            return 1.0;
        }
        self.calibration.judge_and_add(self.sum.abs() / (self.rows as f64).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shadowgate_core::rng::Rng;

    #[test]
    fn a_stretch_of_moderate_residuals_is_rarer_than_any_single_one() {
        let mut sustained = SustainedDeviation::new(12);
        let mut rng = Rng::seed(7);
        let ordinary: Vec<f64> = (0..3_000).map(|_| sustained.observe(rng.normal())).collect();
        assert!(ordinary[..11].iter().all(|tail| *tail == 1.0), "the window fills first");
        let quietest = ordinary[11..].iter().copied().fold(1.0, f64::min);
        // Twelve rows at −2 sigmas: each is a one-in-twenty row, together a z of about −6.9.
        let stretch: Vec<f64> = (0..12).map(|_| sustained.observe(-2.0)).collect();
        let last = *stretch.last().expect("twelve rows");
        assert!(last < quietest / 5.0, "stretch {last} vs quietest ordinary {quietest}");
        assert!(last < 1e-4, "stretch tail {last}");
    }

    #[test]
    fn one_spike_cannot_fill_the_window() {
        let mut sustained = SustainedDeviation::new(12);
        let mut rng = Rng::seed(8);
        for _ in 0..3_000 {
            sustained.observe(rng.normal());
        }
        let spike = sustained.observe(1e9);
        // Clipped to 4 sigmas, one row moves the window's z by 4 / √12 ≈ 1.2 at most.
        assert!(spike > 1e-3, "spike tail {spike}");
    }
}
