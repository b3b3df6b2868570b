//! The open-model run: requests leave at their planned instants, whatever happened before.
//!
//! A dedicated scheduler thread walks the plan and sleeps until each intended instant with the
//! operating system's fine-grained timers (tokio's timer wheel has millisecond granularity,
//! which would bunch requests together at high rates). At each instant it spawns one task per
//! target on the caller's tokio runtime, alternating which target goes first so that neither
//! is systematically favoured. Each task measures from the intended instant, and the run's own
//! future collects the records, calls the progress callback and watches for cancellation.

use std::{
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use shadowgate_core::traffic::{Phase, Plan};
use tokio::{
    runtime::Handle,
    sync::{mpsc, watch},
};

use crate::{
    LoadConfig, LoadError, Progress, RunReport, Target, TargetReport,
    pool::{ConnectionPool, Outcome, Stage},
    record::{ErrorKind, Failure, RequestRecord},
    request::{RequestBody, RequestBuilder},
    summary::{PhaseStats, record_micros},
};

/// How often the progress callback is called while requests are in flight.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Sends `plan` to every target at the planned instants and returns what happened.
///
/// `progress` is called about ten times a second and once at the end. When `cancel` completes,
/// no further request is sent, requests in flight are abandoned (and not recorded), and the
/// report is marked as cancelled. Requests are spawned on the tokio runtime this is called in.
pub async fn run_open_model(
    plan: &Plan,
    targets: &[Target],
    config: &LoadConfig,
    mut progress: impl FnMut(&Progress),
    cancel: impl Future<Output = ()>,
) -> Result<RunReport, LoadError> {
    config.check()?;
    let runtime = Handle::try_current().map_err(|_| LoadError::NoRuntime)?;
    if targets.is_empty() {
        return Err(LoadError::NoTargets);
    }
    let kinds = plan.request_names().count();
    let builders = targets
        .iter()
        .map(|target| RequestBuilder::new(target, config.protocol, kinds))
        .collect::<Result<Vec<_>, _>>()?;
    let pools: Vec<Arc<ConnectionPool>> = targets
        .iter()
        .map(|t| Arc::new(ConnectionPool::new(t.clone(), config.protocol, config.max_connections)))
        .collect();

    let (events_sender, mut events) = mpsc::unbounded_channel();
    let (cancel_sender, cancel_receiver) = watch::channel(false);
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let scheduler = Scheduler {
        plan: plan.clone(),
        builders,
        pools: pools.clone(),
        runtime,
        start,
        timeout: config.timeout,
        events: events_sender,
        cancel: cancel_receiver,
        stop: stop.clone(),
        issued: issued.clone(),
    };
    let scheduler_thread = thread::Builder::new()
        .name("shadowgate-load-scheduler".to_string())
        .spawn(move || scheduler.run())
        .map_err(LoadError::Thread)?;

    let planned = plan.expected_requests() * targets.len() as u64;
    let mut collector = Collector::new(targets);
    let mut cancel = pin!(cancel);
    let mut cancelled_at = None;
    let mut scheduled_total = None;
    let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if scheduled_total.is_some_and(|total| collector.finished >= total) {
            break;
        }
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Finished(record, failure)) => collector.add(record, failure),
                Some(Event::Abandoned) => collector.finished += 1,
                Some(Event::Scheduled { total }) => scheduled_total = Some(total),
                // Every sender is gone: nothing more can arrive.
                None => break,
            },
            () = &mut cancel, if cancelled_at.is_none() => {
                cancelled_at = Some(start.elapsed());
                stop.store(true, Ordering::Release);
                scheduler_thread.thread().unpark();
                // Fails only when no task is listening any more, which is fine.
                let _no_listeners = cancel_sender.send(true);
            }
            _ = ticker.tick() => progress(&collector.progress(start, planned, &issued)),
        }
    }
    progress(&collector.progress(start, planned, &issued));

    let elapsed = start.elapsed();
    let warmup_end = plan.warmup();
    let end = cancelled_at.unwrap_or(plan.total_duration()).min(plan.total_duration());
    let spans =
        [(Phase::Warmup, end.min(warmup_end)), (Phase::Measured, end.saturating_sub(warmup_end))];
    let reports = collector
        .targets
        .into_iter()
        .zip(targets)
        .zip(&pools)
        .map(|((mut collected, target), pool)| {
            collected.records.sort_by_key(|r| r.sequence);
            for (phase, span) in spans {
                collected.phase_mut(phase).span = span;
            }
            TargetReport {
                name: target.name.clone(),
                records: collected.records,
                warmup: collected.warmup,
                measured: collected.measured,
                connections_opened: pool.connections_opened(),
            }
        })
        .collect();
    Ok(RunReport { targets: reports, cancelled: cancelled_at.is_some(), elapsed })
}

enum Event {
    /// A request finished, with the message of its failure if it failed.
    Finished(RequestRecord, Option<String>),
    /// A request was dropped because the run was cancelled.
    Abandoned,
    /// The scheduler is done; this many requests were issued in all.
    Scheduled { total: u64 },
}

struct Scheduler {
    plan: Plan,
    builders: Vec<RequestBuilder>,
    pools: Vec<Arc<ConnectionPool>>,
    runtime: Handle,
    start: Instant,
    timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    cancel: watch::Receiver<bool>,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicU64>,
}

impl Scheduler {
    fn run(self) {
        let Scheduler {
            plan,
            mut builders,
            pools,
            runtime,
            start,
            timeout,
            events,
            cancel,
            stop,
            issued,
        } = self;
        let target_count = pools.len();
        let mut total = 0u64;
        for planned in plan.requests() {
            let intended_at = start + planned.offset;
            if !sleep_until(intended_at, &stop) {
                break;
            }
            let first = (planned.sequence % target_count as u64) as usize;
            for step in 0..target_count {
                let target = (first + step) % target_count;
                let request = builders[target].build(&planned.content);
                let exchange = Exchange {
                    target,
                    sequence: planned.sequence,
                    kind: planned.content.kind,
                    phase: planned.phase,
                    intended: planned.offset,
                    intended_at,
                    start,
                    timeout,
                    pool: pools[target].clone(),
                    events: events.clone(),
                    cancel: cancel.clone(),
                };
                runtime.spawn(exchange.run(request));
                total += 1;
                issued.store(total, Ordering::Relaxed);
            }
        }
        // The receiver is gone only if the run itself was dropped.
        let _receiver_gone = events.send(Event::Scheduled { total });
    }
}

/// Sleeps until `deadline` unless stopped first; true when the deadline was reached.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::park_timeout(deadline - now);
    }
}

/// One request to one target, run as a task.
struct Exchange {
    target: usize,
    sequence: u64,
    kind: usize,
    phase: Phase,
    intended: Duration,
    intended_at: Instant,
    start: Instant,
    timeout: Duration,
    pool: Arc<ConnectionPool>,
    events: mpsc::UnboundedSender<Event>,
    cancel: watch::Receiver<bool>,
}

impl Exchange {
    async fn run(mut self, request: Result<http::Request<RequestBody>, String>) {
        let mut stage = Stage::Queued;
        let outcome = match request {
            Err(reason) => Some(Some(Outcome::failed(Failure::new(ErrorKind::Other, reason)))),
            Ok(request) => {
                let deadline = tokio::time::Instant::from_std(self.intended_at + self.timeout);
                let exchange =
                    tokio::time::timeout_at(deadline, self.pool.send(request, &mut stage));
                tokio::select! {
                    biased;
                    _ = self.cancel.wait_for(|cancelled| *cancelled) => None,
                    result = exchange => Some(result.ok()),
                }
            }
        };
        // `None`: the run was cancelled. `Some(None)`: the deadline passed first.
        let outcome = outcome.map(|finished| {
            finished.unwrap_or_else(|| {
                let waited = format!("{:?} after the intended send instant", self.timeout);
                Outcome::failed(match stage {
                    Stage::Connecting => {
                        Failure::new(ErrorKind::Connect, format!("still connecting {waited}"))
                    }
                    Stage::Queued | Stage::Sent(_) => {
                        Failure::new(ErrorKind::Timeout, format!("no complete response {waited}"))
                    }
                })
            })
        });
        let Some(outcome) = outcome else {
            let _receiver_gone = self.events.send(Event::Abandoned);
            return;
        };
        let record = RequestRecord {
            target: self.target,
            sequence: self.sequence,
            kind: self.kind,
            phase: self.phase,
            intended: self.intended,
            sent: match stage {
                Stage::Sent(at) => Some(at.saturating_duration_since(self.start)),
                Stage::Queued | Stage::Connecting => None,
            },
            latency: Instant::now().saturating_duration_since(self.intended_at),
            status: outcome.status,
            bytes: outcome.bytes,
            error: outcome.failure.as_ref().map(|f| f.kind),
        };
        let _receiver_gone =
            self.events.send(Event::Finished(record, outcome.failure.map(|f| f.message)));
    }
}

#[derive(Default)]
struct TargetCollector {
    records: Vec<RequestRecord>,
    warmup: PhaseStats,
    measured: PhaseStats,
    failed: u64,
}

impl TargetCollector {
    fn phase_mut(&mut self, phase: Phase) -> &mut PhaseStats {
        match phase {
            Phase::Warmup => &mut self.warmup,
            Phase::Measured => &mut self.measured,
        }
    }
}

struct Collector {
    targets: Vec<TargetCollector>,
    finished: u64,
}

impl Collector {
    fn new(targets: &[Target]) -> Collector {
        let mut collectors = Vec::with_capacity(targets.len());
        collectors.resize_with(targets.len(), TargetCollector::default);
        Collector { targets: collectors, finished: 0 }
    }

    fn add(&mut self, record: RequestRecord, failure: Option<String>) {
        self.finished += 1;
        let Some(target) = self.targets.get_mut(record.target) else {
            return;
        };
        if record.error.is_some() {
            target.failed += 1;
        }
        let stats = target.phase_mut(record.phase);
        stats.requests += 1;
        if let Some(sent) = record.sent {
            record_micros(&mut stats.send_lag, sent.saturating_sub(record.intended));
        }
        if let Some(status) = record.status {
            *stats.statuses.entry(status).or_default() += 1;
        }
        stats.bytes += record.bytes;
        match record.error {
            None => {
                stats.responses += 1;
                record_micros(&mut stats.latency, record.latency);
            }
            Some(kind) => {
                stats.errors.add(kind);
                if let Some(message) = failure {
                    stats.error_examples.entry(kind).or_insert(message);
                }
            }
        }
        target.records.push(record);
    }

    fn progress(&self, start: Instant, planned: u64, issued: &AtomicU64) -> Progress {
        Progress {
            elapsed: start.elapsed(),
            planned,
            issued: issued.load(Ordering::Relaxed),
            finished: self.finished,
            failed: self.targets.iter().map(|t| t.failed).sum(),
        }
    }
}
