//! The replayer: sends a recording's requests again, at their scheduled instants, to one or
//! more targets.
//!
//! It is an open model. Each request is sent at its intended instant whether or not earlier
//! ones have been answered, and its latency is measured from that intended instant, so a slow
//! target shows up as latency instead of silently lowering the rate (coordinated omission).
//! With several targets, every request goes to all of them at the same instant; this is how
//! `check` gives baseline and candidate identical traffic. With three targets (primary,
//! secondary, candidate) and a diff configuration, the responses are also diffed.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Request, Version, header};
use http_body_util::Full;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use serde::Serialize;
use tokio::{sync::mpsc, time::Instant};

use crate::{
    config::{HostRewrite, Upstream},
    diff::{DiffConfig, collector::DiffCollector, report::DiffReport},
    hop_by_hop::strip_hop_by_hop_headers,
    http_message::{CapturedRequest, CapturedResponse, ExchangeFailure, ResponseOutcome},
    recording::Recording,
    schedule::{Pacing, PlannedSend, ReplaySchedule, ScheduleError},
    upstream_client::{build_client, classify_client_error, read_body_capped},
};

/// Everything `shadowgate replay` (and `check`) needs.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Every request is sent to each target at the same instant.
    pub targets: Vec<Upstream>,
    pub pacing: Pacing,
    /// Loop the recording for this long; without it, play it once.
    pub duration: Option<Duration>,
    /// The longest one exchange may take, response body included.
    pub timeout: Duration,
    /// Requests in flight at once (all targets together); past this, sends are skipped and
    /// counted instead of queued, so the schedule is never delayed.
    pub max_in_flight: usize,
    pub host: HostRewrite,
    /// Keep one [`ReplaySample`] per request and target in the report.
    pub keep_samples: bool,
    /// Diff the responses: with three targets (primary, secondary, candidate) using the noise
    /// filter, with two (primary, candidate) without it.
    pub diff: Option<DiffConfig>,
    /// The most response body kept for the diff.
    pub body_capture_limit: usize,
}

impl ReplayConfig {
    /// A replay of a recording at its recorded pace, once, to the given targets.
    pub fn new(targets: Vec<Upstream>) -> ReplayConfig {
        ReplayConfig {
            targets,
            pacing: Pacing::Recorded,
            duration: None,
            timeout: Duration::from_secs(10),
            max_in_flight: 10_000,
            host: HostRewrite::Keep,
            keep_samples: true,
            diff: None,
            body_capture_limit: 1 << 20,
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("{0}")]
    Config(String),
}

/// What a replay did, per target.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// Scheduled request instants (each goes to every target).
    pub planned_sends: u64,
    /// Wall time from the first intended send to the last completion, in microseconds.
    pub elapsed_us: u64,
    /// The latest any send left after its intended instant, in microseconds: how well the
    /// sender kept to the schedule.
    pub max_send_lag_us: u64,
    pub targets: Vec<TargetReport>,
    pub diff: Option<DiffReport>,
}

/// One target's results.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub sent: u64,
    pub responses: u64,
    pub connect_errors: u64,
    pub timeouts: u64,
    pub protocol_errors: u64,
    /// Sends skipped because `max_in_flight` requests were already outstanding.
    pub skipped_overload: u64,
    pub status_counts: BTreeMap<u16, u64>,
    /// Latency from the intended send instant to the end of the response, over responses.
    pub latency: LatencySummary,
    pub samples: Vec<ReplaySample>,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

/// One request sent to one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplaySample {
    /// The position of the send in the schedule (the same for every target).
    pub send_index: u64,
    /// The recorded exchange that was sent.
    pub exchange_index: usize,
    /// The intended send instant, relative to the replay's start.
    pub intended_at_us: u64,
    pub latency_us: u64,
    pub status: Option<u16>,
    pub failure: Option<ExchangeFailure>,
}

struct SendOutcome {
    send_index: u64,
    exchange_index: usize,
    target_idx: usize,
    intended_at: Duration,
    latency: Duration,
    outcome: Option<ResponseOutcome>,
}

/// Replays `recording` according to `config` and reports per target.
pub async fn replay(
    recording: &Recording,
    config: &ReplayConfig,
) -> Result<ReplayReport, ReplayError> {
    if config.targets.is_empty() {
        return Err(ReplayError::Config("replay needs at least one --target URL".into()));
    }
    if config.diff.is_some() && !(2..=3).contains(&config.targets.len()) {
        return Err(ReplayError::Config(format!(
            "diffing a replay needs two targets (primary, candidate) or three (primary, secondary, candidate), got {}",
            config.targets.len()
        )));
    }
    let offsets: Vec<Duration> =
        recording.exchanges.iter().map(|exchange| exchange.offset).collect();
    let schedule = ReplaySchedule::new(&offsets, config.pacing, config.duration)?;
    let requests: Arc<Vec<CapturedRequest>> = Arc::new(
        recording
            .exchanges
            .iter()
            .map(|exchange| {
                let mut request = exchange.request.clone();
                strip_hop_by_hop_headers(&mut request.headers);
                request
            })
            .collect(),
    );
    let senders: Arc<Vec<TargetSender>> = Arc::new(
        config
            .targets
            .iter()
            .map(|upstream| TargetSender {
                upstream: upstream.clone(),
                client: build_client(upstream, 1024),
                host: config.host.clone(),
                timeout: config.timeout,
                keep_body: if config.diff.is_some() { config.body_capture_limit } else { 0 },
            })
            .collect(),
    );

    let (outcome_sender, mut outcome_receiver) = mpsc::unbounded_channel();
    let start = Instant::now();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let scheduler = tokio::spawn(run_schedule(
        schedule,
        start,
        requests.clone(),
        senders.clone(),
        in_flight,
        config.max_in_flight,
        outcome_sender,
    ));

    let mut tallies: Vec<TargetTally> = config.targets.iter().map(|_| TargetTally::new()).collect();
    let mut diff =
        config.diff.clone().map(|diff_config| (DiffCollector::new(diff_config), HashMap::new()));
    while let Some(outcome) = outcome_receiver.recv().await {
        let SendOutcome { send_index, exchange_index, target_idx, intended_at, latency, outcome } =
            outcome;
        tallies[target_idx].absorb(
            config.keep_samples,
            send_index,
            exchange_index,
            intended_at,
            latency,
            outcome.as_ref(),
        );
        if let (Some((collector, pending)), Some(outcome)) = (diff.as_mut(), outcome) {
            let answers: &mut Vec<Option<ResponseOutcome>> =
                pending.entry(send_index).or_insert_with(|| vec![None; senders.len()]);
            answers[target_idx] = Some(outcome);
            if answers.iter().all(Option::is_some) {
                let answers: Vec<ResponseOutcome> =
                    pending.remove(&send_index).unwrap_or_default().into_iter().flatten().collect();
                let request = &requests[exchange_index];
                match answers.as_slice() {
                    [primary, secondary, candidate] => {
                        collector.observe(request, primary, secondary, candidate)
                    }
                    [primary, candidate] => {
                        collector.observe_without_secondary(request, primary, candidate)
                    }
                    _ => {}
                }
            }
        }
    }
    let (planned_sends, max_send_lag) = scheduler.await.unwrap_or_default();
    Ok(ReplayReport {
        planned_sends,
        elapsed_us: micros(start.elapsed()),
        max_send_lag_us: micros(max_send_lag),
        targets: tallies
            .into_iter()
            .zip(config.targets.iter())
            .map(|(tally, upstream)| tally.into_report(upstream.to_string()))
            .collect(),
        diff: diff.map(|(collector, _)| collector.report()),
    })
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Sends every planned request at its instant. Returns the number of planned sends and the
/// largest lag behind the schedule.
async fn run_schedule(
    schedule: ReplaySchedule,
    start: Instant,
    requests: Arc<Vec<CapturedRequest>>,
    senders: Arc<Vec<TargetSender>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    outcomes: mpsc::UnboundedSender<SendOutcome>,
) -> (u64, Duration) {
    let mut planned_sends = 0;
    let mut max_lag = Duration::ZERO;
    for PlannedSend { exchange_index, at, .. } in schedule {
        let intended = start + at;
        if intended > Instant::now() {
            tokio::time::sleep_until(intended).await;
        }
        max_lag = max_lag.max(Instant::now().saturating_duration_since(intended));
        let send_index = planned_sends;
        planned_sends += 1;
        for target_idx in 0..senders.len() {
            if in_flight.fetch_add(1, Ordering::Relaxed) >= max_in_flight {
                in_flight.fetch_sub(1, Ordering::Relaxed);
                let _ = outcomes.send(SendOutcome {
                    send_index,
                    exchange_index,
                    target_idx,
                    intended_at: at,
                    latency: Duration::ZERO,
                    outcome: None,
                });
                continue;
            }
            let senders = senders.clone();
            let requests = requests.clone();
            let outcomes = outcomes.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let outcome = senders[target_idx].send(&requests[exchange_index]).await;
                let latency = Instant::now().saturating_duration_since(intended);
                in_flight.fetch_sub(1, Ordering::Relaxed);
                let _ = outcomes.send(SendOutcome {
                    send_index,
                    exchange_index,
                    target_idx,
                    intended_at: at,
                    latency,
                    outcome: Some(outcome),
                });
            });
        }
    }
    (planned_sends, max_lag)
}

struct TargetSender {
    upstream: Upstream,
    client: Client<HttpConnector, Full<Bytes>>,
    host: HostRewrite,
    timeout: Duration,
    keep_body: usize,
}

impl TargetSender {
    async fn send(&self, recorded: &CapturedRequest) -> ResponseOutcome {
        let Ok(uri) = self.upstream.uri_for(&recorded.path_and_query) else {
            return Err(ExchangeFailure::Protocol);
        };
        let mut request = Request::new(Full::new(recorded.body.clone()));
        *request.method_mut() = recorded.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() =
            if self.upstream.is_http2() { Version::HTTP_2 } else { Version::HTTP_11 };
        *request.headers_mut() = recorded.headers.clone();
        let host = self.host.header_for(&self.upstream, recorded.headers.get(header::HOST));
        if let Some(host) = host {
            request.headers_mut().insert(header::HOST, host);
        }
        let exchange = async {
            let response = self
                .client
                .request(request)
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
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or(Err(ExchangeFailure::Timeout))
    }
}

struct TargetTally {
    histogram: Option<Histogram<u64>>,
    report: TargetReport,
}

impl TargetTally {
    fn new() -> TargetTally {
        TargetTally {
            // Three significant figures, auto-resizing: exact enough for p99.9 at any latency.
            histogram: Histogram::new(3).ok(),
            report: TargetReport {
                target: String::new(),
                sent: 0,
                responses: 0,
                connect_errors: 0,
                timeouts: 0,
                protocol_errors: 0,
                skipped_overload: 0,
                status_counts: BTreeMap::new(),
                latency: LatencySummary::default(),
                samples: Vec::new(),
            },
        }
    }

    fn absorb(
        &mut self,
        keep_samples: bool,
        send_index: u64,
        exchange_index: usize,
        intended_at: Duration,
        latency: Duration,
        outcome: Option<&ResponseOutcome>,
    ) {
        let report = &mut self.report;
        let Some(outcome) = outcome else {
            report.skipped_overload += 1;
            return;
        };
        report.sent += 1;
        let (status, failure) = match outcome {
            Ok(response) => {
                report.responses += 1;
                *report.status_counts.entry(response.status.as_u16()).or_default() += 1;
                if let Some(histogram) = self.histogram.as_mut() {
                    let _ = histogram.record(micros(latency).max(1));
                }
                (Some(response.status.as_u16()), None)
            }
            Err(failure) => {
                match failure {
                    ExchangeFailure::Connect => report.connect_errors += 1,
                    ExchangeFailure::Timeout => report.timeouts += 1,
                    ExchangeFailure::Protocol => report.protocol_errors += 1,
                }
                (None, Some(failure.clone()))
            }
        };
        if keep_samples {
            report.samples.push(ReplaySample {
                send_index,
                exchange_index,
                intended_at_us: micros(intended_at),
                latency_us: micros(latency),
                status,
                failure,
            });
        }
    }

    fn into_report(mut self, target: String) -> TargetReport {
        self.report.target = target;
        if let Some(histogram) = self.histogram.filter(|histogram| !histogram.is_empty()) {
            self.report.latency = LatencySummary {
                count: histogram.len(),
                mean_us: histogram.mean(),
                p50_us: histogram.value_at_quantile(0.5),
                p90_us: histogram.value_at_quantile(0.9),
                p99_us: histogram.value_at_quantile(0.99),
                p999_us: histogram.value_at_quantile(0.999),
                max_us: histogram.max(),
            };
        }
        self.report.samples.sort_by_key(|sample| sample.send_index);
        self.report
    }
}
