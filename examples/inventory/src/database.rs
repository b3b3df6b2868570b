//! The database (an SQLite file, or PostgreSQL given a `postgres://` URL) and the small pool of
//! connections the async handlers use.
//!
//! Both clients block, so handlers never run them on the async runtime's threads. A handler
//! borrows one of a few connections and runs its queries on tokio's blocking pool; a
//! semaphore bounds how many run at once, so a burst of slow queries queues instead of
//! spawning threads without limit. The file is in WAL mode, so readers never wait for the
//! writer.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use rusqlite::Connection;
use shadowgate_data::pg::{Client, PgConfig, PgError};
use tokio::sync::Semaphore;

use crate::{
    model::{Item, NewOrder, Order, OrderSummary},
    postgres,
    queries::{self, CreateOrderError},
};

/// The database file's name inside the data directory.
pub const DATABASE_FILE_NAME: &str = "inventory.sqlite3";

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The path of the database file in `data_dir`.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE_NAME)
}

/// Opens (creating if needed) the database file with the settings every connection uses:
/// WAL journal, `synchronous = NORMAL` (durable across process crashes, the usual WAL
/// choice), foreign keys on and a busy timeout.
pub fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "wal")?;
    connection.pragma_update(None, "synchronous", "normal")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    Ok(connection)
}

/// A failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    #[error("could not open the database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("invalid --data URL")]
    Url(#[source] Box<PgError>),
    #[error("database query failed")]
    Query(#[from] rusqlite::Error),
    #[error("PostgreSQL query failed")]
    Postgres(#[source] Box<PgError>),
    #[error("a database task stopped before finishing")]
    TaskFailed(#[source] tokio::task::JoinError),
    #[error("the database pool is closed")]
    PoolClosed,
}

impl From<PgError> for DatabaseError {
    fn from(err: PgError) -> Self {
        DatabaseError::Postgres(Box::new(err))
    }
}

/// Whether a PostgreSQL error leaves the connection unusable (as opposed to a statement the
/// server refused on a connection that is still fine).
fn breaks_connection(err: &PgError) -> bool {
    !matches!(err, PgError::Server { .. })
}

/// One pooled connection.
pub enum Conn {
    Sqlite(Connection),
    Postgres {
        client: Client,
        /// Set when an error left the connection in an unknown state; it is not reused.
        broken: bool,
    },
}

impl Conn {
    fn pg<T>(
        &mut self,
        work: impl FnOnce(&mut Client) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let Conn::Postgres { client, broken } = self else {
            unreachable!("pg() is only called on PostgreSQL connections")
        };
        let outcome = work(client);
        if let Err(e) = &outcome
            && breaks_connection(e)
        {
            *broken = true;
        }
        outcome
    }

    /// `SELECT 1`.
    pub fn ping(&mut self) -> Result<(), DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(c.query_row("SELECT 1", [], |_| Ok(()))?),
            Conn::Postgres { .. } => Ok(self.pg(|c| c.query("SELECT 1").map(drop))?),
        }
    }

    pub fn item(&mut self, item_id: i64) -> Result<Option<Item>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::item(c, item_id)?),
            Conn::Postgres { .. } => Ok(self.pg(|c| postgres::item(c, item_id))?),
        }
    }

    pub fn items(
        &mut self,
        category: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Item>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::items(c, category, limit, offset)?),
            Conn::Postgres { .. } => Ok(self.pg(|c| postgres::items(c, category, limit, offset))?),
        }
    }

    pub fn orders_of_customer(
        &mut self,
        customer_id: i64,
        limit: u32,
    ) -> Result<Option<Vec<OrderSummary>>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::orders_of_customer(c, customer_id, limit)?),
            Conn::Postgres { .. } => {
                Ok(self.pg(|c| postgres::orders_of_customer(c, customer_id, limit))?)
            }
        }
    }

    pub fn order_ids_of_customer(
        &mut self,
        customer_id: i64,
        limit: u32,
    ) -> Result<Option<Vec<i64>>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::order_ids_of_customer(c, customer_id, limit)?),
            Conn::Postgres { .. } => {
                Ok(self.pg(|c| postgres::order_ids_of_customer(c, customer_id, limit))?)
            }
        }
    }

    pub fn order_summary(&mut self, order_id: i64) -> Result<Option<OrderSummary>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::order_summary(c, order_id)?),
            Conn::Postgres { .. } => Ok(self.pg(|c| postgres::order_summary(c, order_id))?),
        }
    }

    pub fn order(&mut self, order_id: i64) -> Result<Option<Order>, DatabaseError> {
        match self {
            Conn::Sqlite(c) => Ok(queries::order(c, order_id)?),
            Conn::Postgres { .. } => Ok(self.pg(|c| postgres::order(c, order_id))?),
        }
    }

    pub fn create_order(
        &mut self,
        new_order: &NewOrder,
        created_at: i64,
    ) -> Result<Order, CreateOrderError> {
        match self {
            Conn::Sqlite(c) => queries::create_order(c, new_order, created_at),
            Conn::Postgres { client, broken } => {
                let outcome = postgres::create_order(client, new_order, created_at);
                if let Err(CreateOrderError::Postgres(e)) = &outcome
                    && breaks_connection(e)
                {
                    *broken = true;
                }
                outcome
            }
        }
    }

    fn reusable(&self) -> bool {
        !matches!(self, Conn::Postgres { broken: true, .. })
    }
}

/// Where the pool's connections go.
#[derive(Debug)]
enum Target {
    Sqlite(PathBuf),
    Postgres(PgConfig),
}

impl Target {
    fn connect(&self) -> Result<Conn, DatabaseError> {
        match self {
            Target::Sqlite(path) => open_connection(path)
                .map(Conn::Sqlite)
                .map_err(|source| DatabaseError::Open { path: path.clone(), source }),
            Target::Postgres(config) => {
                Ok(Conn::Postgres { client: postgres::connect(config)?, broken: false })
            }
        }
    }
}

/// A bounded pool of connections to one database.
pub struct Database {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Database {
    /// Opens a pool of up to `size` connections to the database in `data_dir`. One connection
    /// is opened at once, so that a missing or unreadable file is reported here; the others
    /// are opened when first needed.
    pub fn open(data_dir: &Path, size: usize) -> Result<Database, DatabaseError> {
        Database::with_target(Target::Sqlite(database_path(data_dir)), size)
    }

    /// Opens a pool of up to `size` connections to the PostgreSQL database at `url`.
    pub fn open_postgres(url: &str, size: usize) -> Result<Database, DatabaseError> {
        let config = PgConfig::parse(url).map_err(|e| DatabaseError::Url(Box::new(e)))?;
        Database::with_target(Target::Postgres(config), size)
    }

    fn with_target(target: Target, size: usize) -> Result<Database, DatabaseError> {
        let first = target.connect()?;
        Ok(Database { target, idle: Mutex::new(vec![first]), permits: Semaphore::new(size.max(1)) })
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DatabaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, DatabaseError> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| DatabaseError::PoolClosed)?;
        let pooled = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.target.connect()?,
        };
        let (connection, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = work(&mut connection);
            (connection, outcome)
        })
        .await
        .map_err(DatabaseError::TaskFailed)?;
        if connection.reusable() {
            self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        }
        outcome
    }
}
