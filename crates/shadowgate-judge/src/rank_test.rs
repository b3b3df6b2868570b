//! The Wilcoxon–Mann–Whitney rank-sum test and the Hodges–Lehmann shift with its interval.
//!
//! Everything here follows R's `wilcox.test(x = candidate, y = baseline, conf.int = TRUE,
//! exact = FALSE, correct = TRUE)`: the normal approximation with the tie correction of the
//! variance and the continuity correction, and a confidence interval for the location shift
//! `candidate − baseline` obtained by inverting that same test.
//!
//! R finds the interval bounds by numerical root-finding (`uniroot`, tolerance 1e-4) on the
//! standardized statistic as a function of the shift. That statistic is a step function that
//! only jumps at pairwise differences `candidate[i] − baseline[j]`, so each root is exactly
//! one pairwise difference, and which one follows from the count of differences above it.
//! [`shift_interval`] therefore computes the exact roots by selecting order statistics among
//! the n·m differences without materialising them (module `pairwise`); its cost is
//! O((n + m) log(n·m)). [`shift_interval_r_compatible`] reproduces R's root-finder step by
//! step, tolerance included, for tying out against R's printed numbers; its results differ
//! from the exact ones by less than R's tolerance.

mod pairwise;
mod r_compatible;

pub use r_compatible::shift_interval_r_compatible;

use crate::{normal, sample::Side};
use pairwise::PairwiseDifferences;
use serde::Serialize;

/// Why a rank test could not be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RankTestError {
    #[error("the {side} sample is empty")]
    Empty { side: Side },
    #[error("the {side} sample holds a non-finite value ({value}) at index {index}")]
    NonFinite { side: Side, index: usize, value: f64 },
    #[error("every observation in both samples is equal, so the ranks carry no information")]
    AllTied,
    #[error("the confidence level {value} is not strictly between 0 and 1")]
    Confidence { value: f64 },
}

/// The rank-sum test of the candidate against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RankSumTest {
    /// Mann–Whitney U of the candidate: the number of (candidate, baseline) pairs in which
    /// the candidate value is larger, ties counting one half. It ranges from 0 to n·m; n·m/2
    /// means no tendency either way.
    pub u: f64,
    /// The standardized statistic with tie and continuity corrections (positive when the
    /// candidate tends to be larger).
    pub z: f64,
    /// Two-sided p-value from the normal approximation.
    pub p_value: f64,
}

/// The Hodges–Lehmann estimate of the shift `candidate − baseline` and its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ShiftInterval {
    pub lower: f64,
    pub estimate: f64,
    pub upper: f64,
}

/// Runs the rank-sum test on two samples in any order. Non-finite values are an error.
pub fn rank_sum_test(baseline: &[f64], candidate: &[f64]) -> Result<RankSumTest, RankTestError> {
    let baseline = checked_sorted(baseline, Side::Baseline)?;
    let candidate = checked_sorted(candidate, Side::Candidate)?;
    rank_sum_test_sorted(&baseline, &candidate)
}

/// Computes the exact Hodges–Lehmann estimate and the confidence interval R's root-finder
/// converges to, for two samples in any order.
pub fn shift_interval(
    baseline: &[f64],
    candidate: &[f64],
    confidence: f64,
) -> Result<ShiftInterval, RankTestError> {
    let baseline = checked_sorted(baseline, Side::Baseline)?;
    let candidate = checked_sorted(candidate, Side::Candidate)?;
    shift_interval_sorted(&baseline, &candidate, confidence)
}

/// [`rank_sum_test`] for non-empty, finite, ascending samples.
pub(crate) fn rank_sum_test_sorted(
    baseline: &[f64],
    candidate: &[f64],
) -> Result<RankSumTest, RankTestError> {
    let ranks = merged_ranks(candidate, baseline, |value| value);
    let n_candidate = candidate.len() as f64;
    let n_baseline = baseline.len() as f64;
    let u = ranks.first_rank_sum - n_candidate * (n_candidate + 1.0) / 2.0;
    let centred = u - n_candidate * n_baseline / 2.0;
    let sigma = rank_sum_sigma(n_candidate, n_baseline, ranks.tie_term);
    if sigma == 0.0 {
        return Err(RankTestError::AllTied);
    }
    let z = (centred - 0.5 * sign(centred)) / sigma;
    let p_value = (2.0 * normal::upper_tail(z.abs())).min(1.0);
    Ok(RankSumTest { u, z, p_value })
}

/// [`shift_interval`] for non-empty, finite, ascending samples.
pub(crate) fn shift_interval_sorted(
    baseline: &[f64],
    candidate: &[f64],
    confidence: f64,
) -> Result<ShiftInterval, RankTestError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(RankTestError::Confidence { value: confidence });
    }
    let differences = PairwiseDifferences::new(candidate, baseline);
    let pairs = differences.len();
    // Away from the pairwise differences, the only ties are those inside each sample.
    let tie_term = within_sample_tie_term(candidate) + within_sample_tie_term(baseline);
    let sigma = rank_sum_sigma(candidate.len() as f64, baseline.len() as f64, tie_term);
    let z_quantile = normal::upper_quantile((1.0 - confidence) / 2.0);
    let statistic = CountStatistic { pairs, sigma };
    let bound = |threshold: f64| {
        let count = statistic.smallest_count_above(threshold);
        // The root is where the count of differences above the shift falls below `count`:
        // the count-th largest difference, which R clamps to the range of the differences.
        differences.kth_smallest(pairs - count.clamp(1, pairs) + 1)
    };
    let lower = bound(z_quantile);
    let upper = bound(-z_quantile);
    let estimate = if pairs % 2 == 1 {
        differences.kth_smallest(pairs / 2 + 1)
    } else {
        // The uncorrected statistic is zero on the whole gap between the two middle
        // differences; the midpoint is the conventional Hodges–Lehmann estimate.
        let low = differences.kth_smallest(pairs / 2);
        let high = if differences.count_up_to(low) > pairs / 2 {
            low
        } else {
            differences.next_above(low).unwrap_or(low)
        };
        low + (high - low) / 2.0
    };
    Ok(ShiftInterval { lower, estimate, upper })
}

/// The standardized statistic as a function of the number of pairwise differences above the
/// shift (between jump points, where there are no ties across the samples).
struct CountStatistic {
    pairs: u64,
    sigma: f64,
}

impl CountStatistic {
    fn z(&self, count: u64) -> f64 {
        let centred = count as f64 - self.pairs as f64 / 2.0;
        (centred - 0.5 * sign(centred)) / self.sigma
    }

    /// The smallest count in [0, pairs + 1] whose statistic exceeds `threshold`
    /// (`pairs + 1` when none does). `z` does not decrease with the count.
    fn smallest_count_above(&self, threshold: f64) -> u64 {
        let half = self.pairs as f64 / 2.0;
        let correction = if threshold >= 0.0 { 0.5 } else { -0.5 };
        let estimate = (half + correction + threshold * self.sigma).floor() + 1.0;
        let mut count = estimate.clamp(0.0, self.pairs as f64 + 1.0) as u64;
        // The closed form can be off by one through rounding; settle it on the exact predicate.
        while count > 0 && self.z(count - 1) > threshold {
            count -= 1;
        }
        while count <= self.pairs && self.z(count) <= threshold {
            count += 1;
        }
        count
    }
}

/// Ranks of a merged pair of ascending samples: the rank sum of the first and Σ(t³ − t)
/// over tie groups of the combined sample.
struct MergedRanks {
    first_rank_sum: f64,
    tie_term: f64,
}

/// Merges `first` (each value mapped through `map`, which must not decrease) with `second`,
/// both ascending, assigning average ranks to ties.
fn merged_ranks(first: &[f64], second: &[f64], map: impl Fn(f64) -> f64) -> MergedRanks {
    let mut first_idx = 0;
    let mut second_idx = 0;
    let mut ranked = 0usize;
    let mut first_rank_sum = 0.0;
    let mut tie_term = 0.0;
    while first_idx < first.len() || second_idx < second.len() {
        let next_first = first.get(first_idx).map(|&value| map(value));
        let next_second = second.get(second_idx).copied();
        let value = match (next_first, next_second) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        let mut in_first = 0usize;
        while first_idx < first.len() && map(first[first_idx]) == value {
            first_idx += 1;
            in_first += 1;
        }
        let mut in_second = 0usize;
        while second_idx < second.len() && second[second_idx] == value {
            second_idx += 1;
            in_second += 1;
        }
        let group = (in_first + in_second) as f64;
        let average_rank = ranked as f64 + (group + 1.0) / 2.0;
        first_rank_sum += in_first as f64 * average_rank;
        tie_term += group * group * group - group;
        ranked += in_first + in_second;
    }
    MergedRanks { first_rank_sum, tie_term }
}

/// Σ(t³ − t) over groups of equal values inside one ascending sample.
fn within_sample_tie_term(sorted: &[f64]) -> f64 {
    sorted
        .chunk_by(|a, b| a == b)
        .map(|group| {
            let size = group.len() as f64;
            size * size * size - size
        })
        .sum()
}

/// The standard deviation of U under the null hypothesis, with the tie correction.
fn rank_sum_sigma(n_first: f64, n_second: f64, tie_term: f64) -> f64 {
    let total = n_first + n_second;
    let variance =
        (n_first * n_second / 12.0) * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    variance.max(0.0).sqrt()
}

/// R's `sign`: −1, 0 or 1.
fn sign(value: f64) -> f64 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Checks a raw sample and returns it sorted.
fn checked_sorted(raw: &[f64], side: Side) -> Result<Vec<f64>, RankTestError> {
    if raw.is_empty() {
        return Err(RankTestError::Empty { side });
    }
    if let Some((index, &value)) = raw.iter().enumerate().find(|(_, value)| !value.is_finite()) {
        return Err(RankTestError::NonFinite { side, index, value });
    }
    Ok(crate::sample::SortedSample::new(raw).into_values())
}

#[cfg(test)]
mod tests;
