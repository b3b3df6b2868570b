//! Every toxic on real loopback sockets, in both directions, with timing tolerances.

use std::time::{Duration, Instant};

use shadowgate_faultproxy::{Stream, ToxicKind};
use tokio::io::AsyncWriteExt;

use crate::support::{
    Harness, PROMPTLY, ReadOutcome, assert_close, connect, echo_server, median, read_once,
    read_to_end, round_trip, sink_server, source_server,
};

const BOTH: [Stream; 2] = [Stream::Upstream, Stream::Downstream];

fn pattern(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 253) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_adds_its_setting_to_each_round_trip() {
    let harness = Harness::start_alone().await;
    let echo = echo_server().await;
    for stream in BOTH {
        // Round trips through a clean proxy and a lagged one alternate, so that both see the
        // same machine load, and the difference of their medians is the toxic's latency.
        let clean = harness.proxy_to(&format!("clean-{stream}"), echo).await;
        let lagged_name = format!("lagged-{stream}");
        let lagged = harness.proxy_to(&lagged_name, echo).await;
        let latency = ToxicKind::Latency { latency_ms: 50, jitter_ms: 0 };
        harness.add(&lagged_name, "lag", stream, latency).await;
        let (mut clean, mut lagged) = (connect(clean).await, connect(lagged).await);
        let (mut clean_times, mut lagged_times) = (Vec::new(), Vec::new());
        for index in 0..21 {
            let message = format!("ping {index}");
            clean_times.push(round_trip(&mut clean, message.as_bytes()).await);
            lagged_times.push(round_trip(&mut lagged, message.as_bytes()).await);
        }
        let added = median(lagged_times).saturating_sub(median(clean_times));
        // The tolerance: within ±2 ms of the setting.
        assert_close(
            added,
            Duration::from_millis(50),
            Duration::from_millis(2),
            &format!("{stream} latency of 50 ms"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_varies_the_delay_within_its_bounds() {
    let harness = Harness::start_alone().await;
    let address = harness.proxy_to("jitter", echo_server().await).await;
    harness
        .add(
            "jitter",
            "lag",
            Stream::Downstream,
            ToxicKind::Latency { latency_ms: 40, jitter_ms: 20 },
        )
        .await;
    let mut socket = connect(address).await;
    let mut times = Vec::new();
    for index in 0..40 {
        times.push(round_trip(&mut socket, format!("ping {index}").as_bytes()).await);
    }
    times.sort();
    // Delays are uniform in 20..=60 ms. Nothing can come early; a loaded machine can only make
    // things late, so the upper bounds are checked on percentiles.
    let (shortest, tenth, median, ninetieth) = (times[0], times[4], times[20], times[36]);
    assert!(shortest >= Duration::from_millis(19), "shortest {shortest:?} is below 40 - 20 ms");
    assert!(tenth <= Duration::from_millis(32), "10th percentile {tenth:?}: too little jitter");
    assert_close(median, Duration::from_millis(40), Duration::from_millis(8), "median");
    assert!(
        ninetieth >= Duration::from_millis(48),
        "90th percentile {ninetieth:?}: too little jitter"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_throughput_to_the_rate() {
    // 500 KB/s (1 KB = 1000 bytes), so 500,000 bytes take one second.
    let rate = ToxicKind::Bandwidth { rate_kb_per_s: 500 };
    let expected = Duration::from_secs(1);
    let tolerance = expected / 20;
    let harness = Harness::start_alone().await;

    let data = pattern(500_000);
    let address = harness.proxy_to("bandwidth-down", source_server(data.clone()).await).await;
    harness.add("bandwidth-down", "slow", Stream::Downstream, rate).await;
    let started = Instant::now();
    let report = read_to_end(connect(address).await).await;
    assert!(report.ended_by.is_ok(), "{:?}", report.ended_by);
    assert_eq!(report.data, data);
    assert_close(report.ended_at - started, expected, tolerance, "downstream at 500 KB/s");

    let (sink, mut reports) = sink_server().await;
    let address = harness.proxy_to("bandwidth-up", sink).await;
    harness.add("bandwidth-up", "slow", Stream::Upstream, rate).await;
    let mut socket = connect(address).await;
    let started = Instant::now();
    socket.write_all(&data).await.expect("write");
    socket.shutdown().await.expect("shutdown");
    let report =
        tokio::time::timeout(PROMPTLY, reports.recv()).await.expect("sink report").expect("report");
    assert_eq!(report.data, data);
    assert_close(report.ended_at - started, expected, tolerance, "upstream at 500 KB/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_delays_the_end_but_not_the_data() {
    let harness = Harness::start().await;
    let delay = ToxicKind::SlowClose { delay_ms: 300 };

    let address = harness.proxy_to("close-down", source_server(b"hello".to_vec()).await).await;
    harness.add("close-down", "slow", Stream::Downstream, delay).await;
    let started = Instant::now();
    let mut socket = connect(address).await;
    assert_eq!(read_once(&mut socket, PROMPTLY).await, ReadOutcome::Data(b"hello".to_vec()));
    assert!(started.elapsed() < Duration::from_millis(200), "data was held back");
    assert_eq!(read_once(&mut socket, PROMPTLY).await, ReadOutcome::Eof);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed after {:?}",
        started.elapsed()
    );

    let (sink, mut reports) = sink_server().await;
    let address = harness.proxy_to("close-up", sink).await;
    harness.add("close-up", "slow", Stream::Upstream, delay).await;
    let mut socket = connect(address).await;
    socket.write_all(b"bye").await.expect("write");
    let started = Instant::now();
    socket.shutdown().await.expect("shutdown");
    let report =
        tokio::time::timeout(PROMPTLY, reports.recv()).await.expect("sink report").expect("report");
    assert_eq!(report.data, b"bye");
    assert!(report.ended_at - started >= Duration::from_millis(300), "closed too early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_drops_data_and_closes_after_its_time() {
    let harness = Harness::start().await;
    for stream in BOTH {
        let name = format!("timeout-{stream}");
        let address = harness.proxy_to(&name, echo_server().await).await;
        harness.add(&name, "stall", stream, ToxicKind::Timeout { timeout_ms: 200 }).await;
        let mut socket = connect(address).await;
        let started = Instant::now();
        socket.write_all(b"anyone there?").await.expect("write");
        let outcome = read_once(&mut socket, PROMPTLY).await;
        let elapsed = started.elapsed();
        assert!(
            matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset),
            "{stream}: expected the connection to close without data, got {outcome:?}"
        );
        assert!(elapsed >= Duration::from_millis(195), "{stream}: closed after {elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{stream}: closed only after {elapsed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_zero_holds_the_connection_until_removed() {
    let harness = Harness::start().await;
    for stream in BOTH {
        let name = format!("hold-{stream}");
        let address = harness.proxy_to(&name, echo_server().await).await;
        harness.add(&name, "hold", stream, ToxicKind::Timeout { timeout_ms: 0 }).await;
        let mut socket = connect(address).await;
        socket.write_all(b"hello?").await.expect("write");
        assert_eq!(read_once(&mut socket, Duration::from_millis(500)).await, ReadOutcome::Silent);
        harness.proxy.remove_toxic(&name, "hold").await.expect("remove");
        let outcome = read_once(&mut socket, PROMPTLY).await;
        assert!(
            matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset),
            "{stream}: removing the timeout must close the stalled connection, got {outcome:?}"
        );
        // New connections are not affected any more.
        let mut fresh = connect(address).await;
        round_trip(&mut fresh, b"back").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_the_connection() {
    let harness = Harness::start().await;
    for (stream, timeout_ms) in
        [(Stream::Upstream, 0), (Stream::Downstream, 0), (Stream::Downstream, 150)]
    {
        let name = format!("reset-{stream}-{timeout_ms}");
        let address = harness.proxy_to(&name, echo_server().await).await;
        harness.add(&name, "rst", stream, ToxicKind::ResetPeer { timeout_ms }).await;
        let mut socket = connect(address).await;
        let started = Instant::now();
        socket.write_all(b"ping").await.expect("write");
        let outcome = read_once(&mut socket, PROMPTLY).await;
        assert_eq!(outcome, ReadOutcome::Reset, "{stream} with timeout {timeout_ms}");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(timeout_ms.saturating_sub(5)),
            "{stream}: reset after {elapsed:?}, before its timeout of {timeout_ms} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicer_cuts_the_stream_into_small_delayed_pieces() {
    let harness = Harness::start().await;
    let slicer = ToxicKind::Slicer { average_size: 10, size_variation: 5, delay_us: 2000 };
    let data = pattern(1000);

    let address = harness.proxy_to("slicer-down", source_server(data.clone()).await).await;
    harness.add("slicer-down", "cut", Stream::Downstream, slicer).await;
    let started = Instant::now();
    let report = read_to_end(connect(address).await).await;
    let elapsed = started.elapsed();
    assert_eq!(report.data, data);
    // At least 1000 / 15 slices, 2 ms apart; reads may merge slices if the reader lags.
    assert!(report.reads.len() >= 20, "only {} reads: {:?}", report.reads.len(), report.reads);
    assert!(elapsed >= Duration::from_millis(130), "1000 bytes sliced in {elapsed:?}");

    let (sink, mut reports) = sink_server().await;
    let address = harness.proxy_to("slicer-up", sink).await;
    harness.add("slicer-up", "cut", Stream::Upstream, slicer).await;
    let mut socket = connect(address).await;
    socket.write_all(&data).await.expect("write");
    socket.shutdown().await.expect("shutdown");
    let report =
        tokio::time::timeout(PROMPTLY, reports.recv()).await.expect("sink report").expect("report");
    assert_eq!(report.data, data);
    assert!(report.reads.len() >= 20, "only {} reads upstream", report.reads.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_passes_exactly_the_limit_then_closes() {
    let harness = Harness::start().await;
    let data = pattern(10_000);

    let address = harness.proxy_to("limit-down", source_server(data.clone()).await).await;
    harness
        .add("limit-down", "cap", Stream::Downstream, ToxicKind::LimitData { bytes: 1234 })
        .await;
    let report = read_to_end(connect(address).await).await;
    assert_eq!(report.data, data[..1234]);

    let (sink, mut reports) = sink_server().await;
    let address = harness.proxy_to("limit-up", sink).await;
    harness.add("limit-up", "cap", Stream::Upstream, ToxicKind::LimitData { bytes: 100 }).await;
    let mut socket = connect(address).await;
    // The proxy closes the connection after 100 bytes, so part of this write may fail.
    let _ = socket.write_all(&data).await;
    let report =
        tokio::time::timeout(PROMPTLY, reports.recv()).await.expect("sink report").expect("report");
    assert_eq!(report.data, data[..100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_picks_the_share_of_connections_affected() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("toxicity", echo_server().await).await;
    let never = shadowgate_faultproxy::Toxic {
        name: "never".to_string(),
        kind: ToxicKind::Latency { latency_ms: 300, jitter_ms: 0 },
        stream: Stream::Downstream,
        toxicity: 0.0,
    };
    harness.proxy.add_toxic("toxicity", never).await.expect("add");
    let mut socket = connect(address).await;
    assert!(round_trip(&mut socket, b"quick").await < Duration::from_millis(150));
    harness.proxy.remove_toxic("toxicity", "never").await.expect("remove");

    let half = shadowgate_faultproxy::Toxic {
        name: "half".to_string(),
        kind: ToxicKind::Latency { latency_ms: 100, jitter_ms: 0 },
        stream: Stream::Downstream,
        toxicity: 0.5,
    };
    harness.proxy.add_toxic("toxicity", half).await.expect("add");
    let mut slow = 0;
    for _ in 0..40 {
        let mut socket = connect(address).await;
        if round_trip(&mut socket, b"which?").await >= Duration::from_millis(95) {
            slow += 1;
        }
    }
    // Binomial(40, 0.5): 8..=32 holds with probability above 0.9999.
    assert!((8..=32).contains(&slow), "{slow} of 40 connections were affected");
}
