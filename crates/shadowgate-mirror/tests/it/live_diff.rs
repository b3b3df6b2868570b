//! The three-way diff, live behind the mirroring proxy and over a replay.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use shadowgate_core::rng::Rng;
use shadowgate_mirror::{
    config::MirrorConfig,
    diff::DiffConfig,
    proxy::MirrorProxy,
    recorder::read_recording_file,
    replay::{ReplayConfig, replay},
};

use crate::support::{Backend, http1_client, send, wait_until};

/// A product service: each answer carries a fresh random UUID and the current time, which
/// differ on every call, and a price. `price_bump` is added to the price of even product ids.
async fn product_service(seed: u64, price_bump: f64) -> Backend {
    let rng = Arc::new(Mutex::new(Rng::seed(seed)));
    Backend::start(
        Duration::ZERO,
        Arc::new(move |request| {
            let id: u64 =
                request.target.rsplit('/').next().and_then(|last| last.parse().ok()).unwrap_or(0);
            let uuid: String = {
                let mut rng = rng.lock().unwrap();
                (0..32).map(|_| format!("{:x}", rng.below(16))).collect()
            };
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            let price = 10.0 + id as f64 + if id.is_multiple_of(2) { price_bump } else { 0.0 };
            let body = serde_json::json!({
                "request_id": uuid,
                "served_at": format!("{}.{:09}", now.as_secs(), now.subsec_nanos()),
                "product": {"id": id, "price": price, "currency": "EUR"},
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap()
        }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_diff_suppresses_uuid_and_timestamp_and_reports_the_changed_price() {
    let primary = product_service(1, 0.0).await;
    let secondary = product_service(2, 0.0).await;
    let candidate = product_service(3, 2.5).await;
    let mut config =
        MirrorConfig::new("127.0.0.1:0".parse().unwrap(), primary.url().parse().unwrap());
    config.shadows = vec![secondary.url().parse().unwrap(), candidate.url().parse().unwrap()];
    config.diff = Some(DiffConfig::default());
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    let proxy = MirrorProxy::start(config).await.unwrap();

    let client = http1_client();
    let n_requests = 200;
    for idx in 0..n_requests {
        let url = format!("http://{}/products/{}", proxy.local_addr(), idx % 20);
        let (status, _, _) = send(&client, Method::GET, &url, &[], b"").await;
        assert_eq!(status, 200);
    }
    assert!(
        wait_until(Duration::from_secs(20), || proxy.stats().diffed == n_requests).await,
        "{:?}",
        proxy.stats()
    );

    let report = proxy.diff_report().unwrap();
    assert_eq!(report.requests_compared, n_requests);
    let differing: Vec<(&str, &str)> = report
        .differing_fields()
        .map(|(endpoint, field)| (endpoint, field.field.as_str()))
        .collect();
    assert_eq!(differing, [("GET /products/{id}", "body.product.price")]);
    let price = report.differing_fields().next().unwrap().1;
    assert_eq!((price.raw_differences, price.noise_differences), (100, 0));
    let example = &price.examples[0];
    assert!(example.primary.body.contains("\"price\":10.0") || example.primary_value.is_some());
    let noise: Vec<&str> =
        report.endpoints[0].noise_fields.iter().map(|field| field.field.as_str()).collect();
    assert!(noise.contains(&"body.request_id") && noise.contains(&"body.served_at"), "{noise:?}");

    // The same report is served as JSON on the admin endpoint.
    let admin_url = format!("http://{}/diff", proxy.admin_addr().unwrap());
    let (status, _, body) = send(&client, Method::GET, &admin_url, &[], b"").await;
    assert_eq!(status, 200);
    let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served["endpoints"][0]["differing_fields"][0]["field"], "body.product.price");
    let summary = proxy.shutdown(Duration::from_secs(2)).await.unwrap();
    assert!(summary.diff.unwrap().has_differences());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_visit_replayed_to_three_versions_is_diffed() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("products.jsonl");
    let production = product_service(9, 0.0).await;
    let record_config = shadowgate_mirror::config::RecordProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        production.url().parse().unwrap(),
        path.clone(),
    );
    let proxy = MirrorProxy::start(record_config.into()).await.unwrap();
    let client = http1_client();
    for idx in 0..60 {
        send(
            &client,
            Method::GET,
            &format!("http://{}/products/{}", proxy.local_addr(), idx % 6),
            &[],
            b"",
        )
        .await;
    }
    proxy.shutdown(Duration::from_secs(5)).await.unwrap();
    let recording = read_recording_file(&path).unwrap();
    assert_eq!(recording.exchanges.len(), 60);

    let primary = product_service(1, 0.0).await;
    let secondary = product_service(2, 0.0).await;
    let candidate = product_service(3, 1.0).await;
    let mut config = ReplayConfig::new(
        [&primary, &secondary, &candidate]
            .iter()
            .map(|backend| backend.url().parse().unwrap())
            .collect(),
    );
    config.pacing = "4x".parse().unwrap();
    config.diff = Some(DiffConfig::default());
    let report = replay(&recording, &config).await.unwrap();
    let diff = report.diff.unwrap();
    assert_eq!(diff.requests_compared, 60);
    let differing: Vec<&str> =
        diff.differing_fields().map(|(_, field)| field.field.as_str()).collect();
    assert_eq!(differing, ["body.product.price"]);
}
