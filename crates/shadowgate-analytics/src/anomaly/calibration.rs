//! Empirical calibration of the detector's own statistic.
//!
//! Real telemetry is heavy-tailed: a latency series produces "four-sigma" residuals every day,
//! and a normal tail probability alone would alarm on each. The detector therefore also asks
//! how often it has seen a statistic this large on this series, and reports the less extreme
//! of the two probabilities. Counts are kept in fine buckets in a Fenwick tree, so each row
//! costs O(log buckets) however long the stream.

/// Bucket width of the statistic, in standard deviations.
const BUCKET_WIDTH: f64 = 0.02;
/// Statistics above this share the last bucket.
const MAX_STATISTIC: f64 = 100.0;
/// Index of the last bucket.
const LAST_BUCKET: usize = (MAX_STATISTIC / BUCKET_WIDTH) as usize;

#[derive(Clone, Debug)]
pub(crate) struct ExceedanceCounter {
    /// Fenwick tree over buckets (1-based).
    tree: Vec<u64>,
    total: u64,
}

impl ExceedanceCounter {
    pub fn new() -> ExceedanceCounter {
        ExceedanceCounter { tree: vec![0; LAST_BUCKET + 2], total: 0 }
    }

    fn bucket(statistic: f64) -> usize {
        let clamped = statistic.clamp(0.0, MAX_STATISTIC);
        ((clamped / BUCKET_WIDTH) as usize).min(LAST_BUCKET)
    }

    pub fn add(&mut self, statistic: f64) {
        let mut idx = Self::bucket(statistic) + 1;
        while idx < self.tree.len() {
            self.tree[idx] += 1;
            idx += idx & idx.wrapping_neg();
        }
        self.total += 1;
    }

    /// How many added statistics fall in buckets below `statistic`'s bucket.
    fn count_below(&self, statistic: f64) -> u64 {
        let mut idx = Self::bucket(statistic);
        let mut count = 0;
        while idx > 0 {
            count += self.tree[idx];
            idx -= idx & idx.wrapping_neg();
        }
        count
    }

    /// The empirical probability of a statistic at least this large: (k + 1) / (n + 1), where
    /// k of the n statistics seen so far were in this bucket or above.
    pub fn exceedance(&self, statistic: f64) -> f64 {
        let at_or_above = self.total - self.count_below(statistic);
        (at_or_above + 1) as f64 / (self.total + 1) as f64
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceedance_counts_larger_statistics() {
        let mut counter = ExceedanceCounter::new();
        assert_eq!(counter.exceedance(1.0), 1.0);
        for value in [0.5, 1.0, 1.5, 2.0, 3.0, 250.0] {
            counter.add(value);
        }
        assert!((counter.exceedance(1.5) - 5.0 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(2.5) - 3.0 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(500.0) - 2.0 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(0.0) - 1.0).abs() < 1e-12);
    }
}
