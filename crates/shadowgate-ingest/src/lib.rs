//! shadowgate's telemetry ingestion: production metrics into the store, safely.
//!
//! shadowgate learns production's conditions (load, latency, resource use) from telemetry, so
//! it must take metrics the way production already exposes them: Prometheus scrapes
//! ([`scrape`]), OTLP/HTTP pushes ([`otlp`]) and files ([`import`]). Production telemetry
//! carries identifiers of people and machines, and shadowgate's store travels (CI artefacts,
//! reports, shared servers), so nothing reaches the store without passing one
//! [`processor::Processor`]: allow- and deny-lists, keyed hashing of identifying labels, a
//! cardinality limit, and 1-minute rollups that outlive the raw points. Writes are grouped into
//! transactions by a [`batcher`], and a point counts as ingested (a scrape is counted, an OTLP
//! request answered 200, an import line passed) only once its transaction has committed.
//!
//! Pure parts (the exposition parser, the OTLP decoders, the import line parsers, the
//! processor, sketches and rollups) do no I/O and take the time as an argument; the scrape
//! loop, the OTLP server, the file importer and the batcher are the shell around them.

pub mod anonymize;
pub mod batcher;
pub mod cardinality;
pub mod config;
pub mod exposition;
pub mod import;
pub mod key_file;
pub mod otlp;
pub mod pipeline;
pub mod processor;
pub mod retention;
pub mod rollup;
pub mod scrape;
pub mod sketch;
pub mod timestamp;
