//! The diff report: differing endpoints and fields, with example exchanges.

use serde::{Deserialize, Serialize};

/// How a field differs between two responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// Both have the field, with different values of the same type.
    Changed,
    /// Both have the field, with values of different types (for example a number and a string).
    TypeChanged,
    /// The primary has the field and the other response does not.
    Missing,
    /// The other response has a field that the primary lacks.
    Extra,
    /// One side produced no response (connect error, timeout, broken connection).
    Failure,
}

/// The result of a diff run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffReport {
    /// Requests answered by all compared versions and fed to the diff.
    pub requests_compared: u64,
    /// Whether a secondary was available; without one, every difference counts as real.
    pub noise_filtered: bool,
    pub relative_threshold_pct: f64,
    pub absolute_threshold_pct: f64,
    /// Every endpoint seen, those with differing fields first.
    pub endpoints: Vec<EndpointDiff>,
}

impl DiffReport {
    /// Whether any field differs beyond the noise.
    pub fn has_differences(&self) -> bool {
        self.endpoints.iter().any(|endpoint| !endpoint.differing_fields.is_empty())
    }

    /// All reported fields as `(endpoint, field)` pairs.
    pub fn differing_fields(&self) -> impl Iterator<Item = (&str, &FieldDiff)> {
        self.endpoints.iter().flat_map(|endpoint| {
            endpoint.differing_fields.iter().map(move |field| (endpoint.endpoint.as_str(), field))
        })
    }
}

/// The fields of one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointDiff {
    /// The method and the path template, for example `GET /orders/{id}`.
    pub endpoint: String,
    pub requests: u64,
    /// Requests whose candidate response differed from the primary in any field (noise included).
    pub requests_with_raw_differences: u64,
    /// Fields that differ beyond the noise: likely real changes.
    pub differing_fields: Vec<FieldDiff>,
    /// Fields that differ, but no more between primary and candidate than between the two
    /// copies of the old version.
    pub noise_fields: Vec<FieldDiff>,
}

/// The counts and examples of one field of one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The lifted field path, for example `body.items[0].price` or `headers.content-type`.
    pub field: String,
    /// Requests where primary and candidate differed in this field.
    pub raw_differences: u64,
    /// Requests where primary and secondary differed in this field.
    pub noise_differences: u64,
    /// `|raw - noise| / (raw + noise)`, in percent.
    pub relative_difference_pct: f64,
    /// `|raw - noise| / requests`, in percent.
    pub absolute_difference_pct: f64,
    pub examples: Vec<DiffExample>,
}

/// One exchange in which the field differed between primary and candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffExample {
    pub kind: DifferenceKind,
    pub primary_value: Option<String>,
    pub candidate_value: Option<String>,
    pub request: ExampleRequest,
    pub primary: ExampleResponse,
    pub candidate: ExampleResponse,
}

/// A request, shortened for a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), cut at 2 KiB.
    pub body: String,
}

/// A response, shortened for a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleResponse {
    /// The status code, or `None` when there was no response.
    pub status: Option<u16>,
    /// Why there was no response, when there was none.
    pub failure: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), cut at 2 KiB.
    pub body: String,
}
