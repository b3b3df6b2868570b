//! A quantile sketch with a relative-error guarantee (DDSketch).
//!
//! Rollups need p50 and p99 of every series' minute without keeping its points. DDSketch
//! (Masson, Rim and Lee, VLDB 2019) maps each value `x > 0` to the bucket
//! `ceil(ln x / ln γ)` with `γ = (1 + α) / (1 - α)`, so that every value in a bucket is within a
//! relative error `α` of the bucket's representative `2γ^i / (γ + 1)`. Negative values use a
//! mirrored set of buckets and zero has its own counter. Buckets are kept sparse and sorted,
//! since a minute of one series usually holds a handful of distinct values; when a sketch
//! reaches [`MAX_BINS`] buckets, the lowest two are merged, which keeps memory bounded and
//! loses accuracy only at the low end (the collapsing strategy of the paper).

/// The relative accuracy of quantiles: 1 %.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The most buckets one side (positive or negative) of a sketch keeps.
pub const MAX_BINS: usize = 2048;

/// A mergeable-in-principle quantile summary of finite values.
#[derive(Clone, Debug)]
pub struct QuantileSketch {
    positive: SparseBins,
    negative: SparseBins,
    zero_count: u64,
    count: u64,
    min: f64,
    max: f64,
}

/// Sorted `(bucket index, count)` pairs.
#[derive(Clone, Debug, Default)]
struct SparseBins {
    bins: Vec<(i32, u64)>,
}

impl SparseBins {
    fn add(&mut self, index: i32) {
        match self.bins.binary_search_by_key(&index, |&(idx, _)| idx) {
            Ok(pos) => self.bins[pos].1 += 1,
            Err(pos) => {
                self.bins.insert(pos, (index, 1));
                if self.bins.len() > MAX_BINS {
                    // Merge the lowest bucket into the next one up.
                    let (_, lowest_count) = self.bins.remove(0);
                    self.bins[0].1 += lowest_count;
                }
            }
        }
    }
}

fn ln_gamma() -> f64 {
    ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln()
}

/// The bucket of a positive value.
fn bucket_index(magnitude: f64) -> i32 {
    // Finite positive doubles give |ln x / ln γ| below 36,000, well within i32.
    (magnitude.ln() / ln_gamma()).ceil() as i32
}

/// The value that represents a bucket, within the relative accuracy of all its members.
fn bucket_value(index: i32) -> f64 {
    let gamma = ln_gamma().exp();
    2.0 * (f64::from(index) * ln_gamma()).exp() / (gamma + 1.0)
}

impl Default for QuantileSketch {
    fn default() -> Self {
        QuantileSketch::new()
    }
}

impl QuantileSketch {
    pub fn new() -> QuantileSketch {
        QuantileSketch {
            positive: SparseBins::default(),
            negative: SparseBins::default(),
            zero_count: 0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds a value; non-finite values are ignored, as they have no place on the scale.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if value > 0.0 {
            self.positive.add(bucket_index(value));
        } else if value < 0.0 {
            self.negative.add(bucket_index(-value));
        } else {
            self.zero_count += 1;
        }
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0 to 1), or `None` for an empty sketch.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // The 0-based rank of the wanted value among the sorted values.
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        // Negative values, from the most negative (largest magnitude) up.
        for &(index, count) in self.negative.bins.iter().rev() {
            seen += count;
            if seen > rank {
                return Some(self.clamp(-bucket_value(index)));
            }
        }
        seen += self.zero_count;
        if seen > rank {
            return Some(0.0);
        }
        for &(index, count) in &self.positive.bins {
            seen += count;
            if seen > rank {
                return Some(self.clamp(bucket_value(index)));
            }
        }
        Some(self.max)
    }

    /// Keeps an estimate within the values actually seen, which makes the extremes exact.
    fn clamp(&self, estimate: f64) -> f64 {
        estimate.clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use shadowgate_core::rng::Rng;

    use super::*;

    /// The exact quantile of sorted values, by the same rank rule as the sketch.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_are_within_the_relative_accuracy() {
        let mut rng = Rng::seed(7);
        let mut sketch = QuantileSketch::new();
        let mut values = Vec::new();
        for _ in 0..20_000 {
            // A log-normal-ish spread over six orders of magnitude, with some negatives.
            let magnitude = 10f64.powf(rng.next_f64() * 6.0 - 3.0);
            let value = if rng.next_f64() < 0.1 { -magnitude } else { magnitude };
            sketch.add(value);
            values.push(value);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
            let truth = exact(&values, q);
            let estimate = sketch.quantile(q).unwrap();
            let error = ((estimate - truth) / truth).abs();
            assert!(error <= RELATIVE_ACCURACY + 1e-12, "q={q}: {estimate} vs {truth} ({error})");
        }
        assert_eq!(sketch.count(), 20_000);
    }

    #[test]
    fn zeros_small_sets_and_non_finite_values() {
        let mut sketch = QuantileSketch::new();
        assert_eq!(sketch.quantile(0.5), None);
        for value in [0.0, 0.0, 5.0, f64::NAN, f64::INFINITY] {
            sketch.add(value);
        }
        assert_eq!(sketch.count(), 3);
        assert_eq!(sketch.quantile(0.0), Some(0.0));
        assert_eq!(sketch.quantile(0.5), Some(0.0));
        assert_eq!(sketch.quantile(1.0), Some(5.0), "the maximum is exact");
        assert_eq!(sketch.quantile(1.5), None);
    }

    #[test]
    fn the_bucket_count_stays_bounded() {
        let mut sketch = QuantileSketch::new();
        let mut values = Vec::new();
        // Values spread over 300 orders of magnitude need far more than MAX_BINS buckets.
        for exponent in -150..150 {
            for step in 0..40 {
                let value = 10f64.powi(exponent) * (1.0 + f64::from(step) / 40.0);
                sketch.add(value);
                values.push(value);
            }
        }
        assert!(sketch.positive.bins.len() <= MAX_BINS);
        let p99 = sketch.quantile(0.99).unwrap();
        let truth = exact(&values, 0.99);
        let error = ((p99 - truth) / truth).abs();
        assert!(
            error <= RELATIVE_ACCURACY + 1e-12,
            "high quantiles keep their accuracy: {p99} vs {truth}"
        );
    }
}
