//! Replays a usage trace through a recommender and counts what its limits would have caused.
//!
//! The recommender sees the trace one sample at a time, as in production; every
//! `recompute_interval_seconds` its target becomes the limit for the samples that follow (as
//! the VPA recommender loop recomputes and the updater applies). Each sample is then judged
//! against the limit in force *before* the recommender learns from it:
//!
//! - an **OOM event** is a sample whose memory usage exceeds the memory limit; the recommender
//!   is told, as the kubelet tells VPA;
//! - the **throttled fraction** is the share of samples whose CPU usage exceeds the CPU limit;
//! - **slack** is the unused capacity, Σ max(limit − usage, 0) / Σ usage (Autopilot's measure).
//!
//! Samples in the warm-up (the first `warmup_seconds`) only train.

use super::{Recommender, Resources, UsageSample};

/// How a replay runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    pub recompute_interval_seconds: i64,
    pub warmup_seconds: i64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig { recompute_interval_seconds: 3_600, warmup_seconds: 86_400 }
    }
}

/// What a recommender's limits caused on a trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReplayReport {
    pub recommender: &'static str,
    pub scored_samples: usize,
    pub recomputations: usize,
    pub oom_events: usize,
    /// When each OOM event happened.
    pub oom_timestamps: Vec<i64>,
    pub throttled_fraction: f64,
    pub cpu_slack: f64,
    pub memory_slack: f64,
    /// Mean limits over the scored samples.
    pub mean_limit: Resources,
}

/// Why a trace could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("the trace is empty: pass at least one usage sample")]
    EmptyTrace,
    #[error(
        "sample {index} is not after the previous one (timestamps must increase): sort the trace and drop duplicates"
    )]
    NotIncreasing { index: usize },
    #[error(
        "sample {index} has a negative or non-finite usage: CPU in cores and memory in bytes must be finite and ≥ 0"
    )]
    BadUsage { index: usize },
    #[error("recompute_interval_seconds must be positive, got {0}")]
    BadInterval(i64),
}

/// Replays `trace` through `recommender`.
pub fn replay(
    trace: &[UsageSample],
    recommender: &mut dyn Recommender,
    config: &ReplayConfig,
) -> Result<ReplayReport, ReplayError> {
    validate(trace, config)?;
    let start = trace[0].timestamp;
    let mut next_recompute = start;
    let mut limit: Option<Resources> = None;
    let mut report = ReplayReport {
        recommender: recommender.name(),
        scored_samples: 0,
        recomputations: 0,
        oom_events: 0,
        oom_timestamps: Vec::new(),
        throttled_fraction: 0.0,
        cpu_slack: 0.0,
        memory_slack: 0.0,
        mean_limit: Resources { cpu_cores: 0.0, memory_bytes: 0.0 },
    };
    let (mut throttled, mut cpu_unused, mut memory_unused) = (0usize, 0.0, 0.0);
    let (mut cpu_used, mut memory_used) = (0.0, 0.0);
    for sample in trace {
        if sample.timestamp >= next_recompute {
            if let Some(recommendation) = recommender.recommend(sample.timestamp) {
                limit = Some(recommendation.target);
            }
            report.recomputations += 1;
            let intervals_passed =
                (sample.timestamp - next_recompute) / config.recompute_interval_seconds + 1;
            next_recompute += intervals_passed * config.recompute_interval_seconds;
        }
        if let Some(limit) = limit
            && sample.timestamp - start >= config.warmup_seconds
        {
            report.scored_samples += 1;
            if sample.memory_bytes > limit.memory_bytes {
                report.oom_events += 1;
                report.oom_timestamps.push(sample.timestamp);
                recommender.record_oom(sample.timestamp, limit.memory_bytes);
            }
            throttled += usize::from(sample.cpu_cores > limit.cpu_cores);
            cpu_unused += (limit.cpu_cores - sample.cpu_cores).max(0.0);
            memory_unused += (limit.memory_bytes - sample.memory_bytes).max(0.0);
            cpu_used += sample.cpu_cores;
            memory_used += sample.memory_bytes;
            report.mean_limit.cpu_cores += limit.cpu_cores;
            report.mean_limit.memory_bytes += limit.memory_bytes;
        }
        recommender.observe(sample);
    }
    if report.scored_samples > 0 {
        let scored = report.scored_samples as f64;
        report.throttled_fraction = throttled as f64 / scored;
        report.cpu_slack = ratio(cpu_unused, cpu_used);
        report.memory_slack = ratio(memory_unused, memory_used);
        report.mean_limit.cpu_cores /= scored;
        report.mean_limit.memory_bytes /= scored;
    }
    Ok(report)
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 { numerator / denominator } else { 0.0 }
}

fn validate(trace: &[UsageSample], config: &ReplayConfig) -> Result<(), ReplayError> {
    if trace.is_empty() {
        return Err(ReplayError::EmptyTrace);
    }
    if config.recompute_interval_seconds <= 0 {
        return Err(ReplayError::BadInterval(config.recompute_interval_seconds));
    }
    for (index, sample) in trace.iter().enumerate() {
        let usable = |value: f64| value.is_finite() && value >= 0.0;
        if !usable(sample.cpu_cores) || !usable(sample.memory_bytes) {
            return Err(ReplayError::BadUsage { index });
        }
        if index > 0 && sample.timestamp <= trace[index - 1].timestamp {
            return Err(ReplayError::NotIncreasing { index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
