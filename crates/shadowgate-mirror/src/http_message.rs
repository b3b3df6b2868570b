//! Captured HTTP messages: the plain data that the recorder writes, the replayer sends and the
//! diff compares.
//!
//! Bodies are held whole (up to the configured cap) as `Bytes`, so one capture can be shared by
//! the mirror queue, the recorder and the diff without copying.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// A request as it was received, minus hop-by-hop headers.
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedRequest {
    pub method: Method,
    /// The origin-form target: path and query, for example `/cart?id=7`.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// True when the body was longer than the capture cap and `body` holds only its start.
    pub body_truncated: bool,
}

/// A response as it was received, minus hop-by-hop headers.
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// True when the body was longer than the capture cap and `body` holds only its start.
    pub body_truncated: bool,
}

/// What one upstream answered: a response, or the reason there was none.
pub type ResponseOutcome = Result<CapturedResponse, ExchangeFailure>;

/// Why an upstream produced no complete response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeFailure {
    /// The connection could not be established (refused, unreachable).
    Connect,
    /// No complete response arrived within the timeout.
    Timeout,
    /// The connection broke or the peer spoke invalid HTTP.
    Protocol,
}

impl ExchangeFailure {
    pub fn as_str(&self) -> &'static str {
        match self {
            ExchangeFailure::Connect => "connect",
            ExchangeFailure::Timeout => "timeout",
            ExchangeFailure::Protocol => "protocol",
        }
    }
}

impl std::fmt::Display for ExchangeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
