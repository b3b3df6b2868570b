//! R's own way to the Hodges–Lehmann interval, step for step, for tying out against R.
//!
//! `wilcox.test` evaluates the standardized rank statistic of `c(x − d, y)` at trial shifts
//! `d` and hands it to `uniroot`, which runs Brent's zeroin (Brent 1973; R's C version after
//! Keselyov) with tolerance 1e-4. Because the statistic is a step function, the answer lands
//! within about that tolerance of the exact jump that [`super::shift_interval`] returns; the
//! exact bits depend on every trial point, so matching R's printed numbers to 1e-6 needs the
//! same trial points, which this module reproduces. Each evaluation is one merge of the
//! sorted samples, O(n + m).

use super::{RankTestError, ShiftInterval, checked_sorted, merged_ranks, rank_sum_sigma, sign};
use crate::{normal, sample::Side};

/// R's default `tol.root` for the interval and the estimate.
const ROOT_TOLERANCE: f64 = 1e-4;

/// `uniroot`'s default iteration limit.
const MAX_ITERATIONS: u32 = 1000;

/// Computes the interval and estimate exactly as R's `wilcox.test(x = candidate, y = baseline,
/// conf.int = TRUE, exact = FALSE, correct = TRUE)` does, including the imprecision of its
/// root tolerance (1e-4 in the units of the data). The judge uses the exact
/// [`super::shift_interval`]; this function exists to reproduce R's numbers.
pub fn shift_interval_r_compatible(
    baseline: &[f64],
    candidate: &[f64],
    confidence: f64,
) -> Result<ShiftInterval, RankTestError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(RankTestError::Confidence { value: confidence });
    }
    let statistic = ShiftStatistic::new(baseline, candidate)?;
    let z_quantile = normal::upper_quantile((1.0 - confidence) / 2.0);
    let lower = statistic.interval_bound(z_quantile)?;
    let upper = statistic.interval_bound(-z_quantile)?;
    // wilcox.test switches the continuity correction off for the point estimate.
    let estimate = statistic.estimate(false)?;
    Ok(ShiftInterval { lower, estimate, upper })
}

/// R's `wdiff`: the standardized statistic of `c(x − d, y)` as a function of the shift `d`.
pub(super) struct ShiftStatistic {
    candidate: Vec<f64>,
    baseline: Vec<f64>,
    /// R's `mumin` and `mumax`: the smallest and largest pairwise difference.
    range: (f64, f64),
}

impl ShiftStatistic {
    pub(super) fn new(baseline: &[f64], candidate: &[f64]) -> Result<Self, RankTestError> {
        let candidate = checked_sorted(candidate, Side::Candidate)?;
        let baseline = checked_sorted(baseline, Side::Baseline)?;
        // Both samples are non-empty here, so the first and last values exist.
        let low = candidate[0] - baseline[baseline.len() - 1];
        let high = candidate[candidate.len() - 1] - baseline[0];
        Ok(ShiftStatistic { candidate, baseline, range: (low, high) })
    }

    /// R's `mumin` and `mumax`.
    pub(super) fn range(&self) -> (f64, f64) {
        self.range
    }

    /// The standardized statistic at `shift`, minus `quantile`.
    pub(super) fn evaluate(
        &self,
        shift: f64,
        quantile: f64,
        continuity: bool,
    ) -> Result<f64, RankTestError> {
        let ranks = merged_ranks(&self.candidate, &self.baseline, |value| value - shift);
        let n_x = self.candidate.len() as f64;
        let n_y = self.baseline.len() as f64;
        let centred = ranks.first_rank_sum - n_x * (n_x + 1.0) / 2.0 - n_x * n_y / 2.0;
        let correction = if continuity { 0.5 * sign(centred) } else { 0.0 };
        let sigma = rank_sum_sigma(n_x, n_y, ranks.tie_term);
        if sigma == 0.0 {
            return Err(RankTestError::AllTied);
        }
        Ok((centred - correction) / sigma - quantile)
    }

    /// R's `root(zq)`: an end of the range when the statistic does not cross `quantile`
    /// inside it, otherwise zeroin's answer.
    pub(super) fn interval_bound(&self, quantile: f64) -> Result<f64, RankTestError> {
        let (low, high) = self.range();
        let at_low = self.evaluate(low, quantile, true)?;
        let at_high = self.evaluate(high, quantile, true)?;
        if at_low <= 0.0 {
            return Ok(low);
        }
        if at_high >= 0.0 {
            return Ok(high);
        }
        zeroin(|shift| self.evaluate(shift, quantile, true), low, high, at_low, at_high)
    }

    /// The root at zero; `continuity` chooses whether the correction stays on.
    pub(super) fn estimate(&self, continuity: bool) -> Result<f64, RankTestError> {
        let (low, high) = self.range();
        let at_low = self.evaluate(low, 0.0, continuity)?;
        let at_high = self.evaluate(high, 0.0, continuity)?;
        zeroin(|shift| self.evaluate(shift, 0.0, continuity), low, high, at_low, at_high)
    }
}

/// Brent's zeroin as R runs it (`R_zeroin2`): bisection, secant and inverse quadratic
/// interpolation on a bracketing interval [a, b] with known f(a) and f(b).
fn zeroin(
    function: impl Fn(f64) -> Result<f64, RankTestError>,
    start: f64,
    end: f64,
    at_start: f64,
    at_end: f64,
) -> Result<f64, RankTestError> {
    let (mut a, mut b) = (start, end);
    let (mut fa, mut fb) = (at_start, at_end);
    let (mut c, mut fc) = (a, fa);
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    for _ in 0..=MAX_ITERATIONS {
        let previous_step = b - a;
        if fc.abs() < fb.abs() {
            // Keep b as the best approximation so far.
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tolerance = 2.0 * f64::EPSILON * b.abs() + ROOT_TOLERANCE / 2.0;
        let mut step = (c - b) / 2.0;
        if step.abs() <= tolerance || fb == 0.0 {
            return Ok(b);
        }
        if previous_step.abs() >= tolerance && fa.abs() > fb.abs() {
            let to_c = c - b;
            let (mut p, mut q);
            if a == c {
                // Two distinct points: secant step.
                let ratio = fb / fa;
                p = to_c * ratio;
                q = 1.0 - ratio;
            } else {
                // Three points: inverse quadratic interpolation.
                let qa = fa / fc;
                let rb = fb / fc;
                let sb = fb / fa;
                p = sb * (to_c * qa * (qa - rb) - (b - a) * (rb - 1.0));
                q = (qa - 1.0) * (rb - 1.0) * (sb - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < 0.75 * to_c * q - (tolerance * q).abs() / 2.0
                && p < (previous_step * q / 2.0).abs()
            {
                step = p / q;
            }
        }
        if step.abs() < tolerance {
            step = if step > 0.0 { tolerance } else { -tolerance };
        }
        (a, fa) = (b, fb);
        b += step;
        fb = function(b)?;
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            (c, fc) = (a, fa);
        }
    }
    Ok(b)
}
