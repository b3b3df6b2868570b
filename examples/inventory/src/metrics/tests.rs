//! Tests of recording and rendering metrics.

use super::*;

fn gauges() -> Gauges<'static> {
    Gauges {
        release: "v9",
        cache: CacheStats { entries: 3, bytes: 300 },
        process: ProcessStats {
            resident_bytes: Some(4096),
            cpu_seconds: Some(0.5),
            open_fds: None,
        },
    }
}

fn line_value(text: &str, series: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .to_string()
}

#[test]
fn histograms_are_cumulative_and_end_with_the_count() {
    let metrics = Metrics::default();
    metrics.observe(Route::Item, &Method::GET, 200, Duration::from_micros(300));
    metrics.observe(Route::Item, &Method::GET, 200, Duration::from_millis(7));
    metrics.observe(Route::Item, &Method::GET, 404, Duration::from_secs(20));
    let text = metrics.render(&gauges());
    let bucket = |le: &str| {
        line_value(
            &text,
            &format!("http_request_duration_seconds_bucket{{route=\"/items/{{id}}\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(bucket("0.0005"), "1");
    assert_eq!(bucket("0.005"), "1");
    assert_eq!(bucket("0.01"), "2");
    assert_eq!(bucket("10"), "2");
    assert_eq!(bucket("+Inf"), "3");
    assert_eq!(
        line_value(&text, "http_request_duration_seconds_count{route=\"/items/{id}\"}"),
        "3"
    );
    let sum: f64 = line_value(&text, "http_request_duration_seconds_sum{route=\"/items/{id}\"}")
        .parse()
        .unwrap();
    assert!((sum - 20.0073).abs() < 1e-9, "{sum}");
    assert_eq!(
        line_value(
            &text,
            "http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"404\"}"
        ),
        "1"
    );
    assert_eq!(line_value(&text, "http_request_duration_seconds_count{route=\"/orders\"}"), "0");
}

#[test]
fn renders_gauges_and_leaves_out_unknown_process_values() {
    let metrics = Metrics::default();
    metrics.pricing_finished(PricingOutcome::Timeout);
    metrics.pricing_finished(PricingOutcome::Timeout);
    let _request = metrics.request_started();
    let text = metrics.render(&gauges());
    assert_eq!(line_value(&text, "inventory_pricing_requests_total{outcome=\"timeout\"}"), "2");
    assert_eq!(line_value(&text, "inventory_pricing_requests_total{outcome=\"ok\"}"), "0");
    assert_eq!(line_value(&text, "inventory_in_flight_requests"), "1");
    assert_eq!(line_value(&text, "inventory_cache_entries"), "3");
    assert_eq!(line_value(&text, "inventory_cache_bytes"), "300");
    assert_eq!(line_value(&text, "inventory_build_info{release=\"v9\"}"), "1");
    assert_eq!(line_value(&text, "process_resident_memory_bytes"), "4096");
    assert!(!text.contains("process_open_fds"), "{text}");
}

#[test]
fn in_flight_guards_count_out_when_dropped() {
    let metrics = Metrics::default();
    let first = metrics.request_started();
    let second = metrics.pricing_started();
    drop(first);
    drop(second);
    let text = metrics.render(&gauges());
    assert_eq!(line_value(&text, "inventory_in_flight_requests"), "0");
    assert_eq!(line_value(&text, "inventory_pricing_in_flight_requests"), "0");
}

#[test]
fn escapes_label_values() {
    let mut out = String::new();
    escape_label_value(&mut out, "a\"b\\c\nd");
    assert_eq!(out, "a\\\"b\\\\c\\nd");
}

#[test]
fn renders_every_delivery_outcome_of_views_and_events() {
    let metrics = Metrics::default();
    let text = metrics.render(&gauges());
    assert!(text.contains("# TYPE inventory_events_total counter\n"), "{text}");
    assert_eq!(line_value(&text, "inventory_events_total{outcome=\"published\"}"), "0");
    metrics.events.delivered(3);
    metrics.events.failed(2);
    metrics.views.dropped(4);
    metrics.views.delivered(1);
    let text = metrics.render(&gauges());
    assert_eq!(line_value(&text, "inventory_events_total{outcome=\"published\"}"), "3");
    assert_eq!(line_value(&text, "inventory_events_total{outcome=\"dropped\"}"), "0");
    assert_eq!(line_value(&text, "inventory_events_total{outcome=\"failed\"}"), "2");
    assert_eq!(line_value(&text, "inventory_views_total{outcome=\"counted\"}"), "1");
    assert_eq!(line_value(&text, "inventory_views_total{outcome=\"dropped\"}"), "4");
    assert_eq!(line_value(&text, "inventory_views_total{outcome=\"failed\"}"), "0");
}
