//! `/metrics` is valid Prometheus text and counts what was served.

use http::{StatusCode, header};
use shadowgate_example_inventory::{metrics::LATENCY_BUCKETS, routes::Route};

use crate::{
    prometheus_text,
    support::{Binary, HttpClient, Running, SMALL_PLAN, seed_args},
};

async fn metrics_are_valid_prometheus_text(binary: Binary) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::serve(binary, data.path(), &seed_args(&SMALL_PLAN));
    let client = HttpClient::default();
    for item_id in 1..=5 {
        assert_eq!(
            client.get(&server.url(&format!("/items/{item_id}"))).await.status,
            StatusCode::OK
        );
    }
    client.get(&server.url("/items/0")).await;
    client.get(&server.url("/items?category=books")).await;
    client.get(&server.url("/customers/2/orders")).await;
    client.post(&server.url("/orders"), "{}").await;
    client.get(&server.url("/no/such/path")).await;

    let reply = client.get(&server.url("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    let text = reply.text();
    let metrics = prometheus_text::parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));

    let requests = |route: &str, method: &str, status: &str| {
        metrics.value(
            "http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/items/{id}", "GET", "200"), Some(5.0));
    assert_eq!(requests("/items/{id}", "GET", "400"), Some(1.0));
    assert_eq!(requests("/items", "GET", "200"), Some(1.0));
    assert_eq!(requests("/customers/{id}/orders", "GET", "200"), Some(1.0));
    assert_eq!(requests("/orders", "POST", "400"), Some(1.0));
    assert_eq!(requests("unmatched", "GET", "404"), Some(1.0));

    let latency = metrics.family("http_request_duration_seconds").expect("latency histogram");
    assert_eq!(latency.kind, "histogram");
    assert!(latency.help.is_some());
    for route in Route::ALL {
        let buckets = latency
            .samples
            .iter()
            .filter(|sample| {
                sample.name.ends_with("_bucket") && sample.labels["route"] == route.label()
            })
            .count();
        assert_eq!(buckets, LATENCY_BUCKETS.len() + 1, "{route:?}");
    }
    let item_count =
        metrics.value("http_request_duration_seconds_count", &[("route", "/items/{id}")]);
    assert_eq!(item_count, Some(6.0));

    for (name, kind) in [
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("inventory_cache_entries", "gauge"),
        ("inventory_cache_bytes", "gauge"),
        ("inventory_in_flight_requests", "gauge"),
        ("inventory_pricing_requests_total", "counter"),
    ] {
        assert_eq!(metrics.family(name).map(|family| family.kind.as_str()), Some(kind), "{name}");
    }
    let resident = metrics.value("process_resident_memory_bytes", &[]).unwrap();
    assert!(resident > 1024.0 * 1024.0, "{resident}");
    assert_eq!(metrics.value("inventory_build_info", &[("release", binary.release())]), Some(1.0));
    assert!(metrics.value("inventory_cache_entries", &[]).unwrap() >= 5.0);
    // The scrape itself is in flight while the exposition is rendered.
    assert_eq!(metrics.value("inventory_in_flight_requests", &[]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_metrics_are_valid_prometheus_text() {
    metrics_are_valid_prometheus_text(Binary::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_metrics_are_valid_prometheus_text() {
    metrics_are_valid_prometheus_text(Binary::V2).await;
}
