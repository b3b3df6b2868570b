//! Real third-party producers, unmodified: the OpenTelemetry Python SDK's OTLP/HTTP exporters
//! (protobuf with gzip, JSON with deflate) push to the receiver, and the Prometheus Python client's
//! exposition server is scraped. Each is driven by a script in `tests/clients/`.
//!
//! The Python packages are installed under the workspace's `target/tools/python` by
//! `cargo xtask deps`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use shadowgate_ingest::{
    otlp::server::{OtlpReceiver, OtlpSettings},
    scrape::{ScrapeTarget, Scraper},
};
use shadowgate_store::Sample;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::support::{DEADLINE, TempStore, raw_only, shutdown_signal};

fn python_tools() -> PathBuf {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/python");
    for (module, package) in [
        ("opentelemetry/sdk", "opentelemetry-sdk"),
        ("opentelemetry/exporter/otlp/proto/http", "opentelemetry-exporter-otlp-proto-http"),
        ("opentelemetry/exporter/otlp/json/http", "opentelemetry-exporter-otlp-json-http"),
        ("prometheus_client", "prometheus-client"),
    ] {
        assert!(
            installed.join(module).exists(),
            "the Python package {package} is not installed under {}; run `cargo xtask deps`",
            installed.display()
        );
    }
    installed
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

/// The latest sample matching `predicate`; all matches must belong to one series (an exporter
/// may send the same cumulative series more than once, at its flush and at its shutdown).
fn one<'a>(samples: &'a [Sample], what: &str, predicate: impl Fn(&Sample) -> bool) -> &'a Sample {
    let matching: Vec<&Sample> = samples.iter().filter(|s| predicate(s)).collect();
    assert!(!matching.is_empty(), "{what}: nothing stored");
    assert!(
        matching.iter().all(|s| s.series == matching[0].series),
        "{what}: several series {matching:#?}"
    );
    matching.iter().max_by_key(|s| s.ts_ms).copied().unwrap_or(matching[0])
}

async fn export_with_python(encoding: &str) {
    let tools = python_tools();
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&raw_only());
    let receiver = Arc::new(
        OtlpReceiver::bind("127.0.0.1:0".parse().unwrap(), pipeline, OtlpSettings::new("unnamed"))
            .await
            .unwrap(),
    );
    let endpoint = format!("http://{}/v1/metrics", receiver.local_addr().unwrap());
    let (stop, shutdown) = shutdown_signal();
    let serving = tokio::spawn({
        let receiver = Arc::clone(&receiver);
        async move { receiver.run(shutdown).await }
    });

    let child = Command::new("python3")
        .arg(script("otlp_python.py"))
        .args([&endpoint, encoding])
        .env("PYTHONPATH", &tools)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the exporter finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("exported"),
        "exporter failed:\n{stdout}\n{stderr}"
    );
    stop.send(()).unwrap();
    let stats = serving.await.unwrap().unwrap();
    assert!(stats.accepted >= 1 && stats.malformed == 0 && stats.rejected_points == 0, "{stats:?}");

    let app = format!("py-{encoding}");
    let samples = temp.all_samples();
    assert!(samples.iter().all(|s| s.series.app == app), "service.name names the application");
    let orders = one(&samples, "orders_total", |s| s.series.metric == "orders_total");
    assert_eq!(orders.value, 7.0);
    let labels = &orders.series.labels;
    assert_eq!(labels["http_request_method"], "GET");
    for identifying in ["user_id", "client_address", "instance"] {
        assert!(labels[identifying].starts_with("hmac-sha256:"), "{identifying}: {labels:?}");
    }
    let bucket = |le: &str| {
        one(&samples, le, |s| {
            s.series.metric == "checkout_duration_bucket" && s.series.labels["le"] == le
        })
        .value
    };
    assert_eq!([bucket("0"), bucket("5"), bucket("10"), bucket("+Inf")], [0.0, 3.0, 4.0, 4.0]);
    assert_eq!(one(&samples, "count", |s| s.series.metric == "checkout_duration_count").value, 4.0);
    let sum = one(&samples, "sum", |s| s.series.metric == "checkout_duration_sum").value;
    assert!((sum - 7.324).abs() < 1e-9, "{sum}");
    assert_eq!(
        one(&samples, "queue", |s| s.series.metric == "queue_size").value,
        7.0,
        "a non-monotonic sum"
    );
    let temperature = one(&samples, "gauge", |s| s.series.metric == "room_temperature");
    assert_eq!((temperature.value, temperature.series.labels["room"].as_str()), (21.5, "lab"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_exporter_over_protobuf_and_gzip_is_received() {
    export_with_python("protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_exporter_over_json_and_deflate_is_received() {
    export_with_python("json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_python_client_exposition_is_scraped() {
    let tools = python_tools();
    let mut child = Command::new("python3")
        .arg(script("prometheus_python.py"))
        .env("PYTHONPATH", &tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port_line = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .expect("the server starts")
        .unwrap()
        .unwrap();
    let port: u16 = port_line.strip_prefix("PORT ").expect("a PORT line").parse().unwrap();

    let temp = TempStore::new();
    let url = format!("http://127.0.0.1:{port}/metrics").parse().unwrap();
    let scraper = Scraper::new(
        ScrapeTarget::new(url, "py-app", Duration::from_secs(15)),
        temp.pipeline(&raw_only()),
    )
    .unwrap();
    let receipt = scraper.scrape_once().await.unwrap();
    assert!(receipt.points > 20, "the client's own process and GC metrics come too: {receipt:?}");
    let samples = temp.all_samples();

    let tricky = one(&samples, "tricky jobs", |s| {
        s.series.metric == "jobs_total" && s.series.labels["queue"] != "plain"
    });
    assert_eq!(
        tricky.series.labels["queue"], "tricky \"quoted\" \\ back\nslash",
        "escapes are undone"
    );
    assert_eq!(tricky.value, 3.0);
    assert!(tricky.series.labels["client_ip"].starts_with("hmac-sha256:"));
    assert_eq!(one(&samples, "gauge", |s| s.series.metric == "temperature_celsius").value, -2.5);
    let bucket = |le: &str| {
        one(&samples, le, |s| {
            s.series.metric == "request_latency_seconds_bucket" && s.series.labels["le"] == le
        })
        .value
    };
    assert_eq!([bucket("0.1"), bucket("1.0"), bucket("+Inf")], [1.0, 2.0, 3.0]);
    assert_eq!(
        one(&samples, "summary count", |s| s.series.metric == "payload_bytes_count").value,
        1.0
    );
    assert_eq!(
        one(&samples, "info", |s| s.series.metric == "build_info").series.labels["version"],
        "1.2.3"
    );
    drop(child.stdin.take());
    let _ = tokio::time::timeout(DEADLINE, child.wait()).await;
}
