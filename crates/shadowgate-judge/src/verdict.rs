//! The judge's answer, with every number behind it.
//!
//! These types serialize into the JSON report; their field names and the snake_case values of
//! their enums are part of shadowgate's report format and change only with a format version.
//! Numbers that can be unbounded or undefined are `null` rather than infinite (JSON has no
//! infinity), and each such field says when that happens.

use crate::{
    config::{Direction, MarginalPolicy, NoDataPolicy},
    rank_test::ShiftInterval,
    sample::SampleSummary,
    source::{ExposureUnit, MetricSource, Unit},
};
use serde::Serialize;

/// The overall result of a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Whether the check passes the gate: `decision` is pass, or marginal with
    /// `on_marginal = "pass"`. The CLI exits with 0 exactly when this is true.
    pub passes_gate: bool,
    /// The weighted score from 0 to 100; `null` when no metric could be scored.
    pub score: Option<f64>,
    pub pass_score: f64,
    pub marginal_score: f64,
    pub on_marginal: MarginalPolicy,
    /// One sentence: the decision and what decided it.
    pub summary: String,
    /// Group scores, in the order the groups first appear among the metrics.
    pub groups: Vec<GroupResult>,
    /// Metric results, in configuration order.
    pub metrics: Vec<MetricResult>,
    /// Names of inputs that match no configured metric (a caller or configuration mistake).
    pub unmatched_inputs: Vec<String>,
}

/// Pass, marginal or fail. The boundary rule: a critical failure fails; otherwise
/// score ≥ pass_score passes (marginal instead if a metric was inconclusive),
/// marginal_score ≤ score < pass_score is marginal, and a lower score fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Pass,
    Marginal,
    Fail,
}

/// The score of one group of metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupResult {
    pub name: String,
    pub weight: f64,
    /// 100 × passed / (passed + failed + errors); `null` when no metric of the group was
    /// scored (all ignored, inconclusive or dry-run), in which case the group is left out of
    /// the overall score instead of counting as perfect.
    pub score: Option<f64>,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Metrics of the group that were ignored, inconclusive or dry-run.
    pub not_scored: usize,
}

/// How one metric was classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No harmful change beyond the allowance.
    Pass,
    /// A harmful change beyond the allowance, an event limit exceeded, or no data under
    /// the `fail` policy.
    Fail,
    /// No data under the `inconclusive` policy: not scored, and the verdict is at best marginal.
    Inconclusive,
    /// No data under the `ignore` policy: not scored.
    Ignored,
    /// The data could not be collected or used; scored as a failure.
    Error,
}

/// Why a metric got its outcome (a stable code for tools; the sentence is for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// A significant change in a harmful direction, beyond the allowance.
    Regression,
    /// A significant change in a harmful direction, within the allowance.
    WithinAllowance,
    /// The interval includes no change (or the p-value is not below 1 − confidence).
    NotSignificant,
    /// A significant change, but in the direction that does not count against the candidate.
    HarmlessDirection,
    /// Every value of both arms is the same.
    Identical,
    /// The candidate had more events than `max_candidate_events`.
    EventLimitExceeded,
    /// Too little data on an arm; the outcome follows the no-data policy.
    NoData,
    /// The caller reported that collecting the data failed.
    CollectionFailed,
    /// No input was given for a configured metric.
    MissingInput,
    /// The input's kind does not match the source (counts for a continuous source, or the
    /// reverse).
    WrongKind,
    /// The input is unusable, such as a negative exposure.
    InvalidData,
}

/// The classification of one metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricResult {
    pub name: String,
    pub source: MetricSource,
    pub group: String,
    pub critical: bool,
    pub dry_run: bool,
    pub direction: Direction,
    pub no_data: NoDataPolicy,
    pub outcome: Outcome,
    pub reason: Reason,
    /// A plain-English sentence that explains the outcome with its numbers.
    pub explanation: String,
    /// The statistics, when the comparison was computed.
    pub comparison: Option<Comparison>,
}

/// The statistics of one comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Comparison {
    Continuous(ContinuousComparison),
    Count(CountComparison),
}

/// The rank-sum comparison of a continuous metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContinuousComparison {
    pub confidence: f64,
    pub unit: Unit,
    pub baseline: SampleSummary,
    pub candidate: SampleSummary,
    /// Mann–Whitney U of the candidate (pairs where the candidate is larger, ties ½).
    pub u: f64,
    /// Standardized U with tie and continuity corrections; positive when the candidate is higher.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Hodges–Lehmann shift `candidate − baseline` and its confidence interval, in `unit`.
    pub shift: ShiftInterval,
    /// `shift` divided by the magnitude of the baseline median: 0.1 means +10 %. `null` when
    /// the baseline median is 0.
    pub relative_shift: Option<ShiftInterval>,
    pub allowed_increase_percent: f64,
    pub allowed_decrease_percent: f64,
}

/// The exact rate comparison of a count metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CountComparison {
    pub confidence: f64,
    pub exposure_unit: ExposureUnit,
    pub baseline: CountSummary,
    pub candidate: CountSummary,
    /// Candidate rate ÷ baseline rate; `null` when the baseline had no events.
    pub rate_ratio: Option<f64>,
    /// Confidence interval of the rate ratio; `ratio_upper` is `null` when unbounded.
    pub ratio_lower: f64,
    pub ratio_upper: Option<f64>,
    /// Two-sided exact conditional p-value.
    pub p_value: f64,
    pub allowed_increase_percent: f64,
    pub allowed_decrease_percent: f64,
    pub max_candidate_events: Option<u64>,
}

/// Events of one arm of a count metric.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CountSummary {
    pub events: u64,
    pub exposure: f64,
    /// Events per unit of exposure.
    pub rate: f64,
}
