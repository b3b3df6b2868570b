//! Loading a [`Plan`] into a database: PostgreSQL through `COPY ... FROM STDIN` (text or binary,
//! streamed in chunks, all tables in one transaction) and SQLite through one prepared insert
//! per table in large transactions.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::encode::{BinaryCopy, TextCopy};
use crate::pg::{Client, PgConfig, PgError};
use crate::plan::{Plan, Sink, TablePlan};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "binary COPY needs the default column types, but `{table}.{column}` has type `{sql_type}`; \
         remove its `type`, or load with the text format"
    )]
    BinaryType { table: String, column: String, sql_type: String },
    #[error("PostgreSQL stored {stored} rows into `{table}` but {expected} were sent")]
    Count { table: String, expected: u64, stored: u64 },
    #[error("unknown database target `{0}`; use postgres://... or sqlite:FILE")]
    Target(String),
}

/// The COPY encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Binary,
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub format: Format,
    /// `CREATE TABLE IF NOT EXISTS` with the generators' types before loading.
    pub create_tables: bool,
    /// Empty each table before loading it.
    pub truncate: bool,
    /// Rows per generated chunk (one COPY data message, or one SQLite transaction × 10).
    pub chunk_rows: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { format: Format::Text, create_tables: true, truncate: false, chunk_rows: 8192 }
    }
}

/// What was loaded.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Connects to `url` and loads the plan there.
pub fn load_postgres_url(
    url: &str,
    plan: &Plan,
    opts: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let cfg = PgConfig::parse(url)?;
    let mut client = Client::connect(&cfg, Duration::from_secs(60))?;
    load_postgres(&mut client, plan, opts)
}

/// Loads every table of the plan, parents first, in one transaction. Generation runs on a
/// second thread, one chunk ahead of the socket.
pub fn load_postgres(
    client: &mut Client,
    plan: &Plan,
    opts: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    if opts.format == Format::Binary {
        for t in &plan.tables {
            if let Some(c) = t.columns.iter().find(|c| !c.default_type) {
                return Err(LoadError::BinaryType {
                    table: t.name.clone(),
                    column: c.name.clone(),
                    sql_type: c.sql_type.clone(),
                });
            }
        }
    }
    let start = Instant::now();
    let mut report = LoadReport::default();
    client.query("BEGIN")?;
    let result = (|| {
        for t in &plan.tables {
            let n = copy_table(client, t, opts)?;
            if n != t.rows {
                return Err(LoadError::Count {
                    table: t.name.clone(),
                    expected: t.rows,
                    stored: n,
                });
            }
            report.tables.push((t.name.clone(), n));
            report.rows += n;
        }
        client.query("COMMIT")?;
        Ok(())
    })();
    if let Err(e) = result {
        // The transaction is already aborted by the server on most errors; a rollback that
        // fails too only hides the first error.
        let _ = client.query("ROLLBACK");
        return Err(e);
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

fn copy_table(client: &mut Client, t: &TablePlan, opts: &LoadOptions) -> Result<u64, LoadError> {
    if opts.create_tables {
        client.query(&t.create_sql())?;
    }
    if opts.truncate {
        client.query(&format!("TRUNCATE \"{}\"", t.name))?;
    }
    let format = match opts.format {
        Format::Text => "text",
        Format::Binary => "binary",
    };
    let sql = format!("COPY \"{}\" ({}) FROM STDIN (FORMAT {format})", t.name, t.column_list());
    let mut copy = client.copy_in(&sql)?;
    let chunk = opts.chunk_rows.max(1);
    // Two buffers circulate between the generating thread and this one.
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(2);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(3);
    for _ in 0..3 {
        let _ = empty_tx.send(Vec::with_capacity(1 << 20));
    }
    let format_kind = opts.format;
    let sent = std::thread::scope(|s| -> Result<(), LoadError> {
        s.spawn(move || {
            let mut first = true;
            let mut row = 0;
            while row < t.rows || first {
                let Ok(mut buf) = empty_rx.recv() else { return };
                buf.clear();
                let end = (row + chunk).min(t.rows);
                match format_kind {
                    Format::Text => t.write_rows(row..end, &mut TextCopy::new(&mut buf)),
                    Format::Binary => {
                        if first {
                            buf.extend_from_slice(BinaryCopy::HEADER);
                        }
                        t.write_rows(row..end, &mut BinaryCopy { out: &mut buf });
                        if end == t.rows {
                            buf.extend_from_slice(BinaryCopy::TRAILER);
                        }
                    }
                }
                first = false;
                row = end;
                if full_tx.send(buf).is_err() {
                    return;
                }
            }
        });
        // Owned here, so that an early return drops them and unblocks the generator.
        let (full_rx, empty_tx) = (full_rx, empty_tx);
        while let Ok(buf) = full_rx.recv() {
            if !buf.is_empty() {
                copy.send(&buf)?;
            }
            let _ = empty_tx.send(buf);
        }
        Ok(())
    });
    sent?;
    Ok(copy.finish()?)
}

/// Loads the plan into an SQLite database: one prepared insert per table, a transaction per
/// `chunk_rows * 10` rows.
pub fn load_sqlite(
    conn: &mut rusqlite::Connection,
    plan: &Plan,
    opts: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let start = Instant::now();
    let mut report = LoadReport::default();
    let per_tx = opts.chunk_rows.max(1).saturating_mul(10);
    for t in &plan.tables {
        if opts.create_tables {
            conn.execute_batch(&t.create_sql())?;
        }
        if opts.truncate {
            conn.execute_batch(&format!("DELETE FROM \"{}\"", t.name))?;
        }
        let marks = vec!["?"; t.columns.len()].join(", ");
        let sql = format!("INSERT INTO \"{}\" ({}) VALUES ({marks})", t.name, t.column_list());
        let mut row = 0;
        while row < t.rows {
            let end = (row + per_tx).min(t.rows);
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut sink = SqliteRows {
                    stmt: &mut stmt,
                    values: Vec::with_capacity(t.columns.len()),
                    error: None,
                };
                t.write_rows(row..end, &mut sink);
                if let Some(e) = sink.error {
                    return Err(e.into());
                }
            }
            tx.commit()?;
            row = end;
        }
        report.tables.push((t.name.clone(), t.rows));
        report.rows += t.rows;
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

struct SqliteRows<'a, 'c> {
    stmt: &'a mut rusqlite::CachedStatement<'c>,
    values: Vec<rusqlite::types::Value>,
    error: Option<rusqlite::Error>,
}

impl Sink for SqliteRows<'_, '_> {
    fn begin_row(&mut self, _columns: usize) {
        self.values.clear();
    }
    fn null(&mut self) {
        self.values.push(rusqlite::types::Value::Null);
    }
    fn int(&mut self, v: i64) {
        self.values.push(rusqlite::types::Value::Integer(v));
    }
    fn float(&mut self, v: f64) {
        self.values.push(rusqlite::types::Value::Real(v));
    }
    fn text(&mut self, v: &str) {
        self.values.push(rusqlite::types::Value::Text(v.to_string()));
    }
    fn timestamp(&mut self, secs: i64) {
        let mut out = Vec::with_capacity(19);
        crate::time::format(secs, &mut out);
        self.values.push(rusqlite::types::Value::Text(String::from_utf8_lossy(&out).into_owned()));
    }
    fn end_row(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.stmt.execute(rusqlite::params_from_iter(self.values.iter()))
        {
            self.error = Some(e);
        }
    }
}

/// Loads into `postgres://...` or `sqlite:FILE`.
pub fn load_url(target: &str, plan: &Plan, opts: &LoadOptions) -> Result<LoadReport, LoadError> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        load_postgres_url(target, plan, opts)
    } else if let Some(path) = target.strip_prefix("sqlite:") {
        let mut conn = rusqlite::Connection::open(path)?;
        load_sqlite(&mut conn, plan, opts)
    } else {
        Err(LoadError::Target(target.to_string()))
    }
}
