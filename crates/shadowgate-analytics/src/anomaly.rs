//! Streaming anomaly detection: every row is scored in [0, 1] from the rows before it.
//!
//! Three detectors share the [`StreamingDetector`] trait ([`DetectorKind`] names them):
//! [`SeasonalCusumDetector`] (below), [`context::ContextDetector`] (a memory of value
//! sequences) and [`combined::CombinedDetector`], the default, which runs both and takes the
//! more surprised. The rest of this page is about the seasonal one.
//!
//! shadowgate watches a rollout row by row, so a detector that needs the whole series (or the
//! future) is of no use to it. [`SeasonalCusumDetector`] models each row against an online
//! seasonal model (level + profile of the verified period, [`seasonal_model`]) and looks at
//! the residual three ways:
//!
//! - **Point anomalies**: the row's residual, standardised by a robust scale.
//! - **Level shifts**: a two-sided CUSUM over the same standardised residuals ([`cusum`]).
//!   A confirmed shift counts as much as a residual of 4.4 sigmas (normal tail 1e-5), and
//!   partial evidence proportionally less. When a shift is confirmed the model's level jumps to
//!   the new level, so the detector does not keep alarming on the new normal.
//! - **Sustained deviations**: the mean standardised residual over the latest
//!   1/[`DetectorConfig::sustained_divisor`] of the period (a holiday: a day a third down,
//!   no row of it extreme, see [`sustained`]).
//!
//! The larger of the first two is the row's statistic. Its probability is judged twice: under
//! the model (two-sided normal tail) and against the series' own history (how often a
//! statistic this large has occurred, see `calibration`), because real telemetry is
//! heavy-tailed and a "four-sigma" residual may be an everyday event on one series and unheard
//! of on another; the less extreme of the two counts. The sustained deviation gets its own
//! probability the same way, and the row's tail probability is twice the smaller of the two
//! (a Bonferroni correction for asking two questions). The score is one minus it, so 0.9999
//! means "rarer than one in ten thousand" ([`DEFAULT_ALARM_SCORE`]).
//!
//! Two choices are made from the warm-up rows. The period modelled is the longest verified
//! one that is a multiple of the strongest: traffic has a daily cycle and a weekly one on top
//! (weekends), and only the weekly profile knows that Saturday is quiet. And a positive series
//! whose 95th percentile is at least [`DetectorConfig::log_scale_ratio`] times its 5th is
//! modelled on a log scale, because request rates and the like are multiplicative: the busy
//! hours swing by thousands when the quiet ones swing by tens, and a dip that an additive
//! level absorbs at noon would predict negative traffic at night.
//!
//! After an alarm the detector stays below the alarm score for `refractory_seconds` (six hours
//! by default): the rows of one incident would otherwise raise one alarm each.
//!
//! The first `warmup_rows` rows score 0 and train the model; the period is detected then and
//! re-verified each time the history doubles.

pub mod baselines;
mod calibration;
pub mod combined;
pub mod context;
pub mod cusum;
pub mod seasonal_model;
pub mod sustained;

use crate::forecast::periods::{self, PeriodSearch};
use crate::stats;
use calibration::ExceedanceCounter;
use cusum::{Cusum, CusumConfig};
use seasonal_model::{SeasonalModel, SmoothingConfig};
use sustained::SustainedDeviation;

/// The standardised residual that counts as much as a confirmed CUSUM shift: its two-sided
/// normal tail probability is 1e-5.
const CUSUM_EQUIVALENT_Z: f64 = 4.417;

/// The score at which shadowgate alarms by default: a row rarer than one in ten thousand both
/// under the model and in the series' own history. It is a round tail probability, fixed for
/// every series and corpus (NAB's sweep tunes its threshold per corpus; this one is not).
pub const DEFAULT_ALARM_SCORE: f64 = 0.9999;

/// The highest score during the refractory period after an alarm.
pub const REFRACTORY_SCORE_CAP: f64 = 0.99;

/// A detector that scores each row from the rows before it.
pub trait StreamingDetector {
    /// Scores the next row in [0, 1] using only earlier rows, then learns from it.
    fn observe(&mut self, timestamp: i64, value: f64) -> f64;

    /// The seasonal period in rows the detector models, if it models one.
    fn period(&self) -> Option<usize> {
        None
    }
}

impl<D: StreamingDetector + ?Sized> StreamingDetector for Box<D> {
    fn observe(&mut self, timestamp: i64, value: f64) -> f64 {
        (**self).observe(timestamp, value)
    }

    fn period(&self) -> Option<usize> {
        (**self).period()
    }
}

/// The detectors a user can choose (`shadowgate detect --detector`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectorKind {
    /// [`combined::CombinedDetector`], the default.
    Combined,
    /// [`SeasonalCusumDetector`] alone.
    Seasonal,
    /// [`context::ContextDetector`] alone.
    Context,
}

impl DetectorKind {
    /// The score at which this detector alarms unless told otherwise.
    pub fn alarm_score(self) -> f64 {
        match self {
            DetectorKind::Combined | DetectorKind::Context => combined::COMBINED_ALARM_SCORE,
            DetectorKind::Seasonal => DEFAULT_ALARM_SCORE,
        }
    }

    /// A fresh detector that learns from the first `warmup_rows` rows before scoring.
    pub fn build(
        self,
        warmup_rows: usize,
    ) -> Result<Box<dyn StreamingDetector + Send>, DetectorConfigError> {
        Ok(match self {
            DetectorKind::Combined => Box::new(combined::CombinedDetector::new(
                combined::CombinedConfig::for_warmup(warmup_rows),
            )?),
            DetectorKind::Seasonal => Box::new(SeasonalCusumDetector::new(DetectorConfig {
                warmup_rows,
                ..DetectorConfig::default()
            })?),
            DetectorKind::Context => Box::new(context::ContextDetector::new(
                context::ContextConfig::for_warmup(warmup_rows),
            )?),
        })
    }
}

/// Settings of [`SeasonalCusumDetector`].
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// Rows used only for learning before scoring starts (at least 8).
    pub warmup_rows: usize,
    /// At most this many recent rows are kept for re-detecting the period.
    pub max_history_rows: usize,
    /// Where the seasonal period is looked for; the strongest verified period is modelled.
    pub period_search: PeriodSearch,
    pub smoothing: SmoothingConfig,
    pub cusum: CusumConfig,
    /// After an alarm (a score of at least [`DEFAULT_ALARM_SCORE`]) the following rows within
    /// this many seconds score at most [`REFRACTORY_SCORE_CAP`]: one incident, one alarm.
    pub refractory_seconds: i64,
    /// A series whose warm-up values are all positive and whose 95th percentile is at least
    /// this many times its 5th is modelled on a log scale (0 never does).
    pub log_scale_ratio: f64,
    /// The sustained-deviation window is the period divided by this, at least 3 rows (a third
    /// of a day for a weekly period); 0 turns the sustained statistic off.
    pub sustained_divisor: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup_rows: 600,
            max_history_rows: 20_000,
            period_search: PeriodSearch::default(),
            smoothing: SmoothingConfig::default(),
            cusum: CusumConfig::default(),
            refractory_seconds: 6 * 3_600,
            log_scale_ratio: 3.0,
            sustained_divisor: 21,
        }
    }
}

/// Why a detector configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid detector setting `{field}`: {reason}")]
pub struct DetectorConfigError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl DetectorConfig {
    pub fn validate(&self) -> Result<(), DetectorConfigError> {
        let invalid = |field, reason| Err(DetectorConfigError { field, reason });
        let unit = |value: f64| value > 0.0 && value <= 1.0;
        if self.warmup_rows < 8 {
            return invalid("warmup_rows", "must be at least 8; 600 is the default");
        }
        if self.max_history_rows < self.warmup_rows {
            return invalid("max_history_rows", "must be at least warmup_rows");
        }
        if !unit(self.smoothing.level)
            || !unit(self.smoothing.seasonal)
            || !unit(self.smoothing.scale)
        {
            return invalid("smoothing", "level, seasonal and scale weights must be in (0, 1]");
        }
        let positive = |value: f64| value > 0.0 && value.is_finite();
        if !positive(self.smoothing.clip_sigmas) {
            return invalid("smoothing.clip_sigmas", "must be positive; 3 is the default");
        }
        if !(0.0..1.0).contains(&self.period_search.min_autocorrelation) {
            return invalid(
                "period_search.min_autocorrelation",
                "must be in [0, 1); 0.3 is the default",
            );
        }
        if self.refractory_seconds < 0 {
            return invalid("refractory_seconds", "must be zero or positive; 21600 is the default");
        }
        if !(self.log_scale_ratio == 0.0
            || (self.log_scale_ratio.is_finite() && self.log_scale_ratio >= 1.0))
        {
            return invalid("log_scale_ratio", "must be 0 (never) or at least 1; 3 is the default");
        }
        let drift_ok = self.cusum.drift.is_finite() && self.cusum.drift >= 0.0;
        if !positive(self.cusum.threshold) || !drift_ok || !positive(self.cusum.clip) {
            return invalid("cusum", "threshold and clip must be positive and drift non-negative");
        }
        Ok(())
    }
}

/// The seasonal-residual plus CUSUM detector described in the module documentation.
#[derive(Clone, Debug)]
pub struct SeasonalCusumDetector {
    config: DetectorConfig,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    model: Option<SeasonalModel>,
    period: usize,
    cusum: Cusum,
    calibration: ExceedanceCounter,
    sustained: Option<SustainedDeviation>,
    /// Set when the series is modelled on a log scale: values are floored here first.
    log_floor: Option<f64>,
    rows_seen: usize,
    next_period_check: usize,
    last_alarm: Option<i64>,
}

impl SeasonalCusumDetector {
    pub fn new(config: DetectorConfig) -> Result<SeasonalCusumDetector, DetectorConfigError> {
        config.validate()?;
        Ok(SeasonalCusumDetector {
            cusum: Cusum::new(config.cusum.clone()),
            calibration: ExceedanceCounter::new(),
            sustained: None,
            log_floor: None,
            next_period_check: config.warmup_rows,
            config,
            timestamps: Vec::new(),
            values: Vec::new(),
            model: None,
            period: 1,
            rows_seen: 0,
            last_alarm: None,
        })
    }

    /// The seasonal period in rows currently modelled (1 when none was verified).
    pub fn period(&self) -> usize {
        self.period
    }

    fn remember(&mut self, timestamp: i64, value: f64) {
        self.timestamps.push(timestamp);
        self.values.push(value);
        if self.values.len() > 2 * self.config.max_history_rows {
            let excess = self.values.len() - self.config.max_history_rows;
            self.timestamps.drain(..excess);
            self.values.drain(..excess);
        }
    }

    /// Whether the series is modelled on a log scale (decided at the end of the warm-up).
    pub fn log_scale(&self) -> bool {
        self.log_floor.is_some()
    }

    /// The value on the scale the model works in.
    fn rescale(&self, value: f64) -> f64 {
        match self.log_floor {
            Some(floor) => value.max(floor).ln(),
            None => value,
        }
    }

    /// Detects the period on the remembered rows; rebuilds the model if it changed.
    fn check_period(&mut self) {
        if self.model.is_none() {
            self.log_floor = log_scale_floor(&self.values, self.config.log_scale_ratio);
        }
        let values: Vec<f64> = self.values.iter().map(|value| self.rescale(*value)).collect();
        let step_seconds = median_step(&self.timestamps);
        let detected = periods::detect_periods(&values, step_seconds, &self.config.period_search);
        let strongest = detected
            .iter()
            .max_by(|a, b| a.autocorrelation.total_cmp(&b.autocorrelation))
            .map_or(1, |period| period.steps);
        // The search verified each longer period on what the shorter ones left unexplained, so
        // a weekly period found beside the daily one is real and contains it.
        let period = detected
            .iter()
            .map(|period| period.steps)
            .filter(|steps| steps % strongest == 0)
            .max()
            .unwrap_or(strongest);
        if self.model.is_none() || period != self.period {
            self.period = period;
            let (model, statistics) =
                SeasonalModel::from_history(&values, period, self.config.smoothing.clone());
            self.model = Some(model);
            self.calibration = ExceedanceCounter::new();
            statistics.iter().for_each(|statistic| self.calibration.add(*statistic));
            self.sustained = (self.config.sustained_divisor > 0)
                .then(|| SustainedDeviation::new((period / self.config.sustained_divisor).max(3)));
        }
    }
}

/// The floor below which values are clamped before taking logs, if `values` (the warm-up)
/// call for a log scale: all positive, and the 95th percentile at least `ratio` times the 5th.
/// The floor is half the smallest value, so a later zero reads as a deep dip, not as −∞.
fn log_scale_floor(values: &[f64], ratio: f64) -> Option<f64> {
    if ratio <= 0.0 || values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let smallest = sorted[0];
    let low = stats::quantile_of_sorted(&sorted, 0.05);
    let high = stats::quantile_of_sorted(&sorted, 0.95);
    (smallest > 0.0 && high >= ratio * low).then_some(smallest / 2.0)
}

impl StreamingDetector for SeasonalCusumDetector {
    fn observe(&mut self, timestamp: i64, value: f64) -> f64 {
        self.rows_seen += 1;
        if !value.is_finite() {
            return 0.0;
        }
        let modelled = self.rescale(value);
        let score = match self.model.as_mut() {
            None => 0.0,
            Some(model) => {
                let residual = modelled - model.predict();
                let sigma = model.sigma();
                let shift = self.cusum.add(residual, sigma);
                let evidence = if shift.is_some() { 1.0 } else { self.cusum.evidence() };
                let statistic = (residual.abs() / sigma).max(CUSUM_EQUIVALENT_Z * evidence);
                let row_tail = self.calibration.judge_and_add(statistic);
                let tail = match self.sustained.as_mut() {
                    Some(sustained) => {
                        (2.0 * row_tail.min(sustained.observe(residual / sigma))).min(1.0)
                    }
                    None => row_tail,
                };
                model.update(residual);
                if let Some(shift) = shift {
                    model.shift_level(shift.shift);
                }
                1.0 - tail
            }
        };
        let in_refractory = self
            .last_alarm
            .is_some_and(|alarm| timestamp.saturating_sub(alarm) <= self.config.refractory_seconds);
        let score = if in_refractory {
            score.min(REFRACTORY_SCORE_CAP)
        } else {
            if score >= DEFAULT_ALARM_SCORE {
                self.last_alarm = Some(timestamp);
            }
            score
        };
        self.remember(timestamp, value);
        if self.rows_seen >= self.next_period_check {
            self.check_period();
            self.next_period_check = self.rows_seen.saturating_mul(2);
        }
        score
    }

    fn period(&self) -> Option<usize> {
        Some(self.period)
    }
}

/// Median spacing of increasing timestamps (1 if there is none).
fn median_step(timestamps: &[i64]) -> i64 {
    let mut spacings: Vec<i64> =
        timestamps.windows(2).map(|pair| pair[1] - pair[0]).filter(|d| *d > 0).collect();
    if spacings.is_empty() {
        return 1;
    }
    let middle = spacings.len() / 2;
    *spacings.select_nth_unstable(middle).1
}

/// Scores a whole series with a fresh detector (convenience for batch callers).
pub fn score_series(
    points: &[(i64, f64)],
    config: &DetectorConfig,
) -> Result<Vec<f64>, DetectorConfigError> {
    let mut detector = SeasonalCusumDetector::new(config.clone())?;
    Ok(points.iter().map(|(timestamp, value)| detector.observe(*timestamp, *value)).collect())
}

#[cfg(test)]
mod tests;
