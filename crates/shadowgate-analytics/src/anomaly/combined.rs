//! The default detector: the seasonal-residual/CUSUM detector and the contextual detector side
//! by side, each row scored by whichever finds it more surprising.
//!
//! The two see different things. The seasonal detector knows the series' period and level, so
//! it catches a value that is wrong *for this time of day* and a level that has moved; it is
//! blind to a familiar value in an unfamiliar order. The contextual detector remembers
//! sequences of quantised values, so it catches a pattern it has never seen (a spike train,
//! a flat stretch where the series always moved), but not a small shift within one level. On
//! NAB each finds windows the other misses (see the crate's `nab_evaluation` bench).
//!
//! Both scores are put on one scale whose alarm point is [`COMBINED_ALARM_SCORE`]: the
//! contextual score as it is, and the seasonal detector's tail probability `p` as
//! `0.7 · log10(1/p) / 4`, so that its own alarm (one in ten thousand) lands exactly on the
//! combined alarm and rarer rows above it. After an alarm the detector rests for `rest_rows`
//! rows (scores capped at [`REST_SCORE_CAP`]), so one incident raises one alarm.
//!
//! The seasonal detector judges its statistic against the series' own history; the contextual
//! score is raw, and a noisy series surprises the context memory often. So the contextual
//! score is judged against its own history too: it may raise an alarm only when at most
//! [`CombinedConfig::context_surprise_rate`] (3 in 1000 by default) of the rows since the
//! warm-up scored as high. Otherwise it is held at [`CONTEXT_HELD_CAP`], just below the alarm.
//! With the empirical share (k + ½) / (n + 1) this also keeps the memory from alarming in the
//! first 166 rows after its warm-up, while it is still learning what is ordinary.

use super::calibration::ExceedanceCounter;
use super::context::{ContextConfig, ContextDetector};
use super::{DetectorConfig, DetectorConfigError, SeasonalCusumDetector, StreamingDetector};

/// The score at which the combined detector alarms by default. It is the seasonal detector's
/// one-in-ten-thousand alarm on the combined scale, and the contextual detector's score when
/// most of the contexts that should have followed did not.
pub const COMBINED_ALARM_SCORE: f64 = 0.7;

/// The highest score while resting after an alarm.
pub const REST_SCORE_CAP: f64 = 0.5;

/// A contextual score that is not rare on its series is held here: below the alarm, but above
/// ordinary rows, so a sweep of thresholds still ranks it.
pub const CONTEXT_HELD_CAP: f64 = 0.69;

/// Settings of [`CombinedDetector`].
#[derive(Clone, Debug, PartialEq)]
pub struct CombinedConfig {
    pub seasonal: DetectorConfig,
    pub context: ContextConfig,
    /// Rows after an alarm during which the score stays at most [`REST_SCORE_CAP`].
    pub rest_rows: usize,
    /// The largest share of the rows since the warm-up that may have scored at least as high
    /// for a contextual score to count in full (in (0, 1]; 1 always counts it).
    pub context_surprise_rate: f64,
}

impl CombinedConfig {
    /// Both detectors learning from the same `warmup_rows`; the rest period is a fifth of it.
    pub fn for_warmup(warmup_rows: usize) -> CombinedConfig {
        let warmup_rows = warmup_rows.max(8);
        CombinedConfig {
            seasonal: DetectorConfig { warmup_rows, ..DetectorConfig::default() },
            context: ContextConfig::for_warmup(warmup_rows),
            rest_rows: warmup_rows / 5,
            context_surprise_rate: 0.003,
        }
    }
}

impl Default for CombinedConfig {
    fn default() -> Self {
        CombinedConfig::for_warmup(DetectorConfig::default().warmup_rows)
    }
}

/// The combined detector described in the module documentation.
#[derive(Clone, Debug)]
pub struct CombinedDetector {
    seasonal: SeasonalCusumDetector,
    context: ContextDetector,
    rest_rows: usize,
    rows_since_alarm: Option<usize>,
    context_gate: RarityGate,
}

/// Holds a contextual score below the alarm unless it is rare on its series.
#[derive(Clone, Debug)]
struct RarityGate {
    rate: f64,
    warmup_rows: usize,
    rows_seen: usize,
    /// Every score since the warm-up.
    history: ExceedanceCounter,
}

impl RarityGate {
    fn new(rate: f64, warmup_rows: usize) -> RarityGate {
        RarityGate { rate, warmup_rows, rows_seen: 0, history: ExceedanceCounter::new() }
    }

    /// The score as it counts: itself when at most `rate` of the rows since the warm-up scored
    /// as high, else at most [`CONTEXT_HELD_CAP`].
    fn judge(&mut self, score: f64) -> f64 {
        self.rows_seen += 1;
        if self.rows_seen <= self.warmup_rows {
            return score;
        }
        let share_as_high = self.history.empirical_share(score);
        self.history.add(score);
        if share_as_high <= self.rate { score } else { score.min(CONTEXT_HELD_CAP) }
    }
}

impl CombinedDetector {
    pub fn new(config: CombinedConfig) -> Result<CombinedDetector, DetectorConfigError> {
        let rate = config.context_surprise_rate;
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(DetectorConfigError {
                field: "context_surprise_rate",
                reason: "must be in (0, 1]; 0.003 is the default",
            });
        }
        let warmup_rows = config.context.warmup_rows;
        Ok(CombinedDetector {
            seasonal: SeasonalCusumDetector::new(config.seasonal)?,
            context: ContextDetector::new(config.context)?,
            rest_rows: config.rest_rows,
            rows_since_alarm: None,
            context_gate: RarityGate::new(rate, warmup_rows),
        })
    }
}

/// The seasonal detector's score `1 − p` on the combined scale: `0.7 · log10(1/p) / 4`.
pub fn seasonal_on_combined_scale(score: f64) -> f64 {
    let tail = (1.0 - score).max(1e-12);
    (COMBINED_ALARM_SCORE * -tail.log10() / 4.0).clamp(0.0, 1.0)
}

impl StreamingDetector for CombinedDetector {
    fn observe(&mut self, timestamp: i64, value: f64) -> f64 {
        let seasonal = seasonal_on_combined_scale(self.seasonal.observe(timestamp, value));
        let context = self.context_gate.judge(self.context.observe(timestamp, value));
        let score = seasonal.max(context).clamp(0.0, 1.0);
        let resting = self.rows_since_alarm.is_some_and(|rows| rows < self.rest_rows);
        self.rows_since_alarm = self.rows_since_alarm.map(|rows| rows + 1);
        if resting {
            return score.min(REST_SCORE_CAP);
        }
        if score >= COMBINED_ALARM_SCORE {
            self.rows_since_alarm = Some(0);
        }
        score
    }

    fn period(&self) -> Option<usize> {
        Some(self.seasonal.period())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contextual_score_counts_only_when_rare_since_the_warmup() {
        let mut gate = RarityGate::new(0.003, 100);
        assert!((0..100).all(|_| gate.judge(0.0) == 0.0), "warm-up rows pass through");
        // 50 rows after the warm-up nothing is rare yet: (0 + ½) / (50 + 1) ≈ 0.01.
        (0..50).for_each(|_| assert_eq!(gate.judge(0.1), 0.1));
        assert_eq!(gate.judge(0.9), CONTEXT_HELD_CAP, "held just below the alarm");
        assert_eq!(gate.judge(0.6), 0.6, "ordinary scores are untouched");
        // After 1000 ordinary rows one earlier 0.9 in 1052 rows is rare: (1 + ½) / 1053.
        (0..1_000).for_each(|_| assert_eq!(gate.judge(0.1), 0.1));
        assert_eq!(gate.judge(0.9), 0.9);
        // A 0.9 every 100 rows is not: the share climbs past 3 in 1000.
        let mut counted = 0;
        for _ in 0..20 {
            (0..99).for_each(|_| {
                gate.judge(0.1);
            });
            if gate.judge(0.9) == 0.9 {
                counted += 1;
            }
        }
        assert!(counted < 5, "{counted} of 20 frequent surprises counted");
        assert_eq!(gate.judge(0.99), 0.99, "a score above all earlier ones is rare");
    }

    #[test]
    fn a_bad_rate_is_rejected_by_name() {
        for rate in [0.0, 1.5, f64::NAN] {
            let config =
                CombinedConfig { context_surprise_rate: rate, ..CombinedConfig::default() };
            let error = CombinedDetector::new(config).expect_err("bad rate");
            assert_eq!(error.field, "context_surprise_rate");
        }
    }
}
