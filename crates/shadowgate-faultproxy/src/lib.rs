//! shadowgate's TCP fault proxy, compatible with Toxiproxy.
//!
//! shadowgate puts one of these proxies between an application and each of its dependencies in
//! a shadow environment, so that the network conditions and failures predicted for production
//! (latency, limited bandwidth, stalls, resets, truncated streams, outages) reach the
//! application's real traffic, on a timeline a scenario drives. It speaks Toxiproxy's HTTP API
//! rather than a new one because that API is small, well understood, and already has clients in
//! about ten languages: a team's existing fault tests run against it unchanged.
//!
//! The crate has a functional core and an imperative shell:
//! - [`toxic`] and [`schedule`] decide what happens to each chunk of a stream and when, as pure
//!   functions of the times and seeded random numbers passed in. They do no I/O and read no
//!   clock, so every toxic's timing is tested exactly.
//! - [`registry::FaultProxy`] holds the proxies and toxics and is the in-process API the
//!   orchestrator calls; [`api::serve`] puts Toxiproxy's HTTP API in front of it. Sockets,
//!   timers and tasks (Tokio) live in the private `listener` and `connection` modules.
//!
//! Toxics apply to live connections: adding, updating or removing one reaches every open
//! connection of its proxy at once. Disabling a proxy is an outage: its listener closes and its
//! connections are cut.

pub mod api;
pub mod error;
pub mod registry;
pub mod schedule;
pub mod toxic;

mod address;
mod connection;
mod listener;
mod timer;

pub use api::{proxy_specs_from_json, serve, serve_with_shutdown};
pub use error::FaultProxyError;
pub use registry::{FaultProxy, ProxyInfo, ProxySpec, ProxyUpdate, ToxicUpdate};
pub use toxic::{Stream, Toxic, ToxicKind};
