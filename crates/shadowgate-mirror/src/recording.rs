//! The recording format: versioned JSON lines, one header record and then one record per exchange.
//!
//! JSON lines keep a recording appendable while the proxy runs, readable with `jq` and `grep`,
//! and streamable when it is replayed. The first line names the format and its version, so a
//! reader can refuse a newer format with a clear message instead of misreading it. Bodies and
//! header values are written as JSON strings when they are UTF-8 and as `{"base64": "..."}`
//! otherwise. `RECORDING.md` beside this crate's manifest documents every field.
//!
//! This module only converts between records and text; reading and writing files is the
//! recorder's and the replayer's job.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::http_message::{CapturedRequest, CapturedResponse, ExchangeFailure};

/// The value of the header record's `format` field.
pub const FORMAT_NAME: &str = "shadowgate-recording";
/// The version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first record of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// Wall-clock time of the recording's start, in milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// What produced the recording, for example `shadowgate mirror` and the primary's address.
    pub source: String,
    /// Which redaction rules were applied before anything was written.
    pub redaction: RedactionSummary,
}

/// The redaction rules in force while recording, so a reader knows what was removed or hashed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionSummary {
    pub dropped_headers: Vec<String>,
    pub hashed_fields: Vec<String>,
    pub removed_fields: Vec<String>,
}

/// One request with the primary's answer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedExchange {
    /// The exchange's arrival number at the recorder, starting at 0.
    pub sequence: u64,
    /// When the request arrived, relative to the recording's start.
    pub offset: Duration,
    pub request: CapturedRequest,
    /// The primary's response, or why there was none.
    pub response: Result<CapturedResponse, ExchangeFailure>,
    /// Time from the request's arrival to the primary's response headers.
    pub latency: Duration,
}

/// A whole recording held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub header: RecordingHeader,
    pub exchanges: Vec<RecordedExchange>,
}

/// A recording line that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    #[error("line {line}: {problem}")]
    Invalid { line: usize, problem: String },
    #[error(
        "line 1: this recording has format version {found}, newer than the version {FORMAT_VERSION} this shadowgate reads; upgrade shadowgate"
    )]
    NewerVersion { found: u64 },
    #[error("the recording is empty; it must start with a header record (see RECORDING.md)")]
    Empty,
}

#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum WireLine {
    Header(WireHeader),
    Exchange(WireExchange),
}

#[derive(Serialize, Deserialize)]
struct WireHeader {
    format: String,
    version: u32,
    #[serde(flatten)]
    header: RecordingHeader,
}

#[derive(Serialize, Deserialize)]
struct WireExchange {
    seq: u64,
    offset_us: u64,
    request: WireRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<WireResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<ExchangeFailure>,
    latency_us: u64,
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    method: String,
    target: String,
    headers: Vec<(String, WireBytes)>,
    #[serde(default)]
    body: WireBytes,
    #[serde(default, skip_serializing_if = "is_false")]
    body_truncated: bool,
}

#[derive(Serialize, Deserialize)]
struct WireResponse {
    status: u16,
    headers: Vec<(String, WireBytes)>,
    #[serde(default)]
    body: WireBytes,
    #[serde(default, skip_serializing_if = "is_false")]
    body_truncated: bool,
}

/// Bytes as a JSON string when they are UTF-8, else as base64.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireBytes {
    Text(String),
    Base64 { base64: String },
}

impl Default for WireBytes {
    fn default() -> Self {
        WireBytes::Text(String::new())
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

impl WireBytes {
    fn encode(bytes: &[u8]) -> WireBytes {
        match std::str::from_utf8(bytes) {
            Ok(text) => WireBytes::Text(text.to_owned()),
            Err(_) => WireBytes::Base64 {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    fn decode(self) -> Result<Bytes, String> {
        match self {
            WireBytes::Text(text) => Ok(Bytes::from(text)),
            WireBytes::Base64 { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64.as_bytes())
                .map(Bytes::from)
                .map_err(|error| format!("invalid base64 ({error})")),
        }
    }
}

fn encode_headers(headers: &HeaderMap) -> Vec<(String, WireBytes)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), WireBytes::encode(value.as_bytes())))
        .collect()
}

fn decode_headers(wire: Vec<(String, WireBytes)>, field: &str) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::with_capacity(wire.len());
    for (idx, (name, value)) in wire.into_iter().enumerate() {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{field}[{idx}]: `{name}` is not a valid header name"))?;
        let bytes = value.decode().map_err(|problem| format!("{field}[{idx}] value: {problem}"))?;
        let header_value = HeaderValue::from_maybe_shared(bytes).map_err(|_| {
            format!("{field}[{idx}]: the value of `{name}` holds bytes not allowed in a header")
        })?;
        headers.append(header_name, header_value);
    }
    Ok(headers)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Renders the header record as one line (without the newline).
pub fn encode_header(header: &RecordingHeader) -> String {
    let wire = WireLine::Header(WireHeader {
        format: FORMAT_NAME.to_owned(),
        version: FORMAT_VERSION,
        header: header.clone(),
    });
    serde_json::to_string(&wire).unwrap_or_default()
}

/// Renders one exchange record as one line (without the newline).
pub fn encode_exchange(exchange: &RecordedExchange) -> String {
    let request = &exchange.request;
    let (response, failure) = match &exchange.response {
        Ok(response) => (
            Some(WireResponse {
                status: response.status.as_u16(),
                headers: encode_headers(&response.headers),
                body: WireBytes::encode(&response.body),
                body_truncated: response.body_truncated,
            }),
            None,
        ),
        Err(failure) => (None, Some(failure.clone())),
    };
    let wire = WireLine::Exchange(WireExchange {
        seq: exchange.sequence,
        offset_us: micros(exchange.offset),
        request: WireRequest {
            method: request.method.as_str().to_owned(),
            target: request.path_and_query.clone(),
            headers: encode_headers(&request.headers),
            body: WireBytes::encode(&request.body),
            body_truncated: request.body_truncated,
        },
        response,
        failure,
        latency_us: micros(exchange.latency),
    });
    // Serializing these plain structs cannot fail: every map key is a string.
    serde_json::to_string(&wire).unwrap_or_default()
}

/// Reads a recording line by line, so that a large file never has to be held as text.
#[derive(Debug, Default)]
pub struct RecordingDecoder {
    n_lines: usize,
    header: Option<RecordingHeader>,
}

impl RecordingDecoder {
    pub fn new() -> RecordingDecoder {
        RecordingDecoder::default()
    }

    /// The header, once the first line has been read.
    pub fn header(&self) -> Option<&RecordingHeader> {
        self.header.as_ref()
    }

    /// Reads the next line. Returns the exchange it holds, or `None` for the header and for blank
    /// lines.
    pub fn push_line(&mut self, line: &str) -> Result<Option<RecordedExchange>, RecordingError> {
        self.n_lines += 1;
        let line_no = self.n_lines;
        let invalid = |problem: String| RecordingError::Invalid { line: line_no, problem };
        if line.trim().is_empty() {
            return Ok(None);
        }
        if self.header.is_none() {
            self.header = Some(decode_header_line(line).map_err(|error| match error {
                RecordingError::Invalid { problem, .. } => invalid(problem),
                other => other,
            })?);
            return Ok(None);
        }
        // The record kind is read first, so that field errors can name their full path (serde
        // loses the path inside internally tagged enums).
        let loose: serde_json::Value = serde_json::from_str(line)
            .map_err(|error| invalid(format!("not a valid record: {error}")))?;
        match loose.get("record").and_then(|kind| kind.as_str()) {
            Some("exchange") => {
                let wire: WireExchange =
                    serde_path_to_error::deserialize(loose).map_err(|error| {
                        invalid(format!("field `{}`: {}", error.path(), error.inner()))
                    })?;
                decode_exchange(wire).map(Some).map_err(invalid)
            }
            Some("header") => {
                Err(invalid("a second header record; concatenated recordings must be split".into()))
            }
            _ => Err(invalid("not a valid record: `record` must be \"exchange\"".into())),
        }
    }
}

fn decode_header_line(line: &str) -> Result<RecordingHeader, RecordingError> {
    let invalid = |problem: String| RecordingError::Invalid { line: 1, problem };
    let loose: serde_json::Value = serde_json::from_str(line)
        .map_err(|error| invalid(format!("the header record is not JSON: {error}")))?;
    if loose.get("format").and_then(|format| format.as_str()) != Some(FORMAT_NAME) {
        return Err(invalid(format!(
            "the first record must be a header with `\"format\": \"{FORMAT_NAME}\"`; is this a shadowgate recording?"
        )));
    }
    match loose.get("version").and_then(|version| version.as_u64()) {
        Some(found) if found > FORMAT_VERSION as u64 => {
            return Err(RecordingError::NewerVersion { found });
        }
        Some(_) => {}
        None => return Err(invalid("the header record has no numeric `version`".into())),
    }
    if loose.get("record").and_then(|kind| kind.as_str()) != Some("header") {
        return Err(invalid(
            "the first record must be the header (`\"record\": \"header\"`)".into(),
        ));
    }
    let wire: WireHeader = serde_path_to_error::deserialize(loose)
        .map_err(|error| invalid(format!("header field `{}`: {}", error.path(), error.inner())))?;
    Ok(wire.header)
}

fn decode_exchange(wire: WireExchange) -> Result<RecordedExchange, String> {
    let method = Method::from_bytes(wire.request.method.as_bytes()).map_err(|_| {
        format!("field `request.method`: `{}` is not an HTTP method", wire.request.method)
    })?;
    let target = wire.request.target;
    if !(target.starts_with('/') || target == "*") {
        return Err(format!(
            "field `request.target`: `{target}` must be an origin-form target starting with `/`"
        ));
    }
    let request = CapturedRequest {
        method,
        path_and_query: target,
        headers: decode_headers(wire.request.headers, "request.headers")?,
        body: wire
            .request
            .body
            .decode()
            .map_err(|problem| format!("field `request.body`: {problem}"))?,
        body_truncated: wire.request.body_truncated,
    };
    let response = match (wire.response, wire.failure) {
        (Some(response), None) => Ok(CapturedResponse {
            status: StatusCode::from_u16(response.status).map_err(|_| {
                format!("field `response.status`: {} is not an HTTP status", response.status)
            })?,
            headers: decode_headers(response.headers, "response.headers")?,
            body: response
                .body
                .decode()
                .map_err(|problem| format!("field `response.body`: {problem}"))?,
            body_truncated: response.body_truncated,
        }),
        (None, Some(failure)) => Err(failure),
        _ => return Err("an exchange needs exactly one of `response` and `failure`".into()),
    };
    Ok(RecordedExchange {
        sequence: wire.seq,
        offset: Duration::from_micros(wire.offset_us),
        request,
        response,
        latency: Duration::from_micros(wire.latency_us),
    })
}

/// Reads a whole recording from text.
pub fn decode_recording(text: &str) -> Result<Recording, RecordingError> {
    let mut decoder = RecordingDecoder::new();
    let mut exchanges = Vec::new();
    for line in text.lines() {
        if let Some(exchange) = decoder.push_line(line)? {
            exchanges.push(exchange);
        }
    }
    let header = decoder.header.ok_or(RecordingError::Empty)?;
    Ok(Recording { header, exchanges })
}

#[cfg(test)]
mod tests;
