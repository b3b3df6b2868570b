//! The `[judge]` section of the manifest: which metrics decide a verdict, and how.
//!
//! ```toml
//! [judge]
//! confidence = 0.99        # confidence level of every interval and test
//! pass_score = 90          # score ≥ pass_score ⇒ pass
//! marginal_score = 70      # marginal_score ≤ score < pass_score ⇒ marginal; lower ⇒ fail
//! on_marginal = "fail"     # whether a marginal verdict passes the gate ("pass") or not ("fail")
//!
//! [judge.groups.latency]
//! weight = 2               # groups not listed here weigh 1
//!
//! [[judge.metrics]]
//! name = "p99_latency"
//! source = "interval.latency.p99"
//! group = "latency"
//! direction = "increase"   # which change hurts: increase, decrease or either
//! allowed_increase_percent = 10
//! critical = true          # a failure fails the whole check
//! no_data = "fail"         # fail, ignore or inconclusive
//! ```
//!
//! Leaving out `metrics` gives [`default_metrics`]. Every field has a default, so an empty
//! `[judge]` table (or none) is valid. [`validate`] checks what the types cannot.

mod defaults;
mod validate;

pub use defaults::default_metrics;
pub use validate::{ConfigProblem, validate};

use crate::source::MetricSource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The default confidence level: 99 %, so that each metric's test has a one-sided false
/// alarm rate of at most 0.5 % in the harmful direction.
pub const DEFAULT_CONFIDENCE: f64 = 0.99;
/// The default score at or above which the verdict is pass.
pub const DEFAULT_PASS_SCORE: f64 = 90.0;
/// The default score at or above which (and below the pass score) the verdict is marginal.
pub const DEFAULT_MARGINAL_SCORE: f64 = 70.0;
/// The default relative change allowed in the harmful direction, in percent.
pub const DEFAULT_ALLOWED_CHANGE_PERCENT: f64 = 10.0;
/// The default minimum number of values per arm for a continuous metric.
pub const DEFAULT_MIN_SAMPLES: usize = 10;

/// `[judge]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// Confidence level of the intervals and tests, strictly between 0.5 and 1.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// A score (0–100) at or above this passes.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// A score at or above this and below `pass_score` is marginal; below it fails.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Whether a marginal verdict passes the gate.
    #[serde(default)]
    pub on_marginal: MarginalPolicy,
    /// Group weights; a group that is not listed weighs 1.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupConfig>,
    /// The metrics to judge.
    #[serde(default = "default_metrics")]
    pub metrics: Vec<MetricConfig>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            confidence: DEFAULT_CONFIDENCE,
            pass_score: DEFAULT_PASS_SCORE,
            marginal_score: DEFAULT_MARGINAL_SCORE,
            on_marginal: MarginalPolicy::default(),
            groups: BTreeMap::new(),
            metrics: default_metrics(),
        }
    }
}

impl JudgeConfig {
    /// The weight of a group: its configured weight, or 1.
    pub fn group_weight(&self, group: &str) -> f64 {
        self.groups.get(group).map_or(1.0, |config| config.weight)
    }
}

/// `[judge.groups.NAME]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Positive; groups share the score in proportion to their weights.
    pub weight: f64,
}

/// `[[judge.metrics]]`
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// Unique; letters, digits, `_`, `-` and `.`. The caller's input carries the same name.
    pub name: String,
    /// What is measured; see [`crate::source`].
    pub source: MetricSource,
    /// The group this metric is scored in; by default a group of its own, named after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Which change counts against the candidate.
    #[serde(default)]
    pub direction: Direction,
    /// How much the candidate may be higher before a significant increase fails, in percent
    /// of the baseline (of its median for continuous metrics, of its rate for counts).
    #[serde(default = "default_allowed_change_percent")]
    pub allowed_increase_percent: f64,
    /// How much lower the candidate may be before a significant decrease fails, in percent.
    #[serde(default = "default_allowed_change_percent")]
    pub allowed_decrease_percent: f64,
    /// A failure (or an error) of this metric fails the whole check.
    #[serde(default)]
    pub critical: bool,
    /// The metric is judged and reported but never affects the verdict.
    #[serde(default)]
    pub dry_run: bool,
    /// What missing or too little data means.
    #[serde(default)]
    pub no_data: NoDataPolicy,
    /// Continuous metrics: fewer values than this on either arm counts as no data
    /// (default [`DEFAULT_MIN_SAMPLES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<usize>,
    /// Count metrics: the candidate fails when it has more events than this, whatever the
    /// baseline had and whatever the test says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_candidate_events: Option<u64>,
    /// Overrides `[judge] confidence` for this metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

impl MetricConfig {
    /// A metric with every optional field at its default.
    pub fn new(name: &str, source: MetricSource) -> MetricConfig {
        MetricConfig {
            name: name.to_string(),
            source,
            group: None,
            direction: Direction::default(),
            allowed_increase_percent: DEFAULT_ALLOWED_CHANGE_PERCENT,
            allowed_decrease_percent: DEFAULT_ALLOWED_CHANGE_PERCENT,
            critical: false,
            dry_run: false,
            no_data: NoDataPolicy::default(),
            min_samples: None,
            max_candidate_events: None,
            confidence: None,
        }
    }

    /// The group this metric is scored in.
    pub fn group_name(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.name)
    }

    /// The minimum number of values per arm of a continuous metric.
    pub fn min_samples(&self) -> usize {
        self.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES)
    }
}

/// Which change of a metric counts against the candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is worse (latency, errors, resource use).
    #[default]
    Increase,
    /// Lower is worse (throughput, cache hit rate).
    Decrease,
    /// Any change is suspect.
    Either,
}

impl Direction {
    pub fn penalizes_increase(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }

    pub fn penalizes_decrease(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// What missing data (or fewer values than `min_samples`, or zero exposure) means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataPolicy {
    /// The metric fails.
    Fail,
    /// The metric is left out of the score.
    Ignore,
    /// The metric is left out of the score and the verdict can be at best marginal.
    #[default]
    Inconclusive,
}

/// Whether a marginal verdict passes the gate (exit code 0) or not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginalPolicy {
    Pass,
    #[default]
    Fail,
}

fn default_confidence() -> f64 {
    DEFAULT_CONFIDENCE
}

fn default_pass_score() -> f64 {
    DEFAULT_PASS_SCORE
}

fn default_marginal_score() -> f64 {
    DEFAULT_MARGINAL_SCORE
}

fn default_allowed_change_percent() -> f64 {
    DEFAULT_ALLOWED_CHANGE_PERCENT
}
