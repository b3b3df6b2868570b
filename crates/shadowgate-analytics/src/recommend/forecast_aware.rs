//! Our recommender: the forecast peak of the next interval, not a percentile of the past.
//!
//! VPA answers "what covered 90 % of the past, plus 15 %" with one number for all hours. Usage
//! follows load, and load follows the day: the limit needed at 03:00 is not the one needed at
//! 14:00. So for the interval until the next recomputation this recommender:
//!
//! 1. Forecasts the interval's load statistic — its peak for memory (one sample over the
//!    limit is an OOM kill), its 90th percentile for CPU (throttling is counted per sample) —
//!    by three rules: the same phase of the last seven seasonal cycles (the period is detected
//!    and verified on the load history), each raised by the rise of the level since (a fall is
//!    not followed: a quiet day says little about the next peak); the last day's envelope; and
//!    the last eight days' envelope. Planned load (a batch, an install step with a profiled
//!    peak) raises the forecast where it overlaps the interval.
//! 2. Converts load to usage with the usage-per-load relation (least squares over the history)
//!    when the trace carries load, raised by how far the last interval's usage ran above the
//!    relation (a heavier release shows there first); otherwise usage is its own load.
//! 3. Chooses the rule and its margin from the rules' track records: each rule is replayed at
//!    past origins (the last day's intervals for CPU, the last week's for memory); its margin
//!    is a quantile of realised over forecast (0.9 for CPU; for memory the largest, so the
//!    memory forecast would have covered every one of the last week's intervals); the rule that
//!    would have needed the least capacity wins.
//! 4. Memory remembers a week, as VPA's eight daily peaks do: the last day's envelope is not a
//!    candidate, a period shorter than a day is looked at by time of day over seven days, and
//!    the same phase is widened by one interval either side (a peak that drifts by an hour is
//!    not new).
//! 5. Adds 5 % (CPU) or 20 % (memory) on top; memory looks two intervals ahead, so that a limit
//!    lowered for a quiet hour is not caught by the next hour's ramp.
//! 6. Never recommends less than the naive rule (average × 1.2) unless VPA's target is lower,
//!    and never less than half of VPA's target for memory.
//! 7. **Never recommends more than VPA's target**: the reference recommender runs inside, fed the
//!    same samples, and its target caps ours and replaces the forecast whenever the forecast is
//!    not trusted — before memory has a full week (168 intervals) of track record, and for a
//!    week after any OOM kill. A kill is passed on to the reference (which bumps memory as VPA
//!    does: × 1.2, at least +100 MiB) only if the usage was over VPA's target too. Planned load
//!    is the one exception to the cap: a known window of load above anything seen is covered.
//!
//! So, by construction, ours sets a limit no higher than VPA's at every recomputation (no more
//! slack than VPA, except under planned load), goes below it only where its own replayed
//! forecast covered a full week of intervals, and a miss costs at most the samples of one
//! interval before VPA's target is back for a week. Where the forecast never earns a clean
//! week (no daily pattern, bursts at random times) ours *is* VPA for memory, and its memory
//! slack equals VPA's. The constants are stated rules (a week, VPA's window; half at most;
//! one interval of tolerance) fixed before the final replay, not swept per trace.

use std::cell::Cell;
use std::collections::VecDeque;

use super::naive::NaiveRecommender;
use super::vpa::{VpaConfig, VpaRecommender};
use super::{Recommendation, Recommender, Resources, UsageSample};
use crate::forecast::periods::{self, PeriodSearch};
use crate::stats;

/// The realised-to-forecast ratio of a zero forecast that usage exceeded: finite, so that
/// quantiles stay numbers, and large enough that the rule is never chosen.
const UNBOUNDED_RATIO: f64 = 1e12;

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
    /// The reference whose target caps ours and replaces it when the forecast is not trusted.
    pub reference: VpaConfig,
    /// The memory limit is never below this share of VPA's target: how much the forecast may
    /// take off the reference at most.
    pub memory_min_share_of_reference: f64,
    /// How long VPA's target replaces the memory forecast after an OOM kill, in seconds (a
    /// week: the forecast must earn a clean track record again).
    pub fallback_seconds: i64,
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
    /// Whether the forecast must remember a full week, as VPA's memory peaks span eight days:
    /// then the last day's envelope is not a candidate rule, and a period shorter than a day is
    /// looked at by time of day (the same hour of the last seven days, not of the last seven
    /// hours), so that a quiet day or a quiet few hours do not make it forget the peaks before.
    pub week_memory: bool,
    /// How many recomputation intervals either side of the same phase the seasonal rule also
    /// looks at: a schedule that drifts, a clock change or a late evening moves a peak by an
    /// interval or so without making it new.
    pub phase_tolerance_intervals: usize,
    /// Whether the forecast is used only once all `margin_origins` origins can be replayed
    /// (a full track record); before that the reference's target is used.
    pub require_track_record: bool,
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
                week_memory: false,
                phase_tolerance_intervals: 0,
                require_track_record: false,
                base_margin_fraction: 0.05,
            },
            memory: ResourcePolicy {
                within_interval_quantile: 1.0,
                horizon_intervals: 2,
                margin_origins: 168,
                ratio_quantile: 1.0,
                week_memory: true,
                phase_tolerance_intervals: 1,
                require_track_record: true,
                base_margin_fraction: 0.2,
            },
            naive_margin: 1.2,
            reference: VpaConfig::default(),
            memory_min_share_of_reference: 0.5,
            fallback_seconds: 7 * 86_400,
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
    /// VPA, fed the same samples; its target caps ours and stands in for an untrusted forecast.
    reference: VpaRecommender,
    /// Until when the memory forecast is not trusted (a week after an OOM kill).
    fallback_until: Option<i64>,
    /// The memory limit of the last recommendation and the reference's target then.
    last_memory: Cell<Option<MemoryDecision>>,
    /// An OOM kill under a limit below VPA's target, and that target: the reference learns of
    /// the kill if the kill's sample (observed next) exceeds it.
    pending_oom: Option<(i64, f64)>,
}

/// What the last recommendation set for memory.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MemoryDecision {
    limit: f64,
    reference: f64,
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
    /// `driver_prefix[i]` is the sum of `driver[..i]`.
    driver_prefix: Vec<f64>,
    /// Range maxima of `driver`, when the policy's statistic is the peak.
    driver_max: Option<RangeMax>,
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
    /// The policy's statistic of `driver[from..to]`; a peak comes from the range-maximum table.
    fn driver_statistic(&self, from: usize, to: usize) -> f64 {
        match &self.driver_max {
            Some(table) => table.max(from, to),
            None => self.statistic(&self.driver[from..to]),
        }
    }

    /// The mean of `driver[from..to]`, from the prefix sums.
    fn mean(&self, from: usize, to: usize) -> f64 {
        (self.driver_prefix[to] - self.driver_prefix[from]) / (to - from).max(1) as f64
    }

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
        select_quantile(&mut copy, self.policy.within_interval_quantile)
    }

    /// The forecast driver statistic over `horizon` samples from `origin`, using
    /// `driver[..origin]` only.
    fn forecast(&self, rule: Rule, origin: usize) -> f64 {
        let envelope = |days: usize| {
            let lookback = (days * self.samples_per_day).max(self.horizon);
            self.driver_statistic(origin.saturating_sub(lookback), origin)
        };
        match rule {
            Rule::DayEnvelope => envelope(1),
            Rule::WeekEnvelope => envelope(8),
            Rule::SeasonalPhase => self
                .seasonal(origin)
                .unwrap_or_else(|| envelope(if self.policy.week_memory { 8 } else { 1 })),
        }
    }

    /// The largest same-phase statistic of the last cycles, each shifted by the level change
    /// since that cycle.
    fn seasonal(&self, origin: usize) -> Option<f64> {
        let period = if self.policy.week_memory && self.period > 1 {
            self.period.max(self.samples_per_day)
        } else {
            self.period
        };
        if period <= 1 || origin < period {
            return None;
        }
        let recent_level = self.mean(origin - period, origin);
        let mut best = f64::NEG_INFINITY;
        for cycle in 1..=self.cycles {
            let Some(start) = origin.checked_sub(cycle * period) else { break };
            let tolerance = self.policy.phase_tolerance_intervals * self.interval;
            let end = (start + self.horizon + tolerance).min(origin);
            let window_start = start.saturating_sub(tolerance);
            if end <= window_start {
                continue;
            }
            // Only a rise of the level moves the forecast: a fall in the mean says little about
            // the peaks (a quiet day, an anomaly), and following it down is how a limit gets
            // caught by the next ordinary day.
            let shift = match start.checked_sub(period) {
                Some(before) => (recent_level - self.mean(before, start)).max(0.0),
                None => 0.0,
            };
            best = best.max(self.driver_statistic(window_start, end) + shift);
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
    fn backtest(&self, rule: Rule) -> (f64, f64, usize) {
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
                if !realised.is_finite() {
                    return None;
                }
                // A forecast of nothing that something exceeded is a miss no margin mends.
                Some(match (predicted > 0.0, realised > 0.0) {
                    (true, _) => realised / predicted,
                    (false, false) => 1.0,
                    (false, true) => UNBOUNDED_RATIO,
                })
            })
            .collect();
        if ratios.is_empty() {
            return (1.0, f64::INFINITY, 0);
        }
        let origins = ratios.len();
        let margin = stats::quantile_in_place(&mut ratios, self.policy.ratio_quantile).max(1.0);
        (margin, stats::mean(&capacities) * margin, origins)
    }
}

impl ForecastAwareRecommender {
    pub fn new(config: ForecastAwareConfig) -> ForecastAwareRecommender {
        ForecastAwareRecommender {
            reference: VpaRecommender::new(config.reference.clone()),
            naive: NaiveRecommender::new(config.history_seconds, config.naive_margin),
            config,
            samples: VecDeque::new(),
            planned: Vec::new(),
            period: 1,
            step_seconds: 60,
            next_period_check: i64::MIN,
            fallback_until: None,
            last_memory: Cell::new(None),
            pending_oom: None,
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
        let mut driver_prefix = Vec::with_capacity(driver.len() + 1);
        driver_prefix.push(0.0);
        for value in &driver {
            driver_prefix.push(driver_prefix.last().copied().unwrap_or(0.0) + value);
        }
        let driver_max = (policy.within_interval_quantile >= 1.0).then(|| RangeMax::new(&driver));
        ResourceHistory {
            policy,
            driver,
            driver_prefix,
            driver_max,
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

    /// The usage the next interval needs, with the learned and the base margin, or `None`
    /// when the policy wants a full track record and the history is too short for one.
    fn forecast_usage(&self, history: &ResourceHistory) -> Option<f64> {
        let count = history.driver.len();
        if count < 2 {
            return None;
        }
        let (rule, margin, origins) = [Rule::SeasonalPhase, Rule::DayEnvelope, Rule::WeekEnvelope]
            .into_iter()
            .filter(|rule| *rule != Rule::DayEnvelope || !history.policy.week_memory)
            .map(|rule| {
                let (margin, capacity, origins) = history.backtest(rule);
                (rule, margin, capacity, origins)
            })
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(rule, margin, _, origins)| (rule, margin, origins))?;
        if history.policy.require_track_record && origins < history.policy.margin_origins {
            return None;
        }
        let driver_forecast = history.forecast(rule, count);
        let usage = history.to_usage(driver_forecast) * history.recent_relation_error();
        Some(usage * margin * (1.0 + history.policy.base_margin_fraction))
    }

    /// The usage planned load needs in the next interval, with the policy's base margin.
    fn planned_usage(&self, history: &ResourceHistory, now: i64) -> Option<f64> {
        let has_load = self.samples.iter().all(|sample| sample.load.is_some());
        if !has_load {
            return None;
        }
        let planned = self.planned_peak(now, now + self.config.horizon_seconds)?;
        Some(history.to_usage(planned) * (1.0 + history.policy.base_margin_fraction))
    }

    fn memory_fallback(&self, now: i64) -> bool {
        self.fallback_until.is_some_and(|until| now < until)
    }
}

/// A sparse table of maxima: `levels[k][i]` is the maximum of `values[i..i + 2^k]`, so the
/// maximum of any range is the larger of two overlapping entries. The backtest asks for many
/// overlapping week-long windows; this keeps each answer constant-time.
#[derive(Clone, Debug)]
struct RangeMax {
    levels: Vec<Vec<f64>>,
}

impl RangeMax {
    fn new(values: &[f64]) -> RangeMax {
        let mut levels = vec![values.to_vec()];
        let mut width = 1;
        while width * 2 <= values.len() {
            let previous = &levels[levels.len() - 1];
            let next: Vec<f64> = (0..=values.len() - width * 2)
                .map(|i| previous[i].max(previous[i + width]))
                .collect();
            levels.push(next);
            width *= 2;
        }
        RangeMax { levels }
    }

    /// The maximum of `values[from..to]`; −∞ for an empty range.
    fn max(&self, from: usize, to: usize) -> f64 {
        if to <= from {
            return f64::NEG_INFINITY;
        }
        let level = (usize::BITS - 1 - (to - from).leading_zeros()) as usize;
        let width = 1 << level;
        self.levels[level][from].max(self.levels[level][to - width])
    }
}

/// The `q` quantile of `values` (reordered), interpolated as [`stats::quantile_in_place`] does,
/// by selection rather than a full sort.
fn select_quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lower_idx = position.floor() as usize;
    let (_, lower, above) = values.select_nth_unstable_by(lower_idx, f64::total_cmp);
    let lower = *lower;
    let fraction = position - lower_idx as f64;
    if fraction == 0.0 {
        return lower;
    }
    let upper = above.iter().copied().fold(f64::INFINITY, f64::min);
    lower + (upper - lower) * fraction
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
        if let Some((at, reference)) = self.pending_oom.take()
            && at == sample.timestamp
            && sample.memory_bytes > reference
        {
            // VPA's own target would have been exceeded too: the reference learns of the kill.
            self.reference.record_oom(at, reference);
        }
        self.reference.observe(sample);
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

    fn record_oom(&mut self, timestamp: i64, memory_limit_bytes: f64) {
        // Whatever the limit was, the forecast did not see this coming: VPA's target stands in
        // for it until it has a clean track record again.
        self.fallback_until = Some(timestamp + self.config.fallback_seconds);
        match self.last_memory.get() {
            // The limit was below VPA's target: the reference learns of the kill only if the
            // usage, when its sample arrives, shows that VPA's target was exceeded too.
            Some(decision) if decision.limit < decision.reference => {
                self.pending_oom = Some((timestamp, decision.reference));
            }
            // The limit was VPA's target: the reference learns of it exactly as VPA would.
            _ => self.reference.record_oom(timestamp, memory_limit_bytes),
        }
    }

    fn recommend(&self, now: i64) -> Option<Recommendation> {
        let floor = self.naive.average_times_margin()?;
        let reference = self.reference.recommend(now)?;
        let cap = reference.target;
        let cpu_history = self.history(&self.config.cpu, |sample| sample.cpu_cores);
        let memory_history = self.history(&self.config.memory, |sample| sample.memory_bytes);
        // Between the naive rule (and VPA's minimums) and VPA's target.
        let containers = self.config.reference.containers_in_pod.max(1) as f64;
        let bounded = |forecast: Option<f64>, floor: f64, minimum: f64, cap: f64| match forecast {
            Some(forecast) => forecast.max(floor).max(minimum / containers).min(cap),
            None => cap,
        };
        let mut cpu = bounded(
            self.forecast_usage(&cpu_history),
            floor.cpu_cores,
            self.config.reference.pod_min_cpu_cores,
            cap.cpu_cores,
        );
        let memory_forecast =
            if self.memory_fallback(now) { None } else { self.forecast_usage(&memory_history) };
        let mut memory = bounded(
            memory_forecast,
            floor.memory_bytes.max(self.config.memory_min_share_of_reference * cap.memory_bytes),
            self.config.reference.pod_min_memory_bytes,
            cap.memory_bytes,
        );
        if let Some(planned) = self.planned_usage(&cpu_history, now) {
            cpu = cpu.max(planned);
        }
        if let Some(planned) = self.planned_usage(&memory_history, now) {
            memory = memory.max(planned);
        }
        self.last_memory.set(Some(MemoryDecision { limit: memory, reference: cap.memory_bytes }));
        let target = Resources { cpu_cores: cpu, memory_bytes: memory };
        Some(Recommendation {
            target,
            lower_bound: Resources {
                cpu_cores: floor.cpu_cores.min(cpu),
                memory_bytes: floor.memory_bytes.min(memory),
            },
            upper_bound: Resources {
                cpu_cores: cpu.max(reference.upper_bound.cpu_cores),
                memory_bytes: memory.max(reference.upper_bound.memory_bytes),
            },
        })
    }
}

#[cfg(test)]
mod tests;
