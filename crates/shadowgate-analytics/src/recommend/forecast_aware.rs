//! Our recommender: the forecast peak of the next interval, not a percentile of the past.
//!
//! VPA answers "what covered 90 % of the past, plus 15 %" with one number for all hours. Usage
//! follows load, and load follows the day: the limit needed at 03:00 is not the one needed at
//! 14:00. So for the interval until the next recomputation this recommender:
//!
//! 1. Forecasts the interval's load statistic — its peak for memory (one sample over the
//!    limit is an OOM kill), its 90th percentile for CPU (throttling is counted per sample) —
//!    by three rules: the same phase of the last seven seasonal cycles (the period is detected
//!    and verified on the load history), each shifted by the level change since; the last
//!    day's envelope; and the last eight days' envelope. Planned load (a batch, an install
//!    step with a profiled peak) raises the forecast where it overlaps the interval.
//! 2. Converts load to usage with the usage-per-load relation (least squares over the history)
//!    when the trace carries load, raised by how far the last interval's usage ran above the
//!    relation (a heavier release shows there first); otherwise usage is its own load.
//! 3. Chooses the rule and its margin from the rules' track records: each rule is replayed at
//!    past origins (the last day's intervals for CPU, the last week's for memory); its margin
//!    is a high quantile (0.9 for CPU, 0.95 for memory) of realised over forecast; the rule
//!    that would have needed the least capacity wins. A smooth daily pattern is followed
//!    closely; spikes at no particular phase fall back to an envelope, as VPA would.
//! 4. Adds 5 % (CPU) or 20 % (memory) on top; memory looks two intervals ahead, so that a limit
//!    lowered for a quiet hour is not caught by the next hour's ramp. An OOM kill multiplies
//!    memory by VPA's 1.2 bump, decaying back with a 24 h half-life.
//! 5. Never recommends less than the naive rule (average × 1.2) or VPA's minimums.

use std::collections::VecDeque;

use super::naive::NaiveRecommender;
use super::{Recommendation, Recommender, Resources, UsageSample};
use crate::forecast::periods::{self, PeriodSearch};
use crate::stats;

/// A window of known load, e.g. a scheduled job or an install step with a profiled peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedLoad {
    pub start: i64,
    pub end: i64,
    pub peak_load: f64,
}

/// Settings of [`ForecastAwareRecommender`].
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastAwareConfig {
    /// How far ahead each recommendation must hold, in seconds (the recomputation interval).
    pub horizon_seconds: i64,
    /// How much history is kept, in seconds.
    pub history_seconds: i64,
    /// How many past cycles the seasonal rule looks at.
    pub cycles: usize,
    pub cpu: ResourcePolicy,
    pub memory: ResourcePolicy,
    /// The naive floor's margin over the average.
    pub naive_margin: f64,
    pub oom_bump_up_ratio: f64,
    pub oom_bump_half_life_seconds: i64,
    pub min_cpu_cores: f64,
    pub min_memory_bytes: f64,
}

/// How cautiously one resource is sized.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourcePolicy {
    /// Quantile of the usage within an interval that the limit must cover (1 = the peak).
    pub within_interval_quantile: f64,
    /// The forecast looks this many recomputation intervals ahead.
    pub horizon_intervals: usize,
    /// How many past origins size the margin.
    pub margin_origins: usize,
    /// Quantile of the realised-to-forecast ratios at those origins that sizes the margin.
    pub ratio_quantile: f64,
    /// Margin added on top of the learned one.
    pub base_margin_fraction: f64,
}

impl Default for ForecastAwareConfig {
    fn default() -> Self {
        ForecastAwareConfig {
            horizon_seconds: 3_600,
            history_seconds: 15 * 86_400,
            cycles: 7,
            cpu: ResourcePolicy {
                within_interval_quantile: 0.9,
                horizon_intervals: 1,
                margin_origins: 24,
                ratio_quantile: 0.9,
                base_margin_fraction: 0.05,
            },
            memory: ResourcePolicy {
                within_interval_quantile: 1.0,
                horizon_intervals: 2,
                margin_origins: 168,
                ratio_quantile: 0.95,
                base_margin_fraction: 0.2,
            },
            naive_margin: 1.2,
            oom_bump_up_ratio: 1.2,
            oom_bump_half_life_seconds: 86_400,
            min_cpu_cores: 0.025,
            min_memory_bytes: 250.0 * 1024.0 * 1024.0,
        }
    }
}

/// The forecast-aware recommender described in the module documentation.
#[derive(Clone, Debug)]
pub struct ForecastAwareRecommender {
    config: ForecastAwareConfig,
    samples: VecDeque<UsageSample>,
    naive: NaiveRecommender,
    planned: Vec<PlannedLoad>,
    /// Detected period in samples (1 when none), refreshed once per day of samples.
    period: usize,
    step_seconds: i64,
    next_period_check: i64,
    last_oom: Option<(i64, f64)>,
}

/// How the statistic of the next interval is forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// The same phase of past seasonal cycles, shifted by the level change.
    SeasonalPhase,
    /// The statistic of the whole last day (its peak for memory, its 90th percentile for CPU).
    DayEnvelope,
    /// The statistic of the last eight days (for memory close to VPA's view: daily peaks over
    /// eight days), for series whose peaks come at no particular phase.
    WeekEnvelope,
}

/// One resource's history, prepared for forecasting.
struct ResourceHistory<'a> {
    policy: &'a ResourcePolicy,
    driver: Vec<f64>,
    usage: Vec<f64>,
    /// Usage = intercept + slope × driver.
    intercept: f64,
    slope: f64,
    /// Interval length in samples, times the policy's horizon intervals.
    horizon: usize,
    /// One recomputation interval in samples.
    interval: usize,
    period: usize,
    cycles: usize,
    samples_per_day: usize,
}

impl ResourceHistory<'_> {
    fn to_usage(&self, driver_value: f64) -> f64 {
        self.intercept + self.slope * driver_value
    }

    /// The policy's statistic of a window: its peak, or a high quantile for CPU.
    fn statistic(&self, window: &[f64]) -> f64 {
        if window.is_empty() {
            return f64::NEG_INFINITY;
        }
        if self.policy.within_interval_quantile >= 1.0 {
            return window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        }
        let mut copy = window.to_vec();
        stats::quantile_in_place(&mut copy, self.policy.within_interval_quantile)
    }

    /// The forecast driver statistic over `horizon` samples from `origin`, using
    /// `driver[..origin]` only.
    fn forecast(&self, rule: Rule, origin: usize) -> f64 {
        let envelope = |days: usize| {
            let lookback = (days * self.samples_per_day).max(self.horizon);
            self.statistic(&self.driver[origin.saturating_sub(lookback)..origin])
        };
        match rule {
            Rule::DayEnvelope => envelope(1),
            Rule::WeekEnvelope => envelope(8),
            Rule::SeasonalPhase => self.seasonal(origin).unwrap_or_else(|| envelope(1)),
        }
    }

    /// The largest same-phase statistic of the last cycles, each shifted by the level change
    /// since that cycle.
    fn seasonal(&self, origin: usize) -> Option<f64> {
        let period = self.period;
        if period <= 1 || origin < period {
            return None;
        }
        let recent_level = stats::mean(&self.driver[origin - period..origin]);
        let mut best = f64::NEG_INFINITY;
        for cycle in 1..=self.cycles {
            let Some(start) = origin.checked_sub(cycle * period) else { break };
            let end = (start + self.horizon).min(origin);
            if end <= start {
                continue;
            }
            let shift = match start.checked_sub(period) {
                Some(before) => recent_level - stats::mean(&self.driver[before..start]),
                None => 0.0,
            };
            best = best.max(self.statistic(&self.driver[start..end]) + shift);
        }
        best.is_finite().then_some(best)
    }

    /// How far the last interval's usage ran above what the relation predicts for its load (at
    /// least 1). A release that costs more per request shows here an interval after it lands,
    /// long before a fit over two weeks moves.
    fn recent_relation_error(&self) -> f64 {
        let count = self.driver.len();
        (count.saturating_sub(self.interval)..count)
            .map(|idx| self.usage[idx] / self.to_usage(self.driver[idx]))
            .filter(|ratio| ratio.is_finite())
            .fold(1.0, f64::max)
    }

    /// Replays `rule` at past origins: its margin (the policy's quantile of realised over
    /// forecast usage, at least 1) and the mean capacity it would have set.
    fn backtest(&self, rule: Rule) -> (f64, f64) {
        let count = self.driver.len();
        let mut capacities = Vec::new();
        let mut ratios: Vec<f64> = (1..=self.policy.margin_origins)
            .filter_map(|origin_idx| {
                let origin = count.checked_sub(origin_idx * self.interval + self.horizon)?;
                if origin < self.horizon.max(2) {
                    return None;
                }
                let predicted = self.to_usage(self.forecast(rule, origin));
                let realised = self.statistic(&self.usage[origin..origin + self.horizon]);
                capacities.push(predicted);
                (predicted > 0.0 && realised.is_finite()).then(|| realised / predicted)
            })
            .collect();
        if ratios.is_empty() {
            return (1.0, f64::INFINITY);
        }
        let margin = stats::quantile_in_place(&mut ratios, self.policy.ratio_quantile).max(1.0);
        (margin, stats::mean(&capacities) * margin)
    }
}

impl ForecastAwareRecommender {
    pub fn new(config: ForecastAwareConfig) -> ForecastAwareRecommender {
        ForecastAwareRecommender {
            naive: NaiveRecommender::new(config.history_seconds, config.naive_margin),
            config,
            samples: VecDeque::new(),
            planned: Vec::new(),
            period: 1,
            step_seconds: 60,
            next_period_check: i64::MIN,
            last_oom: None,
        }
    }

    /// Adds known load windows that the forecast must cover.
    pub fn with_planned_load(mut self, planned: Vec<PlannedLoad>) -> ForecastAwareRecommender {
        self.planned = planned;
        self
    }

    /// The detected seasonal period, in samples (1 when none was verified).
    pub fn period(&self) -> usize {
        self.period
    }

    fn detect_step(&mut self) {
        let timestamps: Vec<(i64, f64)> = self.samples.iter().map(|s| (s.timestamp, 0.0)).collect();
        if let Ok(step) = crate::series::detect_step(&timestamps) {
            self.step_seconds = step.max(1);
        }
    }

    fn planned_peak(&self, from: i64, to: i64) -> Option<f64> {
        self.planned
            .iter()
            .filter(|planned| planned.start < to && planned.end > from)
            .map(|planned| planned.peak_load)
            .fold(None, |best: Option<f64>, peak| Some(best.map_or(peak, |b| b.max(peak))))
    }

    fn history<'a>(
        &self,
        policy: &'a ResourcePolicy,
        usage_of: fn(&UsageSample) -> f64,
    ) -> ResourceHistory<'a> {
        let has_load = self.samples.iter().all(|sample| sample.load.is_some());
        let usage: Vec<f64> = self.samples.iter().map(usage_of).collect();
        let driver: Vec<f64> = if has_load {
            self.samples.iter().map(|sample| sample.load.unwrap_or(0.0)).collect()
        } else {
            usage.clone()
        };
        let (intercept, slope) = if has_load { least_squares(&driver, &usage) } else { (0.0, 1.0) };
        let interval =
            (self.config.horizon_seconds.max(self.step_seconds) / self.step_seconds) as usize;
        ResourceHistory {
            policy,
            driver,
            usage,
            intercept,
            slope,
            horizon: interval * policy.horizon_intervals.max(1),
            interval,
            period: self.period,
            cycles: self.config.cycles,
            samples_per_day: (86_400 / self.step_seconds).max(1) as usize,
        }
    }

    /// The usage the next interval needs, with the learned and the base margin.
    fn forecast_usage(&self, history: &ResourceHistory, now: i64) -> Option<f64> {
        let count = history.driver.len();
        if count < 2 {
            return None;
        }
        let (rule, margin) = [Rule::SeasonalPhase, Rule::DayEnvelope, Rule::WeekEnvelope]
            .into_iter()
            .map(|rule| {
                let (margin, capacity) = history.backtest(rule);
                (rule, margin, capacity)
            })
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(rule, margin, _)| (rule, margin))?;
        let mut driver_forecast = history.forecast(rule, count);
        let has_load = self.samples.iter().all(|sample| sample.load.is_some());
        if has_load && let Some(planned) = self.planned_peak(now, now + self.config.horizon_seconds)
        {
            driver_forecast = driver_forecast.max(planned);
        }
        let usage = history.to_usage(driver_forecast) * history.recent_relation_error();
        Some(usage * margin * (1.0 + history.policy.base_margin_fraction))
    }

    fn oom_factor(&self, now: i64) -> f64 {
        match self.last_oom {
            Some((at, factor)) => {
                let age = (now - at).max(0) as f64 / self.config.oom_bump_half_life_seconds as f64;
                1.0 + (factor - 1.0) * (-age).exp2()
            }
            None => 1.0,
        }
    }
}

/// Least-squares usage = intercept + slope × driver (the slope is not allowed below 0).
fn least_squares(driver: &[f64], usage: &[f64]) -> (f64, f64) {
    let mean_driver = stats::mean(driver);
    let mean_usage = stats::mean(usage);
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (d, u) in driver.iter().zip(usage) {
        covariance += (d - mean_driver) * (u - mean_usage);
        variance += (d - mean_driver).powi(2);
    }
    let slope = if variance > 0.0 { (covariance / variance).max(0.0) } else { 0.0 };
    (mean_usage - slope * mean_driver, slope)
}

impl Recommender for ForecastAwareRecommender {
    fn name(&self) -> &'static str {
        "forecast-aware"
    }

    fn observe(&mut self, sample: &UsageSample) {
        self.samples.push_back(*sample);
        self.naive.observe(sample);
        while let Some(oldest) = self.samples.front() {
            if sample.timestamp - oldest.timestamp <= self.config.history_seconds {
                break;
            }
            self.samples.pop_front();
        }
        if self.samples.len() <= 64 {
            self.detect_step();
        }
        if sample.timestamp >= self.next_period_check {
            self.next_period_check = sample.timestamp + 86_400;
            self.detect_step();
            let has_load = self.samples.iter().all(|s| s.load.is_some());
            let driver: Vec<f64> = self
                .samples
                .iter()
                .map(|s| if has_load { s.load.unwrap_or(0.0) } else { s.cpu_cores })
                .collect();
            let detected =
                periods::detect_periods(&driver, self.step_seconds, &PeriodSearch::default());
            self.period = detected
                .iter()
                .max_by(|a, b| a.autocorrelation.total_cmp(&b.autocorrelation))
                .map_or(1, |period| period.steps);
        }
    }

    fn record_oom(&mut self, timestamp: i64, _memory_limit_bytes: f64) {
        let factor = self.oom_factor(timestamp) * self.config.oom_bump_up_ratio;
        self.last_oom = Some((timestamp, factor));
    }

    fn recommend(&self, now: i64) -> Option<Recommendation> {
        let floor = self.naive.average_times_margin()?;
        let cpu_history = self.history(&self.config.cpu, |sample| sample.cpu_cores);
        let memory_history = self.history(&self.config.memory, |sample| sample.memory_bytes);
        let cpu = self
            .forecast_usage(&cpu_history, now)?
            .max(floor.cpu_cores)
            .max(self.config.min_cpu_cores);
        let memory = self.forecast_usage(&memory_history, now)?.max(floor.memory_bytes)
            * self.oom_factor(now);
        let memory = memory.max(self.config.min_memory_bytes);
        let target = Resources { cpu_cores: cpu, memory_bytes: memory };
        Some(Recommendation { target, lower_bound: floor, upper_bound: target })
    }
}

#[cfg(test)]
mod tests;
