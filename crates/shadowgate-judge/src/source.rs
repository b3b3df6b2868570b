//! The vocabulary of metric sources: what a metric measures and where the caller gets it.
//!
//! A metric in `[judge]` names a source as a string. The judge never fetches anything itself;
//! the caller (the `check` command) maps each [`MetricSource`] to samples of both arms and
//! passes them in as a [`crate::MetricData`] of the [`MetricKind`] the source declares.
//!
//! | source | kind | what the caller provides per arm |
//! |---|---|---|
//! | `request.latency` | continuous, seconds | the latency of every request after warm-up |
//! | `request.latency.<name>` | continuous, seconds | the same, for the requests of one named kind (e.g. a `[[traffic.requests]]` entry) |
//! | `request.errors` | count per request | failed requests, and all requests as the exposure |
//! | `request.errors.<name>` | count per request | the same, for the requests of one named kind |
//! | `request.timeouts` | count per request | timed-out requests, and all requests as the exposure |
//! | `interval.latency.pNN` | continuous, seconds | the NN-th latency percentile of each interval (e.g. `p99`, `p99.9`) |
//! | `resource.cpu` | continuous, cores | CPU use sampled at a fixed period |
//! | `resource.memory` | continuous, bytes | memory use sampled at a fixed period |
//! | `event.oom_kill` | count per second | OOM kills, and the observed seconds as the exposure |
//! | `event.restart` | count per second | process restarts, and the observed seconds as the exposure |
//! | `prom:<name>` | continuous | the values of Prometheus metric `<name>` sampled at a fixed period |

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

/// Where a metric's samples come from; see the module documentation for the table.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MetricSource {
    /// `request.latency`
    RequestLatency,
    /// `request.latency.<name>`: the latency of the requests of one kind.
    RequestLatencyOf { request: String },
    /// `request.errors`
    RequestErrors,
    /// `request.errors.<name>`: the failures among the requests of one kind.
    RequestErrorsOf { request: String },
    /// `request.timeouts`
    RequestTimeouts,
    /// `interval.latency.p<percentile>`, with the percentile strictly between 0 and 100.
    IntervalLatency { percentile: f64 },
    /// `resource.cpu`
    ResourceCpu,
    /// `resource.memory`
    ResourceMemory,
    /// `event.oom_kill`
    EventOomKill,
    /// `event.restart`
    EventRestart,
    /// `prom:<name>`: a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    Prometheus { name: String },
}

/// How a source's data is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Two samples of values, compared by rank.
    Continuous { unit: Unit },
    /// Two event counts over an exposure, compared as rates.
    Count { exposure: ExposureUnit },
}

/// The unit of a continuous metric's values (used to print them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Cores,
    Bytes,
    /// Whatever the source reports.
    Unspecified,
}

/// What a count metric's exposure measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureUnit {
    Requests,
    Seconds,
}

/// The sources without a parameter, in documentation order.
const FIXED_SOURCES: [MetricSource; 7] = [
    MetricSource::RequestLatency,
    MetricSource::RequestErrors,
    MetricSource::RequestTimeouts,
    MetricSource::ResourceCpu,
    MetricSource::ResourceMemory,
    MetricSource::EventOomKill,
    MetricSource::EventRestart,
];

const INTERVAL_LATENCY_PREFIX: &str = "interval.latency.p";
const REQUEST_LATENCY_PREFIX: &str = "request.latency.";
const REQUEST_ERRORS_PREFIX: &str = "request.errors.";
const PROMETHEUS_PREFIX: &str = "prom:";

/// A source string that names no source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a metric source: {reason}")]
pub struct SourceParseError {
    pub text: String,
    pub reason: String,
}

impl MetricSource {
    /// How this source's data is compared.
    pub fn kind(&self) -> MetricKind {
        match self {
            MetricSource::RequestLatency
            | MetricSource::RequestLatencyOf { .. }
            | MetricSource::IntervalLatency { .. } => {
                MetricKind::Continuous { unit: Unit::Seconds }
            }
            MetricSource::ResourceCpu => MetricKind::Continuous { unit: Unit::Cores },
            MetricSource::ResourceMemory => MetricKind::Continuous { unit: Unit::Bytes },
            MetricSource::Prometheus { .. } => MetricKind::Continuous { unit: Unit::Unspecified },
            MetricSource::RequestErrors
            | MetricSource::RequestErrorsOf { .. }
            | MetricSource::RequestTimeouts => {
                MetricKind::Count { exposure: ExposureUnit::Requests }
            }
            MetricSource::EventOomKill | MetricSource::EventRestart => {
                MetricKind::Count { exposure: ExposureUnit::Seconds }
            }
        }
    }

    /// A short noun phrase for sentences, such as "request latency".
    pub fn label(&self) -> String {
        match self {
            MetricSource::RequestLatency => "request latency".into(),
            MetricSource::RequestLatencyOf { request } => {
                format!("latency of `{request}` requests")
            }
            MetricSource::RequestErrors => "error rate".into(),
            MetricSource::RequestErrorsOf { request } => {
                format!("error rate of `{request}` requests")
            }
            MetricSource::RequestTimeouts => "timeout rate".into(),
            MetricSource::IntervalLatency { percentile } => {
                format!("p{percentile} latency per interval")
            }
            MetricSource::ResourceCpu => "CPU use".into(),
            MetricSource::ResourceMemory => "memory use".into(),
            MetricSource::EventOomKill => "OOM kills".into(),
            MetricSource::EventRestart => "restarts".into(),
            MetricSource::Prometheus { name } => format!("`{name}`"),
        }
    }

    /// Every accepted form, for help texts.
    pub fn vocabulary() -> String {
        let mut forms: Vec<String> = FIXED_SOURCES.iter().map(MetricSource::to_string).collect();
        forms.insert(1, "request.latency.<request name>".into());
        forms.insert(3, "request.errors.<request name>".into());
        forms.insert(5, "interval.latency.p<percentile> (e.g. interval.latency.p99)".into());
        forms.push("prom:<metric name>".into());
        forms.join(", ")
    }
}

impl FromStr for MetricSource {
    type Err = SourceParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| SourceParseError { text: text.to_string(), reason };
        if let Some(source) = FIXED_SOURCES.iter().find(|source| source.to_string() == text) {
            return Ok(source.clone());
        }
        if let Some(digits) = text.strip_prefix(INTERVAL_LATENCY_PREFIX) {
            let well_formed = !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
                && !digits.starts_with('.');
            return match digits.parse::<f64>() {
                Ok(percentile) if well_formed && percentile > 0.0 && percentile < 100.0 => {
                    Ok(MetricSource::IntervalLatency { percentile })
                }
                _ => Err(error(format!(
                    "the percentile after `{INTERVAL_LATENCY_PREFIX}` must be a number strictly \
                     between 0 and 100, such as p50, p99 or p99.9"
                ))),
            };
        }
        for (prefix, make) in [
            (REQUEST_LATENCY_PREFIX, latency_of as fn(String) -> MetricSource),
            (REQUEST_ERRORS_PREFIX, errors_of),
        ] {
            if let Some(request) = text.strip_prefix(prefix) {
                return if is_request_name(request) {
                    Ok(make(request.to_string()))
                } else {
                    Err(error(format!(
                        "after `{prefix}` comes the `name` of a [[traffic.requests]] entry \
                         (letters, digits, `-`, `_` and `.`), such as `{prefix}checkout`"
                    )))
                };
            }
        }
        if let Some(name) = text.strip_prefix(PROMETHEUS_PREFIX) {
            return if is_prometheus_name(name) {
                Ok(MetricSource::Prometheus { name: name.to_string() })
            } else {
                Err(error(
                    "a Prometheus metric name starts with a letter, `_` or `:` and continues \
                     with letters, digits, `_` or `:`"
                        .into(),
                ))
            };
        }
        let hint = FIXED_SOURCES
            .iter()
            .map(MetricSource::to_string)
            .find(|name| edit_distance(name, text) <= 2)
            .map(|name| format!("did you mean `{name}`? "))
            .unwrap_or_default();
        Err(error(format!("{hint}known sources are {}", MetricSource::vocabulary())))
    }
}

impl fmt::Display for MetricSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricSource::RequestLatency => f.write_str("request.latency"),
            MetricSource::RequestLatencyOf { request } => {
                write!(f, "{REQUEST_LATENCY_PREFIX}{request}")
            }
            MetricSource::RequestErrors => f.write_str("request.errors"),
            MetricSource::RequestErrorsOf { request } => {
                write!(f, "{REQUEST_ERRORS_PREFIX}{request}")
            }
            MetricSource::RequestTimeouts => f.write_str("request.timeouts"),
            MetricSource::IntervalLatency { percentile } => {
                write!(f, "{INTERVAL_LATENCY_PREFIX}{percentile}")
            }
            MetricSource::ResourceCpu => f.write_str("resource.cpu"),
            MetricSource::ResourceMemory => f.write_str("resource.memory"),
            MetricSource::EventOomKill => f.write_str("event.oom_kill"),
            MetricSource::EventRestart => f.write_str("event.restart"),
            MetricSource::Prometheus { name } => write!(f, "{PROMETHEUS_PREFIX}{name}"),
        }
    }
}

impl Serialize for MetricSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MetricSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn latency_of(request: String) -> MetricSource {
    MetricSource::RequestLatencyOf { request }
}

fn errors_of(request: String) -> MetricSource {
    MetricSource::RequestErrorsOf { request }
}

fn is_request_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_prometheus_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Levenshtein distance, for "did you mean" hints on short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (row, a_char) in a.chars().enumerate() {
        let mut current = vec![row + 1; b.len() + 1];
        for (column, b_char) in b.iter().enumerate() {
            let substitution = previous[column] + usize::from(a_char != *b_char);
            current[column + 1] =
                substitution.min(previous[column + 1] + 1).min(current[column] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
