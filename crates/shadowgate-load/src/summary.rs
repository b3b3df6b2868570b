//! Aggregates: latency histograms per target and phase, and the serializable summaries.

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use shadowgate_core::traffic::Phase;

use crate::record::ErrorKind;

/// Latencies are recorded in microseconds, from 1 µs to one hour, to 3 significant digits.
const HISTOGRAM_MAX_MICROS: u64 = 3_600_000_000;
const HISTOGRAM_DIGITS: u8 = 3;

/// An empty latency histogram in microseconds, as used throughout this crate.
pub fn latency_histogram() -> Histogram<u64> {
    // Cannot fail: the bounds are constants that hdrhistogram accepts (low >= 1,
    // high >= 2 * low, at most 5 significant digits).
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, HISTOGRAM_DIGITS)
        .expect("constant histogram bounds are valid")
}

pub(crate) fn record_micros(histogram: &mut Histogram<u64>, value: Duration) {
    let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX).max(1);
    histogram.saturating_record(micros);
}

/// Counts per error kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub connect: u64,
    pub timeout: u64,
    pub reset: u64,
    pub other: u64,
}

impl ErrorCounts {
    pub fn add(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::Connect => self.connect += 1,
            ErrorKind::Timeout => self.timeout += 1,
            ErrorKind::Reset => self.reset += 1,
            ErrorKind::Other => self.other += 1,
        }
    }

    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::Reset => self.reset,
            ErrorKind::Other => self.other,
        }
    }

    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.reset + self.other
    }

    pub(crate) fn merge(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.reset += other.reset;
        self.other += other.other;
    }
}

/// Everything measured for one target in one phase.
#[derive(Clone, Debug)]
pub struct PhaseStats {
    /// Latency of requests that got a complete response (any status), in microseconds, from
    /// the intended send instant. Failed requests are counted in `errors` instead.
    pub latency: Histogram<u64>,
    /// How late requests were handed to a connection, in microseconds: the generator's own
    /// delay plus the wait for a free connection.
    pub send_lag: Histogram<u64>,
    /// Requests finished (with a response or an error).
    pub requests: u64,
    /// Requests with a complete response.
    pub responses: u64,
    pub errors: ErrorCounts,
    pub statuses: BTreeMap<u16, u64>,
    /// Response body bytes.
    pub bytes: u64,
    /// The first message seen for each kind of error.
    pub error_examples: BTreeMap<ErrorKind, String>,
    /// How long the phase lasted (shorter than planned when the run was cancelled).
    pub span: Duration,
}

impl Default for PhaseStats {
    fn default() -> Self {
        PhaseStats {
            latency: latency_histogram(),
            send_lag: latency_histogram(),
            requests: 0,
            responses: 0,
            errors: ErrorCounts::default(),
            statuses: BTreeMap::new(),
            bytes: 0,
            error_examples: BTreeMap::new(),
            span: Duration::ZERO,
        }
    }
}

/// Percentiles of a histogram in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub min: u64,
    /// Rounded to a whole microsecond like the others.
    pub mean: u64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            min: histogram.min(),
            mean: histogram.mean().round() as u64,
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p95: histogram.value_at_quantile(0.95),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// One target's results in one phase, in a form for reports and JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub target: String,
    pub phase: Phase,
    /// Requests finished, with a response or an error.
    pub requests: u64,
    /// Requests with a complete response, whatever the status.
    pub responses: u64,
    /// The length of the phase in seconds.
    pub seconds: f64,
    /// Complete responses per second over the phase.
    pub achieved_rate: f64,
    /// Latency from the intended send instant to the end of the response, in microseconds.
    pub latency_us: Percentiles,
    /// Delay from the intended send instant until the request went out, in microseconds.
    pub send_lag_us: Percentiles,
    pub errors: ErrorCounts,
    pub statuses: BTreeMap<u16, u64>,
    pub bytes: u64,
    pub connections_opened: u64,
    pub error_examples: BTreeMap<ErrorKind, String>,
}

impl Summary {
    pub(crate) fn new(target: &str, phase: Phase, stats: &PhaseStats, connections: u64) -> Summary {
        let seconds = stats.span.as_secs_f64();
        Summary {
            target: target.to_string(),
            phase,
            requests: stats.requests,
            responses: stats.responses,
            seconds,
            achieved_rate: if seconds > 0.0 { stats.responses as f64 / seconds } else { 0.0 },
            latency_us: Percentiles::of(&stats.latency),
            send_lag_us: Percentiles::of(&stats.send_lag),
            errors: stats.errors,
            statuses: stats.statuses.clone(),
            bytes: stats.bytes,
            connections_opened: connections,
            error_examples: stats.error_examples.clone(),
        }
    }
}
