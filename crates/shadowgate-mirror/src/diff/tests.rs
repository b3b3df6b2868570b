//! Tests of lifting, comparing and the three-way noise filter.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use shadowgate_core::rng::Rng;

use super::{DiffConfig, collector::DiffCollector, report::DifferenceKind};
use crate::http_message::{CapturedRequest, CapturedResponse, ExchangeFailure, ResponseOutcome};

fn request(method: Method, target: &str) -> CapturedRequest {
    CapturedRequest {
        method,
        path_and_query: target.into(),
        headers: HeaderMap::new(),
        body: Bytes::new(),
        body_truncated: false,
    }
}

fn json_response(body: serde_json::Value) -> ResponseOutcome {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok(CapturedResponse {
        status: StatusCode::OK,
        headers,
        body: Bytes::from(body.to_string()),
        body_truncated: false,
    })
}

fn random_uuid(rng: &mut Rng) -> String {
    let hex: String = (0..32).map(|_| format!("{:x}", rng.below(16))).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A product response: a fresh UUID and timestamp on every call, and a price.
fn product(rng: &mut Rng, id: u64, price: f64, clock_ms: u64) -> ResponseOutcome {
    json_response(serde_json::json!({
        "request_id": random_uuid(rng),
        "generated_at": format!("2026-11-23T10:{:02}:{:02}.{:03}Z", clock_ms / 60_000 % 60, clock_ms / 1000 % 60, clock_ms % 1000),
        "product": {"id": id, "name": format!("item {id}"), "price": price, "tags": ["a", "b"]},
    }))
}

#[test]
fn random_uuid_and_timestamp_are_suppressed_and_a_changed_price_is_reported() {
    let mut rng = Rng::seed(7);
    let mut collector = DiffCollector::new(DiffConfig::default());
    for idx in 0..400u64 {
        let id = idx % 40;
        let price = 10.0 + id as f64;
        let primary = product(&mut rng, id, price, idx * 7);
        let secondary = product(&mut rng, id, price, idx * 7 + 3);
        // The candidate raises the price of every fourth product.
        let candidate_price = if id % 4 == 0 { price + 1.5 } else { price };
        let candidate = product(&mut rng, id, candidate_price, idx * 7 + 1);
        collector.observe(
            &request(Method::GET, &format!("/products/{id}?v=1")),
            &primary,
            &secondary,
            &candidate,
        );
    }
    let report = collector.report();
    assert_eq!(report.requests_compared, 400);
    assert_eq!(report.endpoints.len(), 1);
    let endpoint = &report.endpoints[0];
    assert_eq!(endpoint.endpoint, "GET /products/{id}");
    let differing: Vec<&str> =
        endpoint.differing_fields.iter().map(|field| field.field.as_str()).collect();
    assert_eq!(differing, ["body.product.price"]);
    let price = &endpoint.differing_fields[0];
    assert_eq!((price.raw_differences, price.noise_differences), (100, 0));
    assert_eq!(price.examples.len(), 5);
    let example = &price.examples[0];
    assert_eq!(example.kind, DifferenceKind::Changed);
    assert_eq!(
        (example.primary_value.as_deref(), example.candidate_value.as_deref()),
        (Some("10.0"), Some("11.5"))
    );
    assert_eq!(example.request.target, "/products/0?v=1");
    assert!(example.candidate.body.contains("11.5"));
    let noise: Vec<&str> = endpoint.noise_fields.iter().map(|field| field.field.as_str()).collect();
    assert!(
        noise.contains(&"body.request_id") && noise.contains(&"body.generated_at"),
        "{noise:?}"
    );
    assert!(report.has_differences());
}

#[test]
fn identical_versions_report_nothing() {
    let mut rng = Rng::seed(1);
    let mut collector = DiffCollector::new(DiffConfig::default());
    for idx in 0..200 {
        let answers: Vec<ResponseOutcome> =
            (0..3).map(|arm| product(&mut rng, idx, 5.0, idx * 10 + arm)).collect();
        collector.observe(
            &request(Method::GET, "/products/1"),
            &answers[0],
            &answers[1],
            &answers[2],
        );
    }
    let report = collector.report();
    assert!(!report.has_differences(), "{report:#?}");
}

#[test]
fn a_field_changed_in_too_few_requests_stays_below_the_absolute_threshold() {
    let config = DiffConfig { absolute_threshold_pct: 1.0, ..DiffConfig::default() };
    let mut collector = DiffCollector::new(config);
    for idx in 0..1_000 {
        let candidate_price = if idx == 0 { 2.0 } else { 1.0 };
        let same = json_response(serde_json::json!({"price": 1.0}));
        collector.observe(
            &request(Method::GET, "/p"),
            &same,
            &same,
            &json_response(serde_json::json!({"price": candidate_price})),
        );
    }
    let endpoint = &collector.report().endpoints[0];
    assert!(endpoint.differing_fields.is_empty());
    assert_eq!(endpoint.noise_fields[0].absolute_difference_pct, 0.1);
}

#[test]
fn missing_extra_and_type_changes_are_classified() {
    let mut collector = DiffCollector::new(DiffConfig::default());
    let primary = json_response(serde_json::json!({"a": 1, "b": "x", "items": [1, 2]}));
    let candidate = json_response(serde_json::json!({"a": "1", "c": true, "items": [1]}));
    collector.observe(&request(Method::GET, "/"), &primary, &primary, &candidate);
    let report = collector.report();
    let kinds: Vec<(String, DifferenceKind)> = report
        .differing_fields()
        .map(|(_, field)| (field.field.clone(), field.examples[0].kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("body.a".to_owned(), DifferenceKind::TypeChanged),
            ("body.b".to_owned(), DifferenceKind::Missing),
            ("body.c".to_owned(), DifferenceKind::Extra),
            ("body.items[1]".to_owned(), DifferenceKind::Missing),
        ]
    );
}

#[test]
fn ignore_rules_remove_fields_headers_and_equal_values() {
    let config = DiffConfig::from_toml(
        r#"
        ignore_fields = ["body.meta.**", "body.items[*].etag"]
        ignore_field_regexes = ['^body\.debug_']
        ignore_headers = ["x-served-by"]
        equal_value_regexes = ['\d{4}-\d\d-\d\d']
        "#,
    )
    .unwrap();
    let make = |variant: u64| -> ResponseOutcome {
        let mut headers = HeaderMap::new();
        headers.insert("x-served-by", HeaderValue::from_str(&format!("host-{variant}")).unwrap());
        headers
            .insert("date", HeaderValue::from_str(&format!("Mon, 0{variant} Jan 2026")).unwrap());
        let body = serde_json::json!({
            "meta": {"host": variant, "nested": {"deep": variant}},
            "items": [{"etag": variant, "qty": 1}],
            "debug_timing_ms": variant,
            "day": format!("2026-01-0{}", variant + 1),
            "qty_total": 1,
        });
        Ok(CapturedResponse {
            status: StatusCode::OK,
            headers,
            body: Bytes::from(body.to_string()),
            body_truncated: false,
        })
    };
    let mut collector = DiffCollector::new(config);
    collector.observe(&request(Method::GET, "/"), &make(1), &make(1), &make(2));
    let report = collector.report();
    assert_eq!(report.endpoints[0].requests_with_raw_differences, 0, "{report:#?}");
}

#[test]
fn text_bodies_statuses_and_failures_are_compared() {
    let text = |status: u16, body: &str| -> ResponseOutcome {
        Ok(CapturedResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
            body_truncated: false,
        })
    };
    let mut collector = DiffCollector::new(DiffConfig::default());
    collector.observe(
        &request(Method::GET, "/t"),
        &text(200, "hello\n"),
        &text(200, "hello\n"),
        &text(500, "oops\n"),
    );
    collector.observe(
        &request(Method::POST, "/f"),
        &text(200, "ok"),
        &text(200, "ok"),
        &Err(ExchangeFailure::Timeout),
    );
    let report = collector.report();
    let fields: Vec<(&str, &str)> = report
        .differing_fields()
        .map(|(endpoint, field)| (endpoint, field.field.as_str()))
        .collect();
    assert_eq!(fields, [("GET /t", "body"), ("GET /t", "status"), ("POST /f", "failure")]);
    let failure = report.differing_fields().find(|(_, field)| field.field == "failure").unwrap().1;
    assert_eq!(failure.examples[0].candidate_value.as_deref(), Some("<no response: timeout>"));
    assert_eq!(failure.examples[0].candidate.failure.as_deref(), Some("timeout"));
}

#[test]
fn without_a_secondary_every_difference_is_reported() {
    let mut collector = DiffCollector::new(DiffConfig::default());
    let mut rng = Rng::seed(3);
    for idx in 0..50 {
        collector.observe_without_secondary(
            &request(Method::GET, "/p/1"),
            &product(&mut rng, 1, 1.0, idx),
            &product(&mut rng, 1, 1.0, idx + 1),
        );
    }
    let report = collector.report();
    assert!(!report.noise_filtered);
    let fields: Vec<&str> =
        report.differing_fields().map(|(_, field)| field.field.as_str()).collect();
    assert!(fields.contains(&"body.request_id"), "{fields:?}");
}

#[test]
fn endpoints_are_templated_or_named_by_header() {
    let mut collector = DiffCollector::new(DiffConfig::default());
    let same = json_response(serde_json::json!({}));
    for target in [
        "/users/42/orders/550e8400-e29b-41d4-a716-446655440000",
        "/users/7/orders/a1b2c3d4e5f60718293a",
    ] {
        collector.observe(&request(Method::GET, target), &same, &same, &same);
    }
    let report = collector.report();
    assert_eq!(report.endpoints[0].endpoint, "GET /users/{id}/orders/{id}");
    assert_eq!(report.endpoints[0].requests, 2);

    let config = DiffConfig::from_toml("endpoint_header = \"canonical-resource\"").unwrap();
    let mut named = DiffCollector::new(config);
    let mut tagged = request(Method::GET, "/anything");
    tagged.headers.insert("canonical-resource", HeaderValue::from_static("getUser"));
    named.observe(&tagged, &same, &same, &same);
    assert_eq!(named.report().endpoints[0].endpoint, "getUser");
}

#[test]
fn malformed_rules_name_the_field() {
    for (text, expected) in [
        ("relative_threshold_pct = 120", "relative_threshold_pct"),
        ("ignore_field_regexes = ['(unclosed']", "ignore_field_regexes[0]"),
        ("ignore_fields = ['a..b']", "ignore_fields"),
        ("ignore_header = []", "unknown field `ignore_header`"),
        ("compare_headers = \"yes\"", "compare_headers"),
        ("endpoint_header = \"a b\"", "endpoint_header"),
    ] {
        let error = DiffConfig::from_toml(text).unwrap_err().to_string();
        assert!(error.contains(expected), "expected `{expected}` in `{error}`");
    }
}
