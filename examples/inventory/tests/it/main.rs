//! Integration tests of the inventory service: both release binaries really started on free
//! ports and driven over HTTP, and the database side exercised on real SQLite files.

mod cache_growth;
mod cli;
mod endpoints;
mod manifest;
mod metrics_format;
mod postgres;
mod pricing_timeout;
mod prometheus_text;
mod seeding;
mod support;
mod volume_regression;
