//! Comparison of two event rates (events per unit of exposure) with an exact test.
//!
//! If baseline and candidate events are Poisson with rates λ_b and λ_c over exposures E_b and
//! E_c, then, given the total number of events N, the candidate's events are
//! Binomial(N, π) with π = λ_c·E_c / (λ_c·E_c + λ_b·E_b). Equal rates mean
//! π₀ = E_c / (E_b + E_c), so the exact conditional test is a binomial test of π = π₀, and the
//! Clopper–Pearson interval for π maps one-to-one onto an interval for the rate ratio
//! λ_c / λ_b = π / (1 − π) · E_b / E_c. The test needs no large-sample approximation: it is
//! valid for 0 vs 9 errors and does not over-read 0 vs 2, and it needs no events in the
//! baseline to detect events in the candidate.

use crate::{binomial, sample::Side};
use serde::Serialize;

/// Events counted on one arm and the exposure they were counted over (requests, seconds…).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CountSample {
    pub events: u64,
    /// Positive and finite.
    pub exposure: f64,
}

impl CountSample {
    /// Events per unit of exposure.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.exposure
    }
}

/// Why two rates could not be compared.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateTestError {
    #[error("the {side} exposure is {value}, but it must be a positive, finite number")]
    Exposure { side: Side, value: f64 },
    #[error("the confidence level {value} is not strictly between 0 and 1")]
    Confidence { value: f64 },
}

/// The outcome of an exact rate comparison.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RateComparison {
    /// Candidate rate divided by baseline rate; `None` when the baseline had no events
    /// (then the ratio is infinite, or undefined if neither arm had any).
    pub rate_ratio: Option<f64>,
    /// Lower end of the confidence interval of the rate ratio.
    pub ratio_lower: f64,
    /// Upper end of the confidence interval; `None` when unbounded (no baseline events).
    pub ratio_upper: Option<f64>,
    /// Two-sided exact p-value (twice the smaller tail, at most 1).
    pub p_value: f64,
}

/// Compares the candidate's event rate with the baseline's.
pub fn compare_rates(
    baseline: CountSample,
    candidate: CountSample,
    confidence: f64,
) -> Result<RateComparison, RateTestError> {
    for (side, sample) in [(Side::Baseline, baseline), (Side::Candidate, candidate)] {
        if !(sample.exposure.is_finite() && sample.exposure > 0.0) {
            return Err(RateTestError::Exposure { side, value: sample.exposure });
        }
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(RateTestError::Confidence { value: confidence });
    }
    let total = baseline.events + candidate.events;
    let exposure_ratio = baseline.exposure / candidate.exposure;
    let rate_ratio = (baseline.events > 0).then(|| candidate.rate() / baseline.rate());
    if total == 0 {
        return Ok(RateComparison {
            rate_ratio,
            ratio_lower: 0.0,
            ratio_upper: None,
            p_value: 1.0,
        });
    }
    let null_share = candidate.exposure / (baseline.exposure + candidate.exposure);
    let at_least = binomial::upper_tail(candidate.events, total, null_share);
    let at_most = binomial::lower_tail(candidate.events, total, null_share);
    let p_value = (2.0 * at_least.min(at_most)).min(1.0);
    let (share_lower, share_upper) = binomial::clopper_pearson(candidate.events, total, confidence);
    let to_ratio = |share: f64| share / (1.0 - share) * exposure_ratio;
    let ratio_upper = (share_upper < 1.0).then(|| to_ratio(share_upper));
    Ok(RateComparison { rate_ratio, ratio_lower: to_ratio(share_lower), ratio_upper, p_value })
}

#[cfg(test)]
mod tests;
