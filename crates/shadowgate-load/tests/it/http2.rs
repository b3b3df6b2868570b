//! HTTP/2 with prior knowledge: requests multiplexed over few connections.

use std::time::Duration;

use http::Version;
use shadowgate_core::traffic::{Phase, Protocol};
use shadowgate_load::{MaxRateConfig, Target, run_max_rate};

use crate::{
    plan, run,
    server::{self, Behaviour},
    traffic,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_multiplexes_requests_over_the_connections() {
    let server = server::start(Behaviour::Delay(Duration::from_millis(50))).await;
    let traffic = traffic(
        r#"
        rate = 200
        duration = "1s"
        warmup = "0s"
        max_connections = 2
        protocol = "http2"

        [[requests]]
        method = "POST"
        path = "/orders/{id}"
        headers = { content-type = "application/json" }
        body = '{{"id": {id}}}'
        params.id = { range = [1, 9] }
        "#,
    );
    let report = run(&traffic, &[Target::new("h2", server.address)]).await;
    let summary = report.targets[0].summary(Phase::Measured);
    assert_eq!(summary.responses, 200, "{:?}", summary.error_examples);
    assert!(server.seen.versions().iter().all(|v| *v == Version::HTTP_2));
    assert!(server.seen.connections() <= 2, "{} connections", server.seen.connections());
    assert_eq!(summary.connections_opened, server.seen.connections());
    // 200 requests per second that each take 50 ms are ~10 in flight over at most 2
    // connections: only multiplexing allows that.
    assert!(server.seen.max_in_flight() > 2, "{} in flight", server.seen.max_in_flight());
    assert!(summary.latency_us.p50 >= 50_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_loop_speaks_http2_too() {
    let server = server::start(Behaviour::Fast).await;
    let config = MaxRateConfig {
        connections: 2,
        threads: 2,
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        protocol: Protocol::Http2,
    };
    let report = run_max_rate(
        &plan(&traffic("")),
        &Target::new("h2", server.address),
        &config,
        std::future::pending(),
    )
    .await
    .unwrap();
    assert!(report.responses > 50, "{} responses", report.responses);
    assert_eq!(report.errors.total(), 0, "{:?}", report.error_examples);
    assert!(server.seen.versions().iter().all(|v| *v == Version::HTTP_2));
    assert_eq!(server.seen.connections(), 2);
}
