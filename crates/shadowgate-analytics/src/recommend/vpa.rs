//! The Kubernetes Vertical Pod Autoscaler recommender, re-implemented as the reference.
//!
//! The algorithm follows kubernetes/autoscaler `vertical-pod-autoscaler/pkg/recommender`
//! (`model/aggregate_container_state.go`, `model/container.go`, `logic/recommender.go`,
//! `logic/estimator.go`, defaults from `config/config.go` and `model/aggregations_config.go`):
//!
//! - CPU: every sample goes into a decaying histogram (24 h half-life) with the constant weight
//!   0.1; buckets from 0.01 core, 5 % wider each, up to 1000 cores.
//! - Memory: one *peak* per 24 h aggregation window per container; a higher sample in the same
//!   window replaces the window's peak. Buckets from 10 MB, 5 % wider each, up to 1 TB;
//!   24 h half-life.
//! - OOM kill: the memory used (the larger of the request and the window's peak) is bumped to
//!   `max(used + 100 MiB, used × 1.2)` and recorded as a memory sample.
//! - Estimators: target p90, lower bound p50, upper bound p95 of each histogram, all times
//!   1.15 (safety margin); the upper bound times `1 + 1/confidence`, the lower bound times
//!   `(1 + 0.001/confidence)^−2`, where confidence (in days) is the smaller of the history's
//!   span and the sample count divided by 1440; finally at least 25 millicores and 250 MiB
//!   (split across containers).
//!
//! Resources are kept as floating-point cores and bytes; VPA rounds to millicores and bytes,
//! which changes no comparison made here.

use super::histogram::{DecayingHistogram, ExponentialBuckets};
use super::{Recommendation, Recommender, Resources, UsageSample};

const DAY: i64 = 86_400;
const MIB: f64 = 1024.0 * 1024.0;

/// VPA's flags and constants, with their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaConfig {
    pub target_percentile: f64,
    pub lower_bound_percentile: f64,
    pub upper_bound_percentile: f64,
    pub safety_margin_fraction: f64,
    pub cpu_half_life_seconds: i64,
    pub memory_half_life_seconds: i64,
    pub memory_aggregation_interval_seconds: i64,
    pub cpu_sample_weight: f64,
    pub oom_bump_up_ratio: f64,
    pub oom_min_bump_up_bytes: f64,
    pub pod_min_cpu_cores: f64,
    pub pod_min_memory_bytes: f64,
    pub containers_in_pod: usize,
}

impl Default for VpaConfig {
    fn default() -> Self {
        VpaConfig {
            target_percentile: 0.9,
            lower_bound_percentile: 0.5,
            upper_bound_percentile: 0.95,
            safety_margin_fraction: 0.15,
            cpu_half_life_seconds: DAY,
            memory_half_life_seconds: DAY,
            memory_aggregation_interval_seconds: DAY,
            cpu_sample_weight: 0.1,
            oom_bump_up_ratio: 1.2,
            oom_min_bump_up_bytes: 100.0 * MIB,
            pod_min_cpu_cores: 0.025,
            pod_min_memory_bytes: 250.0 * MIB,
            containers_in_pod: 1,
        }
    }
}

/// Epsilon of VPA's histograms: 0.001 × the minimum sample weight.
const EPSILON: f64 = 1e-4;

/// VPA's aggregate state for one container, fed by samples and OOM events.
#[derive(Clone, Debug)]
pub struct VpaRecommender {
    config: VpaConfig,
    cpu_usage: DecayingHistogram,
    memory_peaks: DecayingHistogram,
    first_sample: Option<i64>,
    last_sample: Option<i64>,
    cpu_samples: u64,
    /// End of the current memory aggregation window.
    window_end: Option<i64>,
    memory_peak: f64,
    oom_peak: f64,
    last_memory_sample: Option<i64>,
}

impl VpaRecommender {
    pub fn new(config: VpaConfig) -> VpaRecommender {
        let cpu_buckets = ExponentialBuckets::new(1000.0, 0.01, 1.05, EPSILON);
        let memory_buckets = ExponentialBuckets::new(1e12, 1e7, 1.05, EPSILON);
        VpaRecommender {
            cpu_usage: DecayingHistogram::new(cpu_buckets, config.cpu_half_life_seconds),
            memory_peaks: DecayingHistogram::new(memory_buckets, config.memory_half_life_seconds),
            config,
            first_sample: None,
            last_sample: None,
            cpu_samples: 0,
            window_end: None,
            memory_peak: 0.0,
            oom_peak: 0.0,
            last_memory_sample: None,
        }
    }

    fn add_cpu_sample(&mut self, timestamp: i64, cores: f64) {
        self.cpu_usage.add_sample(cores, self.config.cpu_sample_weight, timestamp);
        self.first_sample = Some(self.first_sample.map_or(timestamp, |first| first.min(timestamp)));
        self.last_sample = Some(self.last_sample.map_or(timestamp, |last| last.max(timestamp)));
        self.cpu_samples += 1;
    }

    /// VPA's `addMemorySample`: keeps one peak per aggregation window in the histogram.
    fn add_memory_sample(&mut self, timestamp: i64, bytes: f64, is_oom: bool) -> bool {
        if !is_oom && self.last_memory_sample.is_some_and(|last| timestamp < last) {
            return false;
        }
        self.last_memory_sample = Some(timestamp);
        let interval = self.config.memory_aggregation_interval_seconds;
        let window_end = *self.window_end.get_or_insert(timestamp);
        let mut add_new_peak = false;
        if timestamp < window_end {
            let old_peak = self.memory_peak.max(self.oom_peak);
            if old_peak != 0.0 && bytes > old_peak {
                self.memory_peaks.subtract_sample(old_peak, 1.0, window_end);
                add_new_peak = true;
            }
        } else {
            let elapsed = timestamp - window_end;
            let shift = elapsed - elapsed.rem_euclid(interval) + interval;
            self.window_end = Some(window_end + shift);
            self.memory_peak = 0.0;
            self.oom_peak = 0.0;
            add_new_peak = true;
        }
        if is_oom {
            self.oom_peak = self.oom_peak.max(bytes);
        } else {
            self.memory_peak = self.memory_peak.max(bytes);
        }
        if add_new_peak {
            let peak = self.memory_peak.max(self.oom_peak);
            let window_end = self.window_end.unwrap_or(timestamp);
            self.memory_peaks.add_sample(peak, 1.0, window_end);
        }
        true
    }

    /// Confidence in days: the smaller of the history's span and samples / 1440.
    fn confidence(&self) -> f64 {
        let span_days = match (self.first_sample, self.last_sample) {
            (Some(first), Some(last)) => (last - first) as f64 / DAY as f64,
            _ => 0.0,
        };
        span_days.min(self.cpu_samples as f64 / 1440.0)
    }

    fn percentiles(&self, percentile: f64) -> Resources {
        let margin = 1.0 + self.config.safety_margin_fraction;
        Resources {
            cpu_cores: self.cpu_usage.percentile(percentile) * margin,
            memory_bytes: self.memory_peaks.percentile(percentile) * margin,
        }
    }

    fn with_minimum(&self, resources: Resources) -> Resources {
        let containers = self.config.containers_in_pod.max(1) as f64;
        Resources {
            cpu_cores: resources.cpu_cores.max(self.config.pod_min_cpu_cores / containers),
            memory_bytes: resources.memory_bytes.max(self.config.pod_min_memory_bytes / containers),
        }
    }
}

impl Recommender for VpaRecommender {
    fn name(&self) -> &'static str {
        "vpa"
    }

    fn observe(&mut self, sample: &UsageSample) {
        self.add_cpu_sample(sample.timestamp, sample.cpu_cores);
        self.add_memory_sample(sample.timestamp, sample.memory_bytes, false);
    }

    /// VPA's `RecordOOM`: OOMs older than the previous aggregation window are ignored.
    fn record_oom(&mut self, timestamp: i64, memory_limit_bytes: f64) {
        let interval = self.config.memory_aggregation_interval_seconds;
        if self.window_end.is_some_and(|end| timestamp < end - interval) {
            return;
        }
        let used = memory_limit_bytes.max(self.memory_peak);
        let needed =
            (used + self.config.oom_min_bump_up_bytes).max(used * self.config.oom_bump_up_ratio);
        self.add_memory_sample(timestamp, needed, true);
    }

    fn recommend(&self, _now: i64) -> Option<Recommendation> {
        if self.cpu_usage.is_empty() && self.memory_peaks.is_empty() {
            return None;
        }
        let confidence = self.confidence();
        let target = self.percentiles(self.config.target_percentile);
        let lower = self.percentiles(self.config.lower_bound_percentile);
        let upper = self.percentiles(self.config.upper_bound_percentile);
        let upper_factor = 1.0 + 1.0 / confidence;
        let lower_factor = (1.0 + 0.001 / confidence).powi(-2);
        Some(Recommendation {
            target: self.with_minimum(target),
            lower_bound: self.with_minimum(Resources {
                cpu_cores: lower.cpu_cores * lower_factor,
                memory_bytes: lower.memory_bytes * lower_factor,
            }),
            upper_bound: self.with_minimum(Resources {
                cpu_cores: upper.cpu_cores * upper_factor,
                memory_bytes: upper.memory_bytes * upper_factor,
            }),
        })
    }
}

#[cfg(test)]
mod tests;
