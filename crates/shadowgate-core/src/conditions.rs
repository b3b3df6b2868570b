//! The predicted-conditions document: what a release is expected to face in production.
//!
//! `shadowgate predict` writes it from telemetry; `shadowgate check --conditions` and the
//! environment synthesis read it. It is plain data with a `version` so that readers refuse a
//! document they do not understand instead of misreading it. Every estimate keeps the metric it
//! came from, so a report can say where a condition came from.
//!
//! `risks` lists what makes the release riskier than usual, each a [`RiskKind`] and a sentence
//! with the evidence in numbers: memory trending up, an error changepoint, load above the
//! highest rate any check used, dependency latency that stepped up, trends up or has a slow
//! tail, a disk forecast at 90 % of its capacity, and tables forecast above the rows any check
//! loaded. A check runs a scenario or test with a risk tag only when a flagged risk maps to the
//! tag (`scenario::risk_tags`). New kinds are added without a version change: every older
//! document still reads, and a reader older than a kind refuses the document with an error
//! naming the unknown kind.
//!
//! This module only defines the types and checks their values; encoding (JSON) is the caller's.

use serde::{Deserialize, Serialize};

/// The version this build writes and reads.
pub const CONDITIONS_VERSION: u32 = 1;

/// The whole document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictedConditions {
    /// Always [`CONDITIONS_VERSION`].
    pub version: u32,
    /// The application the telemetry belongs to.
    pub app: String,
    /// When the document was made, in milliseconds since the Unix epoch.
    pub generated_at_unix_ms: i64,
    /// How far ahead the estimates look, in seconds.
    pub horizon_seconds: i64,
    /// Expected peak request rate over the horizon, requests per second.
    #[serde(default)]
    pub peak_request_rate: Option<Estimate>,
    /// Expected peak number of requests in flight over the horizon.
    #[serde(default)]
    pub peak_concurrency: Option<Estimate>,
    /// Data volume per table, where telemetry reports it.
    #[serde(default)]
    pub data_volume: Vec<TableVolume>,
    /// Recommended resources for one instance.
    #[serde(default)]
    pub resources: Option<ResourceRecommendation>,
    /// Network conditions observed in production.
    #[serde(default)]
    pub network: NetworkObserved,
    /// Things that make this release riskier than usual.
    #[serde(default)]
    pub risks: Vec<RiskFlag>,
}

/// A forecast peak with its intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    pub expected: f64,
    pub lower80: f64,
    pub upper80: f64,
    pub lower95: f64,
    pub upper95: f64,
    /// The metric the estimate was made from.
    pub metric: String,
    /// The forecast model that made it (e.g. `mstl_ets`, `seasonal_naive`).
    #[serde(default)]
    pub model: Option<String>,
}

/// How much data one table holds at the end of the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableVolume {
    pub table: String,
    pub rows: f64,
    /// The metric the volume was read from.
    pub metric: String,
}

/// CPU in cores and memory in bytes, and which recommender chose them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRecommendation {
    pub cpu_cores: f64,
    pub memory_bytes: u64,
    pub recommender: String,
}

/// Percentiles of an observed quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub metric: String,
}

/// Network latency and bandwidth seen in production.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkObserved {
    #[serde(default)]
    pub latency_ms: Option<Percentiles>,
    #[serde(default)]
    pub bandwidth_bytes_per_second: Option<Percentiles>,
}

/// A risk and the sentence explaining it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskFlag {
    pub kind: RiskKind,
    pub message: String,
}

/// The kinds of risk, written in snake case (`memory_trending_up`). Kinds were only ever added,
/// so every older document still reads; the rules that raise each are in
/// `shadowgate_analytics::risk`, the scenario tags each selects in `scenario::risk_tags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// Memory use grows over the history.
    MemoryTrendingUp,
    /// The error series shifted level recently.
    ErrorChangepoint,
    /// The forecast peak load is above the highest rate any past check used.
    LoadAboveTested,
    /// The latency of the dependencies (databases, services) rose recently, trends up, or has
    /// a slow tail.
    DependencyLatency,
    /// Disk use is forecast near the disk's capacity by the end of the horizon.
    DiskFilling,
    /// A table is forecast to hold more rows than any check loaded.
    DataAboveTested,
}

impl RiskKind {
    /// Every kind, in declaration order.
    pub const ALL: [RiskKind; 6] = [
        RiskKind::MemoryTrendingUp,
        RiskKind::ErrorChangepoint,
        RiskKind::LoadAboveTested,
        RiskKind::DependencyLatency,
        RiskKind::DiskFilling,
        RiskKind::DataAboveTested,
    ];

    /// The name as written in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskKind::MemoryTrendingUp => "memory_trending_up",
            RiskKind::ErrorChangepoint => "error_changepoint",
            RiskKind::LoadAboveTested => "load_above_tested",
            RiskKind::DependencyLatency => "dependency_latency",
            RiskKind::DiskFilling => "disk_filling",
            RiskKind::DataAboveTested => "data_above_tested",
        }
    }
}

/// A value in the document that cannot be used, with the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("predicted conditions: `{field}`: {problem}")]
pub struct ConditionsError {
    /// The field's path, e.g. `peak_request_rate.expected`.
    pub field: String,
    pub problem: String,
}

impl PredictedConditions {
    /// Checks what the types allow but a reader cannot use.
    pub fn validate(&self) -> Result<(), ConditionsError> {
        let fail = |field: &str, problem: String| {
            Err(ConditionsError { field: field.to_string(), problem })
        };
        if self.version != CONDITIONS_VERSION {
            return fail(
                "version",
                format!(
                    "is {}, but this shadowgate reads version {CONDITIONS_VERSION}; regenerate it with `shadowgate predict`",
                    self.version
                ),
            );
        }
        if self.app.trim().is_empty() {
            return fail("app", "is empty; name the application the telemetry belongs to".into());
        }
        if self.horizon_seconds <= 0 {
            return fail(
                "horizon_seconds",
                format!("is {}; it must be positive", self.horizon_seconds),
            );
        }
        for (name, estimate) in [
            ("peak_request_rate", &self.peak_request_rate),
            ("peak_concurrency", &self.peak_concurrency),
        ] {
            if let Some(e) = estimate {
                for (part, v) in [
                    ("expected", e.expected),
                    ("lower80", e.lower80),
                    ("upper80", e.upper80),
                    ("lower95", e.lower95),
                    ("upper95", e.upper95),
                ] {
                    if !v.is_finite() || v < 0.0 {
                        return fail(
                            &format!("{name}.{part}"),
                            format!("is {v}; it must be a finite number of at least 0"),
                        );
                    }
                }
                if !(e.lower95 <= e.lower80 && e.lower80 <= e.upper80 && e.upper80 <= e.upper95) {
                    return fail(
                        name,
                        "the intervals must nest: lower95 ≤ lower80 ≤ upper80 ≤ upper95".into(),
                    );
                }
            }
        }
        if let Some(e) = &self.peak_request_rate
            && e.expected <= 0.0
        {
            return fail(
                "peak_request_rate.expected",
                "is 0; a check needs a positive request rate (drop the field to use the manifest's)".into(),
            );
        }
        for (idx, table) in self.data_volume.iter().enumerate() {
            if table.table.is_empty() {
                return fail(&format!("data_volume[{idx}].table"), "is empty".into());
            }
            if !table.rows.is_finite() || table.rows < 0.0 {
                return fail(
                    &format!("data_volume[{idx}].rows"),
                    format!("is {}; it must be a finite number of at least 0", table.rows),
                );
            }
        }
        if let Some(r) = &self.resources {
            if !r.cpu_cores.is_finite() || r.cpu_cores <= 0.0 {
                return fail(
                    "resources.cpu_cores",
                    format!("is {}; it must be a positive number of cores, e.g. 0.5", r.cpu_cores),
                );
            }
            if r.memory_bytes < 1 << 20 {
                return fail(
                    "resources.memory_bytes",
                    format!("is {}; it must be at least 1 MiB (1048576)", r.memory_bytes),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> PredictedConditions {
        PredictedConditions {
            version: CONDITIONS_VERSION,
            app: "inventory".into(),
            generated_at_unix_ms: 1_700_000_000_000,
            horizon_seconds: 7 * 86_400,
            peak_request_rate: Some(Estimate {
                expected: 120.0,
                lower80: 100.0,
                upper80: 140.0,
                lower95: 90.0,
                upper95: 150.0,
                metric: "http_requests_total".into(),
                model: Some("seasonal_naive".into()),
            }),
            peak_concurrency: None,
            data_volume: vec![TableVolume {
                table: "orders".into(),
                rows: 1e6,
                metric: "table_rows".into(),
            }],
            resources: Some(ResourceRecommendation {
                cpu_cores: 0.5,
                memory_bytes: 256 << 20,
                recommender: "forecast_aware".into(),
            }),
            network: NetworkObserved::default(),
            risks: vec![RiskFlag { kind: RiskKind::MemoryTrendingUp, message: "x".into() }],
        }
    }

    #[test]
    fn a_sound_document_validates() {
        assert_eq!(document().validate(), Ok(()));
    }

    #[test]
    fn problems_name_their_field() {
        let mut d = document();
        d.version = 2;
        assert_eq!(d.validate().unwrap_err().field, "version");

        let mut d = document();
        d.peak_request_rate.as_mut().unwrap().upper80 = f64::NAN;
        assert_eq!(d.validate().unwrap_err().field, "peak_request_rate.upper80");

        let mut d = document();
        d.peak_request_rate.as_mut().unwrap().lower80 = 145.0;
        assert_eq!(d.validate().unwrap_err().field, "peak_request_rate");

        let mut d = document();
        d.data_volume[0].rows = -1.0;
        assert_eq!(d.validate().unwrap_err().field, "data_volume[0].rows");

        let mut d = document();
        d.resources.as_mut().unwrap().cpu_cores = 0.0;
        let e = d.validate().unwrap_err();
        assert_eq!(e.field, "resources.cpu_cores");
        assert!(e.to_string().contains("positive number of cores"), "{e}");
    }
}
