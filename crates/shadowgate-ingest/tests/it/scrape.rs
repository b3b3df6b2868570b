//! The scrape loop against real HTTP servers on loopback: success, every kind of failure, and
//! the loop's interval and cancellation.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use shadowgate_ingest::scrape::{ScrapeError, ScrapeTarget, Scraper};
use tokio::net::TcpListener;

use crate::support::{Canned, TempStore, eventually, raw_only, serve, shutdown_signal};

const EXPOSITION: &str = "# HELP http_requests_total Requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"GET\",code=\"200\"} 1027\n\
http_requests_total{method=\"POST\",code=\"500\"} 3 1700000000000\n\
# TYPE latency_seconds histogram\n\
latency_seconds_bucket{le=\"0.1\"} 5\n\
latency_seconds_bucket{le=\"+Inf\"} 7\n\
latency_seconds_sum 0.9\n\
latency_seconds_count 7\n\
stale_marker NaN\n";

fn target(address: std::net::SocketAddr, path: &str) -> ScrapeTarget {
    let url = format!("http://{address}{path}").parse().unwrap();
    let mut target = ScrapeTarget::new(url, "shop", Duration::from_millis(200));
    target.timeout = Duration::from_secs(5);
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_stores_every_sample_with_its_labels_and_time() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&raw_only());
    let address = serve(|_| Canned::exposition(EXPOSITION)).await;
    let scraper = Scraper::new(target(address, "/metrics"), pipeline).unwrap();
    let before = shadowgate_ingest::pipeline::unix_now_ms();
    let receipt = scraper.scrape_once().await.unwrap();
    assert_eq!(receipt.points, 7, "every sample line, the NaN one included");
    assert_eq!(receipt.samples_written, 6, "NaN is not stored");

    let requests = temp.samples("http_requests_total");
    assert_eq!(requests.len(), 2);
    let get = requests.iter().find(|s| s.series.labels["method"] == "GET").unwrap();
    assert_eq!(get.value, 1027.0);
    assert_eq!(get.series.app, "shop");
    assert!(get.ts_ms >= before, "no timestamp means the scrape's start");
    let post = requests.iter().find(|s| s.series.labels["method"] == "POST").unwrap();
    assert_eq!(post.ts_ms, 1_700_000_000_000, "an explicit timestamp is kept");
    let buckets = temp.samples("latency_seconds_bucket");
    assert_eq!(
        buckets.iter().map(|s| s.series.labels["le"].as_str()).collect::<Vec<_>>(),
        ["0.1", "+Inf"]
    );
    assert!(temp.samples("stale_marker").is_empty());

    let stats = scraper.stats();
    assert_eq!((stats.scrapes, stats.failures, stats.points), (1, 0, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_with_their_reason_and_store_nothing() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&raw_only());
    let address = serve(|path| match path {
        "/missing" => Canned { status: 404, content_type: "text/plain", body: "no".into() },
        "/malformed" => Canned::exposition("good 1\nbad{x=\"1\" 2\n"),
        "/huge" => Canned::exposition("a 1\n".repeat(10_000)),
        _ => Canned::exposition("ok 1\n"),
    })
    .await;

    let missing = Scraper::new(target(address, "/missing"), Arc::clone(&pipeline)).unwrap();
    assert!(matches!(missing.scrape_once().await, Err(ScrapeError::Status { status: 404, .. })));

    let malformed = Scraper::new(target(address, "/malformed"), Arc::clone(&pipeline)).unwrap();
    let error = malformed.scrape_once().await.unwrap_err();
    assert!(error.to_string().contains("line 2, column 11"), "{error}");
    assert_eq!(malformed.stats().last_error, Some(error.to_string()));

    let mut small = target(address, "/huge");
    small.max_body_bytes = 1000;
    let huge = Scraper::new(small, Arc::clone(&pipeline)).unwrap();
    assert!(matches!(huge.scrape_once().await, Err(ScrapeError::TooLarge { limit: 1000, .. })));

    // A port that accepts connections but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut slow = target(silent.local_addr().unwrap(), "/metrics");
    slow.timeout = Duration::from_millis(300);
    let hanging = Scraper::new(slow, Arc::clone(&pipeline)).unwrap();
    assert!(matches!(hanging.scrape_once().await, Err(ScrapeError::Timeout { .. })));

    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let refused = Scraper::new(target(closed, "/metrics"), Arc::clone(&pipeline)).unwrap();
    let error = refused.scrape_once().await.unwrap_err();
    assert!(matches!(error, ScrapeError::Request { .. }), "{error}");

    for scraper in [&missing, &malformed, &huge, &hanging, &refused] {
        assert_eq!((scraper.stats().scrapes, scraper.stats().failures), (0, 1));
    }
    assert!(temp.all_samples().is_empty(), "a failed scrape stores nothing, not even `good`");
    drop(silent);
}

#[test]
fn only_http_urls_are_accepted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&raw_only());
    let https = ScrapeTarget::new(
        "https://example.test/metrics".parse().unwrap(),
        "a",
        Duration::from_secs(1),
    );
    let error = Scraper::new(https, pipeline).err().unwrap();
    assert!(error.to_string().contains("only http:// URLs"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_scrapes_every_interval_and_stops_when_told() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&raw_only());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    let address = serve(move |_| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Canned::exposition(format!("scrape_number {n}\n"))
    })
    .await;
    let scraper = Arc::new(Scraper::new(target(address, "/metrics"), pipeline).unwrap());
    let (stop, shutdown) = shutdown_signal();
    let running = tokio::spawn({
        let scraper = Arc::clone(&scraper);
        async move { scraper.run(shutdown).await }
    });
    eventually("three scrapes are stored", || scraper.stats().scrapes >= 3).await;
    stop.send(()).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(30), running).await.unwrap().unwrap();
    let after_stop = served.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served.load(Ordering::SeqCst), after_stop, "no scrape after the loop returned");
    let stored = temp.samples("scrape_number");
    assert_eq!(stored.len() as u64, stats.scrapes);
    let values: Vec<f64> = stored.iter().map(|s| s.value).collect();
    assert_eq!(
        values,
        (0..stored.len()).map(|n| n as f64).collect::<Vec<_>>(),
        "one point per scrape, in order"
    );
    let times: Vec<i64> = stored.iter().map(|s| s.ts_ms).collect();
    assert!(
        times.windows(2).all(|pair| pair[1] - pair[0] >= 150),
        "about one interval apart: {times:?}"
    );
}
