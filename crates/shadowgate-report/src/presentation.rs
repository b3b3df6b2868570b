//! What every rendering shows about a metric and the decision, as plain text cells, so that
//! the terminal table, the JUnit messages and the HTML page agree to the character.

use crate::format;
use shadowgate_judge::{
    config::Direction,
    source::ExposureUnit,
    verdict::{
        Comparison, ContinuousComparison, CountComparison, CountSummary, Decision, MetricResult,
        Outcome, Verdict,
    },
};

/// Shown where a number does not exist (no comparison, no interval).
pub(crate) const NOTHING: &str = "–";

/// The numbers of one metric, formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetricCells {
    /// The baseline's headline value: the median of a continuous metric, the events and rate
    /// of a count metric.
    pub baseline: String,
    pub candidate: String,
    /// Further figures of each arm (percentiles and sample size), empty for count metrics.
    pub baseline_detail: String,
    pub candidate_detail: String,
    /// The estimated change: a relative shift, an absolute shift, or a rate ratio.
    pub change: String,
    /// The confidence interval of `change`, with its level.
    pub interval: String,
    pub p_value: String,
    /// The change the configuration allows in the harmful direction.
    pub allowed: String,
}

impl MetricCells {
    pub(crate) fn of(metric: &MetricResult) -> MetricCells {
        match &metric.comparison {
            Some(Comparison::Continuous(comparison)) => continuous(metric.direction, comparison),
            Some(Comparison::Count(comparison)) => count(metric.direction, comparison),
            None => MetricCells {
                baseline: NOTHING.to_string(),
                candidate: NOTHING.to_string(),
                baseline_detail: String::new(),
                candidate_detail: String::new(),
                change: NOTHING.to_string(),
                interval: NOTHING.to_string(),
                p_value: NOTHING.to_string(),
                allowed: NOTHING.to_string(),
            },
        }
    }
}

fn continuous(direction: Direction, comparison: &ContinuousComparison) -> MetricCells {
    let unit = comparison.unit;
    let headline = |median: Option<f64>| {
        median.map_or(NOTHING.to_string(), |median| format::quantity(median, unit))
    };
    let detail = |summary: &shadowgate_judge::sample::SampleSummary| {
        let mut parts = Vec::new();
        if let Some(p90) = summary.p90 {
            parts.push(format!("p90 {}", format::quantity(p90, unit)));
        }
        if let Some(p99) = summary.p99 {
            parts.push(format!("p99 {}", format::quantity(p99, unit)));
        }
        parts.push(format!("n = {}", format::thousands(summary.count as u64)));
        parts.join(", ")
    };
    let level = format::confidence(comparison.confidence);
    let (change, interval) = match comparison.relative_shift {
        Some(relative) => (
            format::signed_percent(relative.estimate),
            format!(
                "{level} CI {}..{}",
                format::signed_percent(relative.lower),
                format::signed_percent(relative.upper)
            ),
        ),
        None => (
            format::signed_quantity(comparison.shift.estimate, unit),
            format!(
                "{level} CI {}..{}",
                format::signed_quantity(comparison.shift.lower, unit),
                format::signed_quantity(comparison.shift.upper, unit)
            ),
        ),
    };
    MetricCells {
        baseline: headline(comparison.baseline.median),
        candidate: headline(comparison.candidate.median),
        baseline_detail: detail(&comparison.baseline),
        candidate_detail: detail(&comparison.candidate),
        change,
        interval,
        p_value: format::p_value(comparison.p_value),
        allowed: allowance(
            direction,
            comparison.allowed_increase_percent,
            comparison.allowed_decrease_percent,
        ),
    }
}

fn count(direction: Direction, comparison: &CountComparison) -> MetricCells {
    let unit = comparison.exposure_unit;
    let both_zero = comparison.baseline.events == 0 && comparison.candidate.events == 0;
    let change = match comparison.rate_ratio {
        _ if both_zero => NOTHING.to_string(),
        Some(ratio) => format::ratio(ratio),
        None => "new".to_string(),
    };
    let level = format::confidence(comparison.confidence);
    let interval = match comparison.ratio_upper {
        _ if both_zero => NOTHING.to_string(),
        Some(upper) => {
            format!(
                "{level} CI {}..{}",
                format::ratio(comparison.ratio_lower),
                format::ratio(upper)
            )
        }
        None => format!("{level} CI ≥ {}", format::ratio(comparison.ratio_lower)),
    };
    let mut allowed = allowance(
        direction,
        comparison.allowed_increase_percent,
        comparison.allowed_decrease_percent,
    );
    if let Some(limit) = comparison.max_candidate_events {
        allowed.push_str(&format!(", ≤ {} events", format::thousands(limit)));
    }
    MetricCells {
        baseline: events(&comparison.baseline, unit),
        candidate: events(&comparison.candidate, unit),
        baseline_detail: String::new(),
        candidate_detail: String::new(),
        change,
        interval,
        p_value: if both_zero { NOTHING.to_string() } else { format::p_value(comparison.p_value) },
        allowed,
    }
}

/// "3 of 3,000 (0.1%)" for events per request, "2 in 600 s" for events per second.
fn events(summary: &CountSummary, unit: ExposureUnit) -> String {
    let events = format::thousands(summary.events);
    match unit {
        ExposureUnit::Requests => {
            let exposure = if summary.exposure.fract() == 0.0 && summary.exposure >= 0.0 {
                format::thousands(summary.exposure as u64)
            } else {
                format::significant(summary.exposure, 4)
            };
            format!("{events} of {exposure} ({})", format::percent(summary.rate))
        }
        ExposureUnit::Seconds => {
            format!("{events} in {}", format::duration_ms((summary.exposure * 1000.0) as u64))
        }
    }
}

/// The allowed change in the direction that hurts: "+10%", "-5%" or "+10% / -5%".
fn allowance(direction: Direction, increase_percent: f64, decrease_percent: f64) -> String {
    let increase = format!("+{}", format::percent_number(increase_percent));
    let decrease = format!("-{}", format::percent_number(decrease_percent));
    match direction {
        Direction::Increase => increase,
        Direction::Decrease => decrease,
        Direction::Either => format!("{increase} / {decrease}"),
    }
}

/// The outcome of a metric in capitals, with what changes its weight: "FAIL (critical)",
/// "PASS (dry run)".
pub(crate) fn outcome_label(metric: &MetricResult) -> String {
    let word = outcome_word(metric.outcome);
    let mut notes = Vec::new();
    if metric.critical {
        notes.push("critical");
    }
    if metric.dry_run {
        notes.push("dry run");
    }
    if notes.is_empty() { word.to_string() } else { format!("{word} ({})", notes.join(", ")) }
}

/// The outcome in capitals, as the judge's sentences end.
pub(crate) fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Inconclusive => "INCONCLUSIVE",
        Outcome::Ignored => "IGNORED",
        Outcome::Error => "ERROR",
    }
}

/// The decision in lower case, as the JSON spells it.
pub(crate) fn decision_word(decision: Decision) -> &'static str {
    match decision {
        Decision::Pass => "pass",
        Decision::Marginal => "marginal",
        Decision::Fail => "fail",
    }
}

/// The metrics that decided the verdict: for a fail, the critical metrics that failed if
/// any, else every scored failure; for a marginal, the scored failures and the inconclusive
/// metrics; nothing for a pass.
pub(crate) fn deciding_metrics(verdict: &Verdict) -> Vec<&MetricResult> {
    let failed = |metric: &&MetricResult| {
        !metric.dry_run && matches!(metric.outcome, Outcome::Fail | Outcome::Error)
    };
    match verdict.decision {
        Decision::Pass => Vec::new(),
        Decision::Fail => {
            let critical: Vec<&MetricResult> =
                verdict.metrics.iter().filter(failed).filter(|it| it.critical).collect();
            if critical.is_empty() {
                verdict.metrics.iter().filter(failed).collect()
            } else {
                critical
            }
        }
        Decision::Marginal => verdict
            .metrics
            .iter()
            .filter(|it| failed(it) || (!it.dry_run && it.outcome == Outcome::Inconclusive))
            .collect(),
    }
}
