//! The report document: everything `shadowgate check` measured and decided about one run.
//!
//! The document is the contract. The CLI fills it, stores it as JSON and rebuilds every other
//! rendering from it; CI pipelines parse it. Field names, their order and the snake_case values
//! of the enums are stable within [`SCHEMA_VERSION`]; `SCHEMA.md` beside the crate documents
//! them for readers in other languages.

use crate::verdict_reading;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use shadowgate_judge::Verdict;
use std::collections::BTreeMap;

/// The value of the `schema` field of every report this crate writes.
pub const SCHEMA_VERSION: &str = "shadowgate.check/v1";

/// One `shadowgate check` run: two releases side by side under the same load, and the judge's
/// verdict on them.
///
/// Times on the run's timeline (`*_ms` fields of series, events and windows) are milliseconds
/// since `started_at_unix_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Always [`SCHEMA_VERSION`]; reading a document with another value fails.
    pub schema: SchemaVersion,
    /// The run's id in the store (`shadowgate report RUN_ID` rebuilds the reports from it).
    pub run_id: String,
    /// The application's name from the manifest.
    pub app: String,
    /// When the run started, in milliseconds since the Unix epoch (UTC).
    pub started_at_unix_ms: u64,
    /// How long the whole run took, from environment setup to verdict, in milliseconds.
    pub wall_duration_ms: u64,
    /// The release running now, which the candidate is compared against.
    pub baseline: ReleaseUnderTest,
    /// The release being checked.
    pub candidate: ReleaseUnderTest,
    /// The process exit code and how a marginal verdict maps to one.
    pub exit: ExitStatus,
    /// The judge's verdict, with every metric's numbers and sentence.
    #[serde(deserialize_with = "verdict_reading::verdict")]
    pub verdict: Verdict,
    /// The settings the run used and where each came from, in the order the CLI lists them.
    pub settings: Vec<Setting>,
    /// What the load generator measured on each arm after warm-up.
    pub load: PerArm<LoadSummary>,
    /// The latency distribution of each arm after warm-up.
    pub latency_distribution: PerArm<LatencyDistribution>,
    /// The warm-up window, whose measurements the judge left out; `null` without warm-up.
    pub warmup: Option<TimeWindow>,
    /// Faults, OOM kills, restarts and other events on the run's timeline, in start order.
    pub events: Vec<TimelineEvent>,
    /// Metrics sampled over time, one series per metric and arm.
    pub time_series: Vec<TimeSeries>,
    /// The user's own test commands run in the environment; empty when none ran.
    pub tests: Vec<TestCommandResult>,
    /// Things a reader should know that did not change the verdict, one sentence each.
    pub warnings: Vec<String>,
    /// The predicted conditions the run used (`check --conditions`) and where they came from;
    /// absent when the run used none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<ConditionsUsed>,
    /// The response diff of baseline, a second baseline and candidate (`[diff]` in the
    /// manifest); absent when the run did not diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::diff::ResponseDiff>,
}

/// Predicted conditions a run used: which document, and what it changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionsUsed {
    /// `predicted` (the application's latest `shadowgate predict`), `file`, or `manifest` (only
    /// the manifest's `[conditions]`: then `path` is the manifest and the document fields are 0).
    pub origin: String,
    /// The document's path.
    pub path: String,
    /// The document's format version.
    pub version: u32,
    /// When the prediction was made, in milliseconds since the Unix epoch.
    pub generated_at_unix_ms: i64,
    /// How far ahead the prediction looked, in seconds.
    pub horizon_seconds: i64,
    /// The settings taken from the document (also listed under `settings`, source `predicted`).
    pub applied: Vec<Setting>,
    /// Conditions recorded with the run but not enforced by it, one sentence each.
    pub recorded: Vec<String>,
    /// The document's risk flags, one sentence each.
    pub risks: Vec<String>,
}

/// The `schema` field: serializes as [`SCHEMA_VERSION`] and accepts nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == SCHEMA_VERSION {
            Ok(SchemaVersion)
        } else {
            Err(serde::de::Error::custom(format!(
                "this report has schema `{text}`, but this version of shadowgate reads \
                 `{SCHEMA_VERSION}`; use the shadowgate version that wrote it, or rerun the check"
            )))
        }
    }
}

/// One arm of the comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseUnderTest {
    /// The release's name in the manifest (for example `v1`).
    pub release: String,
    /// The id of the shadow environment it ran in.
    pub environment_id: String,
}

/// The exit code of `shadowgate check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The code the process exited with: 0 when the verdict passes the gate, 1 when it does
    /// not, 2 when the check could not be carried out.
    pub code: i32,
    /// The code a marginal verdict exits with under this run's configuration (0 or 1).
    pub marginal_code: i32,
}

/// A setting the run used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// A dotted name, such as `load.rate` or `resources.memory`.
    pub name: String,
    /// The value as the user would write it, such as `200/s` or `512 MiB`.
    pub value: String,
    pub source: SettingSource,
}

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingSource {
    /// shadowgate's built-in default.
    Default,
    /// The application's manifest.
    Manifest,
    /// A command-line flag.
    Flag,
    /// The conditions predicted from production telemetry.
    Predicted,
    /// The manifest's `[conditions]` section.
    Conditions,
}

/// A pair of values, one per arm.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerArm<T> {
    pub baseline: T,
    pub candidate: T,
}

impl<T> PerArm<T> {
    /// The value of `arm`.
    pub fn get(&self, arm: Arm) -> &T {
        match arm {
            Arm::Baseline => &self.baseline,
            Arm::Candidate => &self.candidate,
        }
    }
}

/// One side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Baseline,
    Candidate,
}

impl Arm {
    /// Both arms, baseline first.
    pub const BOTH: [Arm; 2] = [Arm::Baseline, Arm::Candidate];

    /// `baseline` or `candidate`.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Baseline => "baseline",
            Arm::Candidate => "candidate",
        }
    }
}

/// What the load generator measured on one arm after warm-up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Requests finished, with a response or an error.
    pub requests: u64,
    /// Requests that got a complete response, whatever its status.
    pub responses: u64,
    /// Requests that failed (no complete response); the sum of `errors_by_kind`.
    pub errors: u64,
    /// Failed requests by kind (`connect`, `timeout`, `reset`, `other`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Responses by HTTP status code.
    pub statuses: BTreeMap<u16, u64>,
    /// The rate the plan asked for, in requests per second.
    pub offered_rate_per_s: f64,
    /// Complete responses per second over the measured phase.
    pub achieved_rate_per_s: f64,
    /// Latency percentiles of the complete responses; `null` when there were none.
    pub latency_ms: Option<LatencyPercentiles>,
}

/// Latency percentiles in milliseconds, measured from the intended send instant (so that a
/// stalled server cannot hide its queueing delay).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyPercentiles {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// A latency histogram with logarithmic buckets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyDistribution {
    /// The lower bound of the first bucket, in milliseconds.
    pub lower_bound_ms: f64,
    /// Buckets in increasing order; each counts latencies above the previous bound (or
    /// `lower_bound_ms`) up to and including its own `upper_bound_ms`.
    pub buckets: Vec<LatencyBucket>,
}

/// One histogram bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub upper_bound_ms: f64,
    pub count: u64,
}

/// A window on the run's timeline, in milliseconds since the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Something that happened during the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub start_ms: u64,
    /// When it ended; `null` for an instant (an OOM kill, a restart).
    pub end_ms: Option<u64>,
    /// Which arm it happened to.
    pub arm: EventArm,
    pub kind: EventKind,
    /// What happened, in the user's or the fault plan's words.
    pub message: String,
}

/// The arm an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventArm {
    Baseline,
    Candidate,
    Both,
}

/// What kind of event it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An injected fault (network toxic, disk full, memory pressure, ...).
    Fault,
    /// The kernel killed a process for exceeding its memory limit.
    OomKill,
    /// A process was restarted.
    Restart,
    /// A process exited unexpectedly.
    Crash,
    /// Anything else worth seeing on the timeline.
    Other,
}

/// A metric sampled over time on one arm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    pub metric: SeriesMetric,
    /// The unit of the values: always [`SeriesMetric::unit`] of `metric`, repeated so that
    /// the JSON reads on its own.
    pub unit: SeriesUnit,
    pub arm: Arm,
    /// `[t_ms, value]` pairs in time order, `t_ms` being the end of the sample interval;
    /// `value` is `null` where nothing was measured (a latency percentile of an interval
    /// without responses), which plots as a gap.
    pub points: Vec<(u64, Option<f64>)>,
}

impl TimeSeries {
    /// A series of `metric` on `arm` in the metric's unit.
    pub fn new(metric: SeriesMetric, arm: Arm, points: Vec<(u64, Option<f64>)>) -> TimeSeries {
        TimeSeries { metric, unit: metric.unit(), arm, points }
    }
}

/// The metrics plotted over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesMetric {
    /// The median latency of the responses that completed in each interval.
    LatencyP50,
    /// The 99th percentile latency of the responses that completed in each interval.
    LatencyP99,
    /// Complete responses per second.
    RequestsPerSecond,
    /// Failed requests per second.
    Errors,
    /// CPU used, in cores (1.0 is one core busy for the whole interval).
    CpuCores,
    /// Memory in use (resident set plus page cache charged to the environment).
    MemoryBytes,
}

impl SeriesMetric {
    /// The unit this metric's values are in.
    pub fn unit(self) -> SeriesUnit {
        match self {
            SeriesMetric::LatencyP50 | SeriesMetric::LatencyP99 => SeriesUnit::Milliseconds,
            SeriesMetric::RequestsPerSecond => SeriesUnit::RequestsPerSecond,
            SeriesMetric::Errors => SeriesUnit::ErrorsPerSecond,
            SeriesMetric::CpuCores => SeriesUnit::Cores,
            SeriesMetric::MemoryBytes => SeriesUnit::Bytes,
        }
    }

    /// A short label for legends, such as `p99`.
    pub fn label(self) -> &'static str {
        match self {
            SeriesMetric::LatencyP50 => "p50",
            SeriesMetric::LatencyP99 => "p99",
            SeriesMetric::RequestsPerSecond => "requests/s",
            SeriesMetric::Errors => "errors/s",
            SeriesMetric::CpuCores => "CPU",
            SeriesMetric::MemoryBytes => "memory",
        }
    }
}

/// The unit of a time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesUnit {
    Milliseconds,
    RequestsPerSecond,
    ErrorsPerSecond,
    Cores,
    Bytes,
}

/// The result of one of the user's own test commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCommandResult {
    /// The test's name in the manifest.
    pub name: String,
    /// Whether the command exited with status 0 in time.
    pub passed: bool,
    pub duration_ms: u64,
    /// The last lines of its combined output.
    pub output_tail: String,
    /// Why it was run: always, or the predicted risk that selected it.
    pub selected_because: String,
}
