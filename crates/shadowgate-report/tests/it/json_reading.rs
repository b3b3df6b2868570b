//! The JSON form: it reads back to the same document, carries the judge's verdict exactly as
//! the judge writes it, and a damaged or foreign document fails with the field named.

use crate::fixture::sample_report;
use shadowgate_report::{SCHEMA_VERSION, from_json, to_json};

#[test]
fn a_report_reads_back_unchanged() {
    let report = sample_report();
    let text = to_json(&report);
    assert_eq!(from_json(&text), Ok(report));
}

#[test]
fn the_verdict_is_stored_in_the_judges_own_form() {
    let report = sample_report();
    let stored: serde_json::Value = serde_json::from_str(&to_json(&report)).expect("valid JSON");
    let judges_own = serde_json::to_value(&report.verdict).expect("the verdict serializes");
    assert_eq!(stored["verdict"], judges_own);
    // Every comparison kind and every optional number must have gone through the reader.
    let kinds: Vec<&str> = stored["verdict"]["metrics"]
        .as_array()
        .expect("metrics are a list")
        .iter()
        .filter_map(|metric| metric["comparison"]["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"continuous") && kinds.contains(&"count"), "{kinds:?}");
}

#[test]
fn fields_come_in_the_documented_order() {
    let text = to_json(&sample_report());
    let keys = [
        "\"schema\"",
        "\"run_id\"",
        "\"app\"",
        "\"started_at_unix_ms\"",
        "\"wall_duration_ms\"",
        "\"baseline\"",
        "\"candidate\"",
        "\"exit\"",
        "\"verdict\"",
        "\"settings\"",
        "\"load\"",
        "\"latency_distribution\"",
        "\"warmup\"",
        "\"events\"",
        "\"time_series\"",
        "\"tests\"",
        "\"warnings\"",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| {
            text.find(&format!("\n  {key}:"))
                .unwrap_or_else(|| panic!("top-level field {key} is missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{positions:?}");
    assert!(text.starts_with(&format!("{{\n  \"schema\": \"{SCHEMA_VERSION}\",")));
    assert!(text.ends_with("}\n"));
}

#[test]
fn a_missing_value_in_a_series_is_null_and_reads_back_as_a_gap() {
    let mut report = sample_report();
    report.time_series[0].points[3].1 = Some(f64::NAN);
    let text = to_json(&report);
    let stored: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(stored["time_series"][0]["points"][3][1].is_null());
    let read = from_json(&text).expect("the report reads back");
    assert_eq!(read.time_series[0].points[3].1, None);
}

#[test]
fn a_report_of_another_schema_is_refused_with_advice() {
    let text = to_json(&sample_report()).replace(SCHEMA_VERSION, "shadowgate.check/v2");
    let error = from_json(&text).expect_err("a v2 report must not be read as v1");
    assert_eq!(error.field, "schema");
    assert!(error.message.contains("shadowgate.check/v2"), "{error}");
    assert!(error.message.contains(SCHEMA_VERSION), "{error}");
}

#[test]
fn a_damaged_verdict_names_the_field_path() {
    let mut stored: serde_json::Value =
        serde_json::from_str(&to_json(&sample_report())).expect("valid JSON");
    stored["verdict"]["metrics"][2]["outcome"] = serde_json::json!("maybe");
    let error = from_json(&stored.to_string()).expect_err("an unknown outcome must be refused");
    assert_eq!(error.field, "verdict.metrics[2].outcome");
    assert!(error.message.contains("maybe"), "{error}");
    assert!(error.to_string().contains("verdict.metrics[2].outcome"), "{error}");
}

#[test]
fn a_missing_field_is_named() {
    let mut stored: serde_json::Value =
        serde_json::from_str(&to_json(&sample_report())).expect("valid JSON");
    stored["load"]["candidate"]
        .as_object_mut()
        .expect("a load summary is an object")
        .remove("achieved_rate_per_s");
    let error = from_json(&stored.to_string()).expect_err("a missing field must be refused");
    assert_eq!(error.field, "load.candidate");
    assert!(error.message.contains("achieved_rate_per_s"), "{error}");
}

#[test]
fn text_that_is_not_a_report_is_refused() {
    assert!(from_json("").is_err());
    assert!(from_json("[1, 2]").is_err());
    let trailing = format!("{} {{}}", to_json(&sample_report()));
    let error = from_json(&trailing).expect_err("text after the report must be refused");
    assert!(error.message.contains("after the report"), "{error}");
}

#[test]
fn series_points_read_one_per_line() {
    let text = to_json(&sample_report());
    assert!(
        text.contains("\n      \"points\": [\n        [1000, "),
        "points are not laid out one per line"
    );
    assert!(text.contains("\n        [35000, null],\n"), "the gap is missing");
    assert!(text.contains("\"errors_by_kind\": {\n"), "objects stay indented");
    assert!(text.contains("\"unmatched_inputs\": []"), "an empty list stays on one line");
    // Whatever the layout, it is JSON that any reader accepts.
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["time_series"][0]["points"][0][0], 1000);
}
