//! The one SQLite database of a data directory, shared by the item store and the queues.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ErrorCode};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    ver INTEGER NOT NULL DEFAULT 0,
    ttl INTEGER,
    attrs TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_ready ON queue_messages (queue, visible_at);
";

/// Why a database call failed, before each adapter maps it to its port's error.
#[derive(Debug)]
pub(crate) enum DbError {
    /// Another process holds the write lock past the busy timeout: retryable.
    Busy,
    Other(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DbError::Busy,
            _ => DbError::Other(e.to_string()),
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Busy => f.write_str("database is busy"),
            DbError::Other(s) => f.write_str(s),
        }
    }
}

/// A connection behind a mutex; calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // WAL lets readers and one writer work at once across processes; busy_timeout makes a
        // second writer wait instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .and_then(|()| conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())))
            .and_then(|()| conn.execute_batch("PRAGMA synchronous = NORMAL;"))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(|e| format!("cannot prepare {}: {e}", path.display()))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| E::from(DbError::Other("database mutex poisoned".into())))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| DbError::Other(format!("database task failed: {e}")))?
    }
}

/// `.db()?` turns a rusqlite result into any port error through [`DbError`].
pub(crate) trait Sql<T> {
    fn db(self) -> Result<T, DbError>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, DbError> {
        self.map_err(DbError::from)
    }
}
