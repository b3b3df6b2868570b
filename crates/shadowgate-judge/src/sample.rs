//! Samples of one arm: cleaning (non-finite values out, sorted) and descriptive statistics.

use serde::Serialize;
use std::fmt;

/// Which arm of the comparison a sample or a count belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The release that runs today.
    Baseline,
    /// The release under test.
    Candidate,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Baseline => "baseline",
            Side::Candidate => "candidate",
        })
    }
}

/// The finite values of one arm in ascending order, and how many non-finite values were left out.
#[derive(Clone, Debug, PartialEq)]
pub struct SortedSample {
    values: Vec<f64>,
    dropped_non_finite: usize,
}

impl SortedSample {
    /// Keeps the finite values of `raw` (NaN and ±∞ are counted and left out) and sorts them.
    pub fn new(raw: &[f64]) -> SortedSample {
        let mut values: Vec<f64> = raw.iter().copied().filter(|value| value.is_finite()).collect();
        let dropped_non_finite = raw.len() - values.len();
        values.sort_unstable_by(f64::total_cmp);
        // total_cmp orders −0.0 before +0.0; the tests must see them as one tied value.
        for value in &mut values {
            if *value == 0.0 {
                *value = 0.0;
            }
        }
        SortedSample { values, dropped_non_finite }
    }

    /// The finite values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The finite values, ascending, by value.
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn dropped_non_finite(&self) -> usize {
        self.dropped_non_finite
    }

    /// The `probability` quantile by linear interpolation between order statistics (R's and
    /// NumPy's default, "type 7"); `None` for an empty sample.
    pub fn quantile(&self, probability: f64) -> Option<f64> {
        let last = self.values.len().checked_sub(1)?;
        let position = probability.clamp(0.0, 1.0) * last as f64;
        let below = position.floor() as usize;
        let above = (below + 1).min(last);
        let fraction = position - below as f64;
        let low = self.values[below];
        Some(low + fraction * (self.values[above] - low))
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// The arithmetic mean; `None` for an empty sample.
    pub fn mean(&self) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        // Neumaier's compensated sum keeps the mean exact to rounding on long samples.
        let mut sum = 0.0_f64;
        let mut compensation = 0.0_f64;
        for &value in &self.values {
            let next = sum + value;
            if sum.abs() >= value.abs() {
                compensation += (sum - next) + value;
            } else {
                compensation += (value - next) + sum;
            }
            sum = next;
        }
        Some((sum + compensation) / self.values.len() as f64)
    }

    /// Whether every value equals `other`'s every value (both non-empty, one distinct value).
    pub fn is_constant_and_equal_to(&self, other: &SortedSample) -> bool {
        match (self.values.first(), self.values.last(), other.values.first(), other.values.last()) {
            (Some(low), Some(high), Some(other_low), Some(other_high)) => {
                low == high && other_low == other_high && low == other_low
            }
            _ => false,
        }
    }

    /// The descriptive statistics that go into a report.
    pub fn summary(&self) -> SampleSummary {
        SampleSummary {
            count: self.values.len(),
            dropped_non_finite: self.dropped_non_finite,
            mean: self.mean(),
            median: self.median(),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            min: self.values.first().copied(),
            max: self.values.last().copied(),
        }
    }
}

/// Descriptive statistics of one arm of a continuous metric, as reported. Quantiles
/// interpolate linearly between order statistics; every field but the counts is `null` for an
/// empty sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleSummary {
    /// Finite values used.
    pub count: usize,
    /// NaN or infinite values that were left out.
    pub dropped_non_finite: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[cfg(test)]
mod tests;
