//! shadowgate's shadow traffic: mirror live requests, record them, replay them and diff the answers.
//!
//! A release is safest when the candidate has already answered real requests before any user
//! depends on it. This crate gets real requests to the candidate in three ways:
//!
//! - [`proxy::MirrorProxy`] sits in front of the primary (production) service as a reverse proxy
//!   and copies a sample of the requests to one or more shadows. The copy is made off the
//!   primary's path: the request body is tee'd while it streams to the primary, mirrored requests
//!   wait in a bounded queue that drops (and counts) on overflow, and shadow responses are read
//!   on their own connection pool. A slow or dead shadow therefore cannot slow the primary, which
//!   is the failure users report with nginx's and Envoy's mirroring.
//! - The same proxy can write what it sees to a recording ([`recording`]), after [`redaction`],
//!   and [`replay::replay`] sends a recording again later, keeping its inter-arrival pattern
//!   (optionally scaled) in an open model, to one target or to several at the same instants.
//! - [`diff`] compares responses field by field with Diffy's three-way noise filter: the primary
//!   and a second copy of the old version (the secondary) show which fields differ by themselves
//!   (ids, timestamps), so only fields that the candidate changes beyond that noise are reported.
//!
//! The decisions (sampling, redaction, the recording format, the replay schedule and the diff)
//! are pure modules: no sockets, files or clocks, with time and keys passed in. The shell modules
//! ([`proxy`], [`recorder`], [`replay`], [`upstream_client`] and the dedicated upstream
//! connections) do the I/O around them.

pub mod config;
pub mod diff;
pub mod field_path;
pub mod hop_by_hop;
pub mod http_message;
pub mod metrics;
pub mod proxy;
pub mod recorder;
pub mod recording;
pub mod redaction;
pub mod replay;
pub mod sampling;
pub mod schedule;
pub mod upstream_client;
mod upstream_connection;
