//! The optional `diff` section of a report: responses of the baseline, a second baseline and
//! the candidate compared field by field, with the fields that differ beyond noise.

use serde::{Deserialize, Serialize};

/// What the response diff of a check found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseDiff {
    /// The environment that ran the baseline a second time (the secondary).
    pub secondary_environment_id: String,
    /// Requests whose three responses were compared.
    pub requests_compared: u64,
    /// Whether the noise filter (the second baseline) was used.
    pub noise_filtered: bool,
    /// The relative threshold, in percent, a field's raw differences must exceed its noise by.
    pub relative_threshold_pct: f64,
    /// The absolute threshold, in percent of the requests.
    pub absolute_threshold_pct: f64,
    /// Whether a difference beyond noise fails the check (`[diff] fail_on_difference`).
    pub fail_on_difference: bool,
    /// False when a field differs beyond noise and `fail_on_difference` is set.
    pub passed: bool,
    /// Per endpoint, only those with at least one differing or noisy field.
    pub endpoints: Vec<DiffEndpoint>,
}

impl ResponseDiff {
    /// The number of (endpoint, field) pairs that differ beyond noise.
    pub fn differing_field_count(&self) -> usize {
        self.endpoints.iter().map(|e| e.differing_fields.len()).sum()
    }
}

/// One endpoint (a method and a path template such as `GET /items/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffEndpoint {
    pub endpoint: String,
    /// Requests to it that were compared.
    pub requests: u64,
    /// Fields that differ beyond noise: what the candidate changed.
    pub differing_fields: Vec<DiffField>,
    /// Fields that differ but no more than between the two baselines (ids, timestamps).
    pub noise_fields: Vec<String>,
}

/// One field of a response (`status`, `headers.NAME`, `body.PATH`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffField {
    pub field: String,
    /// Requests where it differed between baseline and candidate.
    pub raw_differences: u64,
    /// Requests where it differed between the two baselines.
    pub noise_differences: u64,
    /// Example request/response pairs.
    pub examples: Vec<DiffExample>,
}

/// One request and what the baseline and the candidate answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffExample {
    /// The field's value in the baseline's response (`null`: absent).
    pub baseline_value: Option<String>,
    /// The field's value in the candidate's response (`null`: absent).
    pub candidate_value: Option<String>,
    pub request: DiffRequest,
    pub baseline: DiffResponse,
    pub candidate: DiffResponse,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffRequest {
    pub method: String,
    /// The path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The body, as text (cut when long).
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffResponse {
    /// `null` when no response arrived.
    pub status: Option<u16>,
    /// Why no response arrived (`connect`, `timeout`, `protocol`).
    pub failure: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body, as text (cut when long).
    pub body: String,
}
