//! The OTLP/HTTP receiver over a real socket: both encodings, gzip, and every error status.

use std::{io::Write, net::SocketAddr, sync::Arc};

use prost::Message;
use shadowgate_ingest::{
    otlp::{
        proto,
        server::{OtlpReceiver, OtlpSettings},
    },
    pipeline::Pipeline,
};

use crate::support::{Answer, TempStore, post, raw_only, shutdown_signal};

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

fn gauge_request(
    service: &str,
    metric: &str,
    values: &[f64],
) -> proto::ExportMetricsServiceRequest {
    proto::ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            resource: Some(proto::Resource {
                attributes: vec![proto::KeyValue {
                    key: "service.name".into(),
                    value: Some(proto::AnyValue {
                        value: Some(proto::AnyValueKind::StringValue(service.into())),
                    }),
                }],
            }),
            scope_metrics: vec![proto::ScopeMetrics {
                metrics: vec![proto::Metric {
                    name: metric.into(),
                    data: Some(proto::MetricData::Gauge(proto::Gauge {
                        data_points: values
                            .iter()
                            .enumerate()
                            .map(|(idx, value)| proto::NumberDataPoint {
                                attributes: vec![],
                                time_unix_nano: 1_700_000_000_000_000_000
                                    + idx as u64 * 1_000_000_000,
                                flags: 0,
                                value: Some(proto::NumberValue::AsDouble(*value)),
                            })
                            .collect(),
                    })),
                }],
            }],
        }],
    }
}

struct Running {
    address: SocketAddr,
    receiver: Arc<OtlpReceiver>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<shadowgate_ingest::otlp::server::OtlpStats>>,
}

async fn start(pipeline: Arc<Pipeline>, max_body_bytes: usize) -> Running {
    let mut settings = OtlpSettings::new("unnamed");
    settings.max_body_bytes = max_body_bytes;
    let receiver = Arc::new(
        OtlpReceiver::bind("127.0.0.1:0".parse().unwrap(), pipeline, settings).await.unwrap(),
    );
    let address = receiver.local_addr().unwrap();
    let (stop, shutdown) = shutdown_signal();
    let task = tokio::spawn({
        let receiver = Arc::clone(&receiver);
        async move { receiver.run(shutdown).await }
    });
    Running { address, receiver, stop, task }
}

fn json_body(answer: &Answer) -> serde_json::Value {
    assert_eq!(answer.content_type, "application/json");
    serde_json::from_slice(&answer.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_and_json_exports_are_stored_and_answered_in_kind() {
    let temp = TempStore::new();
    let running = start(temp.pipeline(&raw_only()), 1 << 20).await;

    let body = gauge_request("cart", "queue.depth", &[3.0, 4.0]).encode_to_vec();
    let answer = post(running.address, "/v1/metrics", &[PROTOBUF], body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/x-protobuf");
    assert!(answer.body.is_empty(), "a full success is the empty ExportMetricsServiceResponse");

    let json = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
        "scopeMetrics":[{"metrics":[{"name":"orders","sum":{"isMonotonic":true,"aggregationTemporality":2,
        "dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"17"}]}}]}]}]}"#;
    let answer = post(
        running.address,
        "/v1/metrics",
        &[("content-type", "application/json; charset=utf-8")],
        json.into(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(json_body(&answer), serde_json::json!({}));

    let depth = temp.samples("queue_depth");
    assert_eq!(
        depth.iter().map(|s| (s.ts_ms, s.value)).collect::<Vec<_>>(),
        [(1_700_000_000_000, 3.0), (1_700_000_001_000, 4.0)]
    );
    assert!(depth.iter().all(|s| s.series.app == "cart"));
    assert_eq!(temp.samples("orders_total")[0].value, 17.0);
    let stats = running.receiver.stats();
    assert_eq!((stats.requests, stats.accepted, stats.points), (2, 2, 3));
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_expanded_within_the_cap() {
    let temp = TempStore::new();
    let running = start(temp.pipeline(&raw_only()), 64 << 10).await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&gauge_request("cart", "zipped", &[1.0]).encode_to_vec()).unwrap();
    let answer = post(
        running.address,
        "/v1/metrics",
        &[PROTOBUF, ("content-encoding", "gzip")],
        encoder.finish().unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(temp.samples("zipped").len(), 1);

    // A small body that expands past the cap (a zip bomb) is refused before it is decoded.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![0u8; 1 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 64 << 10);
    let answer =
        post(running.address, "/v1/metrics", &[PROTOBUF, ("content-encoding", "gzip")], bomb).await;
    assert_eq!(answer.status, 413);
    let status = proto::Status::decode(answer.body).unwrap();
    assert!(status.message.contains("65536-byte limit"), "{}", status.message);

    let corrupt = post(
        running.address,
        "/v1/metrics",
        &[JSON, ("content-encoding", "gzip")],
        b"not gzip".to_vec(),
    )
    .await;
    assert_eq!(corrupt.status, 400);
    assert!(
        json_body(&corrupt)["message"].as_str().unwrap().contains("compressed body is corrupt")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unsupported_and_oversized_requests_get_otlp_statuses() {
    let temp = TempStore::new();
    let running = start(temp.pipeline(&raw_only()), 4096).await;
    let address = running.address;

    let garbage = post(address, "/v1/metrics", &[PROTOBUF], vec![0xff, 0xff, 0xff, 0x01]).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.content_type, "application/x-protobuf");
    let status = proto::Status::decode(garbage.body).unwrap();
    assert_eq!(status.code, 3);
    assert!(status.message.contains("does not decode"), "{}", status.message);

    let bad_json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"x1"}]}}]}]}]}"#;
    let answer = post(address, "/v1/metrics", &[JSON], bad_json.into()).await;
    assert_eq!(answer.status, 400);
    let message = json_body(&answer)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asInt"),
        "{message}"
    );

    let text =
        post(address, "/v1/metrics", &[("content-type", "text/plain")], b"hello".to_vec()).await;
    assert_eq!(text.status, 415);
    assert!(
        String::from_utf8_lossy(&text.body).contains("application/x-protobuf or application/json")
    );
    let untyped = post(address, "/v1/metrics", &[], b"{}".to_vec()).await;
    assert_eq!(untyped.status, 415);
    let brotli =
        post(address, "/v1/metrics", &[JSON, ("content-encoding", "br")], b"{}".to_vec()).await;
    assert_eq!(brotli.status, 415);

    let big = post(address, "/v1/metrics", &[PROTOBUF], vec![0u8; 5000]).await;
    assert_eq!(big.status, 413);

    let wrong_path = post(address, "/v1/traces", &[PROTOBUF], vec![]).await;
    assert_eq!(wrong_path.status, 404);

    let stats = running.receiver.stats();
    assert_eq!((stats.malformed, stats.unsupported, stats.too_large, stats.accepted), (2, 3, 1, 0));
    assert!(temp.all_samples().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_unconvertible_exports_report_partial_success() {
    let temp = TempStore::new();
    let running = start(temp.pipeline(&raw_only()), 1 << 20).await;
    let json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"good","gauge":{"dataPoints":[{"asDouble":1}]}},
        {"name":"novalue","gauge":{"dataPoints":[{"timeUnixNano":"5"},{"timeUnixNano":"6"}]}}]}]}]}"#;
    let answer = post(running.address, "/v1/metrics", &[JSON], json.into()).await;
    assert_eq!(answer.status, 200);
    let body = json_body(&answer);
    assert_eq!(body["partialSuccess"]["rejectedDataPoints"], "2");
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("neither asDouble nor asInt")
    );
    assert_eq!(temp.samples("good").len(), 1);
    assert_eq!(temp.samples("good")[0].series.app, "unnamed", "the default application");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_answered_503_so_the_exporter_retries() {
    let temp = TempStore::new();
    let running = start(temp.pipeline(&raw_only()), 1 << 20).await;
    // Break the store underneath: every insert now fails.
    let connection = rusqlite::Connection::open(temp.path()).unwrap();
    connection.execute_batch("DROP INDEX samples_by_series_time; DROP TABLE samples;").unwrap();
    let answer = post(
        running.address,
        "/v1/metrics",
        &[PROTOBUF],
        gauge_request("a", "m", &[1.0]).encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status, 503);
    let status = proto::Status::decode(answer.body).unwrap();
    assert_eq!(status.code, 14);
    assert!(status.message.contains("samples were not stored"), "{}", status.message);
    assert_eq!(running.receiver.stats().write_failures, 1);
}
