//! shadowgate's HTTP load generator.
//!
//! `shadowgate check` judges a candidate against a baseline under the same load, so the load
//! itself must not be what differs. This crate sends one deterministic plan
//! ([`shadowgate_core::traffic::Plan`]) to several targets at once, interleaved: each planned
//! request goes to every target at the same intended instant, and which target goes first
//! alternates, so that noise on the load machine hits both arms alike.
//!
//! The generator follows the *open* model. A request leaves at its intended instant whether or
//! not earlier ones have finished, and its latency is measured from that intended instant. A
//! closed-loop tool (one that waits for a response before sending the next request) slows down
//! when the server stalls, sends fewer requests during the stall, and so reports only a handful
//! of slow requests where real users would have queued by the hundreds: *coordinated omission*.
//! Here, time spent waiting for a free connection, or lost because the generator itself lagged,
//! is part of the latency, as it would be for a user who arrived at that instant.
//!
//! Two modes, kept apart on purpose:
//! - [`run_open_model`]: the plan's rate and schedule, per-request records, HDR histograms per
//!   target split into warm-up and judged parts. This is what verdicts are based on.
//! - [`run_max_rate`]: a closed loop that sends as fast as N connections allow, to find the
//!   highest sustainable rate (and to compare this generator with others, such as wrk). Its
//!   latencies are service times, not user-perceived latencies.
//!
//! Targets are plain HTTP (HTTP/1.1 keep-alive, or HTTP/2 with prior knowledge), reached at a
//! socket address or through a caller-supplied [`Connector`] (a target inside another network
//! namespace is reached through a socket created there).

mod max_rate;
mod open_model;
mod pool;
mod record;
mod request;
mod summary;
mod target;
mod wire;

use std::{io, time::Duration};

use shadowgate_core::traffic::{Phase, Protocol, Traffic};

pub use max_rate::{MaxRateConfig, MaxRateReport, MaxRateSummary, run_max_rate};
pub use open_model::run_open_model;
pub use record::{ErrorKind, RequestRecord};
pub use summary::{ErrorCounts, Percentiles, PhaseStats, Summary, latency_histogram};
pub use target::{ConnectFuture, Connector, Target};

/// How requests are sent (the plan says what and when).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadConfig {
    /// A request that has no complete response this long after its intended send instant
    /// fails with [`ErrorKind::Timeout`].
    pub timeout: Duration,
    /// The most connections open to each target.
    pub max_connections: u32,
    pub protocol: Protocol,
}

impl LoadConfig {
    pub fn from_traffic(traffic: &Traffic) -> LoadConfig {
        LoadConfig {
            timeout: traffic.timeout.0,
            max_connections: traffic.max_connections,
            protocol: traffic.protocol,
        }
    }

    fn check(&self) -> Result<(), LoadError> {
        if self.max_connections == 0 {
            return Err(LoadError::NoConnections);
        }
        if self.timeout.is_zero() {
            return Err(LoadError::ZeroTimeout);
        }
        Ok(())
    }
}

/// Why a run could not start. Failures of single requests are never errors of the run: they
/// are recorded with their [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("no target was given; pass at least one address to send load to")]
    NoTargets,
    #[error("the load generator must run inside a tokio runtime")]
    NoRuntime,
    #[error("`max_connections` is 0; at least one connection per target is needed")]
    NoConnections,
    #[error("the request timeout is zero; use a positive timeout such as 10s")]
    ZeroTimeout,
    #[error(
        "target `{target}`: `{host}` cannot be used as the Host header ({reason}); give a host name or host:port"
    )]
    InvalidHost { target: String, host: String, reason: String },
    #[error("the closed-loop mode needs at least one thread")]
    NoThreads,
    #[error("a load generator thread could not be started or stopped unexpectedly")]
    Thread(#[source] io::Error),
}

/// How far a run has got, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Wall time since the run started.
    pub elapsed: Duration,
    /// Requests the plan is expected to send, over all targets.
    pub planned: u64,
    /// Requests sent or waiting for a connection so far.
    pub issued: u64,
    /// Requests finished (response, error, or abandoned on cancellation).
    pub finished: u64,
    /// Requests that failed.
    pub failed: u64,
}

/// The result of an open-model run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// One per target, in the order the targets were given.
    pub targets: Vec<TargetReport>,
    /// True when the run was cancelled before the plan ended.
    pub cancelled: bool,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl RunReport {
    /// One summary per target for `phase`.
    pub fn summaries(&self, phase: Phase) -> Vec<Summary> {
        self.targets.iter().map(|target| target.summary(phase)).collect()
    }
}

/// What one target went through.
#[derive(Clone, Debug)]
pub struct TargetReport {
    pub name: String,
    /// Every finished request, in plan order.
    pub records: Vec<RequestRecord>,
    pub warmup: PhaseStats,
    /// The judged part.
    pub measured: PhaseStats,
    pub connections_opened: u64,
}

impl TargetReport {
    pub fn phase(&self, phase: Phase) -> &PhaseStats {
        match phase {
            Phase::Warmup => &self.warmup,
            Phase::Measured => &self.measured,
        }
    }

    pub fn summary(&self, phase: Phase) -> Summary {
        Summary::new(&self.name, phase, self.phase(phase), self.connections_opened)
    }
}
