//! The verdict's JSON form: stable field names, no non-finite numbers, readable sentences.

use crate::simulate::{Rng, default_check};
use serde_json::Value;
use shadowgate_judge::{JudgeConfig, MetricInput, judge};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn the_json_report_has_stable_field_names() {
    let mut rng = Rng::new(5);
    let mut inputs = default_check(&mut rng, 1.1);
    inputs[2] = MetricInput::failed("cpu", "cgroup cpu.stat is unreadable");
    let verdict = judge(&JudgeConfig::default(), &inputs);
    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(
        keys(&json),
        [
            "decision",
            "groups",
            "marginal_score",
            "metrics",
            "on_marginal",
            "pass_score",
            "passes_gate",
            "score",
            "summary",
            "unmatched_inputs"
        ]
    );
    assert_eq!(json["decision"], "fail");
    assert_eq!(json["on_marginal"], "fail");
    assert_eq!(
        keys(&json["groups"][0]),
        ["errors", "failed", "name", "not_scored", "passed", "score", "weight"]
    );
    let latency = &json["metrics"][0];
    assert_eq!(
        keys(latency),
        [
            "comparison",
            "critical",
            "direction",
            "dry_run",
            "explanation",
            "group",
            "name",
            "no_data",
            "outcome",
            "reason",
            "source"
        ]
    );
    assert_eq!(
        (latency["source"].as_str(), latency["outcome"].as_str(), latency["reason"].as_str()),
        (Some("request.latency"), Some("fail"), Some("regression"))
    );
    let comparison = &latency["comparison"];
    assert_eq!(comparison["kind"], "continuous");
    assert_eq!(
        keys(comparison),
        [
            "allowed_decrease_percent",
            "allowed_increase_percent",
            "baseline",
            "candidate",
            "confidence",
            "kind",
            "p_value",
            "relative_shift",
            "shift",
            "u",
            "unit",
            "z"
        ]
    );
    assert_eq!(keys(&comparison["shift"]), ["estimate", "lower", "upper"]);
    assert_eq!(
        keys(&comparison["baseline"]),
        ["count", "dropped_non_finite", "max", "mean", "median", "min", "p90", "p99"]
    );
    let errors = &json["metrics"][1]["comparison"];
    assert_eq!(errors["kind"], "count");
    assert_eq!(errors["exposure_unit"], "requests");
    assert_eq!(keys(&errors["baseline"]), ["events", "exposure", "rate"]);
    let cpu = &json["metrics"][2];
    assert_eq!(
        (cpu["outcome"].as_str(), cpu["reason"].as_str()),
        (Some("error"), Some("collection_failed"))
    );
    assert!(cpu["comparison"].is_null());
}

#[test]
fn the_json_report_holds_no_infinite_or_nan_numbers() {
    // Zero baseline errors give an unbounded rate ratio, which must become null.
    let config = JudgeConfig::default();
    let inputs = [
        MetricInput::continuous("request_latency", vec![0.01; 50], vec![0.01; 50]),
        MetricInput::count("error_rate", (0, 3000.0), (30, 3000.0)),
        MetricInput::continuous("cpu", vec![0.0; 30], vec![0.0; 30]),
        MetricInput::continuous("memory", vec![f64::NAN; 30], vec![1.0; 30]),
        MetricInput::count("oom_kills", (0, 30.0), (0, 30.0)),
    ];
    let verdict = judge(&config, &inputs);
    let text = serde_json::to_string(&verdict).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let errors = &json["metrics"][1]["comparison"];
    assert!(errors["rate_ratio"].is_null() && errors["ratio_upper"].is_null());
    assert!(errors["ratio_lower"].as_f64().unwrap() > 1.0);
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
}

#[test]
fn every_metric_has_a_sentence_that_ends_with_its_outcome() {
    let mut rng = Rng::new(6);
    let verdict = judge(&JudgeConfig::default(), &default_check(&mut rng, 1.0));
    for metric in &verdict.metrics {
        let word = serde_json::to_value(metric.outcome).unwrap().as_str().unwrap().to_uppercase();
        assert!(metric.explanation.ends_with(&format!(": {word}")), "{}", metric.explanation);
    }
    assert!(verdict.summary.starts_with("PASS: score 100"), "{}", verdict.summary);
}
