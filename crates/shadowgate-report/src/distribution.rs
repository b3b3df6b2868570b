//! Building a latency histogram with logarithmic buckets from recorded latencies.
//!
//! Bucket bounds lie on a fixed grid, `10^(k / buckets_per_decade)` milliseconds, whatever
//! the data: histograms of the two arms then share their bounds and overlay exactly.

use crate::document::{LatencyBucket, LatencyDistribution};
use std::collections::BTreeMap;

/// The resolution the CLI is expected to use: ten buckets per decade (bounds about 26 %
/// apart), fine enough to show a shifted mode and coarse enough to stay readable.
pub const DEFAULT_BUCKETS_PER_DECADE: u32 = 10;

impl LatencyDistribution {
    /// Bins `(latency in ms, count)` pairs, such as an HDR histogram's recorded values, into
    /// buckets on the logarithmic grid. Buckets between the lowest and the highest occupied
    /// one are all present, empty ones with a count of 0, so the histogram has no holes.
    /// Non-finite latencies are left out; latencies at or below zero count in the first
    /// bucket. A `buckets_per_decade` of 0 is taken as 1.
    pub fn from_latencies_ms(
        latencies: impl IntoIterator<Item = (f64, u64)>,
        buckets_per_decade: u32,
    ) -> LatencyDistribution {
        let per_decade = f64::from(buckets_per_decade.max(1));
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        let mut non_positive = 0u64;
        for (latency_ms, count) in latencies {
            if !latency_ms.is_finite() || count == 0 {
                continue;
            }
            if latency_ms <= 0.0 {
                non_positive += count;
                continue;
            }
            // The small tolerance keeps a latency that equals a bound in the bucket it
            // closes, despite rounding in the logarithm.
            let index = (latency_ms.log10() * per_decade - 1e-9).ceil() as i64;
            *counts.entry(index).or_default() += count;
        }
        if non_positive > 0 {
            let first = counts.keys().next().copied().unwrap_or(0);
            *counts.entry(first).or_default() += non_positive;
        }
        let (Some(first), Some(last)) =
            (counts.keys().next().copied(), counts.keys().next_back().copied())
        else {
            return LatencyDistribution::default();
        };
        let bound = |index: i64| 10f64.powf(index as f64 / per_decade);
        LatencyDistribution {
            lower_bound_ms: bound(first - 1),
            buckets: (first..=last)
                .map(|index| LatencyBucket {
                    upper_bound_ms: bound(index),
                    count: counts.get(&index).copied().unwrap_or(0),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
