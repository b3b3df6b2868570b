//! Response diff with Diffy's three-way noise filter.
//!
//! Every request is answered by the primary (the old version), a secondary (the old version
//! again) and the candidate (the new version). Each response is lifted into a flat map from
//! field paths (`status`, `headers.content-type`, `body.items[0].price`) to leaf values. Per
//! request, the raw diff (primary against candidate) and the noise diff (primary against
//! secondary) are computed; per endpoint and field, [`collector::DiffCollector`] counts how many
//! requests differed in each. A field is reported only when its raw count exceeds its noise
//! count by more than a relative and an absolute threshold: a random UUID or a timestamp differs
//! between the two old copies as often as against the candidate and is suppressed, while a field
//! the candidate really changed differs only in the raw diff.
//!
//! Rules trim what is compared before counting: field patterns and regexes on field paths,
//! ignored headers (a list of usually noisy ones by default), and value regexes under which two
//! values count as equal (for example two ISO timestamps). Everything here is pure: the caller
//! feeds in captured responses and reads a serializable report.

pub mod collector;
mod compare;
mod lift;
pub mod report;

use http::HeaderName;
use regex_lite::Regex;
use serde::Deserialize;

use crate::field_path::FieldPattern;

/// What the diff compares and how it decides that a field really differs.
#[derive(Clone, Debug)]
pub struct DiffConfig {
    /// Minimum `|raw - noise| / (raw + noise)` in percent for a field to be reported (Diffy: 20).
    pub relative_threshold_pct: f64,
    /// Minimum `|raw - noise| / requests` in percent for a field to be reported (Diffy: 0.03).
    pub absolute_threshold_pct: f64,
    /// Fields left out of the comparison, as patterns over lifted paths such as `body.meta.*`.
    pub ignore_fields: Vec<FieldPattern>,
    /// Fields left out when the rendered path matches, for example `^body\.debug_`.
    pub ignore_field_regexes: Vec<Regex>,
    /// Header names left out of the comparison.
    pub ignore_headers: Vec<HeaderName>,
    /// Two leaf values that both fully match one of these regexes count as equal.
    pub equal_value_regexes: Vec<Regex>,
    /// Whether headers are compared at all.
    pub compare_headers: bool,
    /// How many example exchanges are kept per endpoint and field (Diffy keeps 5).
    pub max_examples_per_field: usize,
    /// A request header naming the endpoint (Diffy's `Canonical-Resource`); without it, the
    /// endpoint is the method and the path with id-like segments replaced by `{id}`.
    pub endpoint_header: Option<HeaderName>,
}

/// Headers that differ between any two responses of the same version.
pub const DEFAULT_IGNORED_HEADERS: [&str; 9] = [
    "date",
    "age",
    "expires",
    "server-timing",
    "x-request-id",
    "x-correlation-id",
    "x-trace-id",
    "traceparent",
    "tracestate",
];

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            relative_threshold_pct: 20.0,
            absolute_threshold_pct: 0.03,
            ignore_fields: Vec::new(),
            ignore_field_regexes: Vec::new(),
            ignore_headers: DEFAULT_IGNORED_HEADERS
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect(),
            equal_value_regexes: Vec::new(),
            compare_headers: true,
            max_examples_per_field: 5,
            endpoint_header: None,
        }
    }
}

/// A diff configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("diff rules: {0}")]
pub struct DiffConfigError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffFile {
    relative_threshold_pct: Option<f64>,
    absolute_threshold_pct: Option<f64>,
    #[serde(default)]
    ignore_fields: Vec<FieldPattern>,
    #[serde(default)]
    ignore_field_regexes: Vec<String>,
    /// Added to the default list of ignored headers.
    #[serde(default)]
    ignore_headers: Vec<String>,
    #[serde(default)]
    equal_value_regexes: Vec<String>,
    compare_headers: Option<bool>,
    max_examples_per_field: Option<usize>,
    endpoint_header: Option<String>,
}

impl DiffConfig {
    /// Parses diff rules from TOML, starting from the defaults. For example:
    ///
    /// ```toml
    /// relative_threshold_pct = 20.0
    /// ignore_fields = ["body.meta.**", "body.items[*].id"]
    /// ignore_headers = ["x-served-by"]
    /// equal_value_regexes = ['^\d{4}-\d\d-\d\dT[0-9:.]+Z$']
    /// ```
    pub fn from_toml(text: &str) -> Result<DiffConfig, DiffConfigError> {
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|error| DiffConfigError(format!("not valid TOML: {}", error.message())))?;
        let file: DiffFile = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            DiffConfigError(format!("field `{}`: {}", error.path(), error.inner().message()))
        })?;
        let defaults = DiffConfig::default();
        let mut ignore_headers = defaults.ignore_headers;
        for name in &file.ignore_headers {
            ignore_headers.push(HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                DiffConfigError(format!(
                    "field `ignore_headers`: `{name}` is not a valid header name"
                ))
            })?);
        }
        let config = DiffConfig {
            relative_threshold_pct: file
                .relative_threshold_pct
                .unwrap_or(defaults.relative_threshold_pct),
            absolute_threshold_pct: file
                .absolute_threshold_pct
                .unwrap_or(defaults.absolute_threshold_pct),
            ignore_fields: file.ignore_fields,
            ignore_field_regexes: compile_regexes(
                "ignore_field_regexes",
                &file.ignore_field_regexes,
            )?,
            ignore_headers,
            equal_value_regexes: compile_regexes("equal_value_regexes", &file.equal_value_regexes)?,
            compare_headers: file.compare_headers.unwrap_or(defaults.compare_headers),
            max_examples_per_field: file
                .max_examples_per_field
                .unwrap_or(defaults.max_examples_per_field),
            endpoint_header: file
                .endpoint_header
                .map(|name| {
                    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                        DiffConfigError(format!(
                            "field `endpoint_header`: `{name}` is not a valid header name"
                        ))
                    })
                })
                .transpose()?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the thresholds: both are percentages in [0, 100].
    pub fn validate(&self) -> Result<(), DiffConfigError> {
        for (field, value) in [
            ("relative_threshold_pct", self.relative_threshold_pct),
            ("absolute_threshold_pct", self.absolute_threshold_pct),
        ] {
            if !(0.0..=100.0).contains(&value) {
                return Err(DiffConfigError(format!(
                    "field `{field}` is {value}; it is a percentage between 0 and 100 (Diffy's defaults are 20 and 0.03)"
                )));
            }
        }
        Ok(())
    }
}

fn compile_regexes(field: &str, patterns: &[String]) -> Result<Vec<Regex>, DiffConfigError> {
    patterns
        .iter()
        .enumerate()
        .map(|(idx, pattern)| {
            Regex::new(pattern).map_err(|error| {
                DiffConfigError(format!(
                    "field `{field}[{idx}]`: `{pattern}` is not a valid regex: {error}"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
