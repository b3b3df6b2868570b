//! shadowgate's functional core.
//!
//! This crate holds the decisions and data that every other part of shadowgate shares: the
//! manifest (`shadowgate.toml`) and its validation, command templates, environment identities
//! and labels, and units. It performs no I/O: it never touches files, sockets, processes, the
//! clock or a random source. Callers pass text, time and seeds in.

pub mod conditions;
pub mod diff;
pub mod env;
pub mod manifest;
pub mod rng;
pub mod scenario;
pub mod template;
pub mod traffic;
pub mod units;
