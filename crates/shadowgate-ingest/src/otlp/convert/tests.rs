//! Tests of the OTLP conversion, fed through the JSON decoder with the encodings the OTLP
//! specification prescribes (string 64-bit integers, special floats as strings).

use prost::Message;

use super::{convert, label_name, metric_name};
use crate::{
    otlp::{json::decode_request, proto},
    processor::RawSample,
};

/// One request with every metric kind, in OTLP/JSON.
const EVERY_KIND: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "checkout"}},
      {"key": "service.instance.id", "value": {"stringValue": "pod-7f9c"}}
    ]},
    "scopeMetrics": [{
      "scope": {"name": "io.opentelemetry.runtime", "version": "1.0"},
      "metrics": [
        {"name": "queue.depth", "unit": "1", "gauge": {"dataPoints": [
          {"attributes": [{"key": "queue", "value": {"stringValue": "orders"}}],
           "timeUnixNano": "1700000000000000000", "asInt": "42"},
          {"timeUnixNano": "1700000001000000000", "asDouble": "NaN"},
          {"timeUnixNano": 1700000002000000000, "asDouble": 1.5, "flags": 1}
        ]}},
        {"name": "http.server.requests", "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
          {"attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}},
                          {"key": "retry", "value": {"boolValue": false}}],
           "startTimeUnixNano": "1699999990000000000", "timeUnixNano": "1700000000000000000", "asInt": "1027"}
        ]}},
        {"name": "http.server.duration", "histogram": {"aggregationTemporality": 2, "dataPoints": [
          {"timeUnixNano": "1700000000000000000", "count": "6", "sum": 2.5,
           "bucketCounts": ["1", "2", 3], "explicitBounds": [0.1, 1],
           "exemplars": [{"spanId": "00f067aa0ba902b7", "asDouble": 0.05}]}
        ]}},
        {"name": "rpc.latency", "exponentialHistogram": {"dataPoints": [
          {"timeUnixNano": "1700000000000000000", "count": "9", "sum": 12.25, "scale": 3, "zeroCount": "1",
           "positive": {"offset": 2, "bucketCounts": ["8"]}}
        ]}},
        {"name": "gc.pause", "summary": {"dataPoints": [
          {"timeUnixNano": "1700000000000000000", "count": "4", "sum": 0.4,
           "quantileValues": [{"quantile": 0.5, "value": 0.09}, {"quantile": 1, "value": 0.2}]}
        ]}}
      ]
    }]
  }]
}"#;

fn find<'a>(points: &'a [RawSample], metric: &str, label: Option<(&str, &str)>) -> &'a RawSample {
    points
        .iter()
        .find(|p| {
            p.metric == metric
                && label.is_none_or(|(name, value)| {
                    p.labels.iter().any(|(n, v)| n == name && v == value)
                })
        })
        .unwrap_or_else(|| panic!("no {metric} {label:?} in {points:#?}"))
}

#[test]
fn every_metric_kind_converts_to_prometheus_style_points() {
    let request = decode_request(EVERY_KIND.as_bytes()).unwrap();
    let converted = convert(request, "fallback", 5);
    assert_eq!(converted.rejected_points, 0, "{:?}", converted.problems);
    assert_eq!(converted.batches.len(), 1);
    let (app, points) = &converted.batches[0];
    assert_eq!(app, "checkout");

    let depth = find(points, "queue_depth", Some(("queue", "orders")));
    assert_eq!((depth.value, depth.ts_ms), (42.0, 1_700_000_000_000));
    assert!(depth.labels.contains(&("instance".to_string(), "pod-7f9c".to_string())));
    let nan = points.iter().find(|p| p.metric == "queue_depth" && p.value.is_nan());
    assert!(nan.is_some(), "NaN passes through (the processor drops it)");
    assert_eq!(
        points.iter().filter(|p| p.metric == "queue_depth").count(),
        2,
        "the flagged point is skipped"
    );

    let requests = find(points, "http_server_requests_total", None);
    assert_eq!(requests.value, 1027.0);
    assert!(
        requests.labels.contains(&("http_response_status_code".to_string(), "200".to_string()))
    );
    assert!(requests.labels.contains(&("retry".to_string(), "false".to_string())));

    let bucket = |le: &str| find(points, "http_server_duration_bucket", Some(("le", le))).value;
    assert_eq!(
        [bucket("0.1"), bucket("1"), bucket("+Inf")],
        [1.0, 3.0, 6.0],
        "buckets become cumulative"
    );
    assert_eq!(find(points, "http_server_duration_count", None).value, 6.0);
    assert_eq!(find(points, "http_server_duration_sum", None).value, 2.5);

    assert_eq!(find(points, "rpc_latency_count", None).value, 9.0);
    assert_eq!(find(points, "rpc_latency_sum", None).value, 12.25);

    assert_eq!(find(points, "gc_pause", Some(("quantile", "0.5"))).value, 0.09);
    assert_eq!(find(points, "gc_pause", Some(("quantile", "1"))).value, 0.2);
    assert_eq!(find(points, "gc_pause_count", None).value, 4.0);
    assert_eq!(find(points, "gc_pause_sum", None).value, 0.4);
}

#[test]
fn protobuf_and_json_decode_to_the_same_request() {
    let from_json = decode_request(EVERY_KIND.as_bytes()).unwrap();
    let bytes = from_json.encode_to_vec();
    let from_protobuf = proto::ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
    // Debug output compares NaN values as equal, which `==` does not.
    assert_eq!(format!("{from_protobuf:?}"), format!("{from_json:?}"));
}

#[test]
fn unconvertible_points_are_counted_with_a_reason_and_the_rest_kept() {
    let json = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "ok", "gauge": {"dataPoints": [{"asDouble": 1}]}},
        {"name": "empty", "gauge": {"dataPoints": [{"timeUnixNano": "1"}]}},
        {"name": "skewed", "histogram": {"dataPoints": [{"count": "3", "bucketCounts": ["1", "2"], "explicitBounds": [1, 2]}]}},
        {"name": "", "gauge": {"dataPoints": [{"asDouble": 1}, {"asDouble": 2}]}}
    ]}]}]}"#;
    let converted = convert(decode_request(json.as_bytes()).unwrap(), "fallback", 77);
    assert_eq!(converted.rejected_points, 4);
    assert_eq!(converted.problems.len(), 3, "{:?}", converted.problems);
    assert!(converted.problems.iter().any(|p| p.contains("neither asDouble nor asInt")));
    assert!(converted.problems.iter().any(|p| p.contains("2 bucket counts for 2 bounds")));
    assert!(converted.problems.iter().any(|p| p.contains("empty name")));
    let (app, points) = &converted.batches[0];
    assert_eq!(app, "fallback", "no service.name");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].ts_ms, 77, "a missing time means now");
}

#[test]
fn resources_of_one_service_share_a_batch() {
    let json = r#"{"resourceMetrics": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
         "scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asDouble": 1}]}}]}]},
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "b"}}]},
         "scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asDouble": 2}]}}]}]},
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
         "scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asDouble": 3}]}}]}]}
    ]}"#;
    let converted = convert(decode_request(json.as_bytes()).unwrap(), "fallback", 0);
    let shape: Vec<(&str, usize)> =
        converted.batches.iter().map(|(app, points)| (app.as_str(), points.len())).collect();
    assert_eq!(shape, [("a", 2), ("b", 1)]);
}

#[test]
fn attribute_values_of_every_type_render_as_text() {
    let json = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [{"asDouble": 1,
        "attributes": [
          {"key": "d", "value": {"doubleValue": 0.25}},
          {"key": "b", "value": {"bytesValue": "3q2+7w=="}},
          {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": 3}]}}},
          {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": true}}]}}},
          {"key": "empty", "value": {}},
          {"key": "9lives", "value": {"stringValue": "cat"}}
        ]}]}}]}]}]}"#;
    let converted = convert(decode_request(json.as_bytes()).unwrap(), "app", 0);
    let labels = &converted.batches[0].1[0].labels;
    let value = |name: &str| labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(value("d"), Some("0.25"));
    assert_eq!(value("b"), Some("deadbeef"));
    assert_eq!(value("arr"), Some(r#"["x",3]"#));
    assert_eq!(value("kv"), Some(r#"{"k":true}"#));
    assert_eq!(value("empty"), Some(""));
    assert_eq!(value("key_9lives"), Some("cat"));
}

#[test]
fn malformed_json_names_the_field() {
    let cases = [
        (
            r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {"dataPoints": [{"asInt": "12x"}]}}]}]}]}"#,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt",
        ),
        (
            r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "histogram": {"dataPoints": [{"bucketCounts": [-1]}]}}]}]}]}"#,
            "bucketCounts",
        ),
        (r#"{"resourceMetrics": {}}"#, "resourceMetrics"),
        (r#"{"resourceMetrics": []} trailing"#, "trailing"),
        ("not json", "expected"),
    ];
    for (json, words) in cases {
        let error = decode_request(json.as_bytes()).expect_err(json);
        assert!(error.contains(words), "{json}: {error}");
    }
}

#[test]
fn null_means_the_default_and_unknown_keys_are_ignored() {
    let json = r#"{"resourceMetrics": [{"resource": null, "schemaUrl": "x", "scopeMetrics": [{"metrics": [
        {"name": "m", "futureField": {"a": 1}, "gauge": {"dataPoints": [{"asDouble": 2, "attributes": null, "flags": null}]}}
    ]}]}]}"#;
    let converted = convert(decode_request(json.as_bytes()).unwrap(), "app", 0);
    assert_eq!(converted.batches[0].1[0].value, 2.0);
}

#[test]
fn names_are_sanitised_like_the_prometheus_translator() {
    assert_eq!(metric_name("http.server.duration").as_deref(), Some("http_server_duration"));
    assert_eq!(metric_name("ns:metric-name").as_deref(), Some("ns:metric_name"));
    assert_eq!(metric_name("2xx").as_deref(), Some("_2xx"));
    assert_eq!(label_name("k8s.pod.name").as_deref(), Some("k8s_pod_name"));
    assert_eq!(label_name("a:b").as_deref(), Some("a_b"));
    assert_eq!(label_name(""), None);
}
