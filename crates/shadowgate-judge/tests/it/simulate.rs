//! Seeded generators of realistic measurements for the Monte-Carlo tests.
//!
//! The scenario is `shadowgate check`'s default run: per arm about 3,000 request latencies,
//! 3,000 requests' worth of error counts, and 30 one-second CPU and memory samples.

use shadowgate_judge::MetricInput;

/// SplitMix64 (Steele, Lea and Flood): small, fast, and good enough for simulations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal, by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        radius * (std::f64::consts::TAU * self.uniform()).cos()
    }

    /// Binomial(trials, probability) by counting Bernoulli draws.
    pub fn binomial(&mut self, trials: u64, probability: f64) -> u64 {
        (0..trials).filter(|_| self.uniform() < probability).count() as u64
    }
}

/// Request latencies in seconds: a log-normal body (median 20 ms, σ = 0.5) with a 3 % heavy
/// tail (log-normal, median 150 ms, σ = 0.8), all multiplied by `scale`.
pub fn latencies(rng: &mut Rng, count: usize, scale: f64) -> Vec<f64> {
    (0..count)
        .map(|_| {
            let (median, sigma): (f64, f64) =
                if rng.uniform() < 0.03 { (0.150, 0.8) } else { (0.020, 0.5) };
            scale * (median.ln() + sigma * rng.normal()).exp()
        })
        .collect()
}

/// CPU use in cores: 0.35 cores with AR(1) noise (φ = 0.6, stationary σ = 0.04).
pub fn cpu_series(rng: &mut Rng, count: usize) -> Vec<f64> {
    let phi: f64 = 0.6;
    let sigma = 0.04;
    let innovation = sigma * (1.0 - phi * phi).sqrt();
    let mut deviation = sigma * rng.normal();
    (0..count)
        .map(|_| {
            deviation = phi * deviation + innovation * rng.normal();
            (0.35 + deviation).max(0.0)
        })
        .collect()
}

/// Memory use in bytes: 120 MiB plus a garbage-collection sawtooth of 12 MiB with a period
/// of 7 samples and a random phase, plus 1 MiB of noise.
pub fn memory_series(rng: &mut Rng, count: usize) -> Vec<f64> {
    const MIB: f64 = 1_048_576.0;
    let phase = rng.uniform() * 7.0;
    (0..count)
        .map(|idx| {
            let position = ((idx as f64 + phase) % 7.0) / 7.0;
            120.0 * MIB + 12.0 * MIB * position + MIB * rng.normal()
        })
        .collect()
}

/// One simulated check with the default metrics. `latency_scale` multiplies the candidate's
/// latencies (1.0 for an A/A comparison, 1.1 for a 10 % regression).
pub fn default_check(rng: &mut Rng, latency_scale: f64) -> Vec<MetricInput> {
    const REQUESTS: usize = 3000;
    const SAMPLES: usize = 30;
    // Rare errors: 0.1 % of requests on both arms.
    let error_rate = 0.001;
    let baseline_latencies = latencies(rng, REQUESTS, 1.0);
    let candidate_latencies = latencies(rng, REQUESTS, latency_scale);
    let baseline_errors = rng.binomial(REQUESTS as u64, error_rate);
    let candidate_errors = rng.binomial(REQUESTS as u64, error_rate);
    vec![
        MetricInput::continuous("request_latency", baseline_latencies, candidate_latencies),
        MetricInput::count(
            "error_rate",
            (baseline_errors, REQUESTS as f64),
            (candidate_errors, REQUESTS as f64),
        ),
        MetricInput::continuous("cpu", cpu_series(rng, SAMPLES), cpu_series(rng, SAMPLES)),
        MetricInput::continuous("memory", memory_series(rng, SAMPLES), memory_series(rng, SAMPLES)),
        MetricInput::count("oom_kills", (0, SAMPLES as f64), (0, SAMPLES as f64)),
    ]
}
