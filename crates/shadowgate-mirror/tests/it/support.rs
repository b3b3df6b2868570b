//! Real servers and clients for the integration tests: a recording HTTP backend (HTTP/1.1 and
//! HTTP/2), a raw TCP backend with byte-exact answers, a raw HTTP/1.1 client, and polling.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A request as a backend received it, with the instant it arrived.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub method: Method,
    pub target: String,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub arrived: Instant,
}

pub type Responder = Arc<dyn Fn(&ReceivedRequest) -> Response<Full<Bytes>> + Send + Sync>;

/// A real HTTP server (HTTP/1.1 and HTTP/2 prior knowledge) that records what it receives and
/// answers after an optional delay.
pub struct Backend {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    pub async fn start(delay: Duration, responder: Responder) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let sink = sink.clone();
                let responder = responder.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let sink = sink.clone();
                    let responder = responder.clone();
                    async move {
                        let arrived = Instant::now();
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|collected| collected.to_bytes())
                            .unwrap_or_default();
                        let received = ReceivedRequest {
                            method: parts.method,
                            target: parts
                                .uri
                                .path_and_query()
                                .map(|pq| pq.to_string())
                                .unwrap_or_default(),
                            version: parts.version,
                            headers: parts.headers,
                            body,
                            arrived,
                        };
                        sink.lock().unwrap().push(received.clone());
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        Ok::<_, Infallible>(responder(&received))
                    }
                });
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend { addr, received, task }
    }

    /// A backend that answers 200 with a body naming itself and echoing the request target.
    pub async fn echo(name: &'static str, delay: Duration) -> Backend {
        Backend::start(
            delay,
            Arc::new(move |request| {
                Response::builder()
                    .header("content-type", "text/plain")
                    .header("x-backend", name)
                    .body(Full::new(Bytes::from(format!(
                        "{name} {} {}\n",
                        request.method, request.target
                    ))))
                    .unwrap()
            }),
        )
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.received.lock().unwrap().clone()
    }

    pub fn received_count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address where nothing listens: connections to it are refused.
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A pooled HTTP/1.1 client.
pub fn http1_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 (prior knowledge) client.
pub fn http2_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// Sends a request and returns status, headers and the whole body.
pub async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client
        .request(builder.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
}

/// Polls `condition` every 10 ms until it holds or `deadline` passes; returns whether it held.
pub async fn wait_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls an async `condition` every 10 ms until it holds or `deadline` passes.
pub async fn wait_until_async<F: Future<Output = bool>>(
    deadline: Duration,
    mut condition: impl FnMut() -> F,
) -> bool {
    let give_up = Instant::now() + deadline;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() > give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A raw TCP backend that answers every HTTP/1.1 request on a connection with exact bytes,
/// derived from the request, so responses can be compared byte for byte.
pub struct RawBackend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RawBackend {
    pub async fn start() -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                tokio::spawn(serve_raw_connection(stream));
            }
        });
        RawBackend { addr, task }
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_raw_connection(mut stream: TcpStream) {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = read_http_message(&mut stream, &mut buffer).await else { return };
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let target = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
        // A binary body for one path, JSON for the others; both depend on the whole request.
        let (content_type, payload): (&str, Vec<u8>) = if target.starts_with("/binary") {
            ("application/octet-stream", (0..=255u8).chain(body.iter().copied()).collect())
        } else {
            let text = format!(
                "{{\"line\":{:?},\"body_len\":{},\"body_sum\":{}}}",
                request_line,
                body.len(),
                body.iter().map(|byte| *byte as u64).sum::<u64>()
            );
            ("application/json", text.into_bytes())
        };
        let mut response = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: {content_type}\r\ndate: Sun, 22 Nov 2026 10:00:00 GMT\r\nx-backend: raw\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        )
        .into_bytes();
        response.extend_from_slice(&payload);
        if stream.write_all(&response).await.is_err() {
            return;
        }
    }
}

/// Reads one HTTP/1.1 message (head and Content-Length body) from a stream, keeping any
/// excess bytes in `buffer` for the next call. Returns the head as text and the body.
pub async fn read_http_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let mut chunk = [0u8; 8192];
        let n_read = stream.read(&mut chunk).await.ok()?;
        if n_read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n_read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + content_length {
        let mut chunk = [0u8; 8192];
        let n_read = stream.read(&mut chunk).await.ok()?;
        if n_read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n_read]);
    }
    let body = buffer[head_end..head_end + content_length].to_vec();
    buffer.drain(..head_end + content_length);
    Some((head, body))
}

/// Sends raw requests over one keep-alive connection and returns each raw response.
pub async fn raw_exchanges(addr: SocketAddr, requests: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut buffer = Vec::new();
    let mut responses = Vec::new();
    for request in requests {
        stream.write_all(request).await.unwrap();
        let (head, body) = read_http_message(&mut stream, &mut buffer).await.expect("a response");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&body);
        responses.push(raw);
    }
    responses
}
