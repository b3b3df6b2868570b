//! Counting raw and noise differences per endpoint and field, and judging them (Diffy's
//! `DifferenceAnalyzer` and `JoinedDifferences`).

use std::collections::{BTreeMap, BTreeSet};

use http::HeaderMap;

use super::{
    DiffConfig,
    compare::{FieldDifference, compare},
    lift::{excerpt, lift},
    report::{DiffExample, DiffReport, EndpointDiff, ExampleRequest, ExampleResponse, FieldDiff},
};
use crate::http_message::{CapturedRequest, ResponseOutcome};

/// How much of a body an example keeps.
const EXAMPLE_BODY_CHARS: usize = 2048;

/// Accumulates exchanges and produces a [`DiffReport`]. Pure: feed it captured responses.
#[derive(Debug)]
pub struct DiffCollector {
    config: DiffConfig,
    n_requests: u64,
    noise_filtered: bool,
    endpoints: BTreeMap<String, EndpointTally>,
}

#[derive(Debug, Default)]
struct EndpointTally {
    n_requests: u64,
    n_requests_with_raw_differences: u64,
    raw: BTreeMap<String, u64>,
    noise: BTreeMap<String, u64>,
    examples: BTreeMap<String, Vec<DiffExample>>,
}

impl DiffCollector {
    pub fn new(config: DiffConfig) -> DiffCollector {
        DiffCollector { config, n_requests: 0, noise_filtered: true, endpoints: BTreeMap::new() }
    }

    /// Feeds one request with its three answers.
    pub fn observe(
        &mut self,
        request: &CapturedRequest,
        primary: &ResponseOutcome,
        secondary: &ResponseOutcome,
        candidate: &ResponseOutcome,
    ) {
        let lifted_primary = lift(primary, &self.config);
        let raw = compare(&lifted_primary, &lift(candidate, &self.config), &self.config);
        let noise = compare(&lifted_primary, &lift(secondary, &self.config), &self.config);
        self.count(request, primary, candidate, raw, &noise);
    }

    /// Feeds one request answered only by primary and candidate. Without a secondary there is no
    /// noise estimate, so the report lists every field that differs more often than the
    /// absolute threshold; prefer [`DiffCollector::observe`].
    pub fn observe_without_secondary(
        &mut self,
        request: &CapturedRequest,
        primary: &ResponseOutcome,
        candidate: &ResponseOutcome,
    ) {
        self.noise_filtered = false;
        let raw =
            compare(&lift(primary, &self.config), &lift(candidate, &self.config), &self.config);
        self.count(request, primary, candidate, raw, &[]);
    }

    fn count(
        &mut self,
        request: &CapturedRequest,
        primary: &ResponseOutcome,
        candidate: &ResponseOutcome,
        raw: Vec<FieldDifference>,
        noise: &[FieldDifference],
    ) {
        self.n_requests += 1;
        let endpoint = endpoint_name(request, &self.config);
        let max_examples = self.config.max_examples_per_field;
        let tally = self.endpoints.entry(endpoint).or_default();
        tally.n_requests += 1;
        if !raw.is_empty() {
            tally.n_requests_with_raw_differences += 1;
        }
        for difference in noise {
            *tally.noise.entry(difference.field.clone()).or_default() += 1;
        }
        for difference in raw {
            *tally.raw.entry(difference.field.clone()).or_default() += 1;
            let examples = tally.examples.entry(difference.field).or_default();
            if examples.len() < max_examples {
                examples.push(DiffExample {
                    kind: difference.kind,
                    primary_value: difference.left,
                    candidate_value: difference.right,
                    request: example_request(request),
                    primary: example_response(primary),
                    candidate: example_response(candidate),
                });
            }
        }
    }

    /// The report so far. Fields are judged as Diffy does: a field is reported when
    /// `raw > noise`, `|raw - noise| / (raw + noise)` exceeds the relative threshold and
    /// `|raw - noise| / requests` exceeds the absolute threshold.
    pub fn report(&self) -> DiffReport {
        let mut endpoints: Vec<EndpointDiff> = self
            .endpoints
            .iter()
            .map(|(endpoint, tally)| {
                let mut differing_fields = Vec::new();
                let mut noise_fields = Vec::new();
                let fields: BTreeSet<&String> =
                    tally.raw.keys().chain(tally.noise.keys()).collect();
                for field in fields {
                    let raw = tally.raw.get(field).copied().unwrap_or(0);
                    let noise = tally.noise.get(field).copied().unwrap_or(0);
                    let gap = raw.abs_diff(noise) as f64;
                    let relative =
                        if raw + noise == 0 { 0.0 } else { 100.0 * gap / (raw + noise) as f64 };
                    let absolute = 100.0 * gap / tally.n_requests.max(1) as f64;
                    let entry = FieldDiff {
                        field: field.clone(),
                        raw_differences: raw,
                        noise_differences: noise,
                        relative_difference_pct: relative,
                        absolute_difference_pct: absolute,
                        examples: tally.examples.get(field).cloned().unwrap_or_default(),
                    };
                    let is_real = raw > noise
                        && relative > self.config.relative_threshold_pct
                        && absolute > self.config.absolute_threshold_pct;
                    if is_real {
                        differing_fields.push(entry);
                    } else if raw > 0 {
                        noise_fields.push(entry);
                    }
                }
                EndpointDiff {
                    endpoint: endpoint.clone(),
                    requests: tally.n_requests,
                    requests_with_raw_differences: tally.n_requests_with_raw_differences,
                    differing_fields,
                    noise_fields,
                }
            })
            .collect();
        endpoints.sort_by_key(|endpoint| endpoint.differing_fields.is_empty());
        DiffReport {
            requests_compared: self.n_requests,
            noise_filtered: self.noise_filtered,
            relative_threshold_pct: self.config.relative_threshold_pct,
            absolute_threshold_pct: self.config.absolute_threshold_pct,
            endpoints,
        }
    }
}

/// The endpoint a request belongs to: the configured header's value, or the method and the path
/// with id-like segments (numbers, UUIDs, long hex strings) replaced by `{id}`.
pub fn endpoint_name(request: &CapturedRequest, config: &DiffConfig) -> String {
    if let Some(value) = config.endpoint_header.as_ref().and_then(|name| request.headers.get(name))
    {
        return String::from_utf8_lossy(value.as_bytes()).into_owned();
    }
    let path = request.path_and_query.split('?').next().unwrap_or("/");
    let template: Vec<&str> = path
        .split('/')
        .map(|segment| if looks_like_id(segment) { "{id}" } else { segment })
        .collect();
    format!("{} {}", request.method, template.join("/"))
}

fn looks_like_id(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let all_digits = segment.bytes().all(|byte| byte.is_ascii_digit());
    let hex_or_dash = segment.bytes().all(|byte| byte.is_ascii_hexdigit() || byte == b'-');
    let n_hex = segment.bytes().filter(|byte| byte.is_ascii_hexdigit()).count();
    let has_digit = segment.bytes().any(|byte| byte.is_ascii_digit());
    all_digits || (hex_or_dash && n_hex >= 16 && has_digit)
}

fn text_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect()
}

fn example_request(request: &CapturedRequest) -> ExampleRequest {
    ExampleRequest {
        method: request.method.to_string(),
        target: request.path_and_query.clone(),
        headers: text_headers(&request.headers),
        body: excerpt(&String::from_utf8_lossy(&request.body), EXAMPLE_BODY_CHARS),
    }
}

fn example_response(outcome: &ResponseOutcome) -> ExampleResponse {
    match outcome {
        Ok(response) => ExampleResponse {
            status: Some(response.status.as_u16()),
            failure: None,
            headers: text_headers(&response.headers),
            body: excerpt(&String::from_utf8_lossy(&response.body), EXAMPLE_BODY_CHARS),
        },
        Err(failure) => ExampleResponse {
            status: None,
            failure: Some(failure.to_string()),
            headers: Vec::new(),
            body: String::new(),
        },
    }
}
