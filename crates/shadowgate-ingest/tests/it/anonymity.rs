//! No raw identifying value reaches the disk, whichever path it came in by.
//!
//! Known identifiers are ingested through a scrape, an OTLP protobuf export, an OTLP/JSON
//! export, a CSV import and a JSONL import (rollups on, as in production). Then the bytes of the
//! SQLite file and of its write-ahead log are searched: no identifier may appear, while their
//! keyed hashes must (so the test cannot pass by storing nothing).

use std::sync::Arc;

use prost::Message;
use shadowgate_ingest::{
    anonymize::LabelHasher,
    config::IngestConfig,
    import::{ImportFormat, ImportOptions, import_file},
    otlp::{
        proto,
        server::{OtlpReceiver, OtlpSettings},
    },
    scrape::{ScrapeTarget, Scraper},
};

use crate::support::{Canned, TempStore, hash_key, post, serve, shutdown_signal};

/// Identifiers, one set per path so that each path is checked on its own.
const SCRAPE_IDS: [&str; 3] = ["scrape-user-1001", "198.51.100.77", "scrape-host.internal"];
const PROTOBUF_IDS: [&str; 3] = ["proto-user@example.com", "203.0.113.91", "proto-instance-5d8f"];
const JSON_IDS: [&str; 3] = ["json-user@example.com", "192.0.2.44", "json-instance-77aa"];
const CSV_IDS: [&str; 2] = ["csv-person@example.org", "csv-node-3.example"];
const JSONL_IDS: [&str; 3] = ["jsonl-user-31337", "2001:db8::1234", "jsonl-host-9"];

fn otlp_request(service: &str, ids: [&str; 3]) -> proto::ExportMetricsServiceRequest {
    let text = |value: &str| {
        Some(proto::AnyValue { value: Some(proto::AnyValueKind::StringValue(value.to_string())) })
    };
    proto::ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            resource: Some(proto::Resource {
                attributes: vec![
                    proto::KeyValue { key: "service.name".into(), value: text(service) },
                    proto::KeyValue { key: "service.instance.id".into(), value: text(ids[2]) },
                ],
            }),
            scope_metrics: vec![proto::ScopeMetrics {
                metrics: vec![proto::Metric {
                    name: "logins".into(),
                    data: Some(proto::MetricData::Sum(proto::Sum {
                        is_monotonic: true,
                        data_points: (0..3)
                            .map(|idx| proto::NumberDataPoint {
                                attributes: vec![
                                    proto::KeyValue {
                                        key: "enduser.id".into(),
                                        value: text(ids[0]),
                                    },
                                    proto::KeyValue {
                                        key: "client.address".into(),
                                        value: text(ids[1]),
                                    },
                                ],
                                time_unix_nano: 1_700_000_000_000_000_000 + idx * 60_000_000_000,
                                flags: 0,
                                value: Some(proto::NumberValue::AsInt(idx as i64)),
                            })
                            .collect(),
                    })),
                }],
            }],
        }],
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifying_values_never_reach_the_sqlite_file_or_its_wal() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&IngestConfig::default());

    // A scrape.
    let exposition = format!(
        "# TYPE active_carts gauge\nactive_carts{{user_id=\"{}\",client_ip=\"{}\",hostname=\"{}\"}} 3 1700000000000\n\
         active_carts{{user_id=\"{0}\",client_ip=\"{1}\",hostname=\"{2}\"}} 4 1700000120000\n",
        SCRAPE_IDS[0], SCRAPE_IDS[1], SCRAPE_IDS[2]
    );
    let address = serve(move |_| Canned::exposition(exposition.clone())).await;
    let url = format!("http://{address}/metrics").parse().unwrap();
    let scraper = Scraper::new(
        ScrapeTarget::new(url, "shop", std::time::Duration::from_secs(15)),
        Arc::clone(&pipeline),
    )
    .unwrap();
    scraper.scrape_once().await.unwrap();

    // OTLP, both encodings.
    let receiver = Arc::new(
        OtlpReceiver::bind(
            "127.0.0.1:0".parse().unwrap(),
            Arc::clone(&pipeline),
            OtlpSettings::new("shop"),
        )
        .await
        .unwrap(),
    );
    let otlp_address = receiver.local_addr().unwrap();
    let (stop, shutdown) = shutdown_signal();
    let serving = tokio::spawn({
        let receiver = Arc::clone(&receiver);
        async move { receiver.run(shutdown).await }
    });
    let protobuf = otlp_request("shop", PROTOBUF_IDS).encode_to_vec();
    let answer =
        post(otlp_address, "/v1/metrics", &[("content-type", "application/x-protobuf")], protobuf)
            .await;
    assert_eq!(answer.status, 200);
    let json = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.instance.id","value":{{"stringValue":"{}"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"carts","gauge":{{"dataPoints":[{{"timeUnixNano":"1700000000000000000","asDouble":2,
        "attributes":[{{"key":"user.id","value":{{"stringValue":"{}"}}}},{{"key":"client.address","value":{{"stringValue":"{}"}}}}]}}]}}}}]}}]}}]}}"#,
        JSON_IDS[2], JSON_IDS[0], JSON_IDS[1]
    );
    let answer = post(
        otlp_address,
        "/v1/metrics",
        &[("content-type", "application/json")],
        json.into_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200);
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();

    // CSV and JSONL files.
    let csv = temp.dir.path().join("import.csv");
    std::fs::write(
        &csv,
        format!(
            "1700000000,visits,1,email={};host={}\n1700000090,visits,2,email={0};host={1}\n",
            CSV_IDS[0], CSV_IDS[1]
        ),
    )
    .unwrap();
    import_file(&csv, ImportOptions::new("shop", ImportFormat::Csv), Arc::clone(&pipeline))
        .await
        .unwrap();
    let jsonl = temp.dir.path().join("import.jsonl");
    std::fs::write(
        &jsonl,
        format!(
            "{{\"ts\": 1700000000, \"metric\": \"orders\", \"value\": 1, \"labels\": {{\"user\": \"{}\", \"ip\": \"{}\", \"hostname\": \"{}\"}}}}\n",
            JSONL_IDS[0], JSONL_IDS[1], JSONL_IDS[2]
        ),
    )
    .unwrap();
    import_file(&jsonl, ImportOptions::new("shop", ImportFormat::JsonLines), Arc::clone(&pipeline))
        .await
        .unwrap();
    pipeline.finish().await.unwrap();

    let stored = temp.all_samples();
    for metric in [
        "active_carts",
        "logins_total",
        "carts",
        "visits",
        "orders",
        "active_carts:1m_p99",
        "visits:1m_max",
    ] {
        assert!(stored.iter().any(|s| s.series.metric == metric), "{metric} was stored");
    }
    let mut bytes = std::fs::read(temp.path()).unwrap();
    let wal = std::fs::read(temp.dir.path().join("store.db-wal")).unwrap();
    assert!(!wal.is_empty(), "the recent writes are in the WAL");
    bytes.extend_from_slice(&wal);

    let mut hasher = LabelHasher::new(&hash_key());
    let all_ids =
        SCRAPE_IDS.iter().chain(&PROTOBUF_IDS).chain(&JSON_IDS).chain(&CSV_IDS).chain(&JSONL_IDS);
    for id in all_ids {
        assert!(!contains(&bytes, id), "`{id}` is stored in the clear");
        let hashed = hasher.hash(id);
        assert!(contains(&bytes, &hashed), "the hash of `{id}` ({hashed}) is stored");
    }
}
