//! What the caller hands the judge: per configured metric, the data of both arms.

use crate::rate_test::CountSample;

/// The measurements of one metric, matched to `[[judge.metrics]]` by `name`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricInput {
    pub name: String,
    /// The data, or why collecting it failed (for example "Prometheus answered 503"). A
    /// failure is reported and counted against the candidate, never dropped.
    pub data: Result<MetricData, String>,
}

/// The measurements of both arms, of the kind the metric's source declares.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// Values of a continuous metric, in any order; NaN and infinite values are counted and
    /// left out.
    Continuous { baseline: Vec<f64>, candidate: Vec<f64> },
    /// Event counts and the exposure (requests or seconds) they were counted over. An
    /// exposure of zero on either arm means no data.
    Count { baseline: CountSample, candidate: CountSample },
}

impl MetricInput {
    /// Continuous data for metric `name`.
    pub fn continuous(name: &str, baseline: Vec<f64>, candidate: Vec<f64>) -> MetricInput {
        MetricInput {
            name: name.to_string(),
            data: Ok(MetricData::Continuous { baseline, candidate }),
        }
    }

    /// Count data for metric `name`: events and exposure of each arm.
    pub fn count(name: &str, baseline: (u64, f64), candidate: (u64, f64)) -> MetricInput {
        let sample = |(events, exposure)| CountSample { events, exposure };
        MetricInput {
            name: name.to_string(),
            data: Ok(MetricData::Count {
                baseline: sample(baseline),
                candidate: sample(candidate),
            }),
        }
    }

    /// A metric whose collection failed with `message`.
    pub fn failed(name: &str, message: &str) -> MetricInput {
        MetricInput { name: name.to_string(), data: Err(message.to_string()) }
    }
}
