//! Unit tests of the source vocabulary.

use super::*;

#[test]
fn every_documented_source_parses_and_prints_back() {
    let texts = [
        "request.latency",
        "request.latency.customer-orders",
        "request.errors",
        "request.errors.new_order.v2",
        "request.timeouts",
        "interval.latency.p50",
        "interval.latency.p99",
        "interval.latency.p99.9",
        "resource.cpu",
        "resource.memory",
        "event.oom_kill",
        "event.restart",
        "prom:http_server_requests_seconds_sum",
        "prom:job:latency:rate5m",
    ];
    for text in texts {
        let source: MetricSource = text.parse().unwrap();
        assert_eq!(source.to_string(), text);
    }
}

#[test]
fn kinds_follow_the_table() {
    let kind = |text: &str| text.parse::<MetricSource>().unwrap().kind();
    assert_eq!(kind("request.latency"), MetricKind::Continuous { unit: Unit::Seconds });
    assert_eq!(kind("interval.latency.p95"), MetricKind::Continuous { unit: Unit::Seconds });
    assert_eq!(kind("resource.cpu"), MetricKind::Continuous { unit: Unit::Cores });
    assert_eq!(kind("resource.memory"), MetricKind::Continuous { unit: Unit::Bytes });
    assert_eq!(kind("prom:x"), MetricKind::Continuous { unit: Unit::Unspecified });
    assert_eq!(kind("request.errors"), MetricKind::Count { exposure: ExposureUnit::Requests });
    assert_eq!(kind("request.timeouts"), MetricKind::Count { exposure: ExposureUnit::Requests });
    assert_eq!(kind("request.latency.item"), MetricKind::Continuous { unit: Unit::Seconds });
    assert_eq!(kind("request.errors.item"), MetricKind::Count { exposure: ExposureUnit::Requests });
    assert_eq!(kind("event.oom_kill"), MetricKind::Count { exposure: ExposureUnit::Seconds });
    assert_eq!(kind("event.restart"), MetricKind::Count { exposure: ExposureUnit::Seconds });
}

#[test]
fn a_typo_gets_a_suggestion_and_the_vocabulary() {
    let error = "request.latncy".parse::<MetricSource>().unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "`request.latncy` is not a metric source: did you mean `request.latency`?"
        ),
        "{message}"
    );
    assert!(message.contains("prom:<metric name>"), "{message}");
}

#[test]
fn bad_percentiles_and_prometheus_names_are_explained() {
    for text in [
        "interval.latency.p",
        "interval.latency.p100",
        "interval.latency.p0",
        "interval.latency.p-5",
        "interval.latency.p.5",
        "interval.latency.pfoo",
    ] {
        let error = text.parse::<MetricSource>().unwrap_err();
        assert!(error.reason.contains("strictly between 0 and 100"), "{text}: {error}");
    }
    for text in ["prom:", "prom:9lives", "prom:a b", "prom:rate(x[5m])"] {
        let error = text.parse::<MetricSource>().unwrap_err();
        assert!(error.reason.contains("Prometheus metric name"), "{text}: {error}");
    }
}

#[test]
fn per_request_sources_name_a_request_and_explain_a_bad_name() {
    assert_eq!(
        "request.latency.checkout".parse::<MetricSource>().unwrap(),
        MetricSource::RequestLatencyOf { request: "checkout".into() }
    );
    for text in ["request.latency.", "request.errors.a b", "request.latency.x/y"] {
        let error = text.parse::<MetricSource>().unwrap_err();
        assert!(error.reason.contains("[traffic.requests]"), "{text}: {error}");
    }
    let label = MetricSource::RequestLatencyOf { request: "checkout".into() }.label();
    assert_eq!(label, "latency of `checkout` requests");
}

#[test]
fn sources_are_strings_in_serde() {
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Holder {
        source: MetricSource,
    }
    let holder: Holder = serde_json::from_str(r#"{"source": "interval.latency.p99"}"#).unwrap();
    assert_eq!(holder.source, MetricSource::IntervalLatency { percentile: 99.0 });
    assert_eq!(serde_json::to_string(&holder).unwrap(), r#"{"source":"interval.latency.p99"}"#);
    let error = serde_json::from_str::<Holder>(r#"{"source": "cpu"}"#).err().unwrap();
    assert!(error.to_string().contains("`cpu` is not a metric source"), "{error}");
}
