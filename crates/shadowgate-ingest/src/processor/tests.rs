//! Tests of the processor: each privacy rule, their order, and rollups passing through.

use shadowgate_store::Sample;

use super::{Processor, RawSample};
use crate::{
    anonymize::{HASH_PREFIX, HashKey},
    config::IngestConfig,
};

fn key() -> HashKey {
    HashKey::new(*b"a-test-key-of-32-bytes-----------").unwrap()
}

fn point(metric: &str, labels: &[(&str, &str)], ts_ms: i64, value: f64) -> RawSample {
    RawSample {
        metric: metric.into(),
        labels: labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        ts_ms,
        value,
    }
}

fn no_rollups() -> IngestConfig {
    IngestConfig { rollups: false, ..IngestConfig::default() }
}

fn run(processor: &mut Processor, points: Vec<RawSample>) -> Vec<Sample> {
    let mut out = Vec::new();
    processor.process("shop", points, 0, &mut out);
    out
}

#[test]
fn identifying_labels_are_hashed_and_others_kept() {
    let mut processor = Processor::new(&no_rollups(), &key());
    let out = run(
        &mut processor,
        vec![point(
            "requests",
            &[("user_id", "u-1001"), ("client_ip", "203.0.113.9"), ("method", "GET")],
            5,
            1.0,
        )],
    );
    assert_eq!(out.len(), 1);
    let labels = &out[0].series.labels;
    assert_eq!(labels["method"], "GET");
    for name in ["user_id", "client_ip"] {
        assert!(labels[name].starts_with(HASH_PREFIX), "{name} = {}", labels[name]);
    }
    assert_ne!(labels["user_id"], labels["client_ip"]);
    assert_eq!(out[0].series.app, "shop");
    assert_eq!(out[0].series.env_id, "");
    assert_eq!((out[0].ts_ms, out[0].value), (5, 1.0));
    assert_eq!(processor.stats().values_hashed, 2);
}

#[test]
fn deny_and_allow_lists_remove_labels_but_keep_structural_ones() {
    let config = IngestConfig {
        label_allow: Some(vec!["method".into(), "path".into()]),
        label_deny: vec!["path".into()],
        ..no_rollups()
    };
    let mut processor = Processor::new(&config, &key());
    let out = run(
        &mut processor,
        vec![point(
            "latency_bucket",
            &[("method", "GET"), ("path", "/x"), ("pod", "p-1"), ("le", "0.5")],
            0,
            3.0,
        )],
    );
    let names: Vec<&str> = out[0].series.labels.keys().map(String::as_str).collect();
    assert_eq!(names, ["le", "method"], "deny wins over allow; `le` survives the allow-list");
    assert_eq!(processor.stats().labels_removed, 2);
}

#[test]
fn a_high_cardinality_label_is_dropped_and_reported_once() {
    let config = IngestConfig { max_label_values: 2, ..no_rollups() };
    let mut processor = Processor::new(&config, &key());
    let points = (0..5)
        .map(|idx| point("hits", &[("request_id", &format!("r{idx}")), ("code", "200")], idx, 1.0));
    let out = run(&mut processor, points.collect());
    let with_id = out.iter().filter(|s| s.series.labels.contains_key("request_id")).count();
    assert_eq!(with_id, 2, "the first two values pass, then the label goes");
    assert!(out.iter().all(|s| s.series.labels["code"] == "200"));
    let stats = processor.stats();
    assert_eq!(stats.labels_over_limit, 3);
    assert_eq!(stats.dropped_labels.len(), 1);
    let dropped = &stats.dropped_labels[0];
    assert_eq!(
        (dropped.app.as_str(), dropped.metric.as_str(), dropped.label.as_str(), dropped.limit),
        ("shop", "hits", "request_id", 2)
    );
}

#[test]
fn nan_points_are_dropped_and_infinities_kept() {
    let mut processor = Processor::new(&no_rollups(), &key());
    let out = run(
        &mut processor,
        vec![
            point("g", &[], 0, f64::NAN),
            point("g", &[], 1, f64::INFINITY),
            point("g", &[], 2, -1.0),
        ],
    );
    assert_eq!(out.iter().map(|s| s.value).collect::<Vec<_>>(), [f64::INFINITY, -1.0]);
    let stats = processor.stats();
    assert_eq!((stats.points_in, stats.points_out, stats.nan_dropped), (3, 2, 1));
}

#[test]
fn rollups_carry_the_hashed_labels_and_are_not_rolled_up_again() {
    let config = IngestConfig::default();
    let mut processor = Processor::new(&config, &key());
    let mut out = Vec::new();
    processor.process(
        "shop",
        vec![point("cpu", &[("host", "db-7.internal")], 1_000, 0.5)],
        0,
        &mut out,
    );
    processor.process("shop", vec![point("cpu:1m_max", &[], 1_000, 0.5)], 0, &mut out);
    processor.finish(&mut out);
    let rollups: Vec<&Sample> =
        out.iter().filter(|s| s.series.metric.starts_with("cpu:1m_")).collect();
    assert_eq!(rollups.len(), 7, "six rollups of `cpu` plus the `cpu:1m_max` point itself");
    assert!(out.iter().all(|s| !s.series.labels.values().any(|v| v.contains("db-7"))));
    assert_eq!(processor.stats().rollup_points, 6);
}
