//! The catalog cache under a request mix with varied query strings: v1's stays at its
//! capacity, v2's keeps one entry per distinct URL and its memory grows with it.

use http::StatusCode;
use shadowgate_example_inventory::{
    release::v1::ITEM_CACHE_CAPACITY,
    seed::{CATEGORIES, SeedPlan},
};
use tokio::task::JoinSet;

use crate::{
    prometheus_text::Exposition,
    support::{Binary, HttpClient, Running, seed_args},
};

/// More items than v1's cache holds, so that v1 must evict.
const PLAN: SeedPlan = SeedPlan { data_seed: 9, items: 3_000, customers: 10, orders: 0 };

/// Requests per round; every one has a distinct URL.
const ROUND: usize = 6_000;

/// Requests in flight at once.
const CONCURRENCY: usize = 16;

/// The URL of request `idx` of round `round`: item reads with a tracking parameter and catalog
/// pages, as a storefront with analytics tags and pagination sends them.
fn target(round: usize, idx: usize) -> String {
    let unique = round * ROUND + idx;
    if idx.is_multiple_of(2) {
        format!("/items/{}?ref=campaign-{unique}", idx / 2 % PLAN.items as usize + 1)
    } else {
        let category = CATEGORIES[idx % CATEGORIES.len()];
        format!("/items?category={category}&limit=20&offset={}&_={unique}", idx % 9)
    }
}

async fn run_round(client: &HttpClient, server: &Running, round: usize) {
    let mut requests = JoinSet::new();
    for idx in 0..ROUND {
        if requests.len() >= CONCURRENCY {
            let status = requests.join_next().await.unwrap().unwrap();
            assert_eq!(status, StatusCode::OK);
        }
        let client = client.clone();
        let url = server.url(&target(round, idx));
        requests.spawn(async move { client.get(&url).await.status });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
}

struct CacheReading {
    entries: f64,
    bytes: f64,
    resident: f64,
}

fn reading(metrics: &Exposition) -> CacheReading {
    CacheReading {
        entries: metrics.value("inventory_cache_entries", &[]).unwrap(),
        bytes: metrics.value("inventory_cache_bytes", &[]).unwrap(),
        resident: metrics.value("process_resident_memory_bytes", &[]).unwrap(),
    }
}

/// Runs two rounds against `binary` and returns the readings before, after one and after two.
async fn readings(binary: Binary) -> [CacheReading; 3] {
    let data = tempfile::tempdir().unwrap();
    let server = Running::serve(binary, data.path(), &seed_args(&PLAN));
    let client = HttpClient::default();
    // Warm up the allocator and connection pool so the baseline reading is representative.
    client.get(&server.url("/items/1")).await;
    let before = reading(&client.metrics(&server).await);
    run_round(&client, &server, 0).await;
    let after_one = reading(&client.metrics(&server).await);
    run_round(&client, &server, 1).await;
    let after_two = reading(&client.metrics(&server).await);
    for (label, reading) in
        [("before", &before), ("after one round", &after_one), ("after two", &after_two)]
    {
        eprintln!(
            "{binary:?} {label}: {} entries, {} cached bytes, {} resident bytes",
            reading.entries, reading.bytes, reading.resident
        );
    }
    [before, after_one, after_two]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_cache_stays_bounded() {
    let [before, after_one, after_two] = readings(Binary::V1).await;
    let capacity = ITEM_CACHE_CAPACITY as f64;
    assert!(before.entries <= 1.0);
    assert_eq!(after_one.entries, capacity, "3,000 distinct items fill the cache to capacity");
    assert_eq!(after_two.entries, capacity, "and never beyond it");
    let drift = (after_two.bytes - after_one.bytes).abs() / after_one.bytes;
    assert!(drift < 0.1, "the cache's bytes stay put: {} -> {}", after_one.bytes, after_two.bytes);
    let second_round_growth = after_two.resident - after_one.resident;
    assert!(
        second_round_growth < 8.0 * 1024.0 * 1024.0,
        "v1's memory grew {second_round_growth} bytes in a round that added nothing to its cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_cache_grows_with_every_distinct_url() {
    let [before, after_one, after_two] = readings(Binary::V2).await;
    assert_eq!(after_one.entries - before.entries, ROUND as f64);
    assert_eq!(after_two.entries - after_one.entries, ROUND as f64);
    let added_bytes = after_two.bytes - after_one.bytes;
    assert!(added_bytes > 5.0 * 1024.0 * 1024.0, "a round adds megabytes: {added_bytes}");
    let resident_growth = after_two.resident - after_one.resident;
    assert!(
        resident_growth > 0.5 * added_bytes,
        "the cached bytes are resident: memory grew {resident_growth} for {added_bytes} cached"
    );
}
