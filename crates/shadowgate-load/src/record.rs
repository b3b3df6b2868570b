//! What happened to each request: the per-request record and the kinds of failure.

use std::{error::Error as StdError, fmt, io, time::Duration};

use serde::{Deserialize, Serialize};
use shadowgate_core::traffic::Phase;

/// One request sent to one target.
///
/// All instants are offsets from the start of the run, and the latency runs from the
/// *intended* send instant: time spent waiting for a free connection, or lost because the
/// generator itself fell behind, is part of it. That is what a user arriving at that instant
/// would have experienced, and it keeps a stalled server from hiding its own queue
/// (coordinated omission).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The index of the target in the list given to the run.
    pub target: usize,
    /// The request's place in the plan; the same request has the same sequence on every target.
    pub sequence: u64,
    /// The index of the `[[traffic.requests]]` entry it was drawn from.
    pub kind: usize,
    pub phase: Phase,
    /// When the plan meant to send it.
    #[serde(with = "micros")]
    pub intended: Duration,
    /// When it was handed to a connection; `None` if it never was (connect failure, timeout
    /// while waiting for a connection).
    #[serde(with = "optional_micros")]
    pub sent: Option<Duration>,
    /// From the intended send instant to the end of the response body, or to the failure.
    #[serde(with = "micros")]
    pub latency: Duration,
    /// The response status, when a response head arrived.
    pub status: Option<u16>,
    /// Response body bytes received.
    pub bytes: u64,
    pub error: Option<ErrorKind>,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection could be opened: refused, unreachable, failed handshake, or still
    /// connecting when the timeout expired.
    Connect,
    /// No complete response within the timeout, counted from the intended send instant,
    /// including time spent waiting for a free connection.
    Timeout,
    /// The peer reset or closed the connection before the response was complete.
    Reset,
    /// Anything else: a malformed response, a protocol error, a request that could not be built.
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 4] =
        [ErrorKind::Connect, ErrorKind::Timeout, ErrorKind::Reset, ErrorKind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Other => "other",
        }
    }

    /// Classifies an error from an exchange on an open connection.
    pub(crate) fn of_exchange(err: &hyper::Error) -> ErrorKind {
        let by_flags = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
            ErrorKind::Reset
        } else {
            ErrorKind::Other
        };
        match io_source(err) {
            Some(io_err) => ErrorKind::of_io(io_err, by_flags),
            None => by_flags,
        }
    }

    /// Classifies an I/O error, with `otherwise` for kinds that say nothing specific.
    pub(crate) fn of_io(err: &io::Error, otherwise: ErrorKind) -> ErrorKind {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => ErrorKind::Connect,
            _ => otherwise,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The innermost I/O error in an error's chain of sources.
fn io_source<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut found = None;
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io_err) = e.downcast_ref::<io::Error>() {
            found = Some(io_err);
        }
        current = e.source();
    }
    found
}

/// A failed request: its kind and the message, kept as an example for reports.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Failure {
        Failure { kind, message: message.to_string() }
    }

    pub fn exchange(err: &hyper::Error) -> Failure {
        Failure::new(ErrorKind::of_exchange(err), chain(err))
    }

    pub fn connect(err: &(dyn StdError + 'static)) -> Failure {
        let kind = match io_source(err) {
            Some(io_err) => match ErrorKind::of_io(io_err, ErrorKind::Connect) {
                ErrorKind::Timeout => ErrorKind::Timeout,
                _ => ErrorKind::Connect,
            },
            None => ErrorKind::Connect,
        };
        Failure::new(kind, chain(err))
    }
}

/// An error and its sources as one line.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// Durations as whole microseconds in serialized records.
mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_micros()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

mod optional_micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::micros::serialize(value, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|v| v.map(Duration::from_micros))
    }
}
