//! The naive rule shadowgate's seed design used: average usage × 1.2.

use super::{Recommendation, Recommender, Resources, UsageSample};

/// Average usage over a trailing window times a fixed margin.
#[derive(Clone, Debug)]
pub struct NaiveRecommender {
    window_seconds: i64,
    margin: f64,
    samples: std::collections::VecDeque<UsageSample>,
    cpu_sum: f64,
    memory_sum: f64,
}

impl NaiveRecommender {
    /// The seed's rule: the average of the last `window_seconds` times `margin` (1.2).
    pub fn new(window_seconds: i64, margin: f64) -> NaiveRecommender {
        NaiveRecommender {
            window_seconds,
            margin,
            samples: std::collections::VecDeque::new(),
            cpu_sum: 0.0,
            memory_sum: 0.0,
        }
    }

    /// The rule's resources for the current window, `None` before the first sample.
    pub fn average_times_margin(&self) -> Option<Resources> {
        if self.samples.is_empty() {
            return None;
        }
        let count = self.samples.len() as f64;
        Some(Resources {
            cpu_cores: self.cpu_sum / count * self.margin,
            memory_bytes: self.memory_sum / count * self.margin,
        })
    }
}

impl Recommender for NaiveRecommender {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn observe(&mut self, sample: &UsageSample) {
        self.samples.push_back(*sample);
        self.cpu_sum += sample.cpu_cores;
        self.memory_sum += sample.memory_bytes;
        while let Some(oldest) = self.samples.front().copied() {
            if sample.timestamp - oldest.timestamp <= self.window_seconds {
                break;
            }
            self.samples.pop_front();
            self.cpu_sum -= oldest.cpu_cores;
            self.memory_sum -= oldest.memory_bytes;
        }
    }

    fn record_oom(&mut self, _timestamp: i64, _memory_limit_bytes: f64) {}

    fn recommend(&self, _now: i64) -> Option<Recommendation> {
        let resources = self.average_times_margin()?;
        Some(Recommendation { target: resources, lower_bound: resources, upper_bound: resources })
    }
}
