//! The primary path: forward each client request to the primary and stream its response back,
//! teeing the request (and, for recording or diffing, the response) on the side.
//!
//! Nothing on this path waits for a shadow or the recorder. Copies are handed over with
//! non-blocking `try_send`s when a body ends; a full queue drops the copy and counts it.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};

use super::{
    dispatch::{MirrorJob, MirrorQueue},
    tee_body::{BodyCapture, CaptureEnd, TeeBody},
};
use crate::{
    config::{MethodPolicy, MirrorConfig, Upstream},
    hop_by_hop::strip_hop_by_hop_headers,
    http_message::{CapturedRequest, CapturedResponse, ResponseOutcome},
    metrics::MirrorMetrics,
    recording::RecordedExchange,
    sampling::Sampler,
    upstream_connection::{IdleConnections, UpstreamConnection, send_on},
};

/// The longest the proxy waits for a TCP connection to the primary.
const PRIMARY_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

type PrimaryConnection = UpstreamConnection<TeeBody<Incoming>>;

pub(super) type ResponseBody = Either<TeeBody<Incoming>, Full<Bytes>>;

/// Everything the primary path needs, shared by all connections.
pub(super) struct Forwarder {
    primary: Upstream,
    idle_connections: Arc<IdleConnections<TeeBody<Incoming>>>,
    sampler: Sampler,
    methods: MethodPolicy,
    mirror_queue: Option<MirrorQueue>,
    record_sender: Option<mpsc::Sender<RecordedExchange>>,
    diffing: bool,
    body_limit: usize,
    sequence: AtomicU64,
    metrics: Arc<MirrorMetrics>,
    started_at: Instant,
}

impl Forwarder {
    pub(super) fn new(
        config: &MirrorConfig,
        metrics: Arc<MirrorMetrics>,
        mirror_queue: Option<MirrorQueue>,
        record_sender: Option<mpsc::Sender<RecordedExchange>>,
        started_at: Instant,
    ) -> Forwarder {
        Forwarder {
            primary: config.primary.clone(),
            idle_connections: Arc::new(IdleConnections::new(1024)),
            sampler: config.sampler.clone(),
            methods: config.methods.clone(),
            mirror_queue,
            record_sender,
            diffing: config.diff.is_some(),
            body_limit: config.body_capture_limit,
            sequence: AtomicU64::new(0),
            metrics,
            started_at,
        }
    }

    /// The service for one new client connection.
    pub(super) fn connection_service(self: &Arc<Self>) -> ForwardService {
        ForwardService {
            forwarder: self.clone(),
            pinned: Arc::new(PinnedConnection {
                slot: Mutex::new(None),
                idle_connections: self.idle_connections.clone(),
            }),
        }
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        pinned: &PinnedConnection,
    ) -> Response<ResponseBody> {
        let arrived = Instant::now();
        self.metrics.requests.increment();
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let (mut parts, body) = request.into_parts();
        strip_hop_by_hop_headers(&mut parts.headers);
        if !parts.headers.contains_key(header::HOST) {
            // HTTP/2 clients send the authority as a pseudo-header; HTTP/1.1 upstreams need Host.
            if let Some(host) = parts
                .uri
                .authority()
                .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            {
                parts.headers.insert(header::HOST, host);
            }
        }
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str())
            .to_owned();
        let Ok(upstream_uri) = self.primary.request_uri(&target) else {
            return text_response(
                StatusCode::BAD_REQUEST,
                "shadowgate: the request target is not a valid path\n",
            );
        };

        let capturing = self.mirror_queue.is_some() || self.record_sender.is_some();
        let sampled = capturing && self.sampler.decide(&target, &parts.headers, sequence);
        let mut mirror = false;
        if sampled {
            self.metrics.sampled.increment();
            mirror = self.mirror_queue.is_some() && self.methods.allows(&parts.method);
            if self.mirror_queue.is_some() && !mirror {
                self.metrics.skipped_method.increment();
            }
        }
        let record = sampled && self.record_sender.is_some();

        let mut response_sinks = ResponseSinks::default();
        let request_body = if mirror || record {
            let assembly = self.record_sender.as_ref().filter(|_| record).map(|sender| {
                Arc::new(RecordAssembly {
                    sender: sender.clone(),
                    metrics: self.metrics.clone(),
                    sequence,
                    offset: arrived.duration_since(self.started_at),
                    state: Mutex::new(AssemblyState::default()),
                })
            });
            response_sinks.record = assembly.clone();
            let mut primary_response = None;
            if mirror && self.diffing {
                let (sender, receiver) = oneshot::channel();
                response_sinks.diff = Some(sender);
                primary_response = Some(receiver);
            }
            let on_end = RequestCaptureEnd {
                method: parts.method.clone(),
                target: target.clone(),
                headers: parts.headers.clone(),
                mirror_queue: self.mirror_queue.clone().filter(|_| mirror),
                primary_response,
                record: assembly,
                metrics: self.metrics.clone(),
            };
            TeeBody::capturing(
                body,
                BodyCapture::new(self.body_limit, Box::new(move |end| on_end.deliver(end))),
            )
        } else {
            TeeBody::plain(body)
        };

        parts.uri = upstream_uri;
        parts.version = if self.primary.is_http2() { Version::HTTP_2 } else { Version::HTTP_11 };
        let mut connection = pinned.take().or_else(|| self.idle_connections.take());
        let result = send_on(
            &mut connection,
            &self.primary,
            PRIMARY_CONNECT_TIMEOUT,
            Request::from_parts(parts, request_body),
        )
        .await;
        if let Some(connection) = connection {
            pinned.keep(connection);
        }
        let latency = arrived.elapsed();
        self.metrics.primary_latency.observe(latency);
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop_headers(&mut parts.headers);
                parts.version = Version::HTTP_11;
                let body = if response_sinks.is_empty() {
                    TeeBody::plain(body)
                } else {
                    let status = parts.status;
                    let headers = parts.headers.clone();
                    let capture = BodyCapture::new(
                        self.body_limit,
                        Box::new(move |end| {
                            let outcome = match end {
                                CaptureEnd::Complete { body, truncated } => {
                                    Some(Ok(CapturedResponse {
                                        status,
                                        headers,
                                        body,
                                        body_truncated: truncated,
                                    }))
                                }
                                CaptureEnd::Incomplete => None,
                            };
                            response_sinks.deliver(outcome, latency);
                        }),
                    );
                    TeeBody::capturing(body, capture)
                };
                Response::from_parts(parts, Either::Left(body))
            }
            Err(failure) => {
                self.metrics.primary_errors.increment();
                response_sinks.deliver(Some(Err(failure.clone())), latency);
                text_response(
                    StatusCode::BAD_GATEWAY,
                    &format!("shadowgate: the primary did not answer ({failure})\n"),
                )
            }
        }
    }
}

fn text_response(status: StatusCode, text: &str) -> Response<ResponseBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(text.to_owned()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// What happens when the client's request body ends.
struct RequestCaptureEnd {
    method: Method,
    target: String,
    headers: HeaderMap,
    mirror_queue: Option<MirrorQueue>,
    primary_response: Option<oneshot::Receiver<ResponseOutcome>>,
    record: Option<Arc<RecordAssembly>>,
    metrics: Arc<MirrorMetrics>,
}

impl RequestCaptureEnd {
    fn deliver(self, end: CaptureEnd) {
        let (body, truncated) = match end {
            CaptureEnd::Complete { body, truncated } => (body, truncated),
            CaptureEnd::Incomplete => {
                if self.mirror_queue.is_some() {
                    self.metrics.dropped_body_incomplete.increment();
                }
                if let Some(record) = &self.record {
                    record.set_request(None);
                }
                return;
            }
        };
        let captured = CapturedRequest {
            method: self.method,
            path_and_query: self.target,
            headers: self.headers,
            body,
            body_truncated: truncated,
        };
        if let Some(record) = &self.record {
            record.set_request(Some(captured.clone()));
        }
        if let Some(queue) = self.mirror_queue {
            if truncated {
                // A cut body would make the shadow answer a different request; send nothing.
                self.metrics.dropped_body_too_large.increment();
            } else {
                queue.try_enqueue(MirrorJob {
                    request: captured,
                    primary_response: self.primary_response,
                });
            }
        }
    }
}

/// Where the primary's captured response goes: the live diff and the recorder.
#[derive(Default)]
struct ResponseSinks {
    diff: Option<oneshot::Sender<ResponseOutcome>>,
    record: Option<Arc<RecordAssembly>>,
}

impl ResponseSinks {
    fn is_empty(&self) -> bool {
        self.diff.is_none() && self.record.is_none()
    }

    /// `None` means the response did not complete (the client went away mid-body).
    fn deliver(self, outcome: Option<ResponseOutcome>, latency: std::time::Duration) {
        if let Some(record) = &self.record {
            record.set_response(outcome.clone(), latency);
        }
        if let (Some(sender), Some(outcome)) = (self.diff, outcome) {
            let _ = sender.send(outcome);
        }
    }
}

/// Joins a recorded exchange's request and response, which complete in either order.
struct RecordAssembly {
    sender: mpsc::Sender<RecordedExchange>,
    metrics: Arc<MirrorMetrics>,
    sequence: u64,
    offset: std::time::Duration,
    state: Mutex<AssemblyState>,
}

#[derive(Default)]
struct AssemblyState {
    request: Option<Option<CapturedRequest>>,
    response: Option<(Option<ResponseOutcome>, std::time::Duration)>,
}

impl RecordAssembly {
    fn set_request(&self, request: Option<CapturedRequest>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.request = Some(request);
        self.complete_if_ready(&mut state);
    }

    fn set_response(&self, response: Option<ResponseOutcome>, latency: std::time::Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.response = Some((response, latency));
        self.complete_if_ready(&mut state);
    }

    fn complete_if_ready(&self, state: &mut AssemblyState) {
        if state.request.is_none() || state.response.is_none() {
            return;
        }
        let (Some(Some(request)), Some((Some(response), latency))) =
            (state.request.take(), state.response.take())
        else {
            self.metrics.record_dropped.increment();
            return;
        };
        let exchange = RecordedExchange {
            sequence: self.sequence,
            offset: self.offset,
            request,
            response,
            latency,
        };
        if self.sender.try_send(exchange).is_err() {
            self.metrics.record_dropped.increment();
        }
    }
}

/// The upstream connection that serves one client connection. HTTP/1.1 clients send one
/// request at a time, so the connection is reused without contention; requests of an HTTP/2
/// client that overlap use connections from the idle stack.
pub(super) struct PinnedConnection {
    slot: Mutex<Option<PrimaryConnection>>,
    idle_connections: Arc<IdleConnections<TeeBody<Incoming>>>,
}

impl PinnedConnection {
    fn take(&self) -> Option<PrimaryConnection> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn keep(&self, connection: PrimaryConnection) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            None => *slot = Some(connection),
            Some(_) => self.idle_connections.give_back(connection),
        }
    }
}

impl Drop for PinnedConnection {
    fn drop(&mut self) {
        if let Some(connection) = self.take() {
            self.idle_connections.give_back(connection);
        }
    }
}

/// The hyper service of one client connection.
#[derive(Clone)]
pub(super) struct ForwardService {
    forwarder: Arc<Forwarder>,
    pinned: Arc<PinnedConnection>,
}

impl hyper::service::Service<Request<Incoming>> for ForwardService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let forwarder = self.forwarder.clone();
        let pinned = self.pinned.clone();
        Box::pin(async move { Ok(forwarder.forward(request, &pinned).await) })
    }
}
