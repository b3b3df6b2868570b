//! Reading the judge's verdict back from a stored report.
//!
//! The judge's result types derive only `Serialize`: the judge never reads a verdict. A report
//! must, because `shadowgate report RUN_ID` rebuilds every rendering from the stored JSON. These
//! are serde "remote" definitions of the same types: the compiler checks that they name every
//! field of the judge's types, and a test checks that they read exactly what the judge writes.

use serde::{Deserialize, Deserializer};
use shadowgate_judge::{
    config::{Direction, MarginalPolicy, NoDataPolicy},
    rank_test::ShiftInterval,
    sample::SampleSummary,
    source::{ExposureUnit, MetricSource, Unit},
    verdict::{
        Comparison, ContinuousComparison, CountComparison, CountSummary, Decision, GroupResult,
        MetricResult, Outcome, Reason, Verdict,
    },
};

/// Reads a [`Verdict`] in the judge's own JSON form.
pub(crate) fn verdict<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Verdict, D::Error> {
    VerdictDef::deserialize(deserializer)
}

#[derive(Deserialize)]
#[serde(remote = "Verdict")]
struct VerdictDef {
    #[serde(with = "DecisionDef")]
    decision: Decision,
    passes_gate: bool,
    score: Option<f64>,
    pass_score: f64,
    marginal_score: f64,
    on_marginal: MarginalPolicy,
    summary: String,
    #[serde(deserialize_with = "group_results")]
    groups: Vec<GroupResult>,
    #[serde(deserialize_with = "metric_results")]
    metrics: Vec<MetricResult>,
    unmatched_inputs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(remote = "Decision", rename_all = "snake_case")]
enum DecisionDef {
    Pass,
    Marginal,
    Fail,
}

#[derive(Deserialize)]
#[serde(remote = "GroupResult")]
struct GroupResultDef {
    name: String,
    weight: f64,
    score: Option<f64>,
    passed: usize,
    failed: usize,
    errors: usize,
    not_scored: usize,
}

#[derive(Deserialize)]
struct GroupResultItem(#[serde(with = "GroupResultDef")] GroupResult);

fn group_results<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<GroupResult>, D::Error> {
    let items = Vec::<GroupResultItem>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|it| it.0).collect())
}

#[derive(Deserialize)]
#[serde(remote = "Outcome", rename_all = "snake_case")]
enum OutcomeDef {
    Pass,
    Fail,
    Inconclusive,
    Ignored,
    Error,
}

#[derive(Deserialize)]
#[serde(remote = "Reason", rename_all = "snake_case")]
enum ReasonDef {
    Regression,
    WithinAllowance,
    NotSignificant,
    HarmlessDirection,
    Identical,
    EventLimitExceeded,
    NoData,
    CollectionFailed,
    MissingInput,
    WrongKind,
    InvalidData,
}

#[derive(Deserialize)]
#[serde(remote = "MetricResult")]
struct MetricResultDef {
    name: String,
    source: MetricSource,
    group: String,
    critical: bool,
    dry_run: bool,
    direction: Direction,
    no_data: NoDataPolicy,
    #[serde(with = "OutcomeDef")]
    outcome: Outcome,
    #[serde(with = "ReasonDef")]
    reason: Reason,
    explanation: String,
    #[serde(deserialize_with = "optional_comparison")]
    comparison: Option<Comparison>,
}

#[derive(Deserialize)]
struct MetricResultItem(#[serde(with = "MetricResultDef")] MetricResult);

fn metric_results<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<MetricResult>, D::Error> {
    let items = Vec::<MetricResultItem>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|it| it.0).collect())
}

#[derive(Deserialize)]
#[serde(remote = "Comparison", tag = "kind", rename_all = "snake_case")]
enum ComparisonDef {
    Continuous(#[serde(with = "ContinuousComparisonDef")] ContinuousComparison),
    Count(#[serde(with = "CountComparisonDef")] CountComparison),
}

#[derive(Deserialize)]
struct ComparisonItem(#[serde(with = "ComparisonDef")] Comparison);

fn optional_comparison<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Comparison>, D::Error> {
    let item = Option::<ComparisonItem>::deserialize(deserializer)?;
    Ok(item.map(|it| it.0))
}

#[derive(Deserialize)]
#[serde(remote = "ContinuousComparison")]
struct ContinuousComparisonDef {
    confidence: f64,
    #[serde(with = "UnitDef")]
    unit: Unit,
    #[serde(with = "SampleSummaryDef")]
    baseline: SampleSummary,
    #[serde(with = "SampleSummaryDef")]
    candidate: SampleSummary,
    u: f64,
    z: f64,
    p_value: f64,
    #[serde(with = "ShiftIntervalDef")]
    shift: ShiftInterval,
    #[serde(deserialize_with = "optional_shift_interval")]
    relative_shift: Option<ShiftInterval>,
    allowed_increase_percent: f64,
    allowed_decrease_percent: f64,
}

#[derive(Deserialize)]
#[serde(remote = "Unit", rename_all = "snake_case")]
enum UnitDef {
    Seconds,
    Cores,
    Bytes,
    Unspecified,
}

#[derive(Deserialize)]
#[serde(remote = "SampleSummary")]
struct SampleSummaryDef {
    count: usize,
    dropped_non_finite: usize,
    mean: Option<f64>,
    median: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(remote = "ShiftInterval")]
struct ShiftIntervalDef {
    lower: f64,
    estimate: f64,
    upper: f64,
}

#[derive(Deserialize)]
struct ShiftIntervalItem(#[serde(with = "ShiftIntervalDef")] ShiftInterval);

fn optional_shift_interval<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ShiftInterval>, D::Error> {
    let item = Option::<ShiftIntervalItem>::deserialize(deserializer)?;
    Ok(item.map(|it| it.0))
}

#[derive(Deserialize)]
#[serde(remote = "CountComparison")]
struct CountComparisonDef {
    confidence: f64,
    #[serde(with = "ExposureUnitDef")]
    exposure_unit: ExposureUnit,
    #[serde(with = "CountSummaryDef")]
    baseline: CountSummary,
    #[serde(with = "CountSummaryDef")]
    candidate: CountSummary,
    rate_ratio: Option<f64>,
    ratio_lower: f64,
    ratio_upper: Option<f64>,
    p_value: f64,
    allowed_increase_percent: f64,
    allowed_decrease_percent: f64,
    max_candidate_events: Option<u64>,
}

#[derive(Deserialize)]
#[serde(remote = "ExposureUnit", rename_all = "snake_case")]
enum ExposureUnitDef {
    Requests,
    Seconds,
}

#[derive(Deserialize)]
#[serde(remote = "CountSummary")]
struct CountSummaryDef {
    events: u64,
    exposure: f64,
    rate: f64,
}
