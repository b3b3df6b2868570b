//! VPA's exponential-bucket histogram and its decaying variant (the recommender's memory).
//!
//! Re-implemented from the algorithm in kubernetes/autoscaler
//! `vertical-pod-autoscaler/pkg/recommender/util/{histogram,decaying_histogram,histogram_options}.go`:
//! bucket `b` starts at `first · (ratio^b − 1) / (ratio − 1)`; a percentile walks the buckets
//! up to the requested share of the total weight and returns the *end* of the bucket it stops
//! in (so estimates err up by at most one bucket, 5 % by default); the decaying histogram
//! weights a sample at time `t` by `2^((t − reference) / half_life)`, so newer samples count
//! more, and renormalises when the exponent would pass 100.

/// Bucket boundaries growing geometrically.
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialBuckets {
    first_bucket_size: f64,
    ratio: f64,
    count: usize,
    /// Weights below this count as empty.
    epsilon: f64,
}

impl ExponentialBuckets {
    /// Buckets from 0 up to at least `max_value`, the first `first_bucket_size` wide, each
    /// `ratio` times wider than the previous.
    pub fn new(
        max_value: f64,
        first_bucket_size: f64,
        ratio: f64,
        epsilon: f64,
    ) -> ExponentialBuckets {
        let count = ((max_value * (ratio - 1.0) / first_bucket_size + 1.0).ln() / ratio.ln()).ceil()
            as usize
            + 1;
        ExponentialBuckets { first_bucket_size, ratio, count, epsilon }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn bucket_of(&self, value: f64) -> usize {
        if value.is_nan() || value < self.first_bucket_size {
            return 0;
        }
        let bucket = ((value * (self.ratio - 1.0) / self.first_bucket_size + 1.0).ln()
            / self.ratio.ln()) as usize;
        bucket.min(self.count - 1)
    }

    pub fn bucket_start(&self, bucket: usize) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        self.first_bucket_size * (self.ratio.powi(bucket as i32) - 1.0) / (self.ratio - 1.0)
    }
}

/// A weighted histogram over [`ExponentialBuckets`].
#[derive(Clone, Debug)]
pub struct Histogram {
    buckets: ExponentialBuckets,
    weights: Vec<f64>,
    total_weight: f64,
    min_bucket: usize,
    max_bucket: usize,
}

impl Histogram {
    pub fn new(buckets: ExponentialBuckets) -> Histogram {
        let count = buckets.count();
        Histogram {
            weights: vec![0.0; count],
            total_weight: 0.0,
            min_bucket: count - 1,
            max_bucket: 0,
            buckets,
        }
    }

    pub fn add_sample(&mut self, value: f64, weight: f64) {
        let weight = weight.max(0.0);
        let bucket = self.buckets.bucket_of(value);
        self.weights[bucket] += weight;
        self.total_weight += weight;
        if self.weights[bucket] >= self.buckets.epsilon {
            self.min_bucket = self.min_bucket.min(bucket);
            self.max_bucket = self.max_bucket.max(bucket);
        }
    }

    pub fn subtract_sample(&mut self, value: f64, weight: f64) {
        let bucket = self.buckets.bucket_of(value);
        let weight = weight.max(0.0).min(self.weights[bucket]);
        self.weights[bucket] -= weight;
        self.total_weight -= weight;
        if self.weights[bucket] < self.buckets.epsilon
            && (bucket == self.min_bucket || bucket == self.max_bucket)
        {
            self.update_min_and_max();
        }
    }

    pub fn scale(&mut self, factor: f64) {
        let factor = factor.max(0.0);
        self.weights.iter_mut().for_each(|weight| *weight *= factor);
        self.total_weight *= factor;
        self.update_min_and_max();
    }

    fn update_min_and_max(&mut self) {
        let last = self.buckets.count() - 1;
        while self.min_bucket < last && self.weights[self.min_bucket] < self.buckets.epsilon {
            self.min_bucket += 1;
        }
        while self.max_bucket > 0 && self.weights[self.max_bucket] < self.buckets.epsilon {
            self.max_bucket -= 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.weights[self.min_bucket] < self.buckets.epsilon
    }

    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The end of the bucket in which the cumulative weight first reaches `percentile` of the
    /// total (the start of the last bucket, which has no end); 0 when empty.
    pub fn percentile(&self, percentile: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let threshold = percentile * self.total_weight;
        let mut partial_sum = 0.0;
        let mut bucket = self.min_bucket;
        while bucket < self.max_bucket {
            partial_sum += self.weights[bucket];
            if partial_sum >= threshold {
                break;
            }
            bucket += 1;
        }
        if bucket < self.buckets.count() - 1 {
            self.buckets.bucket_start(bucket + 1)
        } else {
            self.buckets.bucket_start(bucket)
        }
    }
}

/// VPA renormalises before the decay exponent passes this many half-lives.
const MAX_DECAY_EXPONENT: i64 = 100;

/// A histogram whose samples lose half their weight every `half_life_seconds`.
#[derive(Clone, Debug)]
pub struct DecayingHistogram {
    histogram: Histogram,
    half_life_seconds: i64,
    reference_timestamp: Option<i64>,
}

impl DecayingHistogram {
    pub fn new(buckets: ExponentialBuckets, half_life_seconds: i64) -> DecayingHistogram {
        DecayingHistogram {
            histogram: Histogram::new(buckets),
            half_life_seconds: half_life_seconds.max(1),
            reference_timestamp: None,
        }
    }

    pub fn add_sample(&mut self, value: f64, weight: f64, timestamp: i64) {
        let factor = self.decay_factor(timestamp);
        self.histogram.add_sample(value, weight * factor);
    }

    pub fn subtract_sample(&mut self, value: f64, weight: f64, timestamp: i64) {
        let factor = self.decay_factor(timestamp);
        self.histogram.subtract_sample(value, weight * factor);
    }

    pub fn percentile(&self, percentile: f64) -> f64 {
        self.histogram.percentile(percentile)
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The total weight relative to a sample of weight 1 at the reference time.
    pub fn total_weight(&self) -> f64 {
        self.histogram.total_weight()
    }

    fn decay_factor(&mut self, timestamp: i64) -> f64 {
        let limit = self
            .reference_timestamp
            .map(|reference| reference.saturating_add(self.half_life_seconds * MAX_DECAY_EXPONENT));
        if limit.is_none_or(|limit| timestamp > limit) {
            self.shift_reference(timestamp);
        }
        let reference = self.reference_timestamp.unwrap_or(timestamp);
        ((timestamp - reference) as f64 / self.half_life_seconds as f64).exp2()
    }

    /// Moves the reference to `timestamp` rounded to a multiple of the half-life, rescaling
    /// the weights so that every sample keeps its relative weight.
    fn shift_reference(&mut self, timestamp: i64) {
        let half_life = self.half_life_seconds;
        let rounded = (timestamp + half_life / 2).div_euclid(half_life) * half_life;
        if let Some(old) = self.reference_timestamp {
            let exponent = ((old - rounded) as f64 / half_life as f64).round() as i32;
            self.histogram.scale(2f64.powi(exponent));
        }
        self.reference_timestamp = Some(rounded);
    }
}
