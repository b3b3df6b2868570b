//! Integration tests of shadowgate-ingest: real sockets, real SQLite files, real third-party
//! clients, and a real `kill -9`.

mod anonymity;
mod batching;
mod crash;
mod exposition_random;
mod import;
mod otlp_http;
mod retention;
mod scrape;
mod support;
mod third_party_clients;
