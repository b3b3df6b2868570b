//! An inventory and orders HTTP JSON service, shipped in two releases for shadowgate's demo.
//!
//! shadowgate rehearses a release before it ships: it runs the current release (the baseline)
//! and the new one (the candidate) side by side in sandboxes under production-like load and
//! judges the difference. A demo of that needs an application whose new release is wrong in
//! ways that unit tests and an empty staging database never reveal. This crate is that
//! application. Both releases share almost all of their code; the binaries `inventory-v1` and
//! `inventory-v2` differ only in the [`release::Release`] implementation they are built with,
//! and v2's implementation carries three regressions of the kind that cause real incidents:
//!
//! - Its schema migration rebuilds the `orders` table and forgets the index behind
//!   `GET /customers/{id}/orders`. On a small database nobody notices; at 200,000 orders every
//!   such request scans the whole table.
//! - Its catalog cache is keyed by the full request target, query string included, and never
//!   evicts, so memory grows with every distinct URL a client sends.
//! - It calls the optional pricing dependency without a timeout, so a stalled dependency
//!   stalls `GET /items/{id}` forever instead of falling back to the catalog price.
//!
//! The data set is generated from a seed ([`seed`]), so a baseline and a candidate started with
//! the same flags hold identical data, and the service exposes Prometheus metrics
//! ([`metrics`]) that shadowgate scrapes to judge the two.
//!
//! Two optional side channels exercise the other kinds of dependency shadowgate can start:
//! item views counted in Redis ([`views`]) and new orders published on NATS ([`events`]), both
//! through background writers ([`outbox`]) that never hold up a request.

pub mod cache;
pub mod cli;
pub mod database;
pub mod events;
pub mod handlers;
pub mod http;
pub mod metrics;
pub mod model;
pub mod nats;
pub mod outbox;
pub mod postgres;
pub mod pricing;
pub mod pricing_stub;
pub mod process;
pub mod queries;
pub mod release;
pub mod resp;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod seeding;
pub mod server;
pub mod views;
