//! The optional `diff` section: absent from reports without it, and rendered in JSON, JUnit
//! and HTML when present.

use crate::fixture::sample_report;
use shadowgate_report::{
    DiffEndpoint, DiffExample, DiffField, DiffRequest, DiffResponse, ResponseDiff, from_json,
    to_html, to_json, to_junit,
};

fn diff(passed: bool) -> ResponseDiff {
    let response = |price: &str| DiffResponse {
        status: Some(200),
        failure: None,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!("{{\"id\":7,\"price\":{price}}}"),
    };
    ResponseDiff {
        secondary_environment_id: "abc123".into(),
        requests_compared: 200,
        noise_filtered: true,
        relative_threshold_pct: 20.0,
        absolute_threshold_pct: 0.03,
        fail_on_difference: !passed,
        passed,
        endpoints: vec![DiffEndpoint {
            endpoint: "GET /items/{id}".into(),
            requests: 120,
            differing_fields: vec![DiffField {
                field: "body.price".into(),
                raw_differences: 118,
                noise_differences: 0,
                examples: vec![DiffExample {
                    baseline_value: Some("12.5".into()),
                    candidate_value: Some("13.75".into()),
                    request: DiffRequest {
                        method: "GET".into(),
                        target: "/items/7?<script>".into(),
                        headers: vec![],
                        body: String::new(),
                    },
                    baseline: response("12.5"),
                    candidate: response("13.75"),
                }],
            }],
            noise_fields: vec!["body.generated_at".into()],
        }],
    }
}

#[test]
fn reports_without_a_diff_do_not_mention_it() {
    let report = sample_report();
    assert!(!to_json(&report).contains("\"diff\""));
    assert!(!to_junit(&report).contains("response_diff"));
    assert!(!to_html(&report).contains("id=\"diff\""));
}

#[test]
fn a_failing_diff_is_a_junit_failure_and_an_html_section() {
    let mut report = sample_report();
    report.diff = Some(diff(false));
    let json = to_json(&report);
    let read = from_json(&json).unwrap();
    assert_eq!(read.diff, report.diff, "the diff section survives a JSON round trip");

    let junit = to_junit(&report);
    assert!(junit.contains("classname=\"diff\" name=\"response_diff\""), "{junit}");
    assert!(junit.contains("type=\"response_diff\""), "{junit}");
    assert!(junit.contains("1 response field differs"), "{junit}");
    assert!(junit.contains("GET /items/{id} body.price: 118 of 120 requests differ"), "{junit}");

    let html = to_html(&report);
    assert!(html.contains("<section id=\"diff\">"));
    assert!(html.contains("<code>body.price</code>"));
    assert!(html.contains("The differences fail the check."));
    assert!(html.contains("/items/7?&lt;script&gt;"), "request text is escaped");
    assert!(!html.contains("/items/7?<script>"));
    assert!(html.contains("GET /items/{id} body.generated_at"), "noise fields are listed");
}

#[test]
fn a_reported_only_diff_passes_in_junit() {
    let mut report = sample_report();
    report.diff = Some(diff(true));
    let junit = to_junit(&report);
    let case = junit.split("name=\"response_diff\"").nth(1).unwrap();
    let case = &case[..case.find("</testcase>").unwrap()];
    assert!(!case.contains("<failure"), "{case}");
    assert!(case.contains("body.price"), "{case}");
    assert!(to_html(&report).contains("reported only"));
}
