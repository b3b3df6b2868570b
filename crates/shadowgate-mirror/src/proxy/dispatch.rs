//! The shadow side: a bounded queue of mirror jobs, lanes that work through it a job at a time,
//! and the live diff fed from their results.
//!
//! The queue is the only coupling to the primary path, and it is non-blocking on that side:
//! when it is full, new jobs are dropped and counted. Each lane owns one connection per shadow,
//! and every mirrored exchange has a deadline, so a shadow that hangs only occupies lanes and
//! fills this side's queue.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::Poll,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Version, header};
use http_body_util::Full;
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinSet,
};

use crate::{
    config::{HostRewrite, MirrorConfig, Upstream},
    diff::collector::DiffCollector,
    http_message::{CapturedRequest, CapturedResponse, ExchangeFailure, ResponseOutcome},
    metrics::MirrorMetrics,
    upstream_client::read_body_capped,
    upstream_connection::{UpstreamConnection, send_on},
};

/// A sampled request to copy to every shadow.
pub(crate) struct MirrorJob {
    pub request: CapturedRequest,
    /// The primary's response, delivered when it completes; present when diffing.
    pub primary_response: Option<oneshot::Receiver<ResponseOutcome>>,
}

/// The primary path's handle on the queue.
#[derive(Clone)]
pub(crate) struct MirrorQueue {
    sender: mpsc::Sender<MirrorJob>,
    metrics: Arc<MirrorMetrics>,
}

impl MirrorQueue {
    /// Enqueues without waiting; a full (or closed) queue drops the job and counts it.
    pub(crate) fn try_enqueue(&self, job: MirrorJob) {
        match self.sender.try_send(job) {
            Ok(()) => {
                self.metrics.enqueued.increment();
                self.metrics.queue_depth.add(1);
            }
            Err(_) => self.metrics.dropped_queue_full.increment(),
        }
    }
}

/// The running lanes.
pub(crate) struct Dispatcher {
    queue: MirrorQueue,
    stop: watch::Sender<bool>,
    lanes: JoinSet<()>,
}

impl Dispatcher {
    /// Starts `shadow_concurrency` lanes. Each lane takes one job at a time from the queue and
    /// sends it to every shadow over its own connections, so a job leaves the queue only when a
    /// lane is free and `queue_capacity` bounds exactly the jobs that wait.
    pub(crate) fn start(
        config: &MirrorConfig,
        metrics: Arc<MirrorMetrics>,
        diff: Option<Arc<Mutex<DiffCollector>>>,
    ) -> Dispatcher {
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let shadows = Arc::new(ShadowSet {
            targets: config.shadows.clone(),
            marker: config.marker_header.clone(),
            host: config.shadow_host.clone(),
            timeout: config.shadow_timeout,
            keep_body: if diff.is_some() { config.body_capture_limit } else { 0 },
            metrics: metrics.clone(),
            diff,
        });
        let (stop, stop_receiver) = watch::channel(false);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let mut lanes = JoinSet::new();
        for _ in 0..config.shadow_concurrency {
            lanes.spawn(lane_loop(receiver.clone(), shadows.clone(), stop_receiver.clone()));
        }
        Dispatcher { queue: MirrorQueue { sender, metrics }, stop, lanes }
    }

    pub(crate) fn sender(&self) -> MirrorQueue {
        self.queue.clone()
    }

    /// Refuses new jobs, then waits up to `grace` for queued and running ones to finish.
    pub(crate) async fn drain(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut lanes = self.lanes;
        let finished =
            tokio::time::timeout(grace, async { while lanes.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            lanes.abort_all();
        }
    }
}

async fn lane_loop(
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<MirrorJob>>>,
    shadows: Arc<ShadowSet>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections: Vec<Option<ShadowConnection>> =
        shadows.targets.iter().map(|_| None).collect();
    loop {
        let job = {
            let mut receiver = queue.lock().await;
            tokio::select! {
                job = receiver.recv() => job,
                _ = stop.changed() => {
                    // Closing keeps the queued jobs and refuses new ones; the lanes finish the
                    // queue and then stop.
                    receiver.close();
                    receiver.recv().await
                }
            }
        };
        let Some(job) = job else { return };
        shadows.metrics.queue_depth.add(-1);
        shadows.mirror(job, &mut connections).await;
    }
}

type ShadowConnection = UpstreamConnection<Full<Bytes>>;

struct ShadowSet {
    targets: Vec<Upstream>,
    marker: (HeaderName, HeaderValue),
    host: HostRewrite,
    timeout: Duration,
    /// How much of each shadow response body is kept (zero unless diffing).
    keep_body: usize,
    metrics: Arc<MirrorMetrics>,
    diff: Option<Arc<Mutex<DiffCollector>>>,
}

impl ShadowSet {
    async fn mirror(&self, job: MirrorJob, connections: &mut [Option<ShadowConnection>]) {
        let request = &job.request;
        let outcomes = if let [connection] = connections {
            vec![self.send(0, request, connection).await]
        } else {
            let sends: Vec<_> = connections
                .iter_mut()
                .enumerate()
                .map(|(idx, connection)| self.send(idx, request, connection))
                .collect();
            join_all(sends).await
        };
        let (Some(collector), Some(primary_response)) = (&self.diff, job.primary_response) else {
            return;
        };
        let Ok(Ok(primary)) = tokio::time::timeout(self.timeout, primary_response).await else {
            return;
        };
        if let [secondary, candidate] = outcomes.as_slice() {
            collector
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .observe(request, &primary, secondary, candidate);
            self.metrics.diffed.increment();
        }
    }

    /// The mirrored copy of a request for one shadow: marker header added, Host rewritten.
    fn shadow_request(
        &self,
        target: &Upstream,
        request: &CapturedRequest,
    ) -> Option<Request<Full<Bytes>>> {
        let uri = target.request_uri(&request.path_and_query).ok()?;
        let mut outgoing = Request::new(Full::new(request.body.clone()));
        *outgoing.method_mut() = request.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() =
            if target.is_http2() { Version::HTTP_2 } else { Version::HTTP_11 };
        let headers = outgoing.headers_mut();
        *headers = request.headers.clone();
        if let Some(host) = self.host.header_for(target, headers.get(header::HOST)) {
            headers.insert(header::HOST, host);
        }
        headers.insert(self.marker.0.clone(), self.marker.1.clone());
        Some(outgoing)
    }

    async fn send(
        &self,
        idx: usize,
        request: &CapturedRequest,
        connection: &mut Option<ShadowConnection>,
    ) -> ResponseOutcome {
        let target = &self.targets[idx];
        let metrics = &self.metrics.shadows[idx];
        let Some(outgoing) = self.shadow_request(target, request) else {
            metrics.protocol_errors.increment();
            return Err(ExchangeFailure::Protocol);
        };
        let started = Instant::now();
        let exchange = async {
            let response = send_on(connection, target, self.timeout, outgoing).await?;
            let (parts, body) = response.into_parts();
            let (body, body_truncated) = read_body_capped(body, self.keep_body)
                .await
                .map_err(|_| ExchangeFailure::Protocol)?;
            Ok(CapturedResponse {
                status: parts.status,
                headers: parts.headers,
                body,
                body_truncated,
            })
        };
        let outcome = tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(ExchangeFailure::Timeout));
        match &outcome {
            Ok(_) => {
                metrics.responses.increment();
                metrics.latency.observe(started.elapsed());
            }
            Err(failure) => {
                // A connection left mid-exchange cannot carry another request.
                *connection = None;
                match failure {
                    ExchangeFailure::Connect => metrics.connect_errors.increment(),
                    ExchangeFailure::Timeout => metrics.timeouts.increment(),
                    ExchangeFailure::Protocol => metrics.protocol_errors.increment(),
                }
            }
        }
        outcome
    }
}

/// Runs futures concurrently on the current task and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut any_pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => any_pending = true,
                }
            }
        }
        if any_pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
