//! Reference detectors for honest comparisons: NAB's null and random detectors, and a windowed
//! Gaussian (NAB's "simple statistics" floor).

use shadowgate_core::rng::Rng;

use super::StreamingDetector;
use crate::stats;

/// Never fires (NAB's null detector: the 0 of the normalised score).
#[derive(Clone, Debug, Default)]
pub struct NullDetector;

impl StreamingDetector for NullDetector {
    fn observe(&mut self, _timestamp: i64, _value: f64) -> f64 {
        0.0
    }
}

/// Uniform random scores from a seed (NAB's random detector).
#[derive(Clone, Debug)]
pub struct RandomDetector {
    rng: Rng,
}

impl RandomDetector {
    pub fn new(seed: u64) -> RandomDetector {
        RandomDetector { rng: Rng::seed(seed) }
    }
}

impl StreamingDetector for RandomDetector {
    fn observe(&mut self, _timestamp: i64, _value: f64) -> f64 {
        self.rng.next_f64()
    }
}

/// The Gaussian tail probability of each row against the mean and standard deviation of (up
/// to) the previous `window` rows; the score is `1 − p`. This is our rendering of NAB's
/// windowed Gaussian baseline (window 6400), which also scores from the second row on.
#[derive(Clone, Debug)]
pub struct WindowedGaussianDetector {
    window: usize,
    recent: std::collections::VecDeque<f64>,
    sum: f64,
    sum_of_squares: f64,
}

impl WindowedGaussianDetector {
    pub fn new(window: usize) -> WindowedGaussianDetector {
        WindowedGaussianDetector {
            window: window.max(2),
            recent: std::collections::VecDeque::new(),
            sum: 0.0,
            sum_of_squares: 0.0,
        }
    }
}

impl StreamingDetector for WindowedGaussianDetector {
    fn observe(&mut self, _timestamp: i64, value: f64) -> f64 {
        let count = self.recent.len() as f64;
        let score = if self.recent.len() >= 2 {
            let mean = self.sum / count;
            let variance = (self.sum_of_squares / count - mean * mean).max(0.0);
            let sigma = variance.sqrt().max(1e-9 * (mean.abs() + 1.0));
            1.0 - 2.0 * stats::normal_upper_tail((value - mean).abs() / sigma)
        } else {
            0.0
        };
        self.recent.push_back(value);
        self.sum += value;
        self.sum_of_squares += value * value;
        if self.recent.len() > self.window
            && let Some(oldest) = self.recent.pop_front()
        {
            self.sum -= oldest;
            self.sum_of_squares -= oldest * oldest;
        }
        score
    }
}
