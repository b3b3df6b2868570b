//! Checks of a `[judge]` section that the types cannot express: ranges, names, references.

use super::JudgeConfig;
use crate::source::MetricKind;
use serde::Serialize;
use std::{collections::BTreeSet, fmt};

/// One thing wrong with a `[judge]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// The key, relative to `[judge]`, such as `metrics[2].allowed_increase_percent`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {} (help: {})", self.path, self.message, self.help)
    }
}

/// Every problem of `config`, in document order; empty when it is valid.
pub fn validate(config: &JudgeConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, message: String, help: &str| {
        problems.push(ConfigProblem { path, message, help: help.to_string() });
    };

    if !is_confidence(config.confidence) {
        problem(
            "confidence".into(),
            format!(
                "{} is not a confidence level between 0.5 and 1 (exclusive)",
                config.confidence
            ),
            "use a level such as 0.95 or 0.99",
        );
    }
    for (key, value) in
        [("pass_score", config.pass_score), ("marginal_score", config.marginal_score)]
    {
        if !(0.0..=100.0).contains(&value) {
            problem(
                key.into(),
                format!("{value} is outside the score range 0 to 100"),
                "scores run from 0 (every metric failed) to 100 (every metric passed)",
            );
        }
    }
    if config.marginal_score > config.pass_score {
        problem(
            "marginal_score".into(),
            format!(
                "the marginal score {} is above the pass score {}",
                config.marginal_score, config.pass_score
            ),
            "a score at or above pass_score passes and one at or above marginal_score is \
             marginal, so marginal_score must not exceed pass_score",
        );
    }

    if config.metrics.is_empty() {
        problem(
            "metrics".into(),
            "no metrics are configured".into(),
            "remove `metrics` to judge the default metrics, or add `[[judge.metrics]]` tables",
        );
    }
    let mut names = BTreeSet::new();
    for (idx, metric) in config.metrics.iter().enumerate() {
        let at = |key: &str| format!("metrics[{idx}].{key}");
        if !is_name(&metric.name) {
            problem(
                at("name"),
                format!("`{}` is not a valid metric name", metric.name),
                "use 1 to 64 letters, digits, `_`, `-` or `.`",
            );
        } else if !names.insert(metric.name.as_str()) {
            problem(
                at("name"),
                format!("a metric named `{}` already exists", metric.name),
                "give each metric a unique name",
            );
        }
        if let Some(group) = &metric.group
            && !is_name(group)
        {
            problem(
                at("group"),
                format!("`{group}` is not a valid group name"),
                "use 1 to 64 letters, digits, `_`, `-` or `.`",
            );
        }
        if !(metric.allowed_increase_percent.is_finite() && metric.allowed_increase_percent >= 0.0)
        {
            problem(
                at("allowed_increase_percent"),
                format!("{} is not a percentage of 0 or more", metric.allowed_increase_percent),
                "give the increase the candidate may show before failing, e.g. 10 for +10 %",
            );
        }
        if !(0.0..100.0).contains(&metric.allowed_decrease_percent) {
            problem(
                at("allowed_decrease_percent"),
                format!(
                    "{} is not a percentage from 0 to below 100",
                    metric.allowed_decrease_percent
                ),
                "give the decrease the candidate may show before failing, e.g. 10 for -10 %",
            );
        }
        if let Some(confidence) = metric.confidence
            && !is_confidence(confidence)
        {
            problem(
                at("confidence"),
                format!("{confidence} is not a confidence level between 0.5 and 1 (exclusive)"),
                "use a level such as 0.95 or 0.99, or remove the key to use [judge] confidence",
            );
        }
        match metric.source.kind() {
            MetricKind::Continuous { .. } => {
                if metric.min_samples == Some(0) {
                    problem(
                        at("min_samples"),
                        "at least one value per arm is needed to compare anything".into(),
                        "use 1 or more; the default is 10",
                    );
                }
                if metric.max_candidate_events.is_some() {
                    problem(
                        at("max_candidate_events"),
                        format!("`{}` is a continuous source, which has no events", metric.source),
                        "remove max_candidate_events, or use a count source such as event.oom_kill",
                    );
                }
            }
            MetricKind::Count { .. } => {
                if metric.min_samples.is_some() {
                    problem(
                        at("min_samples"),
                        format!("`{}` is a count source, which has no samples", metric.source),
                        "remove min_samples; a count metric has no data when an exposure is zero",
                    );
                }
            }
        }
    }

    let used_groups: BTreeSet<&str> = config.metrics.iter().map(|m| m.group_name()).collect();
    for (name, group) in &config.groups {
        let path = format!("groups.{}.weight", quote_key(name));
        if !(group.weight.is_finite() && group.weight > 0.0) {
            problem(
                path.clone(),
                format!("{} is not a positive weight", group.weight),
                "use a positive number; groups share the score in proportion to their weights",
            );
        }
        if !used_groups.contains(name.as_str()) {
            problem(
                format!("groups.{}", quote_key(name)),
                format!("no metric is in group `{name}`"),
                "remove the group, or set `group` on the metrics that belong to it",
            );
        }
    }
    problems
}

fn is_confidence(value: f64) -> bool {
    value > 0.5 && value < 1.0
}

fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A TOML key as written in a dotted path: bare when it can be, quoted otherwise.
fn quote_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
        key.to_string()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
