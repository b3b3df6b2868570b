//! A one-second server stall must show in the high percentiles, as users would have felt it.
//!
//! The server answers at once, except that after the 100th request it holds every request
//! arriving in the next second. At 200 requests per second about 200 requests are intended
//! during the stall, and a user arriving at instant `t` of it waits about `1 s - t`. So about a
//! third of the 600 requests of the run are slowed, by 0 to 1 s; the p99 is close to a second.
//! A closed-loop generator with N connections has only N requests in flight when the stall
//! begins and sends nothing more until it ends, so it records N slow requests out of thousands
//! and its p99 stays low: the stall is hidden.

use std::time::Duration;

use shadowgate_core::traffic::{Phase, Protocol};
use shadowgate_load::{MaxRateConfig, Target, run_max_rate};

use crate::{
    plan, run,
    server::{self, Behaviour},
    traffic,
};

const STALL: Behaviour =
    Behaviour::StallOnce { after_requests: 100, length: Duration::from_secs(1) };

/// Microseconds.
const HALF_SECOND: u64 = 500_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_stall_shows_in_the_high_percentiles() {
    let server = server::start(STALL).await;
    let traffic = traffic(
        r#"
        rate = 200
        duration = "3s"
        warmup = "0s"
        max_connections = 16
        "#,
    );
    let report = run(&traffic, &[Target::new("stalling", server.address)]).await;
    let stats = &report.targets[0].measured;
    assert_eq!(stats.responses, 600, "{:?}", stats.error_examples);
    let summary = report.targets[0].summary(Phase::Measured);
    let latency = summary.latency_us;
    assert!(latency.p99 >= 850_000, "p99 {} µs does not show the 1 s stall", latency.p99);
    assert!(latency.max >= 950_000, "max {} µs", latency.max);
    // The requests intended during the stall waited from about 1 s down to about 0: roughly
    // half of the ~200 of them waited more than half a second (more when a loaded machine
    // drains the queue slowly after the stall).
    let slow = stats.latency.count_between(HALF_SECOND, u64::MAX);
    assert!((60..=400).contains(&slow), "{slow} requests slower than 0.5 s");
    assert!(latency.p90 >= 300_000, "p90 {} µs", latency.p90);
    // Outside the stall the server is fast: the median stays far below the stall (a loaded
    // machine takes a while to drain the queue the stall left, hence the margin).
    assert!(latency.p50 < 300_000, "p50 {} µs", latency.p50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_hides_the_same_stall() {
    let server = server::start(STALL).await;
    let traffic = traffic("");
    let config = MaxRateConfig {
        connections: 16,
        threads: 2,
        duration: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        protocol: Protocol::Http1,
    };
    let target = Target::new("stalling", server.address);
    let report =
        run_max_rate(&plan(&traffic), &target, &config, std::future::pending()).await.unwrap();
    assert!(report.responses > 1_000, "{} responses", report.responses);
    // Only the requests in flight when the stall began were slow: one per connection.
    let slow = report.latency.count_between(HALF_SECOND, u64::MAX);
    assert!(slow <= 16, "{slow} slow requests");
    assert!(slow >= 1, "the stall happened, so at least one request saw it");
    let p99 = report.latency.value_at_quantile(0.99);
    assert!(p99 < 100_000, "closed-loop p99 {p99} µs");
}
