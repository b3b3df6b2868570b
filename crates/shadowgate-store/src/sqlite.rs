//! The embedded SQLite store.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::Mutex,
    time::Duration,
};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use shadowgate_core::env::EnvState;

use crate::{
    Application, Environment, EnvironmentFilter, Event, EventQuery, NewEvent, Release, Result, Run,
    RunStatus, Sample, SampleQuery, SeriesKey, Store, StoreError,
};

/// Schema migrations, applied in order. Never edit a released migration: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE applications (
    name          TEXT PRIMARY KEY,
    description   TEXT,
    manifest_path TEXT NOT NULL,
    updated_ms    INTEGER NOT NULL
);
CREATE TABLE releases (
    app        TEXT NOT NULL,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (app, name)
);
CREATE TABLE environments (
    id             TEXT PRIMARY KEY,
    app            TEXT NOT NULL,
    release        TEXT NOT NULL,
    role           TEXT NOT NULL,
    state          TEXT NOT NULL,
    labels         TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    endpoint       TEXT,
    supervisor_pid INTEGER,
    state_dir      TEXT NOT NULL,
    run_id         TEXT,
    detail         TEXT
);
CREATE INDEX environments_by_run ON environments (run_id);
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    app         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    baseline    TEXT NOT NULL,
    candidate   TEXT NOT NULL,
    status      TEXT NOT NULL,
    score       REAL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    config      TEXT NOT NULL,
    result      TEXT
);
CREATE INDEX runs_by_start ON runs (started_ms);
CREATE TABLE series (
    id     INTEGER PRIMARY KEY,
    app    TEXT NOT NULL,
    env_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (app, env_id, metric, labels)
);
CREATE TABLE samples (
    series_id INTEGER NOT NULL REFERENCES series (id),
    ts_ms     INTEGER NOT NULL,
    value     REAL NOT NULL
);
CREATE INDEX samples_by_series_time ON samples (series_id, ts_ms);
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    env_id  TEXT,
    run_id  TEXT,
    kind    TEXT NOT NULL,
    at_ms   INTEGER NOT NULL,
    end_ms  INTEGER,
    message TEXT NOT NULL,
    data    TEXT NOT NULL
);
CREATE INDEX events_by_env ON events (env_id, at_ms);
CREATE INDEX events_by_run ON events (run_id, at_ms);
"#,
)];

/// The highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// A store in one SQLite file.
pub struct SqliteStore {
    inner: Mutex<Inner>,
    path: String,
}

struct Inner {
    conn: Connection,
    series_ids: HashMap<SeriesKey, i64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let display = path.display().to_string();
        let open_err = |source| StoreError::Open { path: display.clone(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(open_err)?;
        // WAL lets readers and one writer work at once; FULL makes each commit durable on disk.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        // A 64 MiB page cache keeps a large sample batch in memory until its commit; with the
        // default 2 MiB, SQLite spills and re-reads pages in the middle of every big transaction.
        conn.pragma_update(None, "cache_size", -65_536).map_err(open_err)?;
        migrate(&mut conn, &display)?;
        Ok(SqliteStore {
            inner: Mutex::new(Inner { conn, series_ids: HashMap::new() }),
            path: display,
        })
    }

    /// An in-memory store, for tests and dry runs.
    pub fn in_memory() -> Result<SqliteStore> {
        let mut conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: ":memory:".into(), source })?;
        migrate(&mut conn, ":memory:")?;
        Ok(SqliteStore {
            inner: Mutex::new(Inner { conn, series_ids: HashMap::new() }),
            path: ":memory:".into(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        let inner = self.lock();
        inner
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| StoreError::Query { context: "read schema version", source })
    }

    /// Runs SQLite's own consistency check; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let inner = self.lock();
        let verdict: String = inner
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|source| StoreError::Query { context: "integrity check", source })?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt { what: "database file", detail: verdict })
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite inconsistent (every write is a
        // transaction), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(conn: &mut Connection, path: &str) -> Result<()> {
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Open { path: path.to_string(), source })?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(|source| StoreError::Migration { version, source })?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| StoreError::Migration { version, source })?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.commit().map_err(|source| StoreError::Migration { version, source })?;
    }
    Ok(())
}

fn q(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { context, source }
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_string())
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt { what: "label set", detail: e.to_string() })
}

fn parse_json(what: &'static str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

fn parse_state(text: &str) -> Result<EnvState> {
    text.parse().map_err(|detail| StoreError::Corrupt { what: "environment state", detail })
}

const ENV_COLUMNS: &str = "id, app, release, role, state, labels, created_ms, updated_ms, endpoint, \
                           supervisor_pid, state_dir, run_id, detail";

type EnvRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
);

fn env_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EnvRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn env_from_row(row: EnvRow) -> Result<Environment> {
    let (
        id,
        app,
        release,
        role,
        state,
        labels,
        created_ms,
        updated_ms,
        endpoint,
        pid,
        dir,
        run,
        detail,
    ) = row;
    Ok(Environment {
        id,
        app,
        release,
        role,
        state: parse_state(&state)?,
        labels: parse_labels(&labels)?,
        created_ms,
        updated_ms,
        endpoint,
        supervisor_pid: pid,
        state_dir: dir,
        run_id: run,
        detail,
    })
}

const RUN_COLUMNS: &str =
    "id, app, kind, baseline, candidate, status, score, started_ms, finished_ms, config, result";

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Run>> {
    let status: String = r.get(5)?;
    let config: String = r.get(9)?;
    let result: Option<String> = r.get(10)?;
    let id: String = r.get(0)?;
    let build = || -> Result<Run> {
        Ok(Run {
            id: id.clone(),
            app: r.get(1).map_err(q("read run"))?,
            kind: r.get(2).map_err(q("read run"))?,
            baseline: r.get(3).map_err(q("read run"))?,
            candidate: r.get(4).map_err(q("read run"))?,
            status: RunStatus::parse(&status)
                .ok_or(StoreError::Corrupt { what: "run status", detail: status.clone() })?,
            score: r.get(6).map_err(q("read run"))?,
            started_ms: r.get(7).map_err(q("read run"))?,
            finished_ms: r.get(8).map_err(q("read run"))?,
            config: parse_json("run config", &config)?,
            result: result.as_deref().map(|t| parse_json("run result", t)).transpose()?,
        })
    };
    Ok(build())
}

/// The id of a series, creating its row if needed, on `conn` (inside the caller's transaction).
fn find_or_create_series(conn: &Connection, key: &SeriesKey) -> Result<i64> {
    let labels = labels_json(&key.labels);
    conn.prepare_cached(
        "INSERT INTO series (app, env_id, metric, labels) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app, env_id, metric, labels) DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![key.app, key.env_id, key.metric, labels]))
    .map_err(q("create series"))?;
    conn.prepare_cached(
        "SELECT id FROM series WHERE app = ?1 AND env_id = ?2 AND metric = ?3 AND labels = ?4",
    )
    .and_then(|mut st| st.query_row(params![key.app, key.env_id, key.metric, labels], |r| r.get(0)))
    .map_err(q("find series"))
}

/// Builds a `WHERE` clause from optional equality filters.
fn where_clause(filters: &[(&str, Option<&str>)]) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    for (column, value) in filters {
        if let Some(v) = value {
            args.push(v.to_string());
            clauses.push(format!("{column} = ?{}", args.len()));
        }
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

impl Store for SqliteStore {
    fn upsert_application(&self, app: &Application) -> Result<()> {
        self.lock()
            .conn
            .execute(
                "INSERT INTO applications (name, description, manifest_path, updated_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                     manifest_path = excluded.manifest_path, updated_ms = excluded.updated_ms",
                params![app.name, app.description, app.manifest_path, app.updated_ms],
            )
            .map_err(q("save application"))?;
        Ok(())
    }

    fn upsert_release(&self, release: &Release) -> Result<()> {
        self.lock()
            .conn
            .execute(
                "INSERT INTO releases (app, name, path, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (app, name) DO UPDATE SET path = excluded.path, updated_ms = excluded.updated_ms",
                params![release.app, release.name, release.path, release.updated_ms],
            )
            .map_err(q("save release"))?;
        Ok(())
    }

    fn releases(&self, app: &str) -> Result<Vec<Release>> {
        let inner = self.lock();
        let mut st = inner
            .conn
            .prepare(
                "SELECT app, name, path, updated_ms FROM releases WHERE app = ?1 ORDER BY name",
            )
            .map_err(q("list releases"))?;
        let rows = st
            .query_map([app], |r| {
                Ok(Release {
                    app: r.get(0)?,
                    name: r.get(1)?,
                    path: r.get(2)?,
                    updated_ms: r.get(3)?,
                })
            })
            .map_err(q("list releases"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(q("list releases"))
    }

    fn insert_environment(&self, env: &Environment) -> Result<()> {
        self.lock()
            .conn
            .execute(
                &format!("INSERT INTO environments ({ENV_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
                params![
                    env.id,
                    env.app,
                    env.release,
                    env.role,
                    env.state.name(),
                    labels_json(&env.labels),
                    env.created_ms,
                    env.updated_ms,
                    env.endpoint,
                    env.supervisor_pid,
                    env.state_dir,
                    env.run_id,
                    env.detail
                ],
            )
            .map_err(q("create environment"))?;
        Ok(())
    }

    fn update_environment(&self, env: &Environment) -> Result<()> {
        let n = self
            .lock()
            .conn
            .execute(
                "UPDATE environments SET state = ?2, updated_ms = ?3, endpoint = ?4, supervisor_pid = ?5,
                     detail = ?6, labels = ?7 WHERE id = ?1",
                params![
                    env.id,
                    env.state.name(),
                    env.updated_ms,
                    env.endpoint,
                    env.supervisor_pid,
                    env.detail,
                    labels_json(&env.labels)
                ],
            )
            .map_err(q("update environment"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "environment", id: env.id.clone() });
        }
        Ok(())
    }

    fn environment(&self, id: &str) -> Result<Option<Environment>> {
        let inner = self.lock();
        let row = inner
            .conn
            .query_row(
                &format!("SELECT {ENV_COLUMNS} FROM environments WHERE id = ?1"),
                [id],
                env_row,
            )
            .optional()
            .map_err(q("read environment"))?;
        row.map(env_from_row).transpose()
    }

    fn environments(&self, filter: &EnvironmentFilter) -> Result<Vec<Environment>> {
        let (sql, args) =
            where_clause(&[("app", filter.app.as_deref()), ("run_id", filter.run_id.as_deref())]);
        let inner = self.lock();
        let mut st = inner
            .conn
            .prepare(&format!("SELECT {ENV_COLUMNS} FROM environments{sql} ORDER BY created_ms"))
            .map_err(q("list environments"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), env_row)
            .map_err(q("list environments"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q("list environments"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let env = env_from_row(row)?;
            if filter.states.is_empty() || filter.states.contains(&env.state) {
                out.push(env);
            }
        }
        Ok(out)
    }

    fn insert_run(&self, run: &Run) -> Result<()> {
        self.lock()
            .conn
            .execute(
                &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    run.id,
                    run.app,
                    run.kind,
                    run.baseline,
                    run.candidate,
                    run.status.name(),
                    run.score,
                    run.started_ms,
                    run.finished_ms,
                    run.config.to_string(),
                    run.result.as_ref().map(|r| r.to_string())
                ],
            )
            .map_err(q("create run"))?;
        Ok(())
    }

    fn update_run(&self, run: &Run) -> Result<()> {
        let n = self
            .lock()
            .conn
            .execute(
                "UPDATE runs SET status = ?2, score = ?3, finished_ms = ?4, result = ?5, config = ?6 WHERE id = ?1",
                params![
                    run.id,
                    run.status.name(),
                    run.score,
                    run.finished_ms,
                    run.result.as_ref().map(|r| r.to_string()),
                    run.config.to_string()
                ],
            )
            .map_err(q("update run"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "run", id: run.id.clone() });
        }
        Ok(())
    }

    fn run(&self, id: &str) -> Result<Option<Run>> {
        let inner = self.lock();
        let row = inner
            .conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), [id], run_from_row)
            .optional()
            .map_err(q("read run"))?;
        row.transpose()
    }

    fn runs(&self, limit: usize) -> Result<Vec<Run>> {
        let inner = self.lock();
        let mut st = inner
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_ms DESC, id LIMIT ?1"
            ))
            .map_err(q("list runs"))?;
        let rows = st
            .query_map([limit as i64], run_from_row)
            .map_err(q("list runs"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q("list runs"))?;
        rows.into_iter().collect()
    }

    fn append_samples(&self, samples: &[Sample]) -> Result<usize> {
        if samples.is_empty() {
            return Ok(0);
        }
        let mut inner = self.lock();
        let Inner { conn, series_ids } = &mut *inner;
        // New series are created in the same transaction as their samples: one commit (one
        // fsync) per batch, and a failed batch leaves neither rows nor cached ids behind.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(q("begin sample batch"))?;
        let mut created: HashMap<SeriesKey, i64> = HashMap::new();
        let mut ids = Vec::with_capacity(samples.len());
        for s in samples {
            let id = match series_ids.get(&s.series).or_else(|| created.get(&s.series)) {
                Some(&id) => id,
                None => {
                    let id = find_or_create_series(&tx, &s.series)?;
                    created.insert(s.series.clone(), id);
                    id
                }
            };
            ids.push(id);
        }
        {
            let mut st = tx
                .prepare_cached("INSERT INTO samples (series_id, ts_ms, value) VALUES (?1, ?2, ?3)")
                .map_err(q("write samples"))?;
            for (s, id) in samples.iter().zip(&ids) {
                st.execute(params![id, s.ts_ms, s.value]).map_err(q("write samples"))?;
            }
        }
        tx.commit().map_err(q("commit sample batch"))?;
        series_ids.extend(created);
        Ok(samples.len())
    }

    fn samples(&self, query: &SampleQuery) -> Result<Vec<Sample>> {
        let inner = self.lock();
        let (mut sql, mut args) = where_clause(&[
            ("s.app", query.app.as_deref()),
            ("s.env_id", query.env_id.as_deref()),
            ("s.metric", query.metric.as_deref()),
        ]);
        for (op, bound) in [(">=", query.from_ms), ("<", query.to_ms)] {
            if let Some(b) = bound {
                args.push(b.to_string());
                let glue = if sql.is_empty() { " WHERE" } else { " AND" };
                sql.push_str(&format!("{glue} p.ts_ms {op} CAST(?{} AS INTEGER)", args.len()));
            }
        }
        let mut st = inner
            .conn
            .prepare(&format!(
                "SELECT s.app, s.env_id, s.metric, s.labels, p.ts_ms, p.value
                 FROM samples p JOIN series s ON s.id = p.series_id{sql}
                 ORDER BY s.id, p.ts_ms"
            ))
            .map_err(q("read samples"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                ))
            })
            .map_err(q("read samples"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q("read samples"))?;
        let mut label_cache: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for (app, env_id, metric, labels, ts_ms, value) in rows {
            let labels = match label_cache.get(&labels) {
                Some(l) => l.clone(),
                None => {
                    let parsed = parse_labels(&labels)?;
                    label_cache.insert(labels, parsed.clone());
                    parsed
                }
            };
            out.push(Sample { series: SeriesKey { app, env_id, metric, labels }, ts_ms, value });
        }
        Ok(out)
    }

    fn delete_samples(&self, query: &SampleQuery) -> Result<usize> {
        let (mut series_filter, mut args) = where_clause(&[
            ("app", query.app.as_deref()),
            ("env_id", query.env_id.as_deref()),
            ("metric", query.metric.as_deref()),
        ]);
        let mut sql = if series_filter.is_empty() {
            "DELETE FROM samples WHERE 1".to_string()
        } else {
            series_filter.insert_str(0, "SELECT id FROM series");
            format!("DELETE FROM samples WHERE series_id IN ({series_filter})")
        };
        for (op, bound) in [(">=", query.from_ms), ("<", query.to_ms)] {
            if let Some(b) = bound {
                args.push(b.to_string());
                sql.push_str(&format!(" AND ts_ms {op} CAST(?{} AS INTEGER)", args.len()));
            }
        }
        let inner = self.lock();
        inner
            .conn
            .execute(&sql, rusqlite::params_from_iter(args.iter()))
            .map_err(q("delete samples"))
    }

    fn series(&self, query: &SampleQuery) -> Result<Vec<SeriesKey>> {
        let inner = self.lock();
        let (sql, args) = where_clause(&[
            ("app", query.app.as_deref()),
            ("env_id", query.env_id.as_deref()),
            ("metric", query.metric.as_deref()),
        ]);
        let mut st = inner
            .conn
            .prepare(&format!("SELECT app, env_id, metric, labels FROM series{sql} ORDER BY id"))
            .map_err(q("list series"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(q("list series"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q("list series"))?;
        rows.into_iter()
            .map(|(app, env_id, metric, labels)| {
                Ok(SeriesKey { app, env_id, metric, labels: parse_labels(&labels)? })
            })
            .collect()
    }

    fn append_event(&self, event: &NewEvent) -> Result<i64> {
        let inner = self.lock();
        inner
            .conn
            .execute(
                "INSERT INTO events (env_id, run_id, kind, at_ms, end_ms, message, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    event.env_id,
                    event.run_id,
                    event.kind,
                    event.at_ms,
                    event.end_ms,
                    event.message,
                    event.data.to_string()
                ],
            )
            .map_err(q("record event"))?;
        Ok(inner.conn.last_insert_rowid())
    }

    fn end_event(&self, id: i64, end_ms: i64) -> Result<()> {
        let n = self
            .lock()
            .conn
            .execute("UPDATE events SET end_ms = ?2 WHERE id = ?1", params![id, end_ms])
            .map_err(q("end event"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: "event", id: id.to_string() });
        }
        Ok(())
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let (sql, args) = where_clause(&[
            ("env_id", query.env_id.as_deref()),
            ("run_id", query.run_id.as_deref()),
            ("kind", query.kind.as_deref()),
        ]);
        let inner = self.lock();
        let mut st = inner
            .conn
            .prepare(&format!(
                "SELECT id, env_id, run_id, kind, at_ms, end_ms, message, data FROM events{sql} ORDER BY at_ms, id"
            ))
            .map_err(q("read events"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(q("read events"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(q("read events"))?;
        rows.into_iter()
            .map(|(id, env_id, run_id, kind, at_ms, end_ms, message, data)| {
                Ok(Event {
                    id,
                    env_id,
                    run_id,
                    kind,
                    at_ms,
                    end_ms,
                    message,
                    data: parse_json("event data", &data)?,
                })
            })
            .collect()
    }
}
