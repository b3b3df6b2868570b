//! The OTLP/HTTP receiver: `POST /v1/metrics`, answered the way OTLP exporters expect.
//!
//! | situation | answer |
//! |---|---|
//! | points committed (some may be rejected as unconvertible) | 200, an `ExportMetricsServiceResponse` (empty, or with `partial_success`) |
//! | body that does not decode | 400, a `google.rpc.Status` naming the problem |
//! | `Content-Type` other than `application/x-protobuf` or `application/json`, or a `Content-Encoding` other than gzip or deflate | 415 |
//! | body (or its expansion) over the size cap | 413 |
//! | the store could not commit | 503, which exporters retry |
//! | another path or method | 404 or 405 |
//!
//! Answers use the request's encoding. A 200 is sent only after the request's points have been
//! committed, so an exporter that saw success never loses data to a crash of this process.

use std::{
    convert::Infallible,
    future::Future,
    io::{self, Read},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use prost::Message;
use tokio::net::TcpListener;

use super::{convert, json, proto};
use crate::pipeline::{Pipeline, unix_now_ms};

/// The path OTLP/HTTP exporters send metrics to.
pub const METRICS_PATH: &str = "/v1/metrics";

/// How the receiver behaves.
#[derive(Clone, Debug)]
pub struct OtlpSettings {
    /// The application of resources without a `service.name`.
    pub default_app: String,
    /// Larger bodies (before or after expansion) are refused with 413.
    pub max_body_bytes: usize,
    /// How often rollups of idle series are written.
    pub flush_every: Duration,
}

impl OtlpSettings {
    /// Settings with a 16 MiB body cap and a 10 s rollup flush.
    pub fn new(default_app: impl Into<String>) -> OtlpSettings {
        OtlpSettings {
            default_app: default_app.into(),
            max_body_bytes: 16 << 20,
            flush_every: Duration::from_secs(10),
        }
    }
}

/// Counters of the receiver, readable while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtlpStats {
    pub requests: u64,
    /// Requests answered 200.
    pub accepted: u64,
    /// Points committed from accepted requests.
    pub points: u64,
    /// Data points reported back as rejected in `partial_success`.
    pub rejected_points: u64,
    pub malformed: u64,
    pub unsupported: u64,
    pub too_large: u64,
    pub write_failures: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    points: AtomicU64,
    rejected_points: AtomicU64,
    malformed: AtomicU64,
    unsupported: AtomicU64,
    too_large: AtomicU64,
    write_failures: AtomicU64,
}

struct Shared {
    pipeline: Arc<Pipeline>,
    settings: OtlpSettings,
    counters: Counters,
}

/// A bound OTLP/HTTP metrics receiver.
pub struct OtlpReceiver {
    listener: TcpListener,
    shared: Arc<Shared>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl OtlpReceiver {
    pub async fn bind(
        address: SocketAddr,
        pipeline: Arc<Pipeline>,
        settings: OtlpSettings,
    ) -> io::Result<OtlpReceiver> {
        let listener = TcpListener::bind(address).await?;
        Ok(OtlpReceiver::from_listener(listener, pipeline, settings))
    }

    pub fn from_listener(
        listener: TcpListener,
        pipeline: Arc<Pipeline>,
        settings: OtlpSettings,
    ) -> OtlpReceiver {
        OtlpReceiver {
            listener,
            shared: Arc::new(Shared { pipeline, settings, counters: Counters::default() }),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn stats(&self) -> OtlpStats {
        let counters = &self.shared.counters;
        OtlpStats {
            requests: counters.requests.load(Ordering::Relaxed),
            accepted: counters.accepted.load(Ordering::Relaxed),
            points: counters.points.load(Ordering::Relaxed),
            rejected_points: counters.rejected_points.load(Ordering::Relaxed),
            malformed: counters.malformed.load(Ordering::Relaxed),
            unsupported: counters.unsupported.load(Ordering::Relaxed),
            too_large: counters.too_large.load(Ordering::Relaxed),
            write_failures: counters.write_failures.load(Ordering::Relaxed),
        }
    }

    /// Serves until `shutdown` completes, then lets requests in progress finish. Call
    /// [`Pipeline::finish`] afterwards to store the open rollups.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> io::Result<OtlpStats> {
        let graceful = GracefulShutdown::new();
        let mut flush_ticker = tokio::time::interval(self.shared.settings.flush_every);
        flush_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = flush_ticker.tick() => {
                    let pipeline = Arc::clone(&self.shared.pipeline);
                    // A failed rollup write leaves the rollups unwritten; raw points are unaffected.
                    tokio::spawn(async move { pipeline.flush_idle_rollups().await });
                }
                accepted = self.listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(connection) => connection,
                        // Running out of descriptors or a reset before accept must not stop the server.
                        Err(_) => continue,
                    };
                    let shared = Arc::clone(&self.shared);
                    let service = service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
                    });
                    let connection = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A client that disconnects mid-request is not an error of the server.
                        let _ = connection.await;
                    });
                }
            }
        }
        graceful.shutdown().await;
        Ok(self.stats())
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let counters = &shared.counters;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    if request.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            format!("not found; OTLP metrics go to POST {METRICS_PATH}"),
        );
    }
    if request.method() != Method::POST {
        let mut response =
            plain(StatusCode::METHOD_NOT_ALLOWED, format!("{METRICS_PATH} accepts POST only"));
        response.headers_mut().insert(header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let Some(encoding) = content_type(request.headers()) else {
        counters.unsupported.fetch_add(1, Ordering::Relaxed);
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-protobuf or application/json".to_string(),
        );
    };
    let compression = match content_encoding(request.headers()) {
        Ok(compression) => compression,
        Err(named) => {
            counters.unsupported.fetch_add(1, Ordering::Relaxed);
            return status(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding `{named}` is not supported; use gzip, deflate or none"),
            );
        }
    };
    let limit = shared.settings.max_body_bytes;
    let too_large = || {
        status(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds the {limit}-byte limit; send smaller batches"),
        )
    };
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        counters.too_large.fetch_add(1, Ordering::Relaxed);
        return too_large();
    }
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            counters.too_large.fetch_add(1, Ordering::Relaxed);
            return too_large();
        }
        Err(error) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            return status(
                encoding,
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}"),
            );
        }
    };
    let body = if compression == Compression::Identity {
        body
    } else {
        match expand(&body, compression, limit) {
            Ok(Some(expanded)) => Bytes::from(expanded),
            Ok(None) => {
                counters.too_large.fetch_add(1, Ordering::Relaxed);
                return too_large();
            }
            Err(error) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                return status(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    format!("the compressed body is corrupt: {error}"),
                );
            }
        }
    };
    let decoded = match encoding {
        Encoding::Protobuf => proto::ExportMetricsServiceRequest::decode(body).map_err(|error| {
            format!("the protobuf ExportMetricsServiceRequest does not decode: {error}")
        }),
        Encoding::Json => json::decode_request(&body)
            .map_err(|error| format!("the OTLP/JSON request is malformed: {error}")),
    };
    let request = match decoded {
        Ok(request) => request,
        Err(message) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            return status(encoding, StatusCode::BAD_REQUEST, message);
        }
    };
    let converted = convert::convert(request, &shared.settings.default_app, unix_now_ms());
    let mut points = 0u64;
    for (app, batch) in converted.batches {
        match shared.pipeline.ingest(&app, batch).await {
            Ok(receipt) => points += receipt.points as u64,
            Err(error) => {
                counters.write_failures.fetch_add(1, Ordering::Relaxed);
                return status(encoding, StatusCode::SERVICE_UNAVAILABLE, error.to_string());
            }
        }
    }
    counters.accepted.fetch_add(1, Ordering::Relaxed);
    counters.points.fetch_add(points, Ordering::Relaxed);
    counters.rejected_points.fetch_add(converted.rejected_points, Ordering::Relaxed);
    let partial_success =
        (converted.rejected_points > 0).then(|| proto::ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(converted.rejected_points).unwrap_or(i64::MAX),
            error_message: converted.problems.join("; "),
        });
    success(encoding, partial_success)
}

fn content_type(headers: &HeaderMap) -> Option<Encoding> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next()?.trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// How a request body is compressed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compression {
    Identity,
    Gzip,
    Deflate,
}

/// The body's compression; the unsupported encoding's name otherwise.
fn content_encoding(headers: &HeaderMap) -> Result<Compression, String> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Compression::Identity);
    };
    let text = value.to_str().map_err(|_| "(not text)".to_string())?.trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Compression::Identity),
        "gzip" | "x-gzip" => Ok(Compression::Gzip),
        "deflate" => Ok(Compression::Deflate),
        _ => Err(text),
    }
}

/// Expands a compressed body; `None` when it expands beyond `limit` bytes.
fn expand(body: &[u8], compression: Compression, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut expanded = Vec::new();
    let cap = limit as u64 + 1;
    match compression {
        Compression::Identity => expanded.extend_from_slice(body),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(body).take(cap).read_to_end(&mut expanded)?;
        }
        // HTTP's `deflate` is the zlib format, but some senders use raw deflate; try both.
        Compression::Deflate => {
            if flate2::read::ZlibDecoder::new(body).take(cap).read_to_end(&mut expanded).is_err() {
                expanded.clear();
                flate2::read::DeflateDecoder::new(body).take(cap).read_to_end(&mut expanded)?;
            }
        }
    }
    Ok((expanded.len() <= limit).then_some(expanded))
}

fn success(
    encoding: Encoding,
    partial_success: Option<proto::ExportMetricsPartialSuccess>,
) -> Response<Full<Bytes>> {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => (
            "application/x-protobuf",
            proto::ExportMetricsServiceResponse { partial_success }.encode_to_vec(),
        ),
        Encoding::Json => {
            let document = match partial_success {
                None => serde_json::json!({}),
                Some(partial) => serde_json::json!({
                    "partialSuccess": {
                        "rejectedDataPoints": partial.rejected_data_points.to_string(),
                        "errorMessage": partial.error_message,
                    }
                }),
            };
            ("application/json", document.to_string().into_bytes())
        }
    };
    respond(StatusCode::OK, content_type, body)
}

/// An error answer carrying a `google.rpc.Status` in the request's encoding.
fn status(encoding: Encoding, code: StatusCode, message: String) -> Response<Full<Bytes>> {
    // gRPC codes: INVALID_ARGUMENT for the client's mistakes, UNAVAILABLE for ours.
    let rpc_code = if code == StatusCode::SERVICE_UNAVAILABLE { 14 } else { 3 };
    match encoding {
        Encoding::Protobuf => respond(
            code,
            "application/x-protobuf",
            proto::Status { code: rpc_code, message }.encode_to_vec(),
        ),
        Encoding::Json => respond(
            code,
            "application/json",
            serde_json::json!({ "code": rpc_code, "message": message }).to_string().into_bytes(),
        ),
    }
}

fn plain(code: StatusCode, message: String) -> Response<Full<Bytes>> {
    respond(code, "text/plain; charset=utf-8", message.into_bytes())
}

fn respond(code: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}
