//! OTLP/HTTP metrics: decoding both encodings and receiving exports.
//!
//! [`proto`] declares the messages, [`json`] decodes OTLP/JSON into them, [`convert`] turns a
//! request into points (pure), and [`server`] answers `POST /v1/metrics`.

pub mod convert;
pub mod json;
pub mod proto;
pub mod server;
