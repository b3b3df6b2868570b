//! A slow, dead or overloaded shadow has no effect on the primary; sampling picks whole keys.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use shadowgate_mirror::{
    config::MirrorConfig,
    proxy::MirrorProxy,
    sampling::{SampleKey, Sampler},
};

use crate::support::{Backend, http1_client, refused_addr, send, wait_until};

fn config(primary: &str, shadow: &str) -> MirrorConfig {
    let mut config = MirrorConfig::new("127.0.0.1:0".parse().unwrap(), primary.parse().unwrap());
    config.shadows = vec![shadow.parse().unwrap()];
    config
}

/// Sequential request latencies through a proxy, after a warm-up.
async fn primary_latencies(proxy: &MirrorProxy, n_requests: usize) -> Vec<Duration> {
    let client = http1_client();
    let url = format!("http://{}/item/1", proxy.local_addr());
    for _ in 0..5 {
        send(&client, Method::GET, &url, &[], b"").await;
    }
    let mut latencies = Vec::with_capacity(n_requests);
    for _ in 0..n_requests {
        let started = Instant::now();
        let (status, _, body) = send(&client, Method::GET, &url, &[], b"").await;
        latencies.push(started.elapsed());
        assert_eq!((status.as_u16(), body.as_ref()), (200, &b"primary GET /item/1\n"[..]));
    }
    latencies.sort();
    latencies
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_that_sleeps_2s_or_refuses_connections_changes_nothing_for_the_primary() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let fast_shadow = Backend::echo("fast", Duration::ZERO).await;
    let slow_shadow = Backend::echo("slow", Duration::from_secs(2)).await;
    let dead_shadow = format!("http://{}", refused_addr().await);

    let fast = MirrorProxy::start(config(&primary.url(), &fast_shadow.url())).await.unwrap();
    let slow = MirrorProxy::start(config(&primary.url(), &slow_shadow.url())).await.unwrap();
    let dead = MirrorProxy::start(config(&primary.url(), &dead_shadow)).await.unwrap();

    let n_requests = 60;
    let fast_latencies = primary_latencies(&fast, n_requests).await;
    let slow_latencies = primary_latencies(&slow, n_requests).await;
    let dead_latencies = primary_latencies(&dead, n_requests).await;

    // Had the primary waited for the shadow, every request would take 2 s. The tolerances are
    // wide enough for a loaded 2-core machine and far below that.
    for (name, latencies) in [("slow", &slow_latencies), ("refusing", &dead_latencies)] {
        let slowest = *latencies.last().unwrap();
        assert!(
            slowest < Duration::from_millis(500),
            "{name} shadow: slowest primary request took {slowest:?}"
        );
        let allowed = median(&fast_latencies) * 3 + Duration::from_millis(15);
        assert!(
            median(latencies) <= allowed,
            "{name} shadow: median {:?} vs {:?} with a fast shadow",
            median(latencies),
            median(&fast_latencies)
        );
    }
    // The mirror really ran against each shadow.
    assert!(
        wait_until(Duration::from_secs(10), || slow_shadow.received_count() >= n_requests).await
    );
    assert!(
        wait_until(Duration::from_secs(10), || dead.stats().shadows[0].connect_errors
            >= n_requests as u64)
        .await
    );
    assert!(
        wait_until(Duration::from_secs(10), || fast.stats().shadows[0].responses
            >= n_requests as u64)
        .await
    );
    for proxy in [fast, slow, dead] {
        proxy.shutdown(Duration::from_millis(200)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_copies_without_touching_the_primary() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let stuck_shadow = Backend::echo("stuck", Duration::from_secs(30)).await;
    let mut settings = config(&primary.url(), &stuck_shadow.url());
    settings.queue_capacity = 2;
    settings.shadow_concurrency = 1;
    settings.shadow_timeout = Duration::from_secs(60);
    let proxy = MirrorProxy::start(settings).await.unwrap();

    let started = Instant::now();
    let latencies = primary_latencies(&proxy, 40).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the primary was held up: {:?}",
        started.elapsed()
    );
    assert!(*latencies.last().unwrap() < Duration::from_millis(500), "{latencies:?}");
    let stats = proxy.stats();
    // One job runs, two wait; everything else is dropped.
    assert_eq!(stats.enqueued, 3, "{stats:?}");
    assert_eq!(stats.dropped_queue_full, 45 - 3, "{stats:?}");
    assert!(
        proxy.metrics_text().contains("shadowgate_mirror_dropped_total{reason=\"queue_full\"} 42")
    );
    proxy.shutdown(Duration::from_millis(100)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_by_header_mirrors_exactly_the_chosen_users() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let shadow = Backend::echo("shadow", Duration::ZERO).await;
    let sampler =
        Sampler { rate: "10%".parse().unwrap(), key: "header:x-user".parse().unwrap(), salt: 0 };
    let mut settings = config(&primary.url(), &shadow.url());
    settings.sampler = sampler.clone();
    let proxy = MirrorProxy::start(settings).await.unwrap();

    let client = http1_client();
    let n_users = 1_000;
    let mut expected = Vec::new();
    for round in 0..2 {
        for user in 0..n_users {
            let user_id = format!("u-{user}");
            let url = format!("http://{}/page/{round}", proxy.local_addr());
            send(&client, Method::GET, &url, &[("x-user", &user_id)], b"").await;
            let mut headers = HeaderMap::new();
            headers.insert("x-user", HeaderValue::from_str(&user_id).unwrap());
            if round == 0 && sampler.decide("/", &headers, 0) {
                expected.push(user_id);
            }
        }
    }
    assert!(
        wait_until(Duration::from_secs(20), || shadow.received_count() >= 2 * expected.len()).await
    );
    let mut mirrored: Vec<String> = shadow
        .received()
        .iter()
        .map(|request| request.headers["x-user"].to_str().unwrap().to_owned())
        .collect();
    mirrored.sort();
    let mut expected_twice: Vec<String> =
        expected.iter().flat_map(|user| [user.clone(), user.clone()]).collect();
    expected_twice.sort();
    assert_eq!(
        mirrored, expected_twice,
        "each chosen user is mirrored on both of its requests, and no other"
    );
    let fraction = expected.len() as f64 / n_users as f64;
    assert!((0.07..=0.13).contains(&fraction), "{fraction}");
    assert!(matches!(sampler.key, SampleKey::Header(_)));
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}
