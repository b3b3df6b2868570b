//! The open model against a well-behaved server: schedule, keep-alive pool, interleaving,
//! phases, progress, cancellation and custom connectors.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use shadowgate_core::traffic::Phase;
use shadowgate_load::{Connector, LoadConfig, LoadError, Progress, Target, run_open_model};
use tokio::net::TcpStream;

use crate::{
    plan, run,
    server::{self, BODY, Behaviour},
    traffic,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused_and_never_exceed_the_limit() {
    let server = server::start(Behaviour::Delay(Duration::from_millis(5))).await;
    let traffic = traffic(
        r#"
        rate = 200
        duration = "1s"
        warmup = "0s"
        max_connections = 4
        "#,
    );
    let report = run(&traffic, &[Target::new("only", server.address)]).await;
    let target = &report.targets[0];
    assert_eq!(target.records.len(), 200);
    assert!(target.records.iter().all(|r| r.status == Some(200) && r.error.is_none()));
    assert!(target.records.iter().all(|r| r.bytes == BODY.len() as u64));
    assert_eq!(server.seen.requests(), 200);
    // 200 requests over at most 4 connections: each connection carried many requests.
    assert!(
        (1..=4).contains(&server.seen.connections()),
        "{} connections",
        server.seen.connections()
    );
    assert_eq!(target.connections_opened, server.seen.connections());
    assert!(server.seen.max_in_flight() <= 4, "{} in flight", server.seen.max_in_flight());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_busy_connection_counts_in_the_latency() {
    // One connection, 100 ms per answer, a request every 50 ms: the queue grows by half a
    // request per request, so request k waits about 50k ms before it can be sent.
    let server = server::start(Behaviour::Delay(Duration::from_millis(100))).await;
    let traffic = traffic(
        r#"
        rate = 20
        duration = "500ms"
        warmup = "0s"
        max_connections = 1
        "#,
    );
    let report = run(&traffic, &[Target::new("only", server.address)]).await;
    let records = &report.targets[0].records;
    assert_eq!(records.len(), 10);
    assert!(records.iter().all(|r| r.status == Some(200)));
    assert_eq!(server.seen.connections(), 1);
    for (k, record) in records.iter().enumerate() {
        let waited = record.sent.unwrap() - record.intended;
        let expected_wait = Duration::from_millis(50 * k as u64);
        assert!(
            waited + Duration::from_millis(20) >= expected_wait,
            "request {k} waited only {waited:?}"
        );
        assert!(record.latency >= waited + Duration::from_millis(100), "{record:?}");
    }
    assert!(records[9].latency >= Duration::from_millis(540), "{:?}", records[9]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_leave_at_their_intended_instants() {
    let server = server::start(Behaviour::Fast).await;
    let traffic = traffic(
        r#"
        rate = 200
        arrival = "poisson"
        duration = "2s"
        warmup = "0s"
        "#,
    );
    let planned: Vec<(u64, Duration)> =
        plan(&traffic).requests().map(|r| (r.sequence, r.offset)).collect();
    let report = run(&traffic, &[Target::new("only", server.address)]).await;
    let records = &report.targets[0].records;
    let recorded: Vec<(u64, Duration)> = records.iter().map(|r| (r.sequence, r.intended)).collect();
    assert_eq!(recorded, planned, "one record per planned request, in plan order");
    for record in records {
        let sent = record.sent.unwrap();
        assert!(sent >= record.intended, "sent before its instant: {record:?}");
        assert!(record.latency >= sent - record.intended);
    }
    let summary = report.targets[0].summary(Phase::Measured);
    // The generator's own lag is well under a millisecond on an idle machine; the bound leaves
    // room for a heavily loaded one.
    assert!(summary.send_lag_us.p50 < 50_000, "median send lag {} µs", summary.send_lag_us.p50);
    let expected_rate = planned.len() as f64 / 2.0;
    assert!(
        (summary.achieved_rate - expected_rate).abs() < expected_rate * 0.05,
        "achieved {} for {expected_rate} planned",
        summary.achieved_rate
    );
    assert_eq!(summary.responses, planned.len() as u64);
    assert_eq!(summary.statuses, BTreeMap::from([(200, planned.len() as u64)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_targets_get_the_same_requests_at_the_same_instants() {
    let baseline = server::start(Behaviour::Fast).await;
    let candidate = server::start(Behaviour::Fast).await;
    let traffic = traffic(
        r#"
        rate = 150
        duration = "1s"
        warmup = "0s"
        seed = 42

        [[requests]]
        path = "/items/{id}"
        params.id = { zipf = [1, 50] }

        [[requests]]
        path = "/search?q={word}"
        params.word = { values = ["red shoes", "hat"] }
        "#,
    );
    let targets =
        [Target::new("baseline", baseline.address), Target::new("candidate", candidate.address)];
    let report = run(&traffic, &targets).await;
    let mut planned: Vec<String> =
        plan(&traffic).requests().map(|r| r.content.path.into_owned()).collect();
    planned.sort();
    for server in [&baseline, &candidate] {
        let mut paths = server.seen.paths();
        paths.sort();
        assert_eq!(paths, planned);
    }
    let [first, second] = &report.targets[..] else { panic!("two reports expected") };
    assert_eq!(first.name, "baseline");
    assert_eq!(second.name, "candidate");
    assert_eq!(first.records.len(), second.records.len());
    let mut gaps = Vec::new();
    for (a, b) in first.records.iter().zip(&second.records) {
        assert_eq!((a.sequence, a.kind, a.intended), (b.sequence, b.kind, b.intended));
        assert_eq!((a.target, b.target), (0, 1));
        gaps.push(a.sent.unwrap().abs_diff(b.sent.unwrap()));
    }
    // Both arms of a request usually leave within a millisecond of each other; a loaded machine
    // may delay a few, so the bounds are on the median and the worst case.
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(median < Duration::from_millis(10), "median gap between the arms {median:?}");
    assert!(
        gaps[gaps.len() - 1] < Duration::from_secs(1),
        "largest gap {:?}",
        gaps[gaps.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_is_reported_apart_from_the_judged_part() {
    let server = server::start(Behaviour::Fast).await;
    let traffic = traffic(
        r#"
        rate = 100
        warmup = "500ms"
        duration = "1s"
        "#,
    );
    let report = run(&traffic, &[Target::new("only", server.address)]).await;
    let target = &report.targets[0];
    assert_eq!(target.warmup.requests, 50);
    assert_eq!(target.measured.requests, 100);
    assert_eq!(target.warmup.latency.len(), 50);
    assert_eq!(target.measured.latency.len(), 100);
    assert!(
        target
            .records
            .iter()
            .all(|r| (r.phase == Phase::Warmup) == (r.intended < Duration::from_millis(500)))
    );
    let warm = target.summary(Phase::Warmup);
    let judged = target.summary(Phase::Measured);
    assert_eq!((warm.seconds, judged.seconds), (0.5, 1.0));
    // The summary is what reports serialize; it must survive a JSON round trip.
    let json = serde_json::to_string(&report.summaries(Phase::Measured)).unwrap();
    let back: Vec<shadowgate_load::Summary> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, vec![judged]);
    assert!(json.contains("\"phase\":\"measured\""), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_responses_not_transport_errors() {
    let server = server::start(Behaviour::Fast).await;
    let traffic = traffic(
        r#"
        rate = 100
        duration = "300ms"
        warmup = "0s"

        [[requests]]
        path = "/status/{code}"
        params.code = { values = [200, 503] }
        "#,
    );
    let report = run(&traffic, &[Target::new("only", server.address)]).await;
    let summary = report.targets[0].summary(Phase::Measured);
    assert_eq!(summary.errors.total(), 0);
    assert_eq!(summary.responses, 30);
    assert_eq!(summary.statuses.values().sum::<u64>(), 30);
    assert!(
        summary.statuses.contains_key(&503) && summary.statuses.contains_key(&200),
        "{:?}",
        summary.statuses
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_and_cancellation_stops_the_run() {
    let server = server::start(Behaviour::Fast).await;
    let traffic = traffic(
        r#"
        rate = 50
        duration = "60s"
        warmup = "0s"
        "#,
    );
    let (cancel_sender, cancel_receiver) = tokio::sync::oneshot::channel::<()>();
    let mut cancel_sender = Some(cancel_sender);
    let mut seen: Vec<Progress> = Vec::new();
    let started = std::time::Instant::now();
    let report = run_open_model(
        &plan(&traffic),
        &[Target::new("only", server.address)],
        &LoadConfig::from_traffic(&traffic),
        |progress| {
            seen.push(*progress);
            // Cancel once a few requests have really finished.
            if progress.finished >= 20
                && let Some(sender) = cancel_sender.take()
            {
                sender.send(()).unwrap();
            }
        },
        async {
            let _sent_or_dropped = cancel_receiver.await;
        },
    )
    .await
    .unwrap();
    assert!(report.cancelled);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    let records = report.targets[0].records.len() as u64;
    assert!((20..3000).contains(&records), "{records} records");
    assert!(seen.len() >= 2);
    assert!(seen.iter().all(|p| p.planned == 3000));
    assert!(seen.windows(2).all(|w| w[0].finished <= w[1].finished && w[0].issued <= w[1].issued));
    assert_eq!(seen.last().unwrap().finished, seen.last().unwrap().issued);
    let summary = report.targets[0].summary(Phase::Measured);
    assert!(
        summary.seconds < 20.0,
        "the judged span ends at the cancellation: {}",
        summary.seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_connector_reaches_the_target() {
    let server = server::start(Behaviour::Fast).await;
    let calls = Arc::new(AtomicU64::new(0));
    let connector = {
        let calls = calls.clone();
        let real = server.address;
        Connector::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            TcpStream::connect(real)
        })
    };
    // The address is unroutable (TEST-NET-1): only the connector can reach the server.
    let unroutable: SocketAddr = "192.0.2.1:9".parse().unwrap();
    let target =
        Target::new("namespaced", unroutable).with_host("app.internal").with_connector(connector);
    let traffic = traffic("rate = 100\nduration = \"300ms\"\nwarmup = \"0s\"\ntimeout = \"5s\"");
    let report = run(&traffic, &[target]).await;
    let target = &report.targets[0];
    assert!(
        target.records.iter().all(|r| r.status == Some(200)),
        "{:?}",
        target.measured.error_examples
    );
    assert_eq!(calls.load(Ordering::SeqCst), target.connections_opened);
    assert_eq!(server.seen.connections(), target.connections_opened);
}

#[tokio::test]
async fn unusable_settings_are_errors_with_the_fix() {
    let traffic = traffic("");
    let plan = plan(&traffic);
    let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let config = LoadConfig::from_traffic(&traffic);
    let no_targets = run_open_model(&plan, &[], &config, |_| {}, std::future::pending()).await;
    assert!(matches!(no_targets, Err(LoadError::NoTargets)));
    let bad_host = Target::new("baseline", address).with_host("bad host");
    let err = run_open_model(&plan, &[bad_host], &config, |_| {}, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("target `baseline`: `bad host` cannot be used as the Host header"),
        "{err}"
    );
    let zero = LoadConfig { max_connections: 0, ..config };
    let err =
        run_open_model(&plan, &[Target::new("t", address)], &zero, |_| {}, std::future::pending())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}

#[test]
fn outside_a_runtime_the_error_says_so() {
    let traffic = traffic("");
    let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let config = LoadConfig::from_traffic(&traffic);
    let plan = plan(&traffic);
    let targets = [Target::new("t", address)];
    let mut run =
        std::pin::pin!(run_open_model(&plan, &targets, &config, |_| {}, std::future::pending()));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match run.as_mut().poll(&mut context) {
        std::task::Poll::Ready(Err(LoadError::NoRuntime)) => {}
        other => panic!("expected the no-runtime error, got {:?}", other.map(|r| r.map(|_| ()))),
    }
}
