//! Test peers and helpers: echo, source and sink servers on loopback, a fault proxy with its
//! HTTP API, an HTTP client for that API, and timing helpers.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::Value;
use shadowgate_faultproxy::{FaultProxy, ProxySpec, Stream, Toxic, ToxicKind, serve};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc},
};

/// Generous bound for anything that should happen promptly, on a loaded two-core machine.
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// Tests that assert timings to a few milliseconds run alone in this test binary, so that the
/// other tests' traffic does not compete with them for the machine's two cores.
static TIMING: RwLock<()> = RwLock::const_new(());

/// A test's hold on [`TIMING`].
#[expect(dead_code, reason = "held only for its lifetime")]
enum TimingGuard {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
}

/// A fault proxy whose HTTP API listens on an ephemeral loopback port.
pub struct Harness {
    pub proxy: FaultProxy,
    pub api: SocketAddr,
    _timing: TimingGuard,
}

impl Harness {
    /// A harness for a test that may run beside others.
    pub async fn start() -> Harness {
        Harness::with_guard(TimingGuard::Shared(TIMING.read().await)).await
    }

    /// A harness for a test of tight timings, which waits until no other test runs.
    pub async fn start_alone() -> Harness {
        Harness::with_guard(TimingGuard::Alone(TIMING.write().await)).await
    }

    async fn with_guard(timing: TimingGuard) -> Harness {
        let proxy = FaultProxy::new(42);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the API");
        let api = listener.local_addr().expect("API address");
        tokio::spawn(serve(listener, proxy.clone()));
        Harness { proxy, api, _timing: timing }
    }

    /// Creates an enabled proxy to `upstream` on a free port and returns its address.
    pub async fn proxy_to(&self, name: &str, upstream: SocketAddr) -> SocketAddr {
        let info = self
            .proxy
            .create_proxy(ProxySpec {
                name: name.to_string(),
                listen: "127.0.0.1:0".to_string(),
                upstream: upstream.to_string(),
                enabled: true,
            })
            .await
            .expect("create proxy");
        info.listen.parse().expect("listen address")
    }

    pub async fn add(&self, proxy: &str, name: &str, stream: Stream, kind: ToxicKind) {
        let toxic = Toxic { name: name.to_string(), kind, stream, toxicity: 1.0 };
        self.proxy.add_toxic(proxy, toxic).await.expect("add toxic");
    }

    /// Sends a request to the HTTP API and returns the status and the body (JSON, or a string
    /// if the body is not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.api))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default().to_string())))
            .expect("request");
        let response = client.request(request).await.expect("API answers");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.expect("API body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }
}

/// An upstream that echoes everything back on every connection, until the client closes.
pub async fn echo_server() -> SocketAddr {
    serve_each(|mut socket| async move {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if socket.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await
}

/// An upstream that writes `data` in one write to every connection, then closes it.
pub async fn source_server(data: Vec<u8>) -> SocketAddr {
    serve_each(move |mut socket| {
        let data = data.clone();
        async move {
            let _ = socket.write_all(&data).await;
            let _ = socket.shutdown().await;
        }
    })
    .await
}

/// What a sink server saw on one connection.
#[derive(Debug)]
pub struct SinkReport {
    pub data: Vec<u8>,
    /// The length of each read, in order.
    pub reads: Vec<usize>,
    /// When the stream ended, and how.
    pub ended_at: Instant,
    pub ended_by: io::Result<()>,
}

/// An upstream that reads each connection to its end and reports what it saw.
pub async fn sink_server() -> (SocketAddr, mpsc::UnboundedReceiver<SinkReport>) {
    let (reports, receiver) = mpsc::unbounded_channel();
    let address = serve_each(move |socket| {
        let reports = reports.clone();
        async move {
            let _ = reports.send(read_to_end(socket).await);
        }
    })
    .await;
    (address, receiver)
}

/// Reads a socket to its end, recording each read.
pub async fn read_to_end(mut socket: TcpStream) -> SinkReport {
    let mut data = Vec::new();
    let mut reads = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    let ended_by = loop {
        match socket.read(&mut buffer).await {
            Ok(0) => break Ok(()),
            Ok(read) => {
                data.extend_from_slice(&buffer[..read]);
                reads.push(read);
            }
            Err(error) => break Err(error),
        }
    };
    SinkReport { data, reads, ended_at: Instant::now(), ended_by }
}

async fn serve_each<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind test server");
    let address = listener.local_addr().expect("test server address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            tokio::spawn(handler(socket));
        }
    });
    address
}

/// Connects to `address` with Nagle's algorithm off.
pub async fn connect(address: SocketAddr) -> TcpStream {
    let socket = TcpStream::connect(address).await.expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    socket
}

/// Sends `message` and reads the same number of bytes back; returns the round-trip time.
pub async fn round_trip(socket: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    socket.write_all(message).await.expect("write");
    let mut echoed = vec![0; message.len()];
    tokio::time::timeout(PROMPTLY, socket.read_exact(&mut echoed))
        .await
        .expect("echo arrives in time")
        .expect("read echo");
    assert_eq!(echoed, message);
    started.elapsed()
}

/// The median of `count` round trips on one connection.
pub async fn median_round_trip(socket: &mut TcpStream, count: usize) -> Duration {
    let mut times = Vec::with_capacity(count);
    for index in 0..count {
        times.push(round_trip(socket, format!("ping {index}").as_bytes()).await);
    }
    median(times)
}

pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// How a read from a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(Vec<u8>),
    Eof,
    Reset,
    OtherError(io::ErrorKind),
    /// Nothing happened within the wait.
    Silent,
}

/// One read with a time limit.
pub async fn read_once(socket: &mut TcpStream, wait: Duration) -> ReadOutcome {
    let mut buffer = vec![0; 64 * 1024];
    match tokio::time::timeout(wait, socket.read(&mut buffer)).await {
        Err(_) => ReadOutcome::Silent,
        Ok(Ok(0)) => ReadOutcome::Eof,
        Ok(Ok(read)) => ReadOutcome::Data(buffer[..read].to_vec()),
        Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionReset => ReadOutcome::Reset,
        Ok(Err(error)) => ReadOutcome::OtherError(error.kind()),
    }
}

/// Polls `condition` until it holds or `PROMPTLY` passes.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PROMPTLY;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that a delay is at least its setting (less a millisecond of measurement error) and
/// at most `slack` above it: a toxic can never act early, while a loaded machine can make
/// anything late.
#[track_caller]
pub fn assert_not_early(actual: Duration, setting: Duration, slack: Duration, what: &str) {
    assert!(
        actual + Duration::from_millis(1) >= setting && actual <= setting + slack,
        "{what}: took {actual:?}, expected {setting:?} (+{slack:?} at most)"
    );
}

/// Asserts `actual` is within `tolerance` of `expected`.
#[track_caller]
pub fn assert_close(actual: Duration, expected: Duration, tolerance: Duration, what: &str) {
    let difference = actual.abs_diff(expected);
    assert!(
        difference <= tolerance,
        "{what}: took {actual:?}, expected {expected:?} ± {tolerance:?}"
    );
}
