//! Resource recommendation: how much CPU and memory to give a release, judged by replay.
//!
//! A shadow environment must get the resources the release will get in production, and a
//! recommendation must be judged by what it would have caused: OOM kills (memory usage above
//! the limit), CPU throttling (usage above the CPU limit) and slack (capacity paid for and not
//! used). The module holds three recommenders behind one trait and the evaluator that replays
//! a usage trace through any of them:
//!
//! - [`vpa::VpaRecommender`]: the Kubernetes VPA recommender, faithfully, as the reference.
//! - [`naive::NaiveRecommender`]: average × 1.2, the rule shadowgate started from.
//! - [`forecast_aware::ForecastAwareRecommender`]: ours. It forecasts the peak load of the next
//!   interval from the same phase of past seasonal cycles, turns load into usage through the
//!   usage-per-load relation learned from the history, sizes its margin from how its own past
//!   forecasts would have fared, and never goes below the naive rule.
//! - [`replay::replay`]: recomputes a recommender's limits as time advances, as the VPA
//!   recommender loop does, and counts what each limit would have caused.

pub mod forecast_aware;
pub mod histogram;
pub mod naive;
pub mod replay;
pub mod vpa;

/// CPU in cores and memory in bytes.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Resources {
    pub cpu_cores: f64,
    pub memory_bytes: f64,
}

/// A recommendation in VPA's shape. The replay uses `target` as both request and limit
/// (Goldilocks' "Guaranteed" reading of a VPA recommendation).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Recommendation {
    pub target: Resources,
    pub lower_bound: Resources,
    pub upper_bound: Resources,
}

/// One usage observation of a container.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageSample {
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    pub cpu_cores: f64,
    pub memory_bytes: f64,
    /// The load that drove this usage (requests per second, users), when it is known.
    pub load: Option<f64>,
}

/// Anything that turns observed usage into a recommendation.
pub trait Recommender {
    fn name(&self) -> &'static str;
    /// Learns from one sample (samples arrive in time order).
    fn observe(&mut self, sample: &UsageSample);
    /// Learns that the container was OOM-killed at `timestamp` under this memory limit.
    fn record_oom(&mut self, timestamp: i64, memory_limit_bytes: f64);
    /// The recommendation at `now`, or `None` before there is anything to go on.
    fn recommend(&self, now: i64) -> Option<Recommendation>;
}
