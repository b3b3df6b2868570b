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

use super::context::{ContextConfig, ContextDetector};
use super::{DetectorConfig, DetectorConfigError, SeasonalCusumDetector, StreamingDetector};

/// The score at which the combined detector alarms by default. It is the seasonal detector's
/// one-in-ten-thousand alarm on the combined scale, and the contextual detector's score when
/// most of the contexts that should have followed did not.
pub const COMBINED_ALARM_SCORE: f64 = 0.7;

/// The highest score while resting after an alarm.
pub const REST_SCORE_CAP: f64 = 0.5;

/// Settings of [`CombinedDetector`].
#[derive(Clone, Debug, PartialEq)]
pub struct CombinedConfig {
    pub seasonal: DetectorConfig,
    pub context: ContextConfig,
    /// Rows after an alarm during which the score stays at most [`REST_SCORE_CAP`].
    pub rest_rows: usize,
}

impl CombinedConfig {
    /// Both detectors learning from the same `warmup_rows`; the rest period is a fifth of it.
    pub fn for_warmup(warmup_rows: usize) -> CombinedConfig {
        let warmup_rows = warmup_rows.max(8);
        CombinedConfig {
            seasonal: DetectorConfig { warmup_rows, ..DetectorConfig::default() },
            context: ContextConfig::for_warmup(warmup_rows),
            rest_rows: warmup_rows / 5,
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
}

impl CombinedDetector {
    pub fn new(config: CombinedConfig) -> Result<CombinedDetector, DetectorConfigError> {
        Ok(CombinedDetector {
            seasonal: SeasonalCusumDetector::new(config.seasonal)?,
            context: ContextDetector::new(config.context)?,
            rest_rows: config.rest_rows,
            rows_since_alarm: None,
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
        let context = self.context.observe(timestamp, value);
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
