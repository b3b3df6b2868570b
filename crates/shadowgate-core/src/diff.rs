//! The `[diff]` model: response comparison between baseline and candidate in `check`.
//!
//! With `[diff]` enabled, `check` starts a second environment running the baseline (the
//! *secondary*). All three environments receive the same load; afterwards a sample of the
//! judged requests is sent to the three at the same instants and their responses are compared
//! field by field with Diffy's noise filter: a field that differs between the two copies of
//! the baseline (ids, timestamps) as often as against the candidate is noise; a field that
//! differs only against the candidate is a difference.
//!
//! ```toml
//! [diff]
//! enabled = true                    # the default when the section is present
//! fail_on_difference = true         # a difference beyond noise fails the check
//! requests = 200                    # judged requests compared
//! relative_threshold = 20.0         # percent, Diffy's default
//! absolute_threshold = 0.03         # percent, Diffy's default
//! ignore_fields = ["body.meta.**"]
//! ignore_field_regexes = ['^body\.debug_']
//! ignore_headers = ["x-served-by"]  # added to the usual noisy ones (date, x-request-id, ...)
//! equal_value_regexes = ['^\d{4}-\d\d-\d\dT[0-9:.]+Z$']
//! compare_headers = true
//! max_examples = 5
//! endpoint_header = "x-endpoint"
//! ```
//!
//! Validation compiles the regexes; field patterns are parsed by the CLI, which names the key
//! of a bad one.

use serde::Deserialize;

use crate::manifest::KeyPath;

/// `[diff]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    /// Whether `check` runs the diff (true when the section is present unless set false).
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// Whether a field that differs beyond noise fails the check (exit code 1).
    #[serde(default = "defaults::fail_on_difference")]
    pub fail_on_difference: bool,
    /// How many judged requests are sent to the three environments and compared.
    #[serde(default = "defaults::requests")]
    pub requests: u32,
    /// Minimum `|raw - noise| / (raw + noise)`, in percent, for a field to be reported.
    #[serde(default = "defaults::relative_threshold")]
    pub relative_threshold: f64,
    /// Minimum `|raw - noise| / requests`, in percent, for a field to be reported.
    #[serde(default = "defaults::absolute_threshold")]
    pub absolute_threshold: f64,
    /// Field patterns left out, such as `body.meta.**` or `body.items[*].id`.
    #[serde(default)]
    pub ignore_fields: Vec<String>,
    /// Regexes over field paths left out, such as `^body\.debug_`.
    #[serde(default)]
    pub ignore_field_regexes: Vec<String>,
    /// Header names left out, in addition to the usually noisy ones.
    #[serde(default)]
    pub ignore_headers: Vec<String>,
    /// Two values that both fully match one of these regexes count as equal.
    #[serde(default)]
    pub equal_value_regexes: Vec<String>,
    /// Whether response headers are compared at all.
    #[serde(default = "defaults::compare_headers")]
    pub compare_headers: bool,
    /// Example request/response pairs kept per endpoint and field.
    #[serde(default = "defaults::max_examples")]
    pub max_examples: u32,
    /// A request header naming the endpoint; without it, the method and the path with id-like
    /// segments replaced by `{id}`.
    #[serde(default)]
    pub endpoint_header: Option<String>,
}

impl Default for Diff {
    fn default() -> Self {
        Diff {
            enabled: defaults::enabled(),
            fail_on_difference: defaults::fail_on_difference(),
            requests: defaults::requests(),
            relative_threshold: defaults::relative_threshold(),
            absolute_threshold: defaults::absolute_threshold(),
            ignore_fields: Vec::new(),
            ignore_field_regexes: Vec::new(),
            ignore_headers: Vec::new(),
            equal_value_regexes: Vec::new(),
            compare_headers: defaults::compare_headers(),
            max_examples: defaults::max_examples(),
            endpoint_header: None,
        }
    }
}

mod defaults {
    pub fn enabled() -> bool {
        true
    }
    pub fn fail_on_difference() -> bool {
        true
    }
    pub fn requests() -> u32 {
        200
    }
    pub fn relative_threshold() -> f64 {
        20.0
    }
    pub fn absolute_threshold() -> f64 {
        0.03
    }
    pub fn compare_headers() -> bool {
        true
    }
    pub fn max_examples() -> u32 {
        5
    }
}

/// One problem: the key path relative to `[diff]`, the message, and what to do about it.
pub type DiffProblem = (String, String, Option<String>);

/// Checks what the types cannot: percentages, counts and header names.
pub fn validate(diff: &Diff) -> Vec<DiffProblem> {
    let mut problems = Vec::new();
    let root = KeyPath::root();
    for (key, value) in [
        ("relative_threshold", diff.relative_threshold),
        ("absolute_threshold", diff.absolute_threshold),
    ] {
        if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
            problems.push((
                root.clone().key(key).to_string(),
                format!("{value} is not a percentage between 0 and 100"),
                Some("Diffy's defaults are 20 (relative) and 0.03 (absolute)".to_string()),
            ));
        }
    }
    if !(1..=100_000).contains(&diff.requests) {
        problems.push((
            root.clone().key("requests").to_string(),
            format!("{} requests cannot be compared", diff.requests),
            Some("give a number between 1 and 100000, e.g. 200".to_string()),
        ));
    }
    if !(1..=100).contains(&diff.max_examples) {
        problems.push((
            root.clone().key("max_examples").to_string(),
            format!("{} examples per field is out of range", diff.max_examples),
            Some("give a number between 1 and 100, e.g. 5".to_string()),
        ));
    }
    let headers = diff
        .ignore_headers
        .iter()
        .enumerate()
        .map(|(idx, name)| (root.clone().key("ignore_headers").index(idx), name))
        .chain(diff.endpoint_header.iter().map(|name| (root.clone().key("endpoint_header"), name)));
    for (path, name) in headers {
        if !is_header_name(name) {
            problems.push((
                path.to_string(),
                format!("`{name}` is not a valid HTTP header name"),
                Some("use letters, digits and dashes, e.g. `x-served-by`".to_string()),
            ));
        }
    }
    for (key, list) in [
        ("ignore_field_regexes", &diff.ignore_field_regexes),
        ("equal_value_regexes", &diff.equal_value_regexes),
        ("ignore_fields", &diff.ignore_fields),
    ] {
        for (idx, text) in list.iter().enumerate() {
            let path = root.clone().key(key).index(idx).to_string();
            if text.trim().is_empty() {
                problems.push((
                    path,
                    "the pattern is empty".to_string(),
                    Some("remove it, or write the pattern".to_string()),
                ));
            } else if key != "ignore_fields"
                && let Err(error) = regex_lite::Regex::new(text)
            {
                let reason = error.to_string();
                let reason = reason.lines().last().unwrap_or_default().trim().to_string();
                problems.push((
                    path,
                    format!("`{text}` is not a valid regex: {reason}"),
                    Some(
                        "write a regex such as `^body\\.debug_`; escape `.`, `(`, `[` with `\\`"
                            .to_string(),
                    ),
                ));
            }
        }
    }
    problems
}

/// RFC 9110 token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_section() {
        let diff: Diff = toml::from_str("").unwrap();
        assert_eq!(diff, Diff::default());
        assert!(diff.enabled && diff.fail_on_difference);
        assert!(validate(&diff).is_empty());
    }

    #[test]
    fn bad_values_name_their_key() {
        let diff: Diff = toml::from_str(
            "relative_threshold = 120.0\nrequests = 0\nignore_headers = [\"ok\", \"bad header\"]\nmax_examples = 0\n",
        )
        .unwrap();
        let keys: Vec<String> = validate(&diff).into_iter().map(|p| p.0).collect();
        assert_eq!(keys, ["relative_threshold", "requests", "max_examples", "ignore_headers[1]"]);
    }
}
