//! Classification of single metrics: the statistics, the rules and the sentences.

use crate::simulate::{Rng, latencies};
use shadowgate_judge::{
    JudgeConfig, MetricInput,
    config::{Direction, MetricConfig, NoDataPolicy},
    judge,
    source::MetricSource,
    verdict::{Comparison, MetricResult, Outcome, Reason},
};

/// Judges one metric and returns its result.
fn classify(metric: MetricConfig, input: MetricInput) -> MetricResult {
    let config = JudgeConfig { metrics: vec![metric], ..JudgeConfig::default() };
    judge(&config, &[input]).metrics.remove(0)
}

fn latency_metric(allowed_increase_percent: f64) -> MetricConfig {
    MetricConfig {
        allowed_increase_percent,
        ..MetricConfig::new("latency", MetricSource::IntervalLatency { percentile: 99.0 })
    }
}

fn errors_metric() -> MetricConfig {
    MetricConfig {
        allowed_increase_percent: 10.0,
        ..MetricConfig::new("errors", MetricSource::RequestErrors)
    }
}

fn continuous(result: &MetricResult) -> &shadowgate_judge::verdict::ContinuousComparison {
    match &result.comparison {
        Some(Comparison::Continuous(comparison)) => comparison,
        other => panic!("expected a continuous comparison, got {other:?}"),
    }
}

#[test]
fn a_large_latency_rise_fails_with_a_sentence_that_gives_the_numbers() {
    let mut rng = Rng::new(1);
    let baseline = latencies(&mut rng, 30, 1.0);
    let candidate = latencies(&mut rng, 30, 1.4);
    let result =
        classify(latency_metric(10.0), MetricInput::continuous("latency", baseline, candidate));
    assert_eq!((result.outcome, result.reason), (Outcome::Fail, Reason::Regression));
    let comparison = continuous(&result);
    let relative = comparison.relative_shift.unwrap();
    assert!(relative.lower > 0.0 && relative.estimate > 0.10, "{relative:?}");
    assert!(relative.lower <= relative.estimate && relative.estimate <= relative.upper);
    let sentence = &result.explanation;
    assert!(sentence.starts_with("p99 latency per interval rose "), "{sentence}");
    assert!(sentence.contains("% (99% CI +"), "{sentence}");
    assert!(sentence.contains(" ms → "), "{sentence}");
    assert!(sentence.ends_with(", above the allowed +10%: FAIL"), "{sentence}");
    // Every number behind the verdict is kept.
    assert_eq!((comparison.baseline.count, comparison.candidate.count), (30, 30));
    assert!(comparison.candidate.median.unwrap() > comparison.baseline.median.unwrap());
    assert!(comparison.z > 0.0 && comparison.p_value < 0.01 && comparison.u > 450.0);
    assert_eq!((comparison.confidence, comparison.allowed_increase_percent), (0.99, 10.0));
}

#[test]
fn a_significant_rise_within_the_allowance_passes() {
    let mut rng = Rng::new(2);
    let baseline = latencies(&mut rng, 20_000, 1.0);
    let candidate = latencies(&mut rng, 20_000, 1.04);
    let result =
        classify(latency_metric(10.0), MetricInput::continuous("latency", baseline, candidate));
    assert_eq!(
        (result.outcome, result.reason),
        (Outcome::Pass, Reason::WithinAllowance),
        "{}",
        result.explanation
    );
    assert!(
        result.explanation.ends_with(", within the allowed +10%: PASS"),
        "{}",
        result.explanation
    );
}

#[test]
fn noise_is_not_significant() {
    let mut rng = Rng::new(3);
    let baseline = latencies(&mut rng, 3000, 1.0);
    let candidate = latencies(&mut rng, 3000, 1.0);
    let result =
        classify(latency_metric(0.0), MetricInput::continuous("latency", baseline, candidate));
    assert_eq!(
        (result.outcome, result.reason),
        (Outcome::Pass, Reason::NotSignificant),
        "{}",
        result.explanation
    );
    assert!(result.explanation.ends_with(", not a significant change: PASS"));
}

#[test]
fn direction_decides_which_change_hurts() {
    let low: Vec<f64> = (0..200).map(|idx| 100.0 + f64::from(idx % 20)).collect();
    let high: Vec<f64> = low.iter().map(|value| value * 1.5).collect();
    let throughput = |direction| MetricConfig {
        direction,
        ..MetricConfig::new(
            "throughput",
            MetricSource::Prometheus { name: "requests_per_second".into() },
        )
    };
    let drop = MetricInput::continuous("throughput", high.clone(), low.clone());
    let rise = MetricInput::continuous("throughput", low, high);
    let result = classify(throughput(Direction::Decrease), drop.clone());
    assert_eq!((result.outcome, result.reason), (Outcome::Fail, Reason::Regression));
    assert!(
        result.explanation.starts_with("`requests_per_second` fell 3"),
        "{}",
        result.explanation
    );
    assert!(
        result.explanation.ends_with(", above the allowed -10%: FAIL"),
        "{}",
        result.explanation
    );
    let result = classify(throughput(Direction::Increase), drop.clone());
    assert_eq!((result.outcome, result.reason), (Outcome::Pass, Reason::HarmlessDirection));
    assert!(result.explanation.contains("only an increase counts against the candidate"));
    let result = classify(throughput(Direction::Decrease), rise.clone());
    assert_eq!((result.outcome, result.reason), (Outcome::Pass, Reason::HarmlessDirection));
    assert_eq!(classify(throughput(Direction::Either), drop).outcome, Outcome::Fail);
    assert_eq!(classify(throughput(Direction::Either), rise).outcome, Outcome::Fail);
}

#[test]
fn a_rise_from_a_zero_median_cannot_be_relative() {
    let baseline = [vec![0.0; 30], vec![0.5; 10]].concat();
    let candidate = [vec![0.0; 10], vec![0.6; 30]].concat();
    let metric = MetricConfig::new("cpu", MetricSource::ResourceCpu);
    let result = classify(metric, MetricInput::continuous("cpu", baseline, candidate));
    assert_eq!((result.outcome, result.reason), (Outcome::Fail, Reason::Regression));
    assert_eq!(continuous(&result).relative_shift, None);
    assert!(result.explanation.starts_with("CPU use rose by 0.6"), "{}", result.explanation);
    assert!(result.explanation.contains("cores"), "{}", result.explanation);
    assert!(result.explanation.contains("with a baseline of zero"), "{}", result.explanation);
}

#[test]
fn identical_constant_data_pass_without_a_test() {
    let metric = MetricConfig::new("memory", MetricSource::ResourceMemory);
    let result = classify(
        metric,
        MetricInput::continuous("memory", vec![1_048_576.0; 30], vec![1_048_576.0; 30]),
    );
    assert_eq!((result.outcome, result.reason), (Outcome::Pass, Reason::Identical));
    assert_eq!(
        result.explanation,
        "memory use: every value of both arms is 1.00 MiB (30 in the baseline, 30 in the candidate): PASS"
    );
    assert_eq!(result.comparison, None);
}

#[test]
fn non_finite_values_are_left_out_and_said_so() {
    let mut baseline: Vec<f64> = (1..=40).map(f64::from).collect();
    let candidate = baseline.clone();
    baseline.push(f64::NAN);
    baseline.push(f64::INFINITY);
    let metric = MetricConfig::new("x", MetricSource::Prometheus { name: "x".into() });
    let result = classify(metric, MetricInput::continuous("x", baseline, candidate));
    assert_eq!(continuous(&result).baseline.dropped_non_finite, 2);
    assert!(
        result.explanation.contains("; 2 non-finite values left out"),
        "{}",
        result.explanation
    );
}

#[test]
fn too_few_values_follow_the_no_data_policy() {
    let few: Vec<f64> = (1..=4).map(f64::from).collect();
    let many: Vec<f64> = (1..=40).map(f64::from).collect();
    for (policy, outcome, word) in [
        (NoDataPolicy::Fail, Outcome::Fail, "FAIL"),
        (NoDataPolicy::Ignore, Outcome::Ignored, "IGNORED"),
        (NoDataPolicy::Inconclusive, Outcome::Inconclusive, "INCONCLUSIVE"),
    ] {
        let metric =
            MetricConfig { no_data: policy, ..MetricConfig::new("cpu", MetricSource::ResourceCpu) };
        let result = classify(metric, MetricInput::continuous("cpu", many.clone(), few.clone()));
        assert_eq!((result.outcome, result.reason), (outcome, Reason::NoData));
        assert!(result.explanation.starts_with("CPU use: not enough data: the baseline has 40 values and the candidate 4 (at least 10 per arm are needed)"), "{}", result.explanation);
        assert!(result.explanation.ends_with(&format!(": {word}")), "{}", result.explanation);
    }
    let metric = MetricConfig {
        min_samples: Some(3),
        ..MetricConfig::new("cpu", MetricSource::ResourceCpu)
    };
    assert_ne!(classify(metric, MetricInput::continuous("cpu", many, few)).reason, Reason::NoData);
}

#[test]
fn errors_only_in_the_candidate_fail_once_significant() {
    // Kayenta passes this case: its baseline mean is 0, so the effect size is undefined.
    // Under equal rates each of the 9 events is a fair coin: p = 2 · 2⁻⁹ = 0.0039, and the
    // Clopper–Pearson lower bound of the candidate's share is 0.005^(1/9) = 0.555, a rate
    // ratio of 0.555 / 0.445 = 1.25.
    let result = classify(errors_metric(), MetricInput::count("errors", (0, 3000.0), (9, 3000.0)));
    assert_eq!((result.outcome, result.reason), (Outcome::Fail, Reason::Regression));
    assert_eq!(
        result.explanation,
        "error rate rose from 0 of 3,000 requests (0%) to 9 of 3,000 (0.30%) (rate ratio \
         unbounded, 99% CI ≥ 1.2×, p = 0.0039), and with a baseline of zero any significant \
         rise exceeds the allowance: FAIL"
    );
}

#[test]
fn a_tiny_count_over_a_tiny_exposure_is_not_over_read() {
    let result = classify(errors_metric(), MetricInput::count("errors", (0, 10.0), (2, 10.0)));
    assert_eq!((result.outcome, result.reason), (Outcome::Pass, Reason::NotSignificant));
    let Some(Comparison::Count(comparison)) = &result.comparison else { panic!("no comparison") };
    // Both events in the candidate under a fair coin: 2 · 2⁻² = 0.5.
    assert!((comparison.p_value - 0.5).abs() < 1e-12, "{comparison:?}");
    assert_eq!((comparison.rate_ratio, comparison.ratio_upper), (None, None));
}

#[test]
fn a_higher_error_rate_within_the_allowance_passes_and_beyond_it_fails() {
    let within = classify(
        errors_metric(),
        MetricInput::count("errors", (1000, 100_000.0), (1080, 100_000.0)),
    );
    assert_eq!(within.reason, Reason::NotSignificant, "{}", within.explanation);
    let large = classify(
        errors_metric(),
        MetricInput::count("errors", (10_000, 1_000_000.0), (10_500, 1_000_000.0)),
    );
    assert_eq!(
        (large.outcome, large.reason),
        (Outcome::Pass, Reason::WithinAllowance),
        "{}",
        large.explanation
    );
    let beyond = classify(
        errors_metric(),
        MetricInput::count("errors", (10_000, 1_000_000.0), (11_500, 1_000_000.0)),
    );
    assert_eq!(
        (beyond.outcome, beyond.reason),
        (Outcome::Fail, Reason::Regression),
        "{}",
        beyond.explanation
    );
    let Some(Comparison::Count(comparison)) = &beyond.comparison else { panic!("no comparison") };
    assert!((comparison.rate_ratio.unwrap() - 1.15).abs() < 1e-12);
    // The normal approximation of the log rate ratio gives 1.15 · exp(±2.576 · 0.0137).
    assert!((comparison.ratio_lower - 1.110).abs() < 0.002, "{comparison:?}");
    assert!((comparison.ratio_upper.unwrap() - 1.191).abs() < 0.002, "{comparison:?}");
}

#[test]
fn an_event_limit_fails_whatever_the_baseline_did() {
    let metric = MetricConfig {
        max_candidate_events: Some(0),
        ..MetricConfig::new("oom", MetricSource::EventOomKill)
    };
    let result = classify(metric, MetricInput::count("oom", (1, 30.0), (1, 30.0)));
    assert_eq!((result.outcome, result.reason), (Outcome::Fail, Reason::EventLimitExceeded));
    assert!(
        result
            .explanation
            .starts_with("OOM kills stayed the same, from 1 in 30.0 s to 1 in 30.0 s"),
        "{}",
        result.explanation
    );
    assert!(result.explanation.ends_with(", more than the candidate's limit of 0 events: FAIL"));
}

#[test]
fn zero_exposure_is_no_data_and_a_bad_exposure_is_an_error() {
    let result = classify(errors_metric(), MetricInput::count("errors", (0, 3000.0), (0, 0.0)));
    assert_eq!((result.outcome, result.reason), (Outcome::Inconclusive, Reason::NoData));
    assert!(
        result.explanation.contains("the candidate received no requests"),
        "{}",
        result.explanation
    );
    let result = classify(errors_metric(), MetricInput::count("errors", (0, -5.0), (0, 10.0)));
    assert_eq!((result.outcome, result.reason), (Outcome::Error, Reason::InvalidData));
    assert!(result.explanation.contains("the baseline exposure is -5"), "{}", result.explanation);
}

#[test]
fn a_per_metric_confidence_overrides_the_judges() {
    let metric =
        MetricConfig { confidence: Some(0.9), min_samples: Some(1), ..latency_metric(0.0) };
    let result = classify(
        metric,
        MetricInput::continuous("latency", vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0]),
    );
    assert_eq!(continuous(&result).confidence, 0.9);
    assert!(result.explanation.contains("(90% CI"), "{}", result.explanation);
}
