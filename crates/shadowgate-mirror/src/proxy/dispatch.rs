//! The shadow side: a bounded queue of mirror jobs, a dispatcher that runs a limited number of
//! them at once, and the live diff fed from their results.
//!
//! The queue is the only coupling to the primary path, and it is non-blocking on that side:
//! when it is full, new jobs are dropped and counted. Each shadow has its own connection pool
//! and every mirrored exchange has a deadline, so a shadow that hangs only fills this side's
//! slots and queue.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Version, header};
use http_body_util::Full;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    task::{JoinHandle, JoinSet},
};

use crate::{
    config::{HostRewrite, MirrorConfig, Upstream},
    diff::collector::DiffCollector,
    http_message::{CapturedRequest, CapturedResponse, ExchangeFailure, ResponseOutcome},
    metrics::MirrorMetrics,
    upstream_client::{build_client, classify_client_error, read_body_capped},
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

/// The running dispatcher.
pub(crate) struct Dispatcher {
    queue: MirrorQueue,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Dispatcher {
    pub(crate) fn start(
        config: &MirrorConfig,
        metrics: Arc<MirrorMetrics>,
        diff: Option<Arc<Mutex<DiffCollector>>>,
    ) -> Dispatcher {
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let shadows = Arc::new(ShadowSet {
            targets: config
                .shadows
                .iter()
                .map(|upstream| ShadowTarget {
                    upstream: upstream.clone(),
                    client: build_client(upstream, config.shadow_concurrency),
                })
                .collect(),
            marker: config.marker_header.clone(),
            host: config.shadow_host.clone(),
            timeout: config.shadow_timeout,
            keep_body: if diff.is_some() { config.body_capture_limit } else { 0 },
            metrics: metrics.clone(),
            diff,
        });
        let (stop, stop_receiver) = watch::channel(false);
        let task = tokio::spawn(dispatch_loop(
            receiver,
            shadows,
            config.shadow_concurrency,
            stop_receiver,
        ));
        Dispatcher { queue: MirrorQueue { sender, metrics }, stop, task }
    }

    pub(crate) fn sender(&self) -> MirrorQueue {
        self.queue.clone()
    }

    /// Refuses new jobs, then waits up to `grace` for queued and running ones to finish.
    pub(crate) async fn drain(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn dispatch_loop(
    mut receiver: mpsc::Receiver<MirrorJob>,
    shadows: Arc<ShadowSet>,
    concurrency: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut stopping = false;
    loop {
        // A job leaves the queue only when a slot is free, so waiting jobs are exactly the
        // queue's contents and `queue_capacity` bounds them.
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let job = tokio::select! {
            job = receiver.recv() => job,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // Closing keeps the jobs already queued and refuses new ones.
                receiver.close();
                continue;
            }
        };
        let Some(job) = job else { break };
        shadows.metrics.queue_depth.add(-1);
        let shadows = shadows.clone();
        tokio::spawn(async move {
            shadows.mirror(job).await;
            drop(slot);
        });
    }
    let _ = slots.acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX)).await;
}

struct ShadowTarget {
    upstream: Upstream,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct ShadowSet {
    targets: Vec<ShadowTarget>,
    marker: (HeaderName, HeaderValue),
    host: HostRewrite,
    timeout: Duration,
    /// How much of each shadow response body is kept (zero unless diffing).
    keep_body: usize,
    metrics: Arc<MirrorMetrics>,
    diff: Option<Arc<Mutex<DiffCollector>>>,
}

impl ShadowSet {
    async fn mirror(self: Arc<Self>, job: MirrorJob) {
        let request = Arc::new(job.request);
        let outcomes = if self.targets.len() == 1 {
            vec![self.send(0, &request).await]
        } else {
            let mut tasks = JoinSet::new();
            for idx in 0..self.targets.len() {
                let shadows = self.clone();
                let request = request.clone();
                tasks.spawn(async move { (idx, shadows.send(idx, &request).await) });
            }
            let mut outcomes: Vec<ResponseOutcome> =
                vec![Err(ExchangeFailure::Protocol); self.targets.len()];
            while let Some(Ok((idx, outcome))) = tasks.join_next().await {
                outcomes[idx] = outcome;
            }
            outcomes
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
                .observe(&request, &primary, secondary, candidate);
            self.metrics.diffed.increment();
        }
    }

    async fn send(&self, idx: usize, request: &CapturedRequest) -> ResponseOutcome {
        let target = &self.targets[idx];
        let metrics = &self.metrics.shadows[idx];
        let Ok(uri) = target.upstream.uri_for(&request.path_and_query) else {
            metrics.protocol_errors.increment();
            return Err(ExchangeFailure::Protocol);
        };
        let mut outgoing = Request::new(Full::new(request.body.clone()));
        *outgoing.method_mut() = request.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() =
            if target.upstream.is_http2() { Version::HTTP_2 } else { Version::HTTP_11 };
        let headers = outgoing.headers_mut();
        *headers = request.headers.clone();
        match &self.host {
            HostRewrite::Keep => {}
            HostRewrite::Upstream => {
                if let Ok(host) = HeaderValue::from_str(target.upstream.authority().as_str()) {
                    headers.insert(header::HOST, host);
                }
            }
            HostRewrite::Suffix(suffix) => {
                let original = headers
                    .get(header::HOST)
                    .map(|value| value.as_bytes().to_vec())
                    .unwrap_or_default();
                if let Ok(host) =
                    HeaderValue::from_bytes(&[original.as_slice(), suffix.as_bytes()].concat())
                {
                    headers.insert(header::HOST, host);
                }
            }
            HostRewrite::Literal(host) => {
                headers.insert(header::HOST, host.clone());
            }
        }
        headers.insert(self.marker.0.clone(), self.marker.1.clone());

        let started = Instant::now();
        let exchange = async {
            let response = target
                .client
                .request(outgoing)
                .await
                .map_err(|error| classify_client_error(&error))?;
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
            Err(ExchangeFailure::Connect) => metrics.connect_errors.increment(),
            Err(ExchangeFailure::Timeout) => metrics.timeouts.increment(),
            Err(ExchangeFailure::Protocol) => metrics.protocol_errors.increment(),
        }
        outcome
    }
}
