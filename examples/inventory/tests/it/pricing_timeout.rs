//! The pricing dependency: used when it answers; when it stalls, v1 falls back to the list
//! price after its deadline and v2 hangs.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;
use shadowgate_example_inventory::{pricing_stub::stub_price_cents, release::v1::PRICING_TIMEOUT};
use tokio::net::TcpListener;

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::support::{Binary, HttpClient, Running, SMALL_PLAN, seed_args};

/// shadowgate's default stop timeout: a release must exit this soon after SIGTERM, or it is
/// killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long v2 is given to answer before the test calls it hung: many times v1's deadline.
const HANG_WITNESS: Duration = Duration::from_secs(3);

/// A dependency that accepts connections and never answers, like a deadlocked service.
struct StalledDependency {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl StalledDependency {
    async fn start() -> StalledDependency {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        StalledDependency { address, task }
    }
}

impl Drop for StalledDependency {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn serve_with_pricing(binary: Binary, data: &std::path::Path, pricing_url: &str) -> Running {
    let mut args = seed_args(&SMALL_PLAN);
    args.extend(["--pricing-url".to_string(), pricing_url.to_string()]);
    Running::serve(binary, data, &args)
}

async fn uses_a_healthy_pricing_dependency(binary: Binary) {
    let stub = Running::start(
        Binary::V1,
        &["pricing-stub".into(), "--listen".into(), "127.0.0.1:0".into()],
    );
    let data = tempfile::tempdir().unwrap();
    let server = serve_with_pricing(binary, data.path(), &format!("http://{}", stub.address));
    let client = HttpClient::default();
    for item_id in [3, 9, 3] {
        let reply = client.get(&server.url(&format!("/items/{item_id}"))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json()["price"],
            json!({"cents": stub_price_cents(item_id), "source": "pricing"})
        );
    }
    let metrics = client.metrics(&server).await;
    assert_eq!(metrics.value("inventory_pricing_requests_total", &[("outcome", "ok")]), Some(3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_uses_a_healthy_pricing_dependency() {
    uses_a_healthy_pricing_dependency(Binary::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_uses_a_healthy_pricing_dependency() {
    uses_a_healthy_pricing_dependency(Binary::V2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_falls_back_to_the_list_price_when_pricing_stalls() {
    let stalled = StalledDependency::start().await;
    let data = tempfile::tempdir().unwrap();
    let server =
        serve_with_pricing(Binary::V1, data.path(), &format!("http://{}", stalled.address));
    let client = HttpClient::default();
    let list_price = SMALL_PLAN.items().nth(4).unwrap().price_cents;
    let started = Instant::now();
    let reply = client.get(&server.url("/items/5")).await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["price"], json!({"cents": list_price, "source": "fallback"}));
    assert!(elapsed >= PRICING_TIMEOUT, "answered in {elapsed:?}, before the deadline");
    let metrics = client.metrics(&server).await;
    assert_eq!(
        metrics.value("inventory_pricing_requests_total", &[("outcome", "timeout")]),
        Some(1.0)
    );
    assert_eq!(metrics.value("inventory_pricing_in_flight_requests", &[]), Some(0.0));
}

/// Waits until the item request has reached the pricing call and is waiting there.
async fn wait_until_pricing_is_in_flight(client: &HttpClient, server: &Running) {
    let deadline = Instant::now() + HANG_WITNESS;
    loop {
        let metrics = client.metrics(server).await;
        if metrics.value("inventory_pricing_in_flight_requests", &[]) == Some(1.0) {
            return;
        }
        assert!(Instant::now() < deadline, "the item request never reached the pricing call");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_hangs_when_pricing_stalls() {
    let stalled = StalledDependency::start().await;
    let data = tempfile::tempdir().unwrap();
    let server =
        serve_with_pricing(Binary::V2, data.path(), &format!("http://{}", stalled.address));
    let client = HttpClient::default();
    let hung = {
        let client = client.clone();
        let url = server.url("/items/5");
        tokio::spawn(async move { client.try_send(http::Method::GET, &url, "").await })
    };
    // The service itself stays up: other endpoints answer while the item request waits.
    wait_until_pricing_is_in_flight(&client, &server).await;
    let outcome = tokio::time::timeout(HANG_WITNESS, hung).await;
    assert!(outcome.is_err(), "v2 answered although pricing never did: {outcome:?}");
    let metrics = client.metrics(&server).await;
    assert_eq!(metrics.value("inventory_pricing_in_flight_requests", &[]), Some(1.0));
    assert_eq!(
        metrics.value("inventory_pricing_requests_total", &[("outcome", "timeout")]),
        Some(0.0)
    );
    assert_eq!(client.get(&server.url("/healthz")).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_still_stops_in_time_with_a_request_hung_on_pricing() {
    let stalled = StalledDependency::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut server =
        serve_with_pricing(Binary::V2, data.path(), &format!("http://{}", stalled.address));
    let client = HttpClient::default();
    let _hung = {
        let client = client.clone();
        let url = server.url("/items/5");
        tokio::spawn(async move { client.try_send(http::Method::GET, &url, "").await })
    };
    wait_until_pricing_is_in_flight(&client, &server).await;
    let stopping = Instant::now();
    kill(Pid::from_raw(server.pid()), Signal::SIGTERM).unwrap();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < STOP_TIMEOUT,
            "v2 did not exit within {STOP_TIMEOUT:?} of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
}
