//! Classification of one metric: from its configuration and input to an outcome, the numbers
//! behind it and the sentence that explains it.
//!
//! A change counts against the candidate only when it is statistically significant (the
//! two-sided p-value is below 1 − confidence *and* the confidence interval excludes no change
//! on the harmful side) and larger than the metric's allowance in that direction. The point
//! estimate is compared with the allowance: a change that is significant and estimated above
//! the allowance fails; equal to the allowance passes.

use crate::{
    config::{Direction, MetricConfig, NoDataPolicy},
    explain,
    input::{MetricData, MetricInput},
    rank_test::{self, ShiftInterval},
    rate_test::{self, CountSample},
    sample::SortedSample,
    source::{ExposureUnit, MetricKind, Unit},
    verdict::{
        Comparison, ContinuousComparison, CountComparison, CountSummary, MetricResult, Outcome,
        Reason,
    },
};

/// Classifies `metric` given its input (if the caller supplied one) and the judge-wide
/// confidence level.
pub(crate) fn classify(
    metric: &MetricConfig,
    input: Option<&MetricInput>,
    judge_confidence: f64,
) -> MetricResult {
    let confidence = metric.confidence.unwrap_or(judge_confidence);
    let label = metric.source.label();
    let kind = metric.source.kind();
    let classification = match input.map(|input| &input.data) {
        None => Classification::error(
            Reason::MissingInput,
            explain::missing_input(&label, &metric.source),
        ),
        Some(Err(message)) => Classification::error(
            Reason::CollectionFailed,
            explain::collection_failed(&label, message),
        ),
        Some(Ok(data)) => match (kind, data) {
            (MetricKind::Continuous { unit }, MetricData::Continuous { baseline, candidate }) => {
                classify_continuous(metric, &label, unit, confidence, baseline, candidate)
            }
            (MetricKind::Count { exposure }, MetricData::Count { baseline, candidate }) => {
                classify_count(metric, &label, exposure, confidence, *baseline, *candidate)
            }
            (kind, _) => Classification::error(
                Reason::WrongKind,
                explain::wrong_kind(&label, &metric.source, kind),
            ),
        },
    };
    let mut explanation = classification.explanation;
    if metric.dry_run {
        explanation.push_str(" (dry run: reported, not scored)");
    }
    MetricResult {
        name: metric.name.clone(),
        source: metric.source.clone(),
        group: metric.group_name().to_string(),
        critical: metric.critical,
        dry_run: metric.dry_run,
        direction: metric.direction,
        no_data: metric.no_data,
        outcome: classification.outcome,
        reason: classification.reason,
        explanation,
        comparison: classification.comparison,
    }
}

/// An outcome with its reason, sentence and numbers.
struct Classification {
    outcome: Outcome,
    reason: Reason,
    explanation: String,
    comparison: Option<Comparison>,
}

impl Classification {
    fn error(reason: Reason, explanation: String) -> Self {
        Classification { outcome: Outcome::Error, reason, explanation, comparison: None }
    }

    fn no_data(policy: NoDataPolicy, label: &str, detail: &str) -> Self {
        let outcome = match policy {
            NoDataPolicy::Fail => Outcome::Fail,
            NoDataPolicy::Ignore => Outcome::Ignored,
            NoDataPolicy::Inconclusive => Outcome::Inconclusive,
        };
        Classification {
            outcome,
            reason: Reason::NoData,
            explanation: explain::no_data(label, detail, policy, outcome),
            comparison: None,
        }
    }
}

/// The relative changes (fractions, +0.1 = +10 %) behind a decision, and the allowances.
struct Effect {
    /// Whether the change is significant upwards or downwards.
    significant_increase: bool,
    significant_decrease: bool,
    /// The point estimate of the relative change; `None` when it is unbounded or undefined
    /// (a zero baseline), in which case any significant change exceeds every allowance.
    relative_estimate: Option<f64>,
    allowed_increase_percent: f64,
    allowed_decrease_percent: f64,
}

impl Effect {
    /// The outcome and reason for a metric penalising `direction`.
    fn decide(&self, direction: Direction) -> (Outcome, Reason) {
        let beyond_increase = self
            .relative_estimate
            .is_none_or(|relative| relative * 100.0 > self.allowed_increase_percent);
        let beyond_decrease = self
            .relative_estimate
            .is_none_or(|relative| -relative * 100.0 > self.allowed_decrease_percent);
        let harmful_increase = self.significant_increase && direction.penalizes_increase();
        let harmful_decrease = self.significant_decrease && direction.penalizes_decrease();
        if (harmful_increase && beyond_increase) || (harmful_decrease && beyond_decrease) {
            (Outcome::Fail, Reason::Regression)
        } else if harmful_increase || harmful_decrease {
            (Outcome::Pass, Reason::WithinAllowance)
        } else if self.significant_increase || self.significant_decrease {
            (Outcome::Pass, Reason::HarmlessDirection)
        } else {
            (Outcome::Pass, Reason::NotSignificant)
        }
    }
}

fn classify_continuous(
    metric: &MetricConfig,
    label: &str,
    unit: Unit,
    confidence: f64,
    baseline: &[f64],
    candidate: &[f64],
) -> Classification {
    let baseline = SortedSample::new(baseline);
    let candidate = SortedSample::new(candidate);
    // An empty arm is never enough, whatever an unvalidated configuration says.
    let min_samples = metric.min_samples().max(1);
    if baseline.len() < min_samples || candidate.len() < min_samples {
        let detail = explain::too_few_samples(&baseline, &candidate, min_samples);
        return Classification::no_data(metric.no_data, label, &detail);
    }
    if baseline.is_constant_and_equal_to(&candidate) {
        return Classification {
            outcome: Outcome::Pass,
            reason: Reason::Identical,
            explanation: explain::identical(label, &baseline, &candidate, unit),
            comparison: None,
        };
    }
    let computed =
        rank_test::rank_sum_test_sorted(baseline.values(), candidate.values()).and_then(|test| {
            rank_test::shift_interval_sorted(baseline.values(), candidate.values(), confidence)
                .map(|shift| (test, shift))
        });
    let (test, shift) = match computed {
        Ok(result) => result,
        Err(error) => {
            return Classification::error(Reason::InvalidData, explain::invalid(label, &error));
        }
    };
    let baseline_summary = baseline.summary();
    let relative_shift =
        baseline_summary.median.filter(|median| *median != 0.0).map(|median| ShiftInterval {
            lower: shift.lower / median.abs(),
            estimate: shift.estimate / median.abs(),
            upper: shift.upper / median.abs(),
        });
    let significant = test.p_value < 1.0 - confidence;
    let effect = Effect {
        significant_increase: significant && shift.lower > 0.0,
        significant_decrease: significant && shift.upper < 0.0,
        relative_estimate: relative_shift.map(|relative| relative.estimate),
        allowed_increase_percent: metric.allowed_increase_percent,
        allowed_decrease_percent: metric.allowed_decrease_percent,
    };
    let (outcome, reason) = effect.decide(metric.direction);
    let comparison = ContinuousComparison {
        confidence,
        unit,
        baseline: baseline_summary,
        candidate: candidate.summary(),
        u: test.u,
        z: test.z,
        p_value: test.p_value,
        shift,
        relative_shift,
        allowed_increase_percent: metric.allowed_increase_percent,
        allowed_decrease_percent: metric.allowed_decrease_percent,
    };
    let explanation = explain::continuous(label, metric.direction, &comparison, outcome, reason);
    Classification {
        outcome,
        reason,
        explanation,
        comparison: Some(Comparison::Continuous(comparison)),
    }
}

fn classify_count(
    metric: &MetricConfig,
    label: &str,
    exposure_unit: ExposureUnit,
    confidence: f64,
    baseline: CountSample,
    candidate: CountSample,
) -> Classification {
    if baseline.exposure == 0.0 || candidate.exposure == 0.0 {
        let detail = explain::zero_exposure(baseline, candidate, exposure_unit);
        return Classification::no_data(metric.no_data, label, &detail);
    }
    let rates = match rate_test::compare_rates(baseline, candidate, confidence) {
        Ok(rates) => rates,
        Err(error) => {
            return Classification::error(Reason::InvalidData, explain::invalid(label, &error));
        }
    };
    let significant = rates.p_value < 1.0 - confidence;
    let relative_estimate = match rates.rate_ratio {
        Some(ratio) => Some(ratio - 1.0),
        // No baseline events: no candidate events is no change, some are an unbounded rise.
        None if candidate.events == 0 => Some(0.0),
        None => None,
    };
    let effect = Effect {
        significant_increase: significant && rates.ratio_lower > 1.0,
        significant_decrease: significant && rates.ratio_upper.is_some_and(|upper| upper < 1.0),
        relative_estimate,
        allowed_increase_percent: metric.allowed_increase_percent,
        allowed_decrease_percent: metric.allowed_decrease_percent,
    };
    let (outcome, reason) = match metric.max_candidate_events {
        Some(limit) if candidate.events > limit => (Outcome::Fail, Reason::EventLimitExceeded),
        _ => effect.decide(metric.direction),
    };
    let summary = |sample: CountSample| CountSummary {
        events: sample.events,
        exposure: sample.exposure,
        rate: sample.rate(),
    };
    let comparison = CountComparison {
        confidence,
        exposure_unit,
        baseline: summary(baseline),
        candidate: summary(candidate),
        rate_ratio: rates.rate_ratio,
        ratio_lower: rates.ratio_lower,
        ratio_upper: rates.ratio_upper,
        p_value: rates.p_value,
        allowed_increase_percent: metric.allowed_increase_percent,
        allowed_decrease_percent: metric.allowed_decrease_percent,
        max_candidate_events: metric.max_candidate_events,
    };
    let explanation = explain::count(label, metric.direction, &comparison, outcome, reason);
    Classification { outcome, reason, explanation, comparison: Some(Comparison::Count(comparison)) }
}
