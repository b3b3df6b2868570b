//! Failed requests are recorded with the right kind: connect, timeout, reset.

use std::time::Duration;

use shadowgate_core::traffic::Phase;
use shadowgate_load::{ErrorKind, Target};

use crate::{
    run,
    server::{self, Behaviour, Rude},
    traffic,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_errors() {
    let address = server::dead_address().await;
    let traffic = traffic("rate = 50\nduration = \"200ms\"\nwarmup = \"0s\"");
    let report = run(&traffic, &[Target::new("down", address)]).await;
    let target = &report.targets[0];
    assert_eq!(target.records.len(), 10);
    for record in &target.records {
        assert_eq!(record.error, Some(ErrorKind::Connect), "{record:?}");
        assert_eq!((record.status, record.sent), (None, None));
    }
    let summary = target.summary(Phase::Measured);
    assert_eq!(summary.errors.connect, 10);
    assert_eq!(summary.responses, 0);
    assert_eq!(summary.latency_us.p99, 0, "failed requests stay out of the latency histogram");
    let example = &summary.error_examples[&ErrorKind::Connect];
    assert!(example.to_lowercase().contains("refused"), "{example}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out_counted_from_the_intended_instant() {
    let server = server::start(Behaviour::Delay(Duration::from_secs(3))).await;
    let traffic = traffic(
        r#"
        rate = 20
        duration = "500ms"
        warmup = "0s"
        timeout = "300ms"
        max_connections = 4
        "#,
    );
    let report = run(&traffic, &[Target::new("slow", server.address)]).await;
    let target = &report.targets[0];
    assert_eq!(target.records.len(), 10);
    for record in &target.records {
        assert_eq!(record.error, Some(ErrorKind::Timeout), "{record:?}");
        assert!(record.latency >= Duration::from_millis(300), "{record:?}");
        assert!(record.latency < Duration::from_millis(2_000), "{record:?}");
    }
    // A timed-out HTTP/1.1 exchange cannot be resumed, so its connection is closed and the next
    // request opens another: more connections than the limit over the run, never more at once.
    assert!(server.seen.connections() > 4, "{} connections", server.seen.connections());
    assert_eq!(target.summary(Phase::Measured).errors.timeout, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_a_reset() {
    for rude in [Rude::Reset, Rude::Close] {
        let address = server::start_rude(rude).await;
        let traffic = traffic("rate = 50\nduration = \"200ms\"\nwarmup = \"0s\"");
        let report = run(&traffic, &[Target::new("rude", address)]).await;
        let target = &report.targets[0];
        assert_eq!(target.records.len(), 10);
        for record in &target.records {
            assert_eq!(
                record.error,
                Some(ErrorKind::Reset),
                "{rude:?}: {record:?} {:?}",
                target.measured.error_examples
            );
            assert!(record.sent.is_some(), "{rude:?}: the request was sent before the reset");
        }
        assert_eq!(target.summary(Phase::Measured).errors.reset, 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_completes_is_a_connect_error() {
    let (address, _fillers, _listener) = server::unresponsive_listener().await;
    let traffic = traffic(
        r#"
        rate = 50
        duration = "200ms"
        warmup = "0s"
        timeout = "300ms"
        "#,
    );
    let report = run(&traffic, &[Target::new("unresponsive", address)]).await;
    let target = &report.targets[0];
    assert_eq!(target.records.len(), 10);
    for record in &target.records {
        assert_eq!(record.error, Some(ErrorKind::Connect), "{record:?}");
        assert_eq!(record.sent, None);
        assert!(record.latency >= Duration::from_millis(300), "{record:?}");
    }
    let example = &target.measured.error_examples[&ErrorKind::Connect];
    assert!(example.starts_with("still connecting"), "{example}");
}
