//! From metric outcomes to groups, a score and a decision.
//!
//! Rules, in order:
//!
//! 1. Dry-run metrics are reported and never counted.
//! 2. A critical metric that failed or errored fails the check, whatever the score.
//! 3. Each group's score is 100 × passed / (passed + failed + errors). Ignored and
//!    inconclusive metrics are not counted; a group with nothing counted has no score and is
//!    left out (it does not count as perfect).
//! 4. The overall score is the weighted mean of the group scores that exist.
//! 5. score ≥ pass_score ⇒ pass, unless a metric was inconclusive, which makes it marginal;
//!    marginal_score ≤ score < pass_score ⇒ marginal; score < marginal_score ⇒ fail.
//!    With no score at all (nothing could be counted) the decision is marginal.
//!
//! Scores are compared unrounded, so a threshold is met exactly when the arithmetic says so.

use crate::{
    config::{JudgeConfig, MarginalPolicy},
    explain,
    verdict::{Decision, GroupResult, MetricResult, Outcome, Verdict},
};

pub(crate) fn score(
    config: &JudgeConfig,
    metrics: Vec<MetricResult>,
    unmatched_inputs: Vec<String>,
) -> Verdict {
    let groups = group_results(config, &metrics);
    let weighted: Vec<(f64, f64)> =
        groups.iter().filter_map(|group| group.score.map(|score| (group.weight, score))).collect();
    let total_weight: f64 = weighted.iter().map(|(weight, _)| weight).sum();
    let score = (total_weight > 0.0)
        .then(|| weighted.iter().map(|(weight, score)| weight * score).sum::<f64>() / total_weight);

    let counted = |metric: &&MetricResult| !metric.dry_run;
    let critical_failures: Vec<&MetricResult> = metrics
        .iter()
        .filter(counted)
        .filter(|metric| {
            metric.critical && matches!(metric.outcome, Outcome::Fail | Outcome::Error)
        })
        .collect();
    let not_passed = |outcomes: &[Outcome]| -> Vec<String> {
        metrics
            .iter()
            .filter(counted)
            .filter(|metric| outcomes.contains(&metric.outcome))
            .map(|metric| format!("`{}`", metric.name))
            .collect()
    };
    let failed = not_passed(&[Outcome::Fail]);
    let errors = not_passed(&[Outcome::Error]);
    let inconclusive = not_passed(&[Outcome::Inconclusive]);
    let failures = format!("{}{}", list_suffix("failed", &failed), list_suffix("errors", &errors));

    let thresholds = format!(
        "pass ≥ {}, marginal ≥ {}",
        explain::score_value(config.pass_score),
        explain::score_value(config.marginal_score)
    );
    let (decision, mut summary) = if let [only] = critical_failures.as_slice() {
        (Decision::Fail, format!("FAIL: critical metric `{}`: {}", only.name, only.explanation))
    } else if !critical_failures.is_empty() {
        let names: Vec<String> =
            critical_failures.iter().map(|metric| format!("`{}`", metric.name)).collect();
        (Decision::Fail, format!("FAIL: critical metrics {} failed", names.join(", ")))
    } else {
        let text = score.map(explain::score_value).unwrap_or_default();
        match score {
            Some(score) if score >= config.pass_score => {
                if inconclusive.is_empty() {
                    (Decision::Pass, format!("PASS: score {text} ({thresholds}){failures}"))
                } else {
                    (
                        Decision::Marginal,
                        format!(
                            "MARGINAL: score {text} ({thresholds}), but {} inconclusive",
                            was_or_were(&inconclusive)
                        ),
                    )
                }
            }
            Some(score) if score >= config.marginal_score => (
                Decision::Marginal,
                format!(
                    "MARGINAL: score {text} ({thresholds}){failures}{}",
                    list_suffix("inconclusive", &inconclusive)
                ),
            ),
            Some(_) => (
                Decision::Fail,
                format!(
                    "FAIL: score {text} ({thresholds}){failures}{}",
                    list_suffix("inconclusive", &inconclusive)
                ),
            ),
            None => (
                Decision::Marginal,
                format!(
                    "MARGINAL: no metric could be scored{}",
                    list_suffix("inconclusive", &inconclusive)
                ),
            ),
        }
    };
    let passes_gate = match decision {
        Decision::Pass => true,
        Decision::Marginal => config.on_marginal == MarginalPolicy::Pass,
        Decision::Fail => false,
    };
    if decision == Decision::Marginal {
        summary.push_str(if passes_gate {
            "; marginal passes the gate (on_marginal = \"pass\")"
        } else {
            "; marginal fails the gate (on_marginal = \"fail\")"
        });
    }
    Verdict {
        decision,
        passes_gate,
        score,
        pass_score: config.pass_score,
        marginal_score: config.marginal_score,
        on_marginal: config.on_marginal,
        summary,
        groups,
        metrics,
        unmatched_inputs,
    }
}

/// Tallies each group, in the order groups first appear among the metrics.
fn group_results(config: &JudgeConfig, metrics: &[MetricResult]) -> Vec<GroupResult> {
    let mut groups: Vec<GroupResult> = Vec::new();
    for metric in metrics {
        let idx = match groups.iter().position(|group| group.name == metric.group) {
            Some(idx) => idx,
            None => {
                groups.push(GroupResult {
                    name: metric.group.clone(),
                    weight: config.group_weight(&metric.group),
                    score: None,
                    passed: 0,
                    failed: 0,
                    errors: 0,
                    not_scored: 0,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[idx];
        match metric.outcome {
            _ if metric.dry_run => group.not_scored += 1,
            Outcome::Pass => group.passed += 1,
            Outcome::Fail => group.failed += 1,
            Outcome::Error => group.errors += 1,
            Outcome::Inconclusive | Outcome::Ignored => group.not_scored += 1,
        }
    }
    for group in &mut groups {
        let counted = group.passed + group.failed + group.errors;
        group.score = (counted > 0).then(|| 100.0 * group.passed as f64 / counted as f64);
    }
    groups
}

/// "; failed: `a`, `b`", or nothing for an empty list.
fn list_suffix(what: &str, names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!("; {what}: {}", names.join(", ")) }
}

/// "`a` was" or "`a`, `b` were".
fn was_or_were(names: &[String]) -> String {
    if names.len() == 1 {
        format!("{} was", names[0])
    } else {
        format!("{} were", names.join(", "))
    }
}
