//! Ingestion survives `kill -9` without losing an acknowledged sample.
//!
//! A child process (this test binary, started again with an environment variable) runs the
//! OTLP receiver over a store file. The parent exports to it from several connections at once
//! and records every request answered 200; it then kills the child with SIGKILL in the middle
//! of the traffic, reopens the store and checks that every point of every acknowledged request
//! is there and that the file is sound.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use prost::Message;
use shadowgate_ingest::{
    config::IngestConfig,
    otlp::{
        proto,
        server::{OtlpReceiver, OtlpSettings},
    },
    pipeline::Pipeline,
};
use shadowgate_store::{SampleQuery, SqliteStore, Store};

const CHILD_ENV: &str = "SHADOWGATE_INGEST_CRASH_CHILD_DB";
const POINTS_PER_REQUEST: u64 = 50;

/// The child: serve OTLP over the store until killed.
fn run_child(db: &str) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(std::path::Path::new(db)).unwrap());
        let pipeline =
            Arc::new(Pipeline::start(&IngestConfig::default(), &crate::support::hash_key(), store));
        let receiver = OtlpReceiver::bind(
            "127.0.0.1:0".parse().unwrap(),
            pipeline,
            OtlpSettings::new("crash"),
        )
        .await
        .unwrap();
        println!("listening {}", receiver.local_addr().unwrap());
        receiver.run(std::future::pending()).await.unwrap();
    });
}

/// A request whose points carry `(client, sequence)` so each can be found again.
fn request(client: u64, sequence: u64) -> Vec<u8> {
    proto::ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            resource: None,
            scope_metrics: vec![proto::ScopeMetrics {
                metrics: vec![proto::Metric {
                    name: "acked".into(),
                    data: Some(proto::MetricData::Gauge(proto::Gauge {
                        data_points: (0..POINTS_PER_REQUEST)
                            .map(|idx| proto::NumberDataPoint {
                                attributes: vec![proto::KeyValue {
                                    key: "client".into(),
                                    value: Some(proto::AnyValue {
                                        value: Some(proto::AnyValueKind::StringValue(
                                            client.to_string(),
                                        )),
                                    }),
                                }],
                                time_unix_nano: (1_700_000_000_000
                                    + sequence * POINTS_PER_REQUEST
                                    + idx)
                                    * 1_000_000,
                                flags: 0,
                                value: Some(proto::NumberValue::AsDouble(sequence as f64)),
                            })
                            .collect(),
                    })),
                }],
            }],
        }],
    }
    .encode_to_vec()
}

async fn export_until_killed(
    address: SocketAddr,
    client: u64,
    acknowledged: Arc<Mutex<Vec<(u64, u64)>>>,
) {
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for sequence in 0.. {
        let post = hyper::Request::post(format!("http://{address}/v1/metrics"))
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(request(client, sequence))))
            .unwrap();
        match http.request(post).await {
            Ok(response) if response.status() == 200 => {
                acknowledged.lock().unwrap().push((client, sequence))
            }
            // Once the child is dead every request fails; the parent stops this task.
            _ => return,
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_sample() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        run_child(&db);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::kill_9_loses_no_acknowledged_sample",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address: SocketAddr = loop {
        let line = lines.next().expect("the child exited before listening").unwrap();
        // libtest prints the test's name on the same line first.
        if let Some((_, address)) = line.split_once("listening ") {
            break address.trim().parse().unwrap();
        }
    };

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let exporters: Vec<_> = (0..4)
            .map(|client| {
                tokio::spawn(export_until_killed(address, client, Arc::clone(&acknowledged)))
            })
            .collect();
        let started = Instant::now();
        while acknowledged.lock().unwrap().len() < 200 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the child acknowledged too little in time"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap(); // SIGKILL, with requests in flight.
        child.wait().unwrap();
        for exporter in exporters {
            tokio::time::timeout(Duration::from_secs(60), exporter).await.unwrap().unwrap();
        }
    });

    let store = SqliteStore::open(&db).unwrap();
    store.integrity_check().unwrap();
    let stored: BTreeSet<(u64, u64, i64)> = store
        .samples(&SampleQuery { metric: Some("acked".into()), ..SampleQuery::default() })
        .unwrap()
        .into_iter()
        .map(|s| (s.series.labels["client"].parse().unwrap(), s.value as u64, s.ts_ms))
        .collect();
    let acknowledged = acknowledged.lock().unwrap();
    assert!(acknowledged.len() >= 200);
    for &(client, sequence) in acknowledged.iter() {
        for idx in 0..POINTS_PER_REQUEST {
            let ts_ms = (1_700_000_000_000 + sequence * POINTS_PER_REQUEST + idx) as i64;
            assert!(
                stored.contains(&(client, sequence, ts_ms)),
                "acknowledged point {client}/{sequence}/{idx} was lost"
            );
        }
    }
    // Whole requests or nothing: a request is committed in one transaction.
    let per_request = stored.iter().fold(
        std::collections::BTreeMap::new(),
        |mut counts, (client, sequence, _)| {
            *counts.entry((*client, *sequence)).or_insert(0u64) += 1;
            counts
        },
    );
    assert!(
        per_request.values().all(|&count| count == POINTS_PER_REQUEST),
        "a request was stored in part"
    );
}
