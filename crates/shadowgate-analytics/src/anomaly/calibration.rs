//! Empirical calibration of the detector's own statistic.
//!
//! Real telemetry is heavy-tailed: a latency series produces "four-sigma" residuals every day,
//! and a normal tail probability alone would alarm on each. The detector therefore also asks
//! how often it has seen a statistic this large on this series, and reports the less extreme
//! of the two probabilities. Counts are kept in fine buckets in a Fenwick tree, so each row
//! costs O(log buckets) however long the stream.

/// Bucket width of the statistic, in standard deviations.
const BUCKET_WIDTH: f64 = 0.02;
/// Statistics are kept as they are up to here, and logarithmically compressed beyond (see
/// [`ExceedanceCounter::compress`]).
const LINEAR_UP_TO: f64 = 20.0;
/// Compressed statistics above this (about 13,000 standard deviations) share the last bucket.
const MAX_STATISTIC: f64 = 150.0;
/// Index of the last bucket.
const LAST_BUCKET: usize = (MAX_STATISTIC / BUCKET_WIDTH) as usize;

/// Share of the statistics above the tail threshold of the peaks-over-threshold fit.
const TAIL_SHARE: f64 = 0.02;
/// Fewest statistics above the tail threshold for the fit to be used.
const MIN_TAIL_COUNT: u64 = 10;

#[derive(Clone, Debug)]
pub(crate) struct ExceedanceCounter {
    /// Fenwick trees over buckets (1-based): how many statistics, and their sum.
    counts: Vec<u64>,
    sums: Vec<f64>,
    total: u64,
}

impl ExceedanceCounter {
    pub fn new() -> ExceedanceCounter {
        ExceedanceCounter {
            counts: vec![0; LAST_BUCKET + 2],
            sums: vec![0.0; LAST_BUCKET + 2],
            total: 0,
        }
    }

    /// The statistic as it is counted. Up to [`LINEAR_UP_TO`] it is itself; beyond, it grows
    /// with its logarithm, so that a series whose scale is tiny (mostly zeros, then a burst)
    /// still tells a 50-sigma burst from a 5,000-sigma one instead of piling both into the last
    /// bucket. In the compressed range the exponential tail fit is a power-law tail.
    fn compress(statistic: f64) -> f64 {
        let statistic = if statistic.is_nan() { 0.0 } else { statistic.max(0.0) };
        let compressed = if statistic <= LINEAR_UP_TO {
            statistic
        } else {
            LINEAR_UP_TO + 10.0 * (statistic / LINEAR_UP_TO).ln()
        };
        compressed.min(MAX_STATISTIC)
    }

    fn bucket(compressed: f64) -> usize {
        ((compressed / BUCKET_WIDTH) as usize).min(LAST_BUCKET)
    }

    pub fn add(&mut self, statistic: f64) {
        let statistic = Self::compress(statistic);
        let mut idx = Self::bucket(statistic) + 1;
        while idx < self.counts.len() {
            self.counts[idx] += 1;
            self.sums[idx] += statistic;
            idx += idx & idx.wrapping_neg();
        }
        self.total += 1;
    }

    /// Count and sum of the statistics in buckets before `bucket`.
    fn prefix(&self, bucket: usize) -> (u64, f64) {
        let (mut idx, mut count, mut sum) = (bucket, 0, 0.0);
        while idx > 0 {
            count += self.counts[idx];
            sum += self.sums[idx];
            idx -= idx & idx.wrapping_neg();
        }
        (count, sum)
    }

    /// The first bucket whose cumulative count exceeds `rank` (Fenwick binary lifting).
    fn bucket_of_rank(&self, rank: u64) -> usize {
        let (mut position, mut remaining) = (0, rank);
        let mut step = (self.counts.len() - 1).next_power_of_two();
        while step > 0 {
            let next = position + step;
            if next < self.counts.len() && self.counts[next] <= remaining {
                position = next;
                remaining -= self.counts[next];
            }
            step /= 2;
        }
        position
    }

    /// The share of the statistics so far in this statistic's bucket or above, with a mid-p
    /// correction: (k + ½) / (n + 1). No tail is extrapolated.
    pub fn empirical_share(&self, statistic: f64) -> f64 {
        let (below, _) = self.prefix(Self::bucket(Self::compress(statistic)));
        let at_or_above = self.total - below;
        (at_or_above as f64 + 0.5) / (self.total + 1) as f64
    }

    /// The probability of `statistic` judged twice, as the detectors do: under a standard
    /// normal model (two-sided tail) and against the statistics seen so far ([`Self::exceedance`]).
    /// The less extreme of the two counts. The statistic is then added to the history.
    pub fn judge_and_add(&mut self, statistic: f64) -> f64 {
        let model_tail = 2.0 * crate::stats::normal_upper_tail(statistic);
        let empirical_tail = self.exceedance(statistic);
        self.add(statistic);
        model_tail.max(empirical_tail)
    }

    /// The probability of a statistic at least this large.
    ///
    /// Within the body of the distribution it is the empirical share (k + ½) / (n + 1), where k
    /// of the n statistics seen so far were in this bucket or above (the half count is a mid-p
    /// correction). Beyond the top 2 % it is a peaks-over-threshold estimate, as in SPOT
    /// (Siffer et al., KDD 2017) with an exponential tail: the share above the threshold times
    /// `exp(−excess / mean excess)`. The fit extrapolates past the largest value seen, so a
    /// record after a few hundred rows is not capped at 1 / 2n.
    pub fn exceedance(&self, statistic: f64) -> f64 {
        let empirical = self.empirical_share(statistic);
        // Judged as it would be stored: a statistic beyond the last bucket is no further out
        // than the ones already there.
        let statistic = Self::compress(statistic);
        let bucket = Self::bucket(statistic);
        let threshold_rank = ((1.0 - TAIL_SHARE) * self.total as f64) as u64;
        let threshold_bucket = self.bucket_of_rank(threshold_rank);
        if bucket <= threshold_bucket {
            return empirical;
        }
        let (count_below_tail, sum_below_tail) = self.prefix(threshold_bucket + 1);
        let (count_all, sum_all) = self.prefix(LAST_BUCKET + 1);
        let tail_count = count_all - count_below_tail;
        if tail_count < MIN_TAIL_COUNT {
            return empirical;
        }
        let tail_threshold = (threshold_bucket + 1) as f64 * BUCKET_WIDTH;
        let mean_excess =
            ((sum_all - sum_below_tail) / tail_count as f64 - tail_threshold).max(BUCKET_WIDTH);
        let tail_share = tail_count as f64 / self.total as f64;
        tail_share * (-(statistic - tail_threshold).max(0.0) / mean_excess).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_extrapolated_beyond_the_largest_value_seen() {
        let mut counter = ExceedanceCounter::new();
        let mut rng = shadowgate_core::rng::Rng::seed(3);
        for _ in 0..5_000 {
            counter.add(rng.exponential(1.0));
        }
        // For an exponential distribution P(X > x) = e^−x; the fit should be close in the tail.
        for x in [5.0, 8.0, 12.0] {
            let estimate = counter.exceedance(x);
            let truth = f64::exp(-x);
            assert!(
                estimate / truth > 0.33 && estimate / truth < 3.0,
                "x {x}: {estimate} vs {truth}"
            );
        }
        assert!(counter.exceedance(12.0) < 1.0 / 5_000.0, "a record is not capped at 1 / n");
        assert!(counter.exceedance(0.5) > 0.55 && counter.exceedance(0.5) < 0.66);
    }

    #[test]
    fn compression_keeps_order_and_leaves_the_body_alone() {
        assert_eq!(ExceedanceCounter::compress(3.5), 3.5);
        assert_eq!(ExceedanceCounter::compress(f64::NAN), 0.0);
        assert_eq!(ExceedanceCounter::compress(-1.0), 0.0);
        let compressed: Vec<f64> =
            [20.0, 50.0, 1e3, 1e5, 1e6].iter().map(|s| ExceedanceCounter::compress(*s)).collect();
        assert!(compressed.windows(2).all(|pair| pair[0] < pair[1]), "{compressed:?}");
        assert_eq!(ExceedanceCounter::compress(f64::INFINITY), MAX_STATISTIC);
    }

    #[test]
    fn exceedance_counts_larger_statistics() {
        let mut counter = ExceedanceCounter::new();
        assert_eq!(counter.exceedance(1.0), 0.5);
        for value in [0.5, 1.0, 1.5, 2.0, 3.0, 250.0] {
            counter.add(value);
        }
        assert!((counter.exceedance(1.5) - 4.5 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(2.5) - 2.5 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(250.0) - 1.5 / 7.0).abs() < 1e-12);
        // Beyond 20 the statistic is compressed, not capped: 500 is still above 250.
        assert!((counter.exceedance(500.0) - 0.5 / 7.0).abs() < 1e-12);
        assert!((counter.exceedance(0.0) - 6.5 / 7.0).abs() < 1e-12);
    }
}
