//! The primary path is unchanged by mirroring; mirrored copies are marked and filtered.

use std::time::Duration;

use http::{HeaderValue, Method, Version};
use shadowgate_mirror::{
    config::{HostRewrite, MethodPolicy, MirrorConfig},
    proxy::MirrorProxy,
    sampling::SampleRate,
};

use crate::support::{
    Backend, RawBackend, http1_client, http2_client, raw_exchanges, send, wait_until,
};

fn config(primary: &str, shadows: &[String]) -> MirrorConfig {
    let mut config = MirrorConfig::new("127.0.0.1:0".parse().unwrap(), primary.parse().unwrap());
    config.shadows = shadows.iter().map(|shadow| shadow.parse().unwrap()).collect();
    config
}

fn raw_requests() -> Vec<Vec<u8>> {
    let json = br#"{"sku":"A-1","qty":2}"#;
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let mut requests = vec![
        b"GET /catalog?page=2&sort=price HTTP/1.1\r\nhost: shop.example\r\nx-client: t1\r\naccept: */*\r\n\r\n".to_vec(),
    ];
    let mut post = format!(
        "POST /cart HTTP/1.1\r\nhost: shop.example\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        json.len()
    )
    .into_bytes();
    post.extend_from_slice(json);
    requests.push(post);
    let mut put = format!(
        "PUT /binary/blob HTTP/1.1\r\nhost: shop.example\r\ncontent-length: {}\r\n\r\n",
        binary.len()
    )
    .into_bytes();
    put.extend_from_slice(&binary);
    requests.push(put);
    requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_responses_are_byte_identical_with_and_without_mirroring() {
    let primary = RawBackend::start().await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let primary_url = format!("http://{}", primary.addr);

    let mut mirroring = config(&primary_url, &[shadow.url()]);
    mirroring.methods = MethodPolicy::All;
    let mirroring = MirrorProxy::start(mirroring).await.unwrap();
    let mut not_mirroring = config(&primary_url, &[shadow.url()]);
    not_mirroring.sampler.rate = SampleRate::NONE;
    let not_mirroring = MirrorProxy::start(not_mirroring).await.unwrap();

    let direct = raw_exchanges(primary.addr, &raw_requests()).await;
    let with_mirror = raw_exchanges(mirroring.local_addr(), &raw_requests()).await;
    let without_mirror = raw_exchanges(not_mirroring.local_addr(), &raw_requests()).await;

    assert_eq!(with_mirror, without_mirror, "mirroring changed the primary's responses");
    assert_eq!(with_mirror, direct, "the proxy changed the primary's responses");
    assert!(String::from_utf8_lossy(&direct[1]).contains("\"body_sum\":"));
    assert!(direct[2].windows(4).any(|window| window == [255, 254, 253, 252]));

    // The copies really went out, with the same bodies.
    assert!(wait_until(Duration::from_secs(10), || shadow.received_count() == 3).await);
    let mirrored = shadow.received();
    assert_eq!(
        mirrored.iter().find(|request| request.method == Method::POST).unwrap().body,
        &br#"{"sku":"A-1","qty":2}"#[..]
    );
    assert_eq!(
        mirrored.iter().find(|request| request.method == Method::PUT).unwrap().body.len(),
        256
    );
    assert_eq!(not_mirroring.stats().enqueued, 0);
    mirroring.shutdown(Duration::from_secs(2)).await.unwrap();
    not_mirroring.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_copies_carry_the_marker_and_host_rewrite_and_follow_the_method_policy() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let mut settings = config(&primary.url(), &[shadow.url()]);
    settings.shadow_host = HostRewrite::Suffix("-shadow".into());
    let proxy = MirrorProxy::start(settings).await.unwrap();
    let client = http1_client();
    let url = format!("http://{}/orders/7", proxy.local_addr());
    for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH] {
        let (status, headers, body) =
            send(&client, method.clone(), &url, &[("host", "shop.example")], b"{}").await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-backend"], "primary");
        assert_eq!(body, format!("primary {method} /orders/7\n"));
    }
    assert!(wait_until(Duration::from_secs(10), || shadow.received_count() == 2).await);
    let mirrored = shadow.received();
    let methods: Vec<&Method> = mirrored.iter().map(|request| &request.method).collect();
    assert!(methods.contains(&&Method::GET) && methods.contains(&&Method::PUT), "{methods:?}");
    for request in &mirrored {
        assert_eq!(request.headers["host"], "shop.example-shadow");
        assert_eq!(request.headers["x-shadowgate-mirror"], "1");
    }
    for request in primary.received() {
        assert_eq!(request.headers["host"], "shop.example");
        assert!(request.headers.get("x-shadowgate-mirror").is_none());
    }
    let stats = proxy.stats();
    assert_eq!((stats.sampled, stats.skipped_method, stats.enqueued), (4, 2, 2));
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_capture_limit_reach_the_primary_whole_and_are_not_mirrored() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let mut settings = config(&primary.url(), &[shadow.url()]);
    settings.methods = MethodPolicy::All;
    settings.body_capture_limit = 1024;
    let proxy = MirrorProxy::start(settings).await.unwrap();
    let client = http1_client();
    let large: Vec<u8> = (0..100_000u32).map(|idx| (idx % 251) as u8).collect();
    let url = format!("http://{}/upload", proxy.local_addr());
    assert_eq!(send(&client, Method::POST, &url, &[], &large).await.0, 200);
    assert_eq!(send(&client, Method::POST, &url, &[], b"small").await.0, 200);
    assert!(wait_until(Duration::from_secs(10), || shadow.received_count() == 1).await);
    assert_eq!(primary.received()[0].body, large);
    assert_eq!(shadow.received()[0].body, "small");
    assert_eq!(proxy.stats().dropped_body_too_large, 1);
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_and_h2c_upstreams_are_served_and_mirrored() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let h2c_primary = format!("h2c://{}", primary.addr);
    let proxy = MirrorProxy::start(config(&h2c_primary, &[shadow.url()])).await.unwrap();

    let url = format!("http://{}/h2/path?q=1", proxy.local_addr());
    let (status, headers, body) = send(&http2_client(), Method::GET, &url, &[], b"").await;
    assert_eq!((status.as_u16(), body.as_ref()), (200, &b"primary GET /h2/path?q=1\n"[..]));
    assert_eq!(headers["x-backend"], "primary");
    assert_eq!(primary.received()[0].version, Version::HTTP_2);

    // A third-party client: curl with HTTP/2 prior knowledge.
    let curl = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--http2-prior-knowledge", "-H", "x-from: curl", &url])
        .output()
        .await
        .expect("curl must be installed (apt-get install curl)");
    assert!(curl.status.success(), "{}", String::from_utf8_lossy(&curl.stderr));
    assert_eq!(curl.stdout, b"primary GET /h2/path?q=1\n");

    assert!(wait_until(Duration::from_secs(10), || shadow.received_count() == 2).await);
    for mirrored in shadow.received() {
        assert_eq!(mirrored.version, Version::HTTP_11);
        assert_eq!(mirrored.target, "/h2/path?q=1");
        let host = mirrored.headers.get("host").cloned().unwrap_or(HeaderValue::from_static(""));
        assert_eq!(
            host,
            proxy.local_addr().to_string().as_str(),
            "the authority becomes the Host header"
        );
    }
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_closes_its_connections_is_reconnected_transparently() {
    let primary = Backend::start(
        Duration::ZERO,
        std::sync::Arc::new(|request| {
            http::Response::builder()
                .header("connection", "close")
                .body(http_body_util::Full::new(bytes::Bytes::from(format!(
                    "closing after {}\n",
                    request.target
                ))))
                .unwrap()
        }),
    )
    .await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let proxy = MirrorProxy::start(config(&primary.url(), &[shadow.url()])).await.unwrap();
    let client = http1_client();
    for idx in 0..10 {
        let url = format!("http://{}/n/{idx}", proxy.local_addr());
        let (status, headers, body) = send(&client, Method::GET, &url, &[], b"").await;
        assert_eq!(status, 200, "request {idx}");
        assert_eq!(body, format!("closing after /n/{idx}\n"));
        assert!(headers.get("connection").is_none(), "hop-by-hop headers are not forwarded");
    }
    assert_eq!(proxy.stats().primary_errors, 0);
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}
