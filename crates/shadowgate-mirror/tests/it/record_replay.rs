//! Recording through the proxy, redaction of the recording, and open-model replay.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use shadowgate_mirror::{
    config::{RecordProxyConfig, Upstream},
    http_message::{CapturedRequest, CapturedResponse},
    proxy::MirrorProxy,
    recorder::read_recording_file,
    recording::{RecordedExchange, Recording, RecordingHeader, RedactionSummary},
    redaction::RedactionRules,
    replay::{ReplayConfig, replay},
    schedule::Pacing,
};

use crate::support::{Backend, ReceivedRequest, http1_client, send};

/// A request to send: method, URL, headers and body.
type VisitRequest = (Method, String, Vec<(&'static str, &'static str)>, Vec<u8>);

/// The requests of a small visit: query strings, repeated headers, JSON, binary and empty
/// bodies.
async fn drive_visit(proxy_addr: std::net::SocketAddr) {
    let client = http1_client();
    let base = format!("http://{proxy_addr}");
    let binary: Vec<u8> = (0..=255u8).collect();
    let requests: Vec<VisitRequest> = vec![
        (
            Method::GET,
            format!("{base}/search?q=shoes&page=2"),
            vec![("accept", "application/json"), ("x-trace", "a")],
            vec![],
        ),
        (
            Method::POST,
            format!("{base}/login"),
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer s3cret"),
                ("cookie", "sid=abc"),
            ],
            br#"{"user":{"email":"ann@example.com","name":"Ann"},"password":"hunter2"}"#.to_vec(),
        ),
        (
            Method::PUT,
            format!("{base}/avatar"),
            vec![("content-type", "image/png"), ("x-multi", "1")],
            binary,
        ),
        (Method::DELETE, format!("{base}/cart/9"), vec![("x-reason", "user")], vec![]),
    ];
    for (method, url, headers, body) in requests {
        let (status, _, _) = send(&client, method, &url, &headers, &body).await;
        assert_eq!(status, 200);
    }
}

/// What a request looks like once it has crossed the wire, for comparison.
fn comparable(request: &ReceivedRequest) -> (Method, String, Vec<(String, Vec<u8>)>, Bytes) {
    let mut headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    (request.method.clone(), request.target.clone(), headers, request.body.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_preserves_method_path_headers_and_body() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("visit.jsonl");
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let mut config = RecordProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        primary.url().parse().unwrap(),
        path.clone(),
    );
    // Keep every header so the comparison covers them all; redaction has its own test.
    config.redaction = RedactionRules { drop_headers: Vec::new(), ..RedactionRules::default() };
    let proxy = MirrorProxy::start(config.into()).await.unwrap();
    drive_visit(proxy.local_addr()).await;
    let summary = proxy.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(summary.stats.recorded, 4);

    let recording = read_recording_file(&path).unwrap();
    assert_eq!(recording.exchanges.len(), 4);
    let login = recording
        .exchanges
        .iter()
        .find(|exchange| exchange.request.method == Method::POST)
        .unwrap();
    let response = login.response.as_ref().unwrap();
    assert_eq!(
        (response.status, response.body.as_ref()),
        (StatusCode::OK, &b"primary POST /login\n"[..])
    );

    let target = Backend::echo("replayed", Duration::ZERO).await;
    let mut replay_config = ReplayConfig::new(vec![target.url().parse().unwrap()]);
    replay_config.pacing = Pacing::Speedup(2.0);
    let report = replay(&recording, &replay_config).await.unwrap();
    assert_eq!((report.targets[0].sent, report.targets[0].responses), (4, 4));
    assert_eq!(report.targets[0].status_counts.get(&200), Some(&4));

    let mut original: Vec<_> = primary.received().iter().map(comparable).collect();
    let mut replayed: Vec<_> = target.received().iter().map(comparable).collect();
    original.sort_by(|left, right| left.1.cmp(&right.1));
    replayed.sort_by(|left, right| left.1.cmp(&right.1));
    assert_eq!(replayed, original);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_is_redacted_before_it_is_written() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("redacted.jsonl");
    let primary = Backend::start(
        Duration::ZERO,
        Arc::new(|_request| {
            Response::builder()
                .header("content-type", "application/json")
                .header("set-cookie", "sid=server-secret")
                .body(Full::new(Bytes::from_static(
                    br#"{"token":"tok-123","user":{"email":"ann@example.com"}}"#,
                )))
                .unwrap()
        }),
    )
    .await;
    let mut config = RecordProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        primary.url().parse().unwrap(),
        path.clone(),
    );
    config.redaction = RedactionRules::from_toml(
        "hash_fields = [\"user.email\"]\nremove_fields = [\"password\", \"token\"]\n",
        b"a-test-key-of-32-bytes-exactly!!".to_vec(),
    )
    .unwrap();
    let proxy = MirrorProxy::start(config.into()).await.unwrap();
    drive_visit(proxy.local_addr()).await;
    proxy.shutdown(Duration::from_secs(5)).await.unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["s3cret", "sid=abc", "hunter2", "ann@example.com", "server-secret", "tok-123"] {
        assert!(!text.contains(secret), "`{secret}` leaked into the recording");
    }
    let recording = read_recording_file(&path).unwrap();
    assert_eq!(recording.header.redaction.removed_fields, ["password", "token"]);
    let login = recording
        .exchanges
        .iter()
        .find(|exchange| exchange.request.method == Method::POST)
        .unwrap();
    assert!(
        login.request.headers.get("authorization").is_none()
            && login.request.headers.get("cookie").is_none()
    );
    let body: serde_json::Value = serde_json::from_slice(&login.request.body).unwrap();
    assert!(body["user"]["email"].as_str().unwrap().starts_with("hmac-sha256:"));
    assert_eq!(body["user"]["name"], "Ann");
    assert!(body.get("password").is_none());
    assert_eq!(
        login.request.headers["content-length"],
        login.request.body.len().to_string().as_str()
    );
    let response = login.response.as_ref().unwrap();
    assert!(response.headers.get("set-cookie").is_none());
    let response_body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        response_body["user"]["email"], body["user"]["email"],
        "one key hashes equal values equally"
    );
}

fn synthetic_recording(offsets_ms: &[u64]) -> Recording {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("shop.example"));
    Recording {
        header: RecordingHeader {
            started_at_unix_ms: 0,
            source: "test".into(),
            redaction: RedactionSummary::default(),
        },
        exchanges: offsets_ms
            .iter()
            .enumerate()
            .map(|(idx, offset)| RecordedExchange {
                sequence: idx as u64,
                offset: Duration::from_millis(*offset),
                request: CapturedRequest {
                    method: Method::GET,
                    path_and_query: format!("/r/{idx}"),
                    headers: headers.clone(),
                    body: Bytes::new(),
                    body_truncated: false,
                },
                response: Ok(CapturedResponse {
                    status: StatusCode::OK,
                    headers: HeaderMap::new(),
                    body: Bytes::new(),
                    body_truncated: false,
                }),
                latency: Duration::from_millis(1),
            })
            .collect(),
    }
}

fn arrival_offsets_ms(received: &[ReceivedRequest], first: Instant) -> Vec<(String, f64)> {
    let mut offsets: Vec<(String, f64)> = received
        .iter()
        .map(|request| {
            (request.target.clone(), request.arrived.duration_since(first).as_secs_f64() * 1000.0)
        })
        .collect();
    offsets.sort_by(|left, right| left.1.total_cmp(&right.1));
    offsets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_an_open_model_that_keeps_the_scaled_pattern() {
    // Gaps of 200, 200 and 600 ms, replayed at 2x: 100, 100 and 300 ms. The target needs 400 ms
    // per request, longer than any gap, so a closed model would fall behind the schedule.
    let recording = synthetic_recording(&[1_000, 1_200, 1_400, 2_000]);
    let target = Backend::echo("slow", Duration::from_millis(400)).await;
    let mut config = ReplayConfig::new(vec![target.url().parse::<Upstream>().unwrap()]);
    config.pacing = "2x".parse().unwrap();
    let report = replay(&recording, &config).await.unwrap();

    let received = target.received();
    let first = received.iter().map(|request| request.arrived).min().unwrap();
    let offsets = arrival_offsets_ms(&received, first);
    let targets: Vec<&str> = offsets.iter().map(|(target, _)| target.as_str()).collect();
    assert_eq!(targets, ["/r/0", "/r/1", "/r/2", "/r/3"]);
    for ((_, actual), expected) in offsets.iter().zip([0.0, 100.0, 200.0, 500.0]) {
        assert!(
            (actual - expected).abs() < 60.0,
            "arrived at {actual} ms, scheduled at {expected} ms: {offsets:?}"
        );
    }
    let latency = &report.targets[0].latency;
    assert_eq!(latency.count, 4);
    assert!(latency.p50_us >= 400_000, "latency counts from the intended instant: {latency:?}");
    let samples = &report.targets[0].samples;
    let intended: Vec<u64> = samples.iter().map(|sample| sample.intended_at_us).collect();
    assert_eq!(intended, [0, 100_000, 200_000, 500_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_sends_each_request_to_every_target_at_the_same_instant() {
    let recording = synthetic_recording(&[0, 50, 100, 150, 200, 250, 300, 350]);
    let baseline = Backend::echo("baseline", Duration::from_millis(5)).await;
    let candidate = Backend::echo("candidate", Duration::from_millis(80)).await;
    let mut config =
        ReplayConfig::new(vec![baseline.url().parse().unwrap(), candidate.url().parse().unwrap()]);
    config.duration = Some(Duration::from_millis(800));
    let report = replay(&recording, &config).await.unwrap();
    assert_eq!(report.planned_sends, 16, "the 400 ms pattern loops twice in 800 ms");
    for target in &report.targets {
        assert_eq!(target.responses, 16, "{}", target.target);
    }
    let baseline_arrivals = baseline.received();
    let candidate_arrivals = candidate.received();
    for (sample_idx, (baseline_sample, candidate_sample)) in
        report.targets[0].samples.iter().zip(&report.targets[1].samples).enumerate()
    {
        assert_eq!(baseline_sample.send_index, candidate_sample.send_index);
        assert_eq!(
            baseline_sample.intended_at_us, candidate_sample.intended_at_us,
            "sample {sample_idx}"
        );
    }
    // Arrivals of the same recorded request at the two targets are close together, although the
    // candidate is much slower to answer.
    let mut baseline_times: Vec<Instant> =
        baseline_arrivals.iter().map(|request| request.arrived).collect();
    let mut candidate_times: Vec<Instant> =
        candidate_arrivals.iter().map(|request| request.arrived).collect();
    baseline_times.sort();
    candidate_times.sort();
    for (baseline_time, candidate_time) in baseline_times.iter().zip(&candidate_times) {
        let gap = if baseline_time > candidate_time {
            baseline_time.duration_since(*candidate_time)
        } else {
            candidate_time.duration_since(*baseline_time)
        };
        assert!(gap < Duration::from_millis(40), "{gap:?}");
    }
    assert!(report.targets[1].latency.p50_us > report.targets[0].latency.p50_us);
}
