//! shadowgate's store: applications, releases, environments, runs, time series and events.
//!
//! [`Store`] is the interface the rest of shadowgate programs against; [`SqliteStore`] is the
//! embedded default (one file, WAL, versioned migrations). A PostgreSQL implementation for a
//! shared server fills the same trait. Every write is one transaction: when a method returns
//! `Ok`, the data survives a `kill -9` of the process (and, with `synchronous=FULL`, a power
//! loss). Several processes may open the same file at once (a busy timeout serialises writers).
//!
//! Timestamps are Unix milliseconds supplied by the caller; the store never reads the clock.

mod model;
mod sqlite;

pub use model::{
    Application, Environment, EnvironmentFilter, Event, EventQuery, NewEvent, Release, Run,
    RunStatus, Sample, SampleQuery, SeriesKey,
};
pub use sqlite::SqliteStore;

/// Errors from any store implementation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error(
        "the store at {path} has schema version {found}, but this shadowgate only knows up to {known}; \
         upgrade shadowgate or point --store at another file"
    )]
    TooNew { path: String, found: i64, known: i64 },
    #[error("store migration to schema version {version} failed: {source}")]
    Migration { version: i64, source: rusqlite::Error },
    #[error("store query failed ({context}): {source}")]
    Query { context: &'static str, source: rusqlite::Error },
    #[error("the store holds a malformed {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What every store implementation provides.
pub trait Store: Send + Sync {
    fn upsert_application(&self, app: &Application) -> Result<()>;
    fn upsert_release(&self, release: &Release) -> Result<()>;
    fn releases(&self, app: &str) -> Result<Vec<Release>>;

    fn insert_environment(&self, env: &Environment) -> Result<()>;
    /// Replaces the mutable fields of an environment (state, endpoint, pid, detail, updated time).
    fn update_environment(&self, env: &Environment) -> Result<()>;
    fn environment(&self, id: &str) -> Result<Option<Environment>>;
    fn environments(&self, filter: &EnvironmentFilter) -> Result<Vec<Environment>>;

    fn insert_run(&self, run: &Run) -> Result<()>;
    fn update_run(&self, run: &Run) -> Result<()>;
    fn run(&self, id: &str) -> Result<Option<Run>>;
    /// The most recent runs first.
    fn runs(&self, limit: usize) -> Result<Vec<Run>>;

    /// Appends samples in one transaction; returns how many were written.
    fn append_samples(&self, samples: &[Sample]) -> Result<usize>;
    fn samples(&self, query: &SampleQuery) -> Result<Vec<Sample>>;
    /// Deletes the points a query selects (as [`Store::samples`] would return them) in one
    /// transaction; returns how many were deleted. Series themselves are kept.
    fn delete_samples(&self, query: &SampleQuery) -> Result<usize>;
    /// The distinct series matching a query's scope (metric and time range ignored).
    fn series(&self, query: &SampleQuery) -> Result<Vec<SeriesKey>>;

    fn append_event(&self, event: &NewEvent) -> Result<i64>;
    /// Sets the end time of an event that has a duration (a fault, an outage).
    fn end_event(&self, id: i64, end_ms: i64) -> Result<()>;
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
}
