//! Read-only connections for request handlers: WAL lets them read committed data while the committer writes.

use std::path::PathBuf;
use std::sync::Mutex;

use kairos_store::Result;
use rusqlite::Connection;

use crate::corrupt;

/// A small pool of read-only connections; a reader returns its connection when dropped.
pub struct ReadPool {
    path: PathBuf,
    conns: Mutex<Vec<Connection>>,
    /// The committer's identity bindings not yet in the table (`crate::bindings`), checked before it.
    pub(crate) bindings: std::sync::Arc<crate::bindings::Shared>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("path", &self.path).finish_non_exhaustive()
    }
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, size: usize) -> Result<Self> {
        let conns = (0..size.max(1)).map(|_| crate::connect(&path, true)).collect::<Result<Vec<_>>>()?;
        Ok(ReadPool { path, conns: Mutex::new(conns), bindings: Default::default() })
    }

    /// A reader on a pooled connection (a new one when all are busy).
    pub fn get(&self) -> Result<SqliteReader<'_>> {
        let conn = self.conns.lock().map_err(|_| corrupt("read pool", "poisoned"))?.pop();
        let conn = match conn {
            Some(c) => c,
            None => crate::connect(&self.path, true)?,
        };
        Ok(SqliteReader { conn: Pooled { conn: Some(conn), pool: self }, day_keys: Default::default() })
    }

    /// Runs `f` with a reader.
    pub fn with<T>(&self, f: impl FnOnce(&SqliteReader<'_>) -> Result<T>) -> Result<T> {
        f(&self.get()?)
    }
}

/// A read view over one pooled connection (implements every read trait of `kairos-store`).
pub struct SqliteReader<'a> {
    pub(crate) conn: Pooled<'a>,
    /// The time-ordered listing's sorted day (`crate::time_index`), kept between its pages.
    pub(crate) day_keys: crate::time_index::DayCache,
}

/// A connection on loan from the pool.
pub(crate) struct Pooled<'a> {
    /// Always Some until dropped.
    conn: Option<Connection>,
    pool: &'a ReadPool,
}

impl Pooled<'_> {
    pub(crate) fn pool(&self) -> &ReadPool {
        self.pool
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a pooled connection is present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut pool)) = (self.conn.take(), self.pool.conns.lock()) {
            pool.push(conn);
        }
    }
}
