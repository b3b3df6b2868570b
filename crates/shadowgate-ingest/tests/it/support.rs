//! Shared pieces of the integration tests: a store in a temporary directory, a pipeline over
//! it, a tiny HTTP server that serves fixed responses, and an HTTP client.

use std::{
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
};
use shadowgate_ingest::{anonymize::HashKey, config::IngestConfig, pipeline::Pipeline};
use shadowgate_store::{Sample, SampleQuery, SqliteStore, Store};
use tokio::net::TcpListener;

/// How long any awaited condition may take on a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn hash_key() -> HashKey {
    HashKey::new(*b"integration-test-key-0123456789ab").unwrap()
}

/// A store file in its own temporary directory.
pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
}

impl TempStore {
    pub fn new() -> TempStore {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("store.db")).unwrap());
        TempStore { dir, store }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    pub fn pipeline(&self, config: &IngestConfig) -> Arc<Pipeline> {
        let store: Arc<dyn Store> = self.store.clone();
        Arc::new(Pipeline::start(config, &hash_key(), store))
    }

    pub fn samples(&self, metric: &str) -> Vec<Sample> {
        self.store
            .samples(&SampleQuery { metric: Some(metric.to_string()), ..SampleQuery::default() })
            .unwrap()
    }

    pub fn all_samples(&self) -> Vec<Sample> {
        self.store.samples(&SampleQuery::default()).unwrap()
    }
}

/// The configuration most tests use: defaults without rollups, so counts stay simple.
pub fn raw_only() -> IngestConfig {
    IngestConfig { rollups: false, ..IngestConfig::default() }
}

/// Waits until `condition` holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fixed HTTP answer.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl Canned {
    pub fn exposition(text: impl Into<String>) -> Canned {
        Canned {
            status: 200,
            content_type: "text/plain; version=0.0.4",
            body: Bytes::from(text.into()),
        }
    }
}

/// Serves `answer(request path)` on a loopback port until the test ends.
pub async fn serve<F>(answer: F) -> SocketAddr
where
    F: Fn(&str) -> Canned + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let canned = answer(request.uri().path());
                    async move {
                        let mut response = Response::new(Full::new(canned.body));
                        *response.status_mut() = http::StatusCode::from_u16(canned.status).unwrap();
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            canned.content_type.parse().unwrap(),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// An HTTP response as the tests look at it.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// Posts `body` with the given headers and returns the answer.
pub async fn post(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::post(format!("http://{address}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response =
        client.request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, content_type, body }
}

/// A future that completes when the returned sender fires (or is dropped).
pub fn shutdown_signal() -> (tokio::sync::oneshot::Sender<()>, impl Future<Output = ()>) {
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    (sender, async move {
        let _ = receiver.await;
    })
}
