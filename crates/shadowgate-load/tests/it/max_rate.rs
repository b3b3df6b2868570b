//! The closed-loop "max rate" mode.

use std::time::Duration;

use shadowgate_core::traffic::Protocol;
use shadowgate_load::{ErrorKind, MaxRateConfig, MaxRateSummary, Target, run_max_rate};

use crate::{
    plan,
    server::{self, Behaviour},
    traffic,
};

fn config(connections: u32, duration: Duration) -> MaxRateConfig {
    MaxRateConfig {
        connections,
        threads: 2,
        duration,
        timeout: Duration::from_secs(5),
        protocol: Protocol::Http1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_exactly_n_connections_busy_for_the_duration() {
    let server = server::start(Behaviour::Fast).await;
    let traffic = traffic("[[requests]]\npath = \"/item/{id}\"\nparams.id = { range = [1, 1000] }");
    let started = std::time::Instant::now();
    let report = run_max_rate(
        &plan(&traffic),
        &Target::new("fast", server.address),
        &config(4, Duration::from_secs(1)),
        std::future::pending(),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(report.responses > 500, "{} responses", report.responses);
    assert_eq!(report.errors.total(), 0, "{:?}", report.error_examples);
    assert_eq!(server.seen.requests(), report.responses);
    assert_eq!(server.seen.connections(), 4);
    assert_eq!(report.connections_opened, 4);
    assert!(server.seen.max_in_flight() <= 4);
    // Each worker draws from its own stream of the mix, so the requests vary.
    let mut paths = server.seen.paths();
    paths.sort();
    paths.dedup();
    assert!(paths.len() > 100, "{} distinct paths", paths.len());
    let summary = report.summary();
    assert!((summary.rate - report.responses as f64 / summary.seconds).abs() < 1e-6);
    let json = serde_json::to_string(&summary).unwrap();
    let back: MaxRateSummary = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (back.responses, back.service_time_us.p99),
        (summary.responses, summary.service_time_us.p99)
    );
    assert!((back.rate - summary.rate).abs() < 1e-6 * summary.rate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_the_workers() {
    let server = server::start(Behaviour::Fast).await;
    let started = std::time::Instant::now();
    let report = run_max_rate(
        &plan(&traffic("")),
        &Target::new("fast", server.address),
        &config(2, Duration::from_secs(60)),
        async {
            // Cancel once the server has really answered requests.
            while server.seen.requests() < 100 {
                tokio::task::yield_now().await;
            }
        },
    )
    .await
    .unwrap();
    assert!(report.cancelled);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(report.responses >= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_kind() {
    let address = server::dead_address().await;
    let report = run_max_rate(
        &plan(&traffic("")),
        &Target::new("down", address),
        &config(1, Duration::from_millis(200)),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(report.responses, 0);
    assert!(report.errors.connect > 0);
    assert_eq!(report.errors.total(), report.errors.connect);
    assert!(report.error_examples.contains_key(&ErrorKind::Connect));
}
