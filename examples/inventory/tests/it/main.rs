//! Integration tests of the inventory service: both release binaries really started on free
//! ports and driven over HTTP, and the database side exercised on real SQLite files (and real
//! PostgreSQL, Redis and NATS servers for the dependencies the PostgreSQL manifest declares).

mod cache_growth;
mod cli;
mod dependencies;
mod endpoints;
mod manifest;
mod metrics_format;
mod postgres;
mod pricing_timeout;
mod prometheus_text;
mod seeding;
mod support;
mod volume_regression;
