//! Commits made durable apart from `COMMIT` (`kairos_store::Writer::durable_later`).
//!
//! With `synchronous=FULL` every `COMMIT` waits for the WAL's fsync, and the committer, the one thread every
//! event waits for, sat blocked in it for ~10 – 15 % of its time. At `synchronous=NORMAL` SQLite writes the
//! transaction's frames into the WAL (visible to readers, surviving a crash of the process) and leaves the file
//! to the OS; flushing the WAL file then makes every transaction whose frames precede the flush durable, which is
//! what [`WalSync`] does from the engine's syncing thread while the committer applies the next group. The
//! checkpointer's connection stays `FULL`, so it flushes the WAL before copying frames into the database and the
//! database file after, and a transaction checkpointed before its flush is durable in the database file.

use std::path::PathBuf;

use kairos_store::{DurableSync, Result, StoreError};

/// A WAL flush at least this long is logged (debug).
const SLOW_FLUSH: std::time::Duration = std::time::Duration::from_millis(50);

/// Flushes the WAL file of one database.
pub(crate) struct WalSync {
    pub(crate) wal: PathBuf,
}

impl DurableSync for WalSync {
    fn sync(&self) -> Result<()> {
        // Opened per flush: the file is the same for the store's life, but a handle kept across a checkpoint
        // that truncates it would still be right, and opening costs microseconds beside the flush.
        match std::fs::File::open(&self.wal) {
            Ok(f) => {
                let started = std::time::Instant::now();
                let flushed = f.sync_data().map_err(|e| StoreError::Unavailable(format!("cannot flush the WAL: {e}")));
                // Every answer waits for this: a slow flush (the disk busy with a checkpoint's writes) shows here.
                let took = started.elapsed();
                if took >= SLOW_FLUSH {
                    tracing::debug!(took_ms = took.as_millis() as u64, "slow WAL flush");
                }
                flushed
            }
            // No WAL file: nothing was written since the last connection closed it, all of it checkpointed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Unavailable(format!("cannot open the WAL to flush it: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use kairos_store::Writer;

    /// The committer's connection alone stops flushing at `COMMIT`; the answer flushes the WAL it wrote.
    #[test]
    fn the_writer_commits_ahead_and_the_answer_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let mut w = store.sqlite_writer().unwrap();
        let sync = w.durable_later().unwrap().expect("SQLite flushes apart from COMMIT");
        let level = |c: &rusqlite::Connection| c.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(level(&w.conn), 1, "NORMAL on the committer's connection");
        assert_eq!(level(&store.connect(false).unwrap()), 2, "FULL on the others (the checkpointer's)");
        w.begin().unwrap();
        w.conn
            .execute("INSERT INTO sync_state (workspace_id, name, value, updated_at) VALUES (1, 'x', 'y', 0)", [])
            .unwrap();
        w.commit().unwrap();
        assert!(w.wal.is_file(), "the WAL holds the commit");
        sync.sync().unwrap();
    }
}
