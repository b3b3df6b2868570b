//! The closed-loop "max rate" mode: as many requests as N connections can carry.
//!
//! Each connection sends its next request as soon as the previous response has been read, for
//! a fixed duration. This finds the highest rate a target (and this machine) sustains, and is
//! the mode to compare with other closed-loop tools such as wrk. Its latencies are service
//! times measured from the actual send: by construction a closed loop sends less when the
//! server slows down, so they must never be used to judge a release (see [`crate::run_open_model`]).
//!
//! The generator's own cost per request is kept low, because on a shared machine it is taken
//! from the server: the connections are shared among a few threads, each running its own
//! single-threaded event loop (no cross-thread wake-ups), and HTTP/1.1 exchanges go through a
//! lean client ([`crate::wire`]) that writes prepared request bytes and parses responses in
//! place. HTTP/2 goes through hyper, with the connection driven inside the worker's task.

use std::{
    collections::BTreeMap,
    future::{Future, poll_fn},
    io,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use shadowgate_core::traffic::{Contents, Plan, Protocol};
use tokio::net::TcpStream;

use crate::{
    ErrorCounts, ErrorKind, LoadError, Percentiles, Target,
    pool::{Outcome, read_response},
    record::Failure,
    request::RequestBuilder,
    summary::{latency_histogram, record_micros},
    wire::WireConnection,
};

/// Settings of a closed-loop run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxRateConfig {
    /// Connections, each with one request in flight at a time (HTTP/1.1) or one stream
    /// (HTTP/2).
    pub connections: u32,
    /// Operating-system threads, each with its own event loop and a share of the connections
    /// (as wrk's `-t`).
    pub threads: u32,
    pub duration: Duration,
    /// A request without a complete response after this long fails with a timeout.
    pub timeout: Duration,
    pub protocol: Protocol,
}

/// The result of a closed-loop run.
#[derive(Clone, Debug)]
pub struct MaxRateReport {
    pub target: String,
    pub connections: u32,
    /// From the start until the last worker stopped.
    pub elapsed: Duration,
    /// Requests finished, with a response or an error.
    pub requests: u64,
    pub responses: u64,
    /// Service time of each complete response, in microseconds, from the actual send.
    pub latency: Histogram<u64>,
    pub errors: ErrorCounts,
    pub statuses: BTreeMap<u16, u64>,
    pub bytes: u64,
    pub connections_opened: u64,
    pub error_examples: BTreeMap<ErrorKind, String>,
    pub cancelled: bool,
}

/// A closed-loop run's figures, for reports and JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxRateSummary {
    pub target: String,
    pub connections: u32,
    pub seconds: f64,
    pub requests: u64,
    pub responses: u64,
    /// Complete responses per second.
    pub rate: f64,
    /// Service times (closed loop), in microseconds.
    pub service_time_us: Percentiles,
    pub errors: ErrorCounts,
    pub statuses: BTreeMap<u16, u64>,
    pub bytes: u64,
    pub connections_opened: u64,
    pub error_examples: BTreeMap<ErrorKind, String>,
    pub cancelled: bool,
}

impl MaxRateReport {
    /// Complete responses per second.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 { self.responses as f64 / seconds } else { 0.0 }
    }

    pub fn summary(&self) -> MaxRateSummary {
        MaxRateSummary {
            target: self.target.clone(),
            connections: self.connections,
            seconds: self.elapsed.as_secs_f64(),
            requests: self.requests,
            responses: self.responses,
            rate: self.rate(),
            service_time_us: Percentiles::of(&self.latency),
            errors: self.errors,
            statuses: self.statuses.clone(),
            bytes: self.bytes,
            connections_opened: self.connections_opened,
            error_examples: self.error_examples.clone(),
            cancelled: self.cancelled,
        }
    }
}

/// Sends requests drawn from `plan` (its schedule is ignored) to `target` as fast as
/// `config.connections` connections allow, for `config.duration`. When `cancel` completes, the
/// workers stop after their request in flight. The workers run on threads of their own; the
/// caller's tokio runtime only waits for them.
pub async fn run_max_rate(
    plan: &Plan,
    target: &Target,
    config: &MaxRateConfig,
    cancel: impl Future<Output = ()>,
) -> Result<MaxRateReport, LoadError> {
    if config.connections == 0 {
        return Err(LoadError::NoConnections);
    }
    if config.threads == 0 {
        return Err(LoadError::NoThreads);
    }
    tokio::runtime::Handle::try_current().map_err(|_| LoadError::NoRuntime)?;
    if config.timeout.is_zero() {
        return Err(LoadError::ZeroTimeout);
    }
    let builder = RequestBuilder::new(target, config.protocol, plan.request_names().count())?;
    let plan = Arc::new(plan.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + config.duration;
    let threads = config.threads.clamp(1, config.connections);
    let mut running = Vec::with_capacity(threads as usize);
    for thread_index in 0..threads {
        let workers: Vec<Worker> = (thread_index..config.connections)
            .step_by(threads as usize)
            .map(|index| Worker {
                stream: u64::from(index),
                plan: plan.clone(),
                target: target.clone(),
                builder: builder.clone(),
                protocol: config.protocol,
                timeout: config.timeout,
                deadline,
                stop: stop.clone(),
            })
            .collect();
        let (done_sender, done) = tokio::sync::oneshot::channel();
        let handle = thread::Builder::new()
            .name(format!("shadowgate-load-{thread_index}"))
            .spawn(move || {
                // The receiver is gone only if the run itself was dropped.
                let _receiver_gone = done_sender.send(run_workers(workers));
            })
            .map_err(LoadError::Thread)?;
        running.push((handle, done));
    }

    let mut cancelled = false;
    tokio::select! {
        () = cancel => {
            cancelled = true;
            stop.store(true, Ordering::Release);
        }
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {}
    }
    let mut report = MaxRateReport {
        target: target.name.clone(),
        connections: config.connections,
        elapsed: Duration::ZERO,
        requests: 0,
        responses: 0,
        latency: latency_histogram(),
        errors: ErrorCounts::default(),
        statuses: BTreeMap::new(),
        bytes: 0,
        connections_opened: 0,
        error_examples: BTreeMap::new(),
        cancelled,
    };
    for (handle, done) in running {
        let finished = done.await;
        // The thread has sent its result or died, so joining does not block.
        let outcome = match handle.join() {
            Ok(()) => {
                finished.map_err(|_| io::Error::other("a load thread stopped without a result"))
            }
            Err(panic) => std::panic::resume_unwind(panic),
        };
        for stats in outcome.and_then(|result| result).map_err(LoadError::Thread)? {
            report.requests += stats.requests;
            report.responses += stats.responses;
            // Both histograms have the same bounds, so adding cannot fail.
            let _same_bounds = report.latency.add(&stats.latency);
            report.errors.merge(&stats.errors);
            for (status, count) in stats.statuses {
                *report.statuses.entry(status).or_default() += count;
            }
            report.bytes += stats.bytes;
            report.connections_opened += stats.connections_opened;
            for (kind, message) in stats.error_examples {
                report.error_examples.entry(kind).or_insert(message);
            }
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Runs one thread's workers on a single-threaded runtime of its own. One event loop per
/// thread, like wrk, avoids the cross-thread wake-ups of a work-stealing scheduler.
fn run_workers(workers: Vec<Worker>) -> io::Result<Vec<WorkerStats>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(async {
        let tasks: Vec<_> = workers.into_iter().map(|worker| tokio::spawn(worker.run())).collect();
        let mut all = Vec::with_capacity(tasks.len());
        for task in tasks {
            match task.await {
                Ok(stats) => all.push(stats),
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                // Tasks are cancelled only when the runtime shuts down, which it does not
                // before this loop ends.
                Err(_) => {}
            }
        }
        all
    }))
}

struct Worker {
    /// Which stream of request contents this worker draws from.
    stream: u64,
    plan: Arc<Plan>,
    target: Target,
    builder: RequestBuilder,
    protocol: Protocol,
    timeout: Duration,
    deadline: Instant,
    stop: Arc<AtomicBool>,
}

struct WorkerStats {
    requests: u64,
    responses: u64,
    latency: Histogram<u64>,
    errors: ErrorCounts,
    statuses: BTreeMap<u16, u64>,
    bytes: u64,
    connections_opened: u64,
    error_examples: BTreeMap<ErrorKind, String>,
}

impl WorkerStats {
    fn add(&mut self, outcome: Outcome, service_time: Duration) {
        self.requests += 1;
        self.bytes += outcome.bytes;
        if let Some(status) = outcome.status {
            *self.statuses.entry(status).or_default() += 1;
        }
        match outcome.failure {
            None => {
                self.responses += 1;
                record_micros(&mut self.latency, service_time);
            }
            Some(failure) => {
                self.errors.add(failure.kind);
                self.error_examples.entry(failure.kind).or_insert(failure.message);
            }
        }
    }
}

impl Worker {
    fn finished(&self, now: Instant) -> bool {
        now >= self.deadline || self.stop.load(Ordering::Acquire)
    }

    async fn run(mut self) -> WorkerStats {
        let mut stats = WorkerStats {
            requests: 0,
            responses: 0,
            latency: latency_histogram(),
            errors: ErrorCounts::default(),
            statuses: BTreeMap::new(),
            bytes: 0,
            connections_opened: 0,
            error_examples: BTreeMap::new(),
        };
        let plan = self.plan.clone();
        let mut contents = plan.contents(self.stream);
        let mut now = Instant::now();
        while !self.finished(now) {
            let stream = match self.target.connect().await {
                Ok(stream) => stream,
                Err(err) => {
                    let failed_at = Instant::now();
                    stats.add(Outcome::failed(Failure::connect(&err)), failed_at - now);
                    now = failed_at;
                    continue;
                }
            };
            stats.connections_opened += 1;
            now = match self.protocol {
                Protocol::Http1 => self.drive_http1(stream, &mut contents, &mut stats).await,
                Protocol::Http2 => self.drive_http2(stream, &mut contents, &mut stats).await,
            };
        }
        stats
    }

    /// Sends requests on one HTTP/1.1 connection until it cannot be reused or the run ends.
    /// Returns the last clock reading. One reading per request serves as the end of one
    /// exchange, the start of the next and the check against the deadline.
    async fn drive_http1(
        &mut self,
        stream: TcpStream,
        contents: &mut Contents<'_>,
        stats: &mut WorkerStats,
    ) -> Instant {
        let mut connection = WireConnection::new(stream);
        let mut now = Instant::now();
        while !self.finished(now) {
            let Some(content) = contents.next() else { break };
            let (request, head_request) = match self.builder.build_wire(&content) {
                Ok(request) => request,
                Err(reason) => {
                    stats.add(
                        Outcome::failed(Failure::new(ErrorKind::Other, reason)),
                        Duration::ZERO,
                    );
                    continue;
                }
            };
            let started = now;
            let deadline = tokio::time::Instant::from_std(started + self.timeout);
            let result =
                tokio::time::timeout_at(deadline, connection.exchange(&request, head_request))
                    .await;
            now = Instant::now();
            let (outcome, reusable) = match result {
                Ok(Ok(response)) => (
                    Outcome { status: Some(response.status), bytes: response.bytes, failure: None },
                    response.keep_alive,
                ),
                Ok(Err(failure)) => (Outcome::failed(failure), false),
                Err(_) => (self.timed_out(), false),
            };
            stats.add(outcome, now - started);
            if !reusable {
                break;
            }
        }
        now
    }

    /// Sends requests, one at a time, on one HTTP/2 connection until it fails or the run ends.
    async fn drive_http2(
        &mut self,
        stream: TcpStream,
        contents: &mut Contents<'_>,
        stats: &mut WorkerStats,
    ) -> Instant {
        let handshake = http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await;
        let (mut sender, connection) = match handshake {
            Ok(connection) => connection,
            Err(err) => {
                stats.add(Outcome::failed(Failure::connect(&err)), Duration::ZERO);
                return Instant::now();
            }
        };
        // The connection's I/O is driven by this task, next to the requests, rather than by a
        // task of its own.
        let mut driver = pin!(connection);
        let mut driving = true;
        let mut now = Instant::now();
        while !self.finished(now) {
            let Some(content) = contents.next() else { break };
            let request = match self.builder.build(&content) {
                Ok(request) => request,
                Err(reason) => {
                    stats.add(
                        Outcome::failed(Failure::new(ErrorKind::Other, reason)),
                        Duration::ZERO,
                    );
                    continue;
                }
            };
            let started = now;
            let deadline = tokio::time::Instant::from_std(started + self.timeout);
            let mut exchange = pin!(tokio::time::timeout_at(deadline, async {
                if let Err(err) = sender.ready().await {
                    return Outcome::failed(Failure::exchange(&err));
                }
                match sender.send_request(request).await {
                    Ok(response) => read_response(response).await,
                    Err(err) => Outcome::failed(Failure::exchange(&err)),
                }
            }));
            let result = poll_fn(|cx| {
                // Drive the connection first, so that a response it completes is seen by the
                // exchange in the same poll.
                if driving && driver.as_mut().poll(cx).is_ready() {
                    driving = false;
                }
                exchange.as_mut().poll(cx)
            })
            .await;
            now = Instant::now();
            let outcome = result.unwrap_or_else(|_| self.timed_out());
            let failed = outcome.failure.is_some();
            stats.add(outcome, now - started);
            if failed || !driving {
                break;
            }
        }
        now
    }

    fn timed_out(&self) -> Outcome {
        Outcome::failed(Failure::new(
            ErrorKind::Timeout,
            format!("no complete response within {:?}", self.timeout),
        ))
    }
}
