//! The SQLite database file and the small pool of connections the async handlers use.
//!
//! SQLite calls block, so handlers never run them on the async runtime's threads. A handler
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
use tokio::sync::Semaphore;

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
    #[error("database query failed")]
    Query(#[from] rusqlite::Error),
    #[error("a database task stopped before finishing")]
    TaskFailed(#[source] tokio::task::JoinError),
    #[error("the database pool is closed")]
    PoolClosed,
}

/// A bounded pool of connections to one database file.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Database {
    /// Opens a pool of up to `size` connections to the database in `data_dir`. One connection
    /// is opened at once, so that a missing or unreadable file is reported here; the others
    /// are opened when first needed.
    pub fn open(data_dir: &Path, size: usize) -> Result<Database, DatabaseError> {
        let path = database_path(data_dir);
        let first = open_connection(&path)
            .map_err(|source| DatabaseError::Open { path: path.clone(), source })?;
        Ok(Database { path, idle: Mutex::new(vec![first]), permits: Semaphore::new(size.max(1)) })
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DatabaseError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| DatabaseError::PoolClosed)?;
        let pooled = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => open_connection(&self.path)
                .map_err(|source| DatabaseError::Open { path: self.path.clone(), source })?,
        };
        let (connection, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = work(&mut connection);
            (connection, outcome)
        })
        .await
        .map_err(DatabaseError::TaskFailed)?;
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        Ok(outcome?)
    }
}
