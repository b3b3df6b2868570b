//! shadowgate's check reports: the report document and its JSON, JUnit XML, HTML and terminal
//! renderings.
//!
//! `shadowgate check` ends with a verdict that two audiences read. A CI pipeline needs an exit
//! code, a machine-readable document and test results its own UI shows; a person needs to see
//! at a glance whether the candidate is worse, by how much, and what happened during the run.
//! This crate turns one [`CheckReport`] into all of them:
//!
//! - [`to_json`] / [`from_json`]: the document itself, stable and versioned
//!   ([`SCHEMA_VERSION`], fields described in `SCHEMA.md`). The CLI stores it, and
//!   `shadowgate report RUN_ID` rebuilds every other rendering from it, so a report can be
//!   regenerated long after the run.
//! - [`to_junit`]: one testcase per metric and per user test command, the form GitLab,
//!   Jenkins and GitHub test reporters display natively.
//! - [`to_html`]: one self-contained page with the decision, the numbers behind it and SVG
//!   charts (latency distributions, latency, throughput, errors, CPU and memory over time,
//!   with the warm-up and every fault shaded).
//! - [`summary_rows`] / [`summary_text`]: the terminal table, so that it reads the same
//!   wherever it is printed.
//!
//! Why it is built this way:
//!
//! - **Pure.** Documents in, strings out: no file, no clock, no network. The CLI writes the
//!   files; a report rendered twice from the same document is byte-identical, which is what
//!   makes the golden tests and the rebuild from the store possible.
//! - **One source of formatting.** Every rendering formats a metric's numbers through the
//!   same cells, so the terminal, the CI test view and the page never disagree.
//! - **Hostile text is expected.** Release names, event messages and test output come from
//!   users and their programs; everything is escaped, and characters XML cannot carry at all
//!   are made visible instead of breaking the file.
//! - **No plotting or template dependency.** The charts are small hand-drawn SVG, which keeps
//!   the page free of scripts and external fetches and the build light.

mod diff;
mod distribution;
mod document;
mod format;
mod html;
mod json;
mod junit;
mod markup;
mod plot;
mod presentation;
mod summary;
mod verdict_reading;

pub use diff::{DiffEndpoint, DiffExample, DiffField, DiffRequest, DiffResponse, ResponseDiff};
pub use distribution::DEFAULT_BUCKETS_PER_DECADE;
pub use document::{
    Arm, CheckReport, ConditionsUsed, EventArm, EventKind, ExitStatus, LatencyBucket,
    LatencyDistribution, LatencyPercentiles, LoadSummary, PerArm, ReleaseUnderTest, SCHEMA_VERSION,
    SchemaVersion, SeriesMetric, SeriesUnit, Setting, SettingSource, TestCommandResult, TimeSeries,
    TimeWindow, TimelineEvent,
};
pub use html::to_html;
pub use json::{ReportReadError, from_json, to_json};
pub use junit::to_junit;
pub use summary::{
    SUMMARY_COLUMN_COUNT, SUMMARY_COLUMNS, summary_rows, summary_text, verdict_line,
};
