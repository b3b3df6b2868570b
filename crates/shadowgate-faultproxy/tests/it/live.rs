//! Changes that reach live connections: toxics added, updated and removed mid-connection,
//! proxies disabled, re-enabled and deleted, and half-closed streams.

use std::time::{Duration, Instant};

use shadowgate_faultproxy::{ProxyUpdate, Stream, ToxicKind, ToxicUpdate};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{
    Harness, PROMPTLY, ReadOutcome, assert_not_early, connect, echo_server, eventually,
    median_round_trip, read_once, round_trip, sink_server,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_added_and_removed_apply_to_an_open_connection() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("live", echo_server().await).await;
    let mut socket = connect(address).await;
    let before = median_round_trip(&mut socket, 5).await;
    assert!(before < Duration::from_millis(20), "{before:?} before any toxic");

    harness
        .add("live", "lag", Stream::Upstream, ToxicKind::Latency { latency_ms: 80, jitter_ms: 0 })
        .await;
    let during = median_round_trip(&mut socket, 5).await;
    assert_not_early(during, Duration::from_millis(80), Duration::from_millis(40), "after adding");

    let update = ToxicUpdate {
        attributes: [("latency".to_string(), 150)].into_iter().collect(),
        toxicity: None,
    };
    harness.proxy.update_toxic("live", "lag", update).await.expect("update");
    let updated = median_round_trip(&mut socket, 5).await;
    assert_not_early(
        updated,
        Duration::from_millis(150),
        Duration::from_millis(40),
        "after updating",
    );

    harness.proxy.remove_toxic("live", "lag").await.expect("remove");
    let after = median_round_trip(&mut socket, 5).await;
    assert!(after < Duration::from_millis(20), "{after:?} after removing the toxic");
}

fn pattern(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 251) as u8).collect()
}

/// Echoes 8 MiB through the proxy while `during` runs after the first MiB comes back, and
/// checks that every byte returns in order.
async fn echo_a_large_stream_while(harness: &Harness, name: &str, during: impl AsyncFnOnce()) {
    const LENGTH: usize = 8 << 20;
    let address = harness.proxy_to(name, echo_server().await).await;
    let (mut reader, mut writer) = connect(address).await.into_split();
    let writing = tokio::spawn(async move {
        writer.write_all(&pattern(LENGTH)).await.expect("write");
        writer.shutdown().await.expect("shutdown");
    });
    let mut echoed = vec![0; 1 << 20];
    tokio::time::timeout(PROMPTLY, reader.read_exact(&mut echoed))
        .await
        .expect("in time")
        .expect("read");
    during().await;
    tokio::time::timeout(PROMPTLY * 3, reader.read_to_end(&mut echoed))
        .await
        .expect("the rest in time")
        .expect("read the rest");
    writing.await.expect("writer");
    assert_eq!(echoed.len(), LENGTH);
    assert!(echoed == pattern(LENGTH), "the echoed stream differs from what was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_without_toxics_arrive_intact() {
    let harness = Harness::start().await;
    echo_a_large_stream_while(&harness, "intact", async || {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_added_and_removed_mid_stream_keep_every_byte_in_order() {
    let harness = Harness::start().await;
    let proxy = harness.proxy.clone();
    echo_a_large_stream_while(&harness, "midstream", async || {
        for stream in [Stream::Upstream, Stream::Downstream] {
            let kind = ToxicKind::Slicer { average_size: 4000, size_variation: 1000, delay_us: 10 };
            let toxic = shadowgate_faultproxy::Toxic {
                name: format!("slicer-{stream}"),
                kind,
                stream,
                toxicity: 1.0,
            };
            proxy.add_toxic("midstream", toxic).await.expect("add");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for stream in ["upstream", "downstream"] {
            proxy.remove_toxic("midstream", &format!("slicer-{stream}")).await.expect("remove");
        }
    })
    .await;
}

/// Bulk data without toxics moves through a relay buffer outside the fault schedule; every
/// toxic added or removed switches a direction between the two while bytes are in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_toggled_throughout_a_bulk_stream_keep_every_byte_in_order() {
    const LENGTH: usize = 16 << 20;
    const TOGGLE_EVERY: usize = 512 << 10;
    let harness = Harness::start().await;
    let address = harness.proxy_to("toggled", echo_server().await).await;
    let (mut reader, mut writer) = connect(address).await.into_split();
    let writing = tokio::spawn(async move {
        writer.write_all(&pattern(LENGTH)).await.expect("write");
        writer.shutdown().await.expect("shutdown");
    });
    let mut echoed = Vec::with_capacity(LENGTH);
    let mut chunk = vec![0; 64 << 10];
    let (mut toggles, mut next_toggle) = (0, TOGGLE_EVERY);
    let mut present = [false, false];
    loop {
        let read = tokio::time::timeout(PROMPTLY, reader.read(&mut chunk))
            .await
            .expect("the echo keeps coming")
            .expect("read");
        if read == 0 {
            break;
        }
        echoed.extend_from_slice(&chunk[..read]);
        if echoed.len() >= next_toggle {
            next_toggle += TOGGLE_EVERY;
            // Alternate the streams, and on each stream add and remove in turn.
            let (index, stream) =
                if toggles % 2 == 0 { (0, Stream::Upstream) } else { (1, Stream::Downstream) };
            let name = format!("toggle-{stream}");
            if present[index] {
                harness.proxy.remove_toxic("toggled", &name).await.expect("remove");
            } else {
                let kind = if (toggles / 4) % 2 == 0 {
                    ToxicKind::Latency { latency_ms: 1, jitter_ms: 0 }
                } else {
                    ToxicKind::Slicer { average_size: 3000, size_variation: 1000, delay_us: 5 }
                };
                harness.add("toggled", &name, stream, kind).await;
            }
            present[index] = !present[index];
            toggles += 1;
        }
    }
    writing.await.expect("writer");
    assert!(toggles >= 20, "only {toggles} toggles happened during the stream");
    assert_eq!(echoed.len(), LENGTH);
    assert!(echoed == pattern(LENGTH), "the echoed stream differs from what was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_toxic_releases_the_data_it_holds() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("release", echo_server().await).await;
    harness
        .add(
            "release",
            "lag",
            Stream::Downstream,
            ToxicKind::Latency { latency_ms: 5000, jitter_ms: 0 },
        )
        .await;
    let mut socket = connect(address).await;
    let started = Instant::now();
    socket.write_all(b"held").await.expect("write");
    assert_eq!(read_once(&mut socket, Duration::from_millis(200)).await, ReadOutcome::Silent);
    harness.proxy.remove_toxic("release", "lag").await.expect("remove");
    assert_eq!(read_once(&mut socket, PROMPTLY).await, ReadOutcome::Data(b"held".to_vec()));
    assert!(started.elapsed() < Duration::from_secs(4), "data waited out the latency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_proxy_is_an_outage_and_enabling_ends_it() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("outage", echo_server().await).await;
    let mut open = connect(address).await;
    round_trip(&mut open, b"up").await;

    let disable = ProxyUpdate { enabled: Some(false), ..ProxyUpdate::default() };
    let info = harness.proxy.update_proxy("outage", disable).await.expect("disable");
    assert!(!info.enabled);
    // The open connection is cut and new ones are refused.
    let outcome = read_once(&mut open, PROMPTLY).await;
    assert!(matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset), "{outcome:?}");
    let refused = TcpStream::connect(address).await.expect_err("listener must be closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    let enable = ProxyUpdate { enabled: Some(true), ..ProxyUpdate::default() };
    let info = harness.proxy.update_proxy("outage", enable).await.expect("enable");
    assert_eq!(info.listen, address.to_string(), "the proxy keeps its port");
    let mut again = connect(address).await;
    round_trip(&mut again, b"back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_proxy_closes_its_connections_and_port() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("doomed", echo_server().await).await;
    let mut open = connect(address).await;
    round_trip(&mut open, b"hi").await;
    harness.proxy.delete_proxy("doomed").await.expect("delete");
    let outcome = read_once(&mut open, PROMPTLY).await;
    assert!(matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset), "{outcome:?}");
    assert!(TcpStream::connect(address).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_upstream_moves_new_connections() {
    let harness = Harness::start().await;
    let (first, mut first_reports) = sink_server().await;
    let (second, mut second_reports) = sink_server().await;
    let address = harness.proxy_to("moving", first).await;
    let mut socket = connect(address).await;
    socket.write_all(b"one").await.expect("write");
    socket.shutdown().await.expect("shutdown");
    let report = tokio::time::timeout(PROMPTLY, first_reports.recv())
        .await
        .expect("report")
        .expect("report");
    assert_eq!(report.data, b"one");

    let update = ProxyUpdate { upstream: Some(second.to_string()), ..ProxyUpdate::default() };
    harness.proxy.update_proxy("moving", update).await.expect("update");
    let mut socket = connect(address).await;
    socket.write_all(b"two").await.expect("write");
    socket.shutdown().await.expect("shutdown");
    let report = tokio::time::timeout(PROMPTLY, second_reports.recv())
        .await
        .expect("report")
        .expect("report");
    assert_eq!(report.data, b"two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_still_gets_its_answer() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("half", echo_server().await).await;
    let mut socket = connect(address).await;
    socket.write_all(b"question").await.expect("write");
    socket.shutdown().await.expect("half close");
    let mut answer = Vec::new();
    tokio::time::timeout(PROMPTLY, socket.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read answer");
    assert_eq!(answer, b"question");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_closes_the_client() {
    let harness = Harness::start().await;
    // A port that was just free: bind, note it, release it.
    let vacant = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let address = harness.proxy_to("nowhere", vacant).await;
    let mut socket = connect(address).await;
    let outcome = read_once(&mut socket, PROMPTLY).await;
    assert!(matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_re_enables_proxies_and_clears_toxics() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("reset", echo_server().await).await;
    harness
        .add(
            "reset",
            "lag",
            Stream::Downstream,
            ToxicKind::Latency { latency_ms: 500, jitter_ms: 0 },
        )
        .await;
    let disable = ProxyUpdate { enabled: Some(false), ..ProxyUpdate::default() };
    harness.proxy.update_proxy("reset", disable).await.expect("disable");
    harness.proxy.reset().await.expect("reset");
    let info = harness.proxy.proxy("reset").await.expect("get");
    assert!(info.enabled && info.toxics.is_empty(), "{info:?}");
    let mut socket = connect(address).await;
    assert!(round_trip(&mut socket, b"fast").await < Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_are_all_cut_by_a_disable() {
    let harness = Harness::start().await;
    let address = harness.proxy_to("crowd", echo_server().await).await;
    let mut sockets = Vec::new();
    for index in 0..20 {
        let mut socket = connect(address).await;
        round_trip(&mut socket, format!("hello {index}").as_bytes()).await;
        sockets.push(socket);
    }
    let disable = ProxyUpdate { enabled: Some(false), ..ProxyUpdate::default() };
    harness.proxy.update_proxy("crowd", disable).await.expect("disable");
    for socket in &mut sockets {
        let outcome = read_once(socket, PROMPTLY).await;
        assert!(matches!(outcome, ReadOutcome::Eof | ReadOutcome::Reset), "{outcome:?}");
    }
    eventually("the port is closed", || async { TcpStream::connect(address).await.is_err() }).await;
}
