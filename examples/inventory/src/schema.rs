//! The database schema and the migration runner.
//!
//! The schema version lives in SQLite's `user_version` header field, so a database file tells
//! which migrations it has seen without a bookkeeping table. Each release lists its migrations
//! (see [`crate::release::Release::migrations`]); the runner applies the missing ones in order,
//! each in its own transaction, and refuses a database migrated by a newer release rather
//! than guess what that release changed.

use rusqlite::Connection;

/// One schema change. Released migrations are never edited; a change is a new migration.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// The `user_version` the database has after this migration. Versions start at 1 and
    /// increase by one.
    pub version: u32,
    /// A short description, printed when the migration is applied.
    pub name: &'static str,
    pub sql: &'static str,
    /// The same change for PostgreSQL (see [`crate::postgres`]).
    pub postgres: &'static str,
}

/// The first schema, shared by every release: the catalog, customers, orders and the record of
/// how the database was seeded.
pub const INITIAL_SCHEMA: Migration = Migration {
    version: 1,
    name: "create items, customers, orders and order lines",
    sql: r#"
CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE INDEX items_by_category ON items (category, id);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    created_at  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    total_cents INTEGER NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at);

CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    item_id          INTEGER NOT NULL REFERENCES items (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE seed_info (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    data_seed INTEGER NOT NULL,
    items     INTEGER NOT NULL,
    customers INTEGER NOT NULL,
    orders    INTEGER NOT NULL
);
"#,
    postgres: INITIAL_SCHEMA_POSTGRES,
};

/// The first schema on PostgreSQL. The tables may already exist, created and filled by
/// shadowgate's `[data]` (COPY) before this migration runs: every statement keeps what it
/// finds and adds the keys and indexes, so the same migration serves an empty database and a
/// pre-loaded one. Keys are unique indexes rather than constraints for that reason, and order
/// ids come from a sequence set past the highest id present.
const INITIAL_SCHEMA_POSTGRES: &str = r#"
CREATE TABLE IF NOT EXISTS items (
    id          BIGINT NOT NULL,
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    stock       BIGINT NOT NULL CHECK (stock >= 0)
);
CREATE UNIQUE INDEX IF NOT EXISTS items_by_id ON items (id);
CREATE INDEX IF NOT EXISTS items_by_category ON items (category, id);

CREATE TABLE IF NOT EXISTS customers (
    id         BIGINT NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_by_id ON customers (id);

CREATE TABLE IF NOT EXISTS orders (
    id          BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    total_cents BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS orders_by_id ON orders (id);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, created_at);
CREATE SEQUENCE IF NOT EXISTS orders_id_seq;
SELECT setval('orders_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM orders), false);

CREATE TABLE IF NOT EXISTS order_lines (
    order_id         BIGINT NOT NULL,
    line_no          BIGINT NOT NULL,
    item_id          BIGINT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS order_lines_by_order ON order_lines (order_id, line_no);
ANALYZE;
"#;

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version found when the runner started (0 for a new database).
    pub from_version: u32,
    /// The schema version now.
    pub to_version: u32,
    /// The names of the migrations applied, in order.
    pub applied: Vec<&'static str>,
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    #[error(
        "the database schema is at version {found}, but this release knows versions up to \
         {supported}: it was migrated by a newer release; run that release, or restore the \
         data directory from before the upgrade"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("migration {version} ({name}) failed")]
    Apply {
        version: u32,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "migration {version} ({name}) left {violations} foreign key violation(s); it was rolled back"
    )]
    ForeignKeys { version: u32, name: &'static str, violations: usize },
    #[error("could not read the schema version")]
    ReadVersion(#[source] rusqlite::Error),
    #[error("could not read the schema version from PostgreSQL")]
    PostgresVersion(#[source] Box<shadowgate_data::pg::PgError>),
    #[error("migration {version} ({name}) failed on PostgreSQL; it was rolled back")]
    ApplyPostgres {
        version: u32,
        name: &'static str,
        #[source]
        source: Box<shadowgate_data::pg::PgError>,
    },
}

/// Applies the migrations `connection`'s database has not seen yet.
///
/// Foreign keys are switched off while a migration runs, as SQLite's documented procedure for
/// rebuilding a table requires, and checked before its transaction commits.
pub fn migrate(
    connection: &mut Connection,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrateError> {
    debug_assert!(
        migrations.iter().enumerate().all(|(idx, m)| m.version as usize == idx + 1),
        "migrations must be numbered 1, 2, 3, ..."
    );
    let from_version = schema_version(connection).map_err(MigrateError::ReadVersion)?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if from_version > supported {
        return Err(MigrateError::NewerSchema { found: from_version, supported });
    }
    let mut applied = Vec::new();
    for migration in migrations.iter().filter(|m| m.version > from_version) {
        apply(connection, migration)?;
        applied.push(migration.name);
    }
    Ok(MigrationReport { from_version, to_version: supported.max(from_version), applied })
}

/// The schema version recorded in the database header (0 for a new database).
pub fn schema_version(connection: &Connection) -> Result<u32, rusqlite::Error> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn apply(connection: &mut Connection, migration: &Migration) -> Result<(), MigrateError> {
    let apply_error =
        |source| MigrateError::Apply { version: migration.version, name: migration.name, source };
    connection.pragma_update(None, "foreign_keys", false).map_err(apply_error)?;
    let outcome = apply_in_transaction(connection, migration);
    connection.pragma_update(None, "foreign_keys", true).map_err(apply_error)?;
    outcome
}

fn apply_in_transaction(
    connection: &mut Connection,
    migration: &Migration,
) -> Result<(), MigrateError> {
    let apply_error =
        |source| MigrateError::Apply { version: migration.version, name: migration.name, source };
    let transaction = connection.transaction().map_err(apply_error)?;
    transaction.execute_batch(migration.sql).map_err(apply_error)?;
    let violations = {
        let mut statement = transaction.prepare("PRAGMA foreign_key_check").map_err(apply_error)?;
        let mut rows = statement.query([]).map_err(apply_error)?;
        let mut violations = 0;
        while rows.next().map_err(apply_error)?.is_some() {
            violations += 1;
        }
        violations
    };
    if violations > 0 {
        return Err(MigrateError::ForeignKeys {
            version: migration.version,
            name: migration.name,
            violations,
        });
    }
    transaction.pragma_update(None, "user_version", migration.version).map_err(apply_error)?;
    transaction.commit().map_err(apply_error)
}
