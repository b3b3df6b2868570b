//! Plain-English sentences that explain each metric's outcome, and the number formatting
//! they use.
//!
//! A sentence names the metric, says what changed and by how much with its interval, names
//! the rule that decided, and ends with the outcome in capitals, for example
//! "request latency rose 9.6% (99% CI +8.1%..+11%; median 20.1 ms → 22.0 ms; p < 0.0001),
//! above the allowed +5%: FAIL".

use crate::{
    config::{Direction, NoDataPolicy},
    rate_test::CountSample,
    sample::SortedSample,
    source::{ExposureUnit, MetricKind, MetricSource, Unit},
    verdict::{ContinuousComparison, CountComparison, Outcome, Reason},
};
use std::fmt::Display;

pub(crate) fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Inconclusive => "INCONCLUSIVE",
        Outcome::Ignored => "IGNORED",
        Outcome::Error => "ERROR",
    }
}

pub(crate) fn missing_input(label: &str, source: &MetricSource) -> String {
    format!(
        "{label}: no data was handed to the judge for source `{source}`, so it could not be \
         judged and counts as a failure: ERROR"
    )
}

pub(crate) fn collection_failed(label: &str, message: &str) -> String {
    format!("{label}: collecting the data failed ({message}); counted as a failure: ERROR")
}

pub(crate) fn wrong_kind(label: &str, source: &MetricSource, kind: MetricKind) -> String {
    let (expected, found) = match kind {
        MetricKind::Continuous { .. } => ("values", "event counts"),
        MetricKind::Count { .. } => ("event counts with an exposure", "values"),
    };
    format!(
        "{label}: source `{source}` is compared as {expected}, but the data handed over were \
         {found}; counted as a failure: ERROR"
    )
}

pub(crate) fn invalid(label: &str, error: &dyn Display) -> String {
    format!("{label}: the data cannot be compared ({error}); counted as a failure: ERROR")
}

/// The detail of a no-data classification for a continuous metric.
pub(crate) fn too_few_samples(
    baseline: &SortedSample,
    candidate: &SortedSample,
    min_samples: usize,
) -> String {
    let mut detail = format!(
        "the baseline has {} and the candidate {} (at least {} per arm are needed)",
        counted(baseline.len(), "value"),
        thousands(candidate.len() as u64),
        thousands(min_samples as u64)
    );
    let dropped = baseline.dropped_non_finite() + candidate.dropped_non_finite();
    if dropped > 0 {
        detail.push_str(&format!(", after leaving out {}", counted(dropped, "non-finite value")));
    }
    detail
}

/// The detail of a no-data classification for a count metric.
pub(crate) fn zero_exposure(
    baseline: CountSample,
    candidate: CountSample,
    unit: ExposureUnit,
) -> String {
    let arms: Vec<&str> = [("baseline", baseline), ("candidate", candidate)]
        .into_iter()
        .filter(|(_, sample)| sample.exposure == 0.0)
        .map(|(name, _)| name)
        .collect();
    let what = match unit {
        ExposureUnit::Requests => "received no requests",
        ExposureUnit::Seconds => "was observed for 0 seconds",
    };
    format!("the {} {what}", arms.join(" and the "))
}

pub(crate) fn no_data(label: &str, detail: &str, policy: NoDataPolicy, outcome: Outcome) -> String {
    let policy = match policy {
        NoDataPolicy::Fail => "fail",
        NoDataPolicy::Ignore => "ignore",
        NoDataPolicy::Inconclusive => "inconclusive",
    };
    format!(
        "{label}: not enough data: {detail}; the no-data policy is `{policy}`: {}",
        outcome_word(outcome)
    )
}

pub(crate) fn identical(
    label: &str,
    baseline: &SortedSample,
    candidate: &SortedSample,
    unit: Unit,
) -> String {
    let value = baseline.values().first().copied().unwrap_or_default();
    format!(
        "{label}: every value of both arms is {} ({} in the baseline, {} in the candidate): PASS",
        quantity(value, unit),
        thousands(baseline.len() as u64),
        thousands(candidate.len() as u64)
    )
}

pub(crate) fn continuous(
    label: &str,
    direction: Direction,
    comparison: &ContinuousComparison,
    outcome: Outcome,
    reason: Reason,
) -> String {
    let confidence = confidence_percent(comparison.confidence);
    let unit = comparison.unit;
    let (movement, interval) = match comparison.relative_shift {
        Some(relative) => (
            movement(relative.estimate, unsigned_percent),
            format!("{confidence} CI {}..{}", percent(relative.lower), percent(relative.upper)),
        ),
        None => (
            movement(comparison.shift.estimate, |value| format!("by {}", quantity(value, unit))),
            format!(
                "{confidence} CI {}..{}",
                signed_quantity(comparison.shift.lower, unit),
                signed_quantity(comparison.shift.upper, unit)
            ),
        ),
    };
    let medians = match (comparison.baseline.median, comparison.candidate.median) {
        (Some(baseline), Some(candidate)) => {
            format!("; median {} → {}", quantity(baseline, unit), quantity(candidate, unit))
        }
        _ => String::new(),
    };
    let dropped = comparison.baseline.dropped_non_finite + comparison.candidate.dropped_non_finite;
    let dropped = if dropped > 0 {
        format!("; {} left out", counted(dropped, "non-finite value"))
    } else {
        String::new()
    };
    let rule = rule(
        reason,
        direction,
        comparison.relative_shift.map(|relative| relative.estimate),
        comparison.allowed_increase_percent,
        comparison.allowed_decrease_percent,
    );
    format!(
        "{label} {movement} ({interval}{medians}; {}{dropped}){rule}: {}",
        p_value(comparison.p_value),
        outcome_word(outcome)
    )
}

pub(crate) fn count(
    label: &str,
    direction: Direction,
    comparison: &CountComparison,
    outcome: Outcome,
    reason: Reason,
) -> String {
    let baseline = &comparison.baseline;
    let candidate = &comparison.candidate;
    let verb = if candidate.rate > baseline.rate {
        "rose from"
    } else if candidate.rate < baseline.rate {
        "fell from"
    } else {
        "stayed the same, from"
    };
    let (from, to) = match comparison.exposure_unit {
        ExposureUnit::Requests => (
            format!(
                "{} of {} requests ({})",
                thousands(baseline.events),
                exposure(baseline.exposure),
                share(baseline.rate)
            ),
            format!(
                "{} of {} ({})",
                thousands(candidate.events),
                exposure(candidate.exposure),
                share(candidate.rate)
            ),
        ),
        ExposureUnit::Seconds => (
            format!(
                "{} in {}",
                thousands(baseline.events),
                quantity(baseline.exposure, Unit::Seconds)
            ),
            format!(
                "{} in {}",
                thousands(candidate.events),
                quantity(candidate.exposure, Unit::Seconds)
            ),
        ),
    };
    if baseline.events + candidate.events == 0 {
        let exposure = |value: f64| match comparison.exposure_unit {
            ExposureUnit::Requests => format!("{} requests", exposure(value)),
            ExposureUnit::Seconds => quantity(value, Unit::Seconds),
        };
        return format!(
            "{label}: no events on either arm (baseline {}, candidate {}): {}",
            exposure(baseline.exposure),
            exposure(candidate.exposure),
            outcome_word(outcome)
        );
    }
    let confidence = confidence_percent(comparison.confidence);
    let statistics = {
        let ratio = comparison.rate_ratio.map_or("unbounded".to_string(), ratio);
        let interval = match comparison.ratio_upper {
            Some(upper) => {
                format!("{}..{}", self::ratio(comparison.ratio_lower), self::ratio(upper))
            }
            None => format!("≥ {}", self::ratio(comparison.ratio_lower)),
        };
        format!("rate ratio {ratio}, {confidence} CI {interval}, {}", p_value(comparison.p_value))
    };
    let rule = if reason == Reason::EventLimitExceeded {
        let limit = comparison.max_candidate_events.unwrap_or_default();
        format!(", more than the candidate's limit of {} events", thousands(limit))
    } else {
        let relative = match comparison.rate_ratio {
            Some(ratio) => Some(ratio - 1.0),
            None if candidate.events == 0 => Some(0.0),
            None => None,
        };
        rule(
            reason,
            direction,
            relative,
            comparison.allowed_increase_percent,
            comparison.allowed_decrease_percent,
        )
    };
    format!("{label} {verb} {from} to {to} ({statistics}){rule}: {}", outcome_word(outcome))
}

/// "rose 9.6%", "fell 3.1%" or "did not change" for a signed change.
fn movement(change: f64, magnitude: impl Fn(f64) -> String) -> String {
    if change > 0.0 {
        format!("rose {}", magnitude(change))
    } else if change < 0.0 {
        format!("fell {}", magnitude(-change))
    } else {
        "did not change".to_string()
    }
}

/// The clause that names the rule behind a decision, starting with a comma.
fn rule(
    reason: Reason,
    direction: Direction,
    relative: Option<f64>,
    allowed_increase_percent: f64,
    allowed_decrease_percent: f64,
) -> String {
    let rising = relative.is_none_or(|relative| relative > 0.0);
    let allowed = if rising {
        format!("+{}%", trimmed(allowed_increase_percent))
    } else {
        format!("-{}%", trimmed(allowed_decrease_percent))
    };
    match reason {
        Reason::Regression if relative.is_none() => {
            ", and with a baseline of zero any significant rise exceeds the allowance".to_string()
        }
        Reason::Regression => format!(", above the allowed {allowed}"),
        Reason::WithinAllowance => format!(", within the allowed {allowed}"),
        Reason::NotSignificant => ", not a significant change".to_string(),
        Reason::HarmlessDirection => match direction {
            Direction::Increase => ", and only an increase counts against the candidate",
            Direction::Decrease => ", and only a decrease counts against the candidate",
            Direction::Either => ", a change the configuration allows",
        }
        .to_string(),
        _ => String::new(),
    }
}

/// "99%" for 0.99.
fn confidence_percent(confidence: f64) -> String {
    format!("{}%", trimmed((confidence * 100.0 * 1e6).round() / 1e6))
}

/// A number without trailing zeros: 5 → "5", 2.5 → "2.5".
fn trimmed(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// A score with at most two decimals: 87.5 → "87.5", 100 → "100".
pub(crate) fn score_value(score: f64) -> String {
    trimmed((score * 100.0).round() / 100.0)
}

/// "p = 0.0039", or "p < 0.0001" for smaller values.
fn p_value(p: f64) -> String {
    if p < 1e-4 { "p < 0.0001".to_string() } else { format!("p = {}", significant(p, 2)) }
}

/// A signed percentage of a fraction: 0.096 → "+9.6%", -0.0012 → "-0.12%".
pub(crate) fn percent(fraction: f64) -> String {
    let sign = if fraction < 0.0 { "-" } else { "+" };
    format!("{sign}{}", unsigned_percent(fraction.abs()))
}

/// An unsigned percentage of a non-negative fraction with two significant digits, but no
/// decimals at or above 10 %: 0.096 → "9.6%", 0.38 → "38%".
fn unsigned_percent(fraction: f64) -> String {
    let value = fraction * 100.0;
    if value >= 10.0 { format!("{value:.0}%") } else { format!("{}%", significant(value, 2)) }
}

/// A rate per request as a percentage: 0.003 → "0.30%".
fn share(rate: f64) -> String {
    if rate == 0.0 { "0%".to_string() } else { format!("{}%", significant(rate * 100.0, 2)) }
}

/// A ratio: 2.1 → "2.1×".
fn ratio(value: f64) -> String {
    format!("{}×", significant(value, 2))
}

/// An exposure count, whole when it is whole.
fn exposure(value: f64) -> String {
    if value.fract() == 0.0 && value < 1e15 {
        thousands(value as u64)
    } else {
        significant(value, 4)
    }
}

/// "1 value" or "1,200 values" for `counted(n, "value")`.
fn counted(count: usize, singular: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{} {singular}{plural}", thousands(count as u64))
}

/// A value in its unit, with three significant digits and a readable prefix.
pub(crate) fn quantity(value: f64, unit: Unit) -> String {
    let magnitude = value.abs();
    match unit {
        Unit::Seconds if magnitude == 0.0 => "0 s".to_string(),
        Unit::Seconds if magnitude >= 1.0 => format!("{} s", significant(value, 3)),
        Unit::Seconds if magnitude >= 1e-3 => format!("{} ms", significant(value * 1e3, 3)),
        Unit::Seconds => format!("{} µs", significant(value * 1e6, 3)),
        Unit::Bytes => {
            const PREFIXES: [(f64, &str); 3] =
                [(1_073_741_824.0, "GiB"), (1_048_576.0, "MiB"), (1024.0, "KiB")];
            match PREFIXES.iter().find(|(size, _)| magnitude >= *size) {
                Some((size, name)) => format!("{} {name}", significant(value / size, 3)),
                None => format!("{} B", significant(value, 3)),
            }
        }
        Unit::Cores => format!("{} cores", significant(value, 3)),
        Unit::Unspecified if magnitude != 0.0 && !(1e-3..1e6).contains(&magnitude) => {
            format!("{value:.3e}")
        }
        Unit::Unspecified => significant(value, 4),
    }
}

fn signed_quantity(value: f64, unit: Unit) -> String {
    let sign = if value < 0.0 { "-" } else { "+" };
    format!("{sign}{}", quantity(value.abs(), unit))
}

/// `value` with `digits` significant digits in positional notation; integer digits are
/// never rounded away (157 stays "157" with two digits).
pub(crate) fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals_for = |number: f64| (digits - 1 - number.abs().log10().floor() as i32).max(0);
    let scale = 10f64.powi(decimals_for(value));
    // Rounding first lets a carry (9.96 → 10.0) settle the number of decimals.
    let rounded = (value * scale).round() / scale;
    let decimals = decimals_for(rounded) as usize;
    format!("{rounded:.decimals$}")
}

/// An integer with thousands separators: 3000 → "3,000".
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests;
