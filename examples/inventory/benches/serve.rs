//! Serving latency and throughput of both releases at the demo's production volume (200,000
//! orders), side by side, with a bare hyper server answering a fixed JSON body as the
//! reference: the cost of the HTTP stack and the client alone.
//!
//! Each endpoint is driven closed-loop by hyper's client, after a warm-up, with the same
//! request sequence for both releases: once with one request in flight (latency without
//! queueing) and once with several (throughput). CPU per request comes from each service's
//! own `process_cpu_seconds_total`, so it excludes the load generator. Measurements are
//! interleaved over rounds and the best of each kept.
//! Run with `cargo bench -p shadowgate-example-inventory --bench serve`.

use std::{
    convert::Infallible,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use shadowgate_core::rng::Rng;
use tokio::{net::TcpListener, task::JoinSet};

const SEED_FLAGS: [&str; 8] = [
    "--data-seed",
    "1",
    "--seed-items",
    "5000",
    "--seed-customers",
    "20000",
    "--seed-orders",
    "200000",
];
/// Requests in flight in the throughput pass.
const IN_FLIGHT: usize = 8;
const WARM_UP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(2);
/// Every measurement is repeated in this many interleaved rounds and the best kept, so that
/// a burst of other work on the machine does not decide a ratio.
const ROUNDS: usize = 3;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A started release binary, killed when dropped.
struct Service {
    child: Child,
    address: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service(binary: &str, data_dir: &std::path::Path) -> Service {
    let child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data_dir)
        .args(SEED_FLAGS)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the release binary starts");
    let mut service = Service { child, address: SocketAddr::from(([127, 0, 0, 1], 0)) };
    let stdout = service.child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line =
            lines.next().expect("the service announces its address").expect("stdout is text");
        eprintln!("{line}");
        if let Some(address) = line.split("listening on http://").nth(1) {
            service.address = address.trim().parse().expect("a socket address");
            // Keep draining stdout so the service never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return service;
        }
    }
}

/// A minimal hyper server answering every request with the same small JSON body.
async fn start_reference() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    let body = Bytes::from_static(br#"{"item":{"id":1,"sku":"SKU-000001","name":"Handmade Clock 866","category":"tools","price_cents":572,"stock":372},"price":{"cents":572,"source":"catalog"}}"#);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    address
}

/// The request target of the `idx`-th request to an endpoint; the same for every server.
type TargetFn = fn(&mut Rng) -> String;

const ENDPOINTS: [(&str, TargetFn); 4] = [
    ("GET /items/{id}", |rng| format!("/items/{}", 1 + rng.below(5_000))),
    ("GET /items?category=", |rng| {
        let categories = shadowgate_example_inventory::seed::CATEGORIES;
        format!("/items?category={}&limit=20", categories[rng.below(categories.len())])
    }),
    ("GET /orders/{id}", |rng| format!("/orders/{}", 1 + rng.below(200_000))),
    ("GET /customers/{id}/orders", |rng| format!("/customers/{}/orders", 1 + rng.below(20_000))),
];

#[derive(Debug)]
struct Measurement {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn drive(
    client: &HttpClient,
    address: SocketAddr,
    target: TargetFn,
    seed: u64,
    in_flight: usize,
) -> Measurement {
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let stop_at = measure_from + MEASURE;
    let client = Arc::new(client.clone());
    let mut workers = JoinSet::new();
    for worker in 0..in_flight {
        let client = Arc::clone(&client);
        let mut rng = Rng::seed(seed).fork(worker as u64);
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let sent = Instant::now();
                if sent >= stop_at {
                    return latencies;
                }
                let uri =
                    format!("http://{address}{}", target(&mut rng)).parse().expect("a valid URI");
                let response = client.get(uri).await.expect("the request is answered");
                assert_eq!(response.status(), StatusCode::OK);
                response.into_body().collect().await.expect("the body is read");
                if sent >= measure_from {
                    latencies.push(sent.elapsed());
                }
            }
        });
    }
    let mut latencies = Vec::new();
    while let Some(worker) = workers.join_next().await {
        latencies.extend(worker.expect("a worker finishes"));
    }
    latencies.sort_unstable();
    let percentile = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Measurement {
        requests_per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: percentile(0.5),
        p99: percentile(0.99),
    }
}

/// The service's `process_cpu_seconds_total`.
async fn cpu_seconds(client: &HttpClient, address: SocketAddr) -> f64 {
    let uri = format!("http://{address}/metrics").parse().expect("a valid URI");
    let response = client.get(uri).await.expect("/metrics answers");
    let body = response.into_body().collect().await.expect("the body is read").to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("the exposition is text");
    text.lines()
        .find_map(|line| line.strip_prefix("process_cpu_seconds_total "))
        .and_then(|value| value.parse().ok())
        .expect("the exposition has process_cpu_seconds_total")
}

/// One server on one endpoint: latency alone, throughput, and CPU per request (when known).
#[derive(Debug)]
struct Row {
    alone: Measurement,
    loaded: Measurement,
    cpu_per_request: Option<Duration>,
}

impl Row {
    /// Keeps the better of two measurements of the same thing.
    fn best(self, other: Row) -> Row {
        let best_cpu = match (self.cpu_per_request, other.cpu_per_request) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Row {
            alone: if other.alone.p50 < self.alone.p50 { other.alone } else { self.alone },
            loaded: if other.loaded.requests_per_second > self.loaded.requests_per_second {
                other.loaded
            } else {
                self.loaded
            },
            cpu_per_request: best_cpu,
        }
    }
}

async fn measure(
    client: &HttpClient,
    address: SocketAddr,
    target: TargetFn,
    has_metrics: bool,
) -> Row {
    let alone = drive(client, address, target, 7, 1).await;
    let cpu_before = if has_metrics { Some(cpu_seconds(client, address).await) } else { None };
    let loaded = drive(client, address, target, 7, IN_FLIGHT).await;
    let cpu_per_request = match cpu_before {
        Some(before) => {
            let after = cpu_seconds(client, address).await;
            // Warm-up requests ran too; count them by the measured rate over the whole run.
            let requests = loaded.requests_per_second * (WARM_UP + MEASURE).as_secs_f64();
            Some(Duration::from_secs_f64((after - before) / requests.max(1.0)))
        }
        None => None,
    };
    Row { alone, loaded, cpu_per_request }
}

fn print_row(label: &str, row: &Row) {
    let cpu = row.cpu_per_request.map_or_else(|| "-".to_string(), |cpu| format!("{cpu:.2?}"));
    println!(
        "  {label:<9} 1 in flight p50 {:>9.2?} p99 {:>9.2?} | {IN_FLIGHT} in flight {:>7.0} req/s p99 {:>9.2?} | \
         CPU/request {cpu:>9}",
        row.alone.p50, row.alone.p99, row.loaded.requests_per_second, row.loaded.p99,
    );
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let data = tempfile::tempdir().expect("a temporary directory");
    let v1 = start_service(env!("CARGO_BIN_EXE_inventory-v1"), &data.path().join("v1"));
    let v2 = start_service(env!("CARGO_BIN_EXE_inventory-v2"), &data.path().join("v2"));
    runtime.block_on(async {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let reference_address = start_reference().await;
        let mut reference: Option<Row> = None;
        let mut rows: Vec<[Option<Row>; 2]> = ENDPOINTS.iter().map(|_| [None, None]).collect();
        for _round in 0..ROUNDS {
            let row = measure(&client, reference_address, ENDPOINTS[0].1, false).await;
            reference = Some(match reference.take() {
                Some(best) => best.best(row),
                None => row,
            });
            for (endpoint_idx, (_, target)) in ENDPOINTS.iter().enumerate() {
                for (release_idx, service) in [&v1, &v2].into_iter().enumerate() {
                    let row = measure(&client, service.address, *target, true).await;
                    let cell = &mut rows[endpoint_idx][release_idx];
                    *cell = Some(match cell.take() {
                        Some(best) => best.best(row),
                        None => row,
                    });
                }
            }
        }
        let reference = reference.expect("at least one round");
        println!(
            "200,000 orders; best of {ROUNDS} interleaved rounds of {MEASURE:?} after {WARM_UP:?} of warm-up"
        );
        print_row("reference", &reference);
        for ((name, _), [v1_row, v2_row]) in ENDPOINTS.iter().zip(rows) {
            let (v1_row, v2_row) = (v1_row.expect("measured"), v2_row.expect("measured"));
            println!("{name}");
            print_row("v1", &v1_row);
            print_row("v2", &v2_row);
            let cpu_ratio = match (v1_row.cpu_per_request, v2_row.cpu_per_request) {
                (Some(v1_cpu), Some(v2_cpu)) => v2_cpu.as_secs_f64() / v1_cpu.as_secs_f64(),
                _ => f64::NAN,
            };
            println!(
                "  v2/v1: p50 alone {:.1}x, CPU/request {cpu_ratio:.1}x | v1/reference: p50 alone {:.1}x, \
                 throughput {:.2}",
                v2_row.alone.p50.as_secs_f64() / v1_row.alone.p50.as_secs_f64(),
                v1_row.alone.p50.as_secs_f64() / reference.alone.p50.as_secs_f64(),
                v1_row.loaded.requests_per_second / reference.loaded.requests_per_second,
            );
        }
    });
}
