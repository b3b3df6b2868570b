//! Synthetic data for shadow environments.
//!
//! - [`model`]: the `[data]` section (tables, columns, generators) and its validation.
//! - [`plan`]: the section compiled into deterministic generators, tables in foreign-key order.
//! - [`encode`]: PostgreSQL COPY text and binary encodings.
//! - [`derive`]: distributions derived from production samples with differential privacy.
//! - `load` (feature `load`): loaders into PostgreSQL (COPY over a small wire-protocol client)
//!   and SQLite.
//!
//! Everything outside `load` is pure: no I/O, no clock, seeds are passed in. The same seed gives
//! byte-identical data.

pub mod derive;
pub mod encode;
pub mod model;
pub mod plan;
pub mod render;
pub mod time;

#[cfg(feature = "load")]
pub mod load;
#[cfg(feature = "load")]
pub mod pg;
#[cfg(feature = "load")]
mod scram;

pub use model::{
    ColumnConfig, DataConfig, GenKind, Problem, RowOverrides, Rows, TableConfig, validate,
};
pub use plan::{ColumnPlan, Plan, PlanError, Sink, TablePlan, ValueKind};

#[cfg(test)]
mod tests;
