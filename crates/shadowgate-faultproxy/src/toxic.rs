//! Toxics: the faults a proxy applies to one direction of its connections, and their validation.
//!
//! The types and units follow Toxiproxy so that a toxic written for Toxiproxy means the same
//! thing here: times are in milliseconds (the slicer's delay in microseconds), bandwidth is in
//! KB/s with 1 KB = 1000 bytes, and `toxicity` is the probability that a connection is affected.

use std::fmt;

/// The longest time any toxic may wait: one day. Longer values are almost always a unit mistake.
const MAX_MILLISECONDS: u64 = 86_400_000;

/// Which way through the proxy a toxic acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    /// From the client to the upstream server (requests).
    Upstream,
    /// From the upstream server back to the client (responses). Toxiproxy's default.
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    pub fn parse(text: &str) -> Option<Stream> {
        match text {
            "upstream" => Some(Stream::Upstream),
            "downstream" => Some(Stream::Downstream),
            _ => None,
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a toxic does, with its attributes in Toxiproxy's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToxicKind {
    /// Delays every chunk by `latency_ms`, plus or minus up to `jitter_ms`.
    Latency { latency_ms: u64, jitter_ms: u64 },
    /// Limits throughput to `rate_kb_per_s` KB/s (1 KB = 1000 bytes); 0 means unlimited.
    Bandwidth { rate_kb_per_s: u64 },
    /// Delays the end of the stream (the close) by `delay_ms`.
    SlowClose { delay_ms: u64 },
    /// Drops all data and closes the connection after `timeout_ms`; 0 holds it open until the
    /// toxic is removed, which then closes it.
    Timeout { timeout_ms: u64 },
    /// Resets the connection (TCP RST) `timeout_ms` after data first arrives, dropping the data.
    ResetPeer { timeout_ms: u64 },
    /// Splits chunks into pieces of about `average_size` bytes (plus or minus `size_variation`),
    /// sent `delay_us` microseconds apart.
    Slicer { average_size: u64, size_variation: u64, delay_us: u64 },
    /// Lets `bytes` bytes through, then closes the connection.
    LimitData { bytes: u64 },
}

/// The toxic types this proxy implements, by their API names.
pub const TOXIC_TYPES: [&str; 7] =
    ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"];

/// A problem with one attribute of a toxic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("attributes.{attribute}: {message}")]
pub struct AttributeError {
    pub attribute: String,
    pub message: String,
}

impl AttributeError {
    fn new(attribute: &str, message: impl Into<String>) -> AttributeError {
        AttributeError { attribute: attribute.to_string(), message: message.into() }
    }
}

impl ToxicKind {
    /// The API name of this toxic's type, e.g. `latency`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit_data",
        }
    }

    /// The attribute names a toxic type accepts, or `None` for an unknown type.
    pub fn attribute_names(type_name: &str) -> Option<&'static [&'static str]> {
        Some(match type_name {
            "latency" => &["latency", "jitter"],
            "bandwidth" => &["rate"],
            "slow_close" => &["delay"],
            "timeout" => &["timeout"],
            "reset_peer" => &["timeout"],
            "slicer" => &["average_size", "size_variation", "delay"],
            "limit_data" => &["bytes"],
            _ => return None,
        })
    }

    /// Builds a toxic of the named type. `attribute` returns the value given for an attribute
    /// name, or `None` when it was not given; missing attributes are 0, as in Toxiproxy.
    ///
    /// Returns `Ok(None)` for an unknown type name.
    pub fn from_attributes(
        type_name: &str,
        attribute: impl Fn(&str) -> Option<u64>,
    ) -> Result<Option<ToxicKind>, AttributeError> {
        let value = |name: &str| attribute(name).unwrap_or(0);
        let kind = match type_name {
            "latency" => {
                ToxicKind::Latency { latency_ms: value("latency"), jitter_ms: value("jitter") }
            }
            "bandwidth" => ToxicKind::Bandwidth { rate_kb_per_s: value("rate") },
            "slow_close" => ToxicKind::SlowClose { delay_ms: value("delay") },
            "timeout" => ToxicKind::Timeout { timeout_ms: value("timeout") },
            "reset_peer" => ToxicKind::ResetPeer { timeout_ms: value("timeout") },
            "slicer" => ToxicKind::Slicer {
                average_size: value("average_size"),
                size_variation: value("size_variation"),
                delay_us: value("delay"),
            },
            "limit_data" => ToxicKind::LimitData { bytes: value("bytes") },
            _ => return Ok(None),
        };
        kind.validate()?;
        Ok(Some(kind))
    }

    /// The attributes as `(name, value)` pairs, in the order Toxiproxy documents them.
    pub fn attributes(&self) -> Vec<(&'static str, u64)> {
        match *self {
            ToxicKind::Latency { latency_ms, jitter_ms } => {
                vec![("latency", latency_ms), ("jitter", jitter_ms)]
            }
            ToxicKind::Bandwidth { rate_kb_per_s } => vec![("rate", rate_kb_per_s)],
            ToxicKind::SlowClose { delay_ms } => vec![("delay", delay_ms)],
            ToxicKind::Timeout { timeout_ms } => vec![("timeout", timeout_ms)],
            ToxicKind::ResetPeer { timeout_ms } => vec![("timeout", timeout_ms)],
            ToxicKind::Slicer { average_size, size_variation, delay_us } => vec![
                ("average_size", average_size),
                ("size_variation", size_variation),
                ("delay", delay_us),
            ],
            ToxicKind::LimitData { bytes } => vec![("bytes", bytes)],
        }
    }

    /// Checks the limits that make a toxic meaningful and keep the schedule's arithmetic exact.
    pub fn validate(&self) -> Result<(), AttributeError> {
        let at_most_a_day = |name: &str, ms: u64| {
            if ms > MAX_MILLISECONDS {
                Err(AttributeError::new(
                    name,
                    format!(
                        "{ms} ms is more than a day ({MAX_MILLISECONDS} ms); the value is in milliseconds"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            ToxicKind::Latency { latency_ms, jitter_ms } => {
                at_most_a_day("latency", latency_ms)?;
                at_most_a_day("jitter", jitter_ms)
            }
            ToxicKind::Bandwidth { rate_kb_per_s } => {
                if rate_kb_per_s > 1_000_000_000 {
                    return Err(AttributeError::new(
                        "rate",
                        format!(
                            "{rate_kb_per_s} KB/s is more than 1 TB/s; the value is in KB/s (1 KB = 1000 bytes), and 0 means unlimited"
                        ),
                    ));
                }
                Ok(())
            }
            ToxicKind::SlowClose { delay_ms } => at_most_a_day("delay", delay_ms),
            ToxicKind::Timeout { timeout_ms } | ToxicKind::ResetPeer { timeout_ms } => {
                at_most_a_day("timeout", timeout_ms)
            }
            ToxicKind::Slicer { average_size, size_variation, delay_us } => {
                if average_size == 0 {
                    return Err(AttributeError::new(
                        "average_size",
                        "must be at least 1 byte; set the average size of a slice",
                    ));
                }
                if average_size > 1 << 30 {
                    return Err(AttributeError::new(
                        "average_size",
                        format!("{average_size} bytes is more than 1 GiB; the value is in bytes"),
                    ));
                }
                if size_variation >= average_size {
                    return Err(AttributeError::new(
                        "size_variation",
                        format!(
                            "must be less than average_size ({average_size}), got {size_variation}"
                        ),
                    ));
                }
                if delay_us > MAX_MILLISECONDS * 1000 {
                    return Err(AttributeError::new(
                        "delay",
                        format!(
                            "{delay_us} µs is more than a day; the slicer's delay is in microseconds"
                        ),
                    ));
                }
                Ok(())
            }
            ToxicKind::LimitData { .. } => Ok(()),
        }
    }
}

/// A named toxic as the API shows it: what it does, on which stream, for which share of
/// connections.
#[derive(Clone, Debug, PartialEq)]
pub struct Toxic {
    pub name: String,
    pub kind: ToxicKind,
    pub stream: Stream,
    /// The probability, from 0 to 1, that a connection is affected. It is drawn once per
    /// connection when the toxic starts acting on it (and again when the toxic is updated).
    pub toxicity: f64,
}

/// Checks a toxicity value.
pub fn validate_toxicity(toxicity: f64) -> Result<(), String> {
    if toxicity.is_finite() && (0.0..=1.0).contains(&toxicity) {
        Ok(())
    } else {
        Err(format!(
            "toxicity must be between 0 and 1 (the share of connections affected), got {toxicity}"
        ))
    }
}

#[cfg(test)]
mod tests;
