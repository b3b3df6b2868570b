//! The records the store keeps.

use std::collections::BTreeMap;

use shadowgate_core::env::EnvState;

/// An application known from a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub name: String,
    pub description: Option<String>,
    /// Where its manifest was last read from.
    pub manifest_path: String,
    pub updated_ms: i64,
}

/// A release of an application.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub app: String,
    pub name: String,
    /// The resolved artifact path.
    pub path: String,
    pub updated_ms: i64,
}

/// One environment and where it is in its lifecycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub id: String,
    pub app: String,
    pub release: String,
    /// `baseline`, `candidate`, `standalone` or `shadow`.
    pub role: String,
    pub state: EnvState,
    pub labels: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The host address that reaches the application, once it is up.
    pub endpoint: Option<String>,
    /// The process that supervises the environment.
    pub supervisor_pid: Option<i64>,
    /// The environment's state directory on the host.
    pub state_dir: String,
    /// The run this environment belongs to, if any.
    pub run_id: Option<String>,
    /// Why it failed or stopped, in words.
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct EnvironmentFilter {
    pub app: Option<String>,
    pub run_id: Option<String>,
    /// Only environments in one of these states (all when empty).
    pub states: Vec<EnvState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Passed,
    Marginal,
    Failed,
    /// The run could not complete (an environment did not start, the load could not run).
    Errored,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Passed => "passed",
            RunStatus::Marginal => "marginal",
            RunStatus::Failed => "failed",
            RunStatus::Errored => "errored",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Passed,
            RunStatus::Marginal,
            RunStatus::Failed,
            RunStatus::Errored,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

/// A `check` (or another comparison) and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: String,
    pub app: String,
    /// What kind of run: `check`, ...
    pub kind: String,
    pub baseline: String,
    pub candidate: String,
    pub status: RunStatus,
    pub score: Option<f64>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// The run's settings, as JSON.
    pub config: serde_json::Value,
    /// The full result (the verdict document), as JSON, once finished.
    pub result: Option<serde_json::Value>,
}

/// Identifies one time series: an application, optionally an environment, a metric and labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub app: String,
    /// Empty for production telemetry that belongs to no environment.
    pub env_id: String,
    pub metric: String,
    pub labels: BTreeMap<String, String>,
}

/// One point of a time series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub series: SeriesKey,
    pub ts_ms: i64,
    pub value: f64,
}

/// Which samples to read. Unset fields match everything.
#[derive(Clone, Debug, Default)]
pub struct SampleQuery {
    pub app: Option<String>,
    pub env_id: Option<String>,
    pub metric: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// An event to record: something that happened to an environment or a run.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub env_id: Option<String>,
    pub run_id: Option<String>,
    /// e.g. `oom_kill`, `exited`, `fault_started`, `health_ok`.
    pub kind: String,
    pub at_ms: i64,
    pub end_ms: Option<i64>,
    pub message: String,
    pub data: serde_json::Value,
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: i64,
    pub env_id: Option<String>,
    pub run_id: Option<String>,
    pub kind: String,
    pub at_ms: i64,
    pub end_ms: Option<i64>,
    pub message: String,
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub env_id: Option<String>,
    pub run_id: Option<String>,
    pub kind: Option<String>,
}
