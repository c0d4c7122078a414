//! The WAL checkpointer: copies the WAL into the database file on its own thread, so group commits never
//! stall on a checkpoint's fsync.

use std::sync::{Arc, Condvar, Mutex};

use kairos_store::{Result, StoreError};
use rusqlite::Connection;

use crate::gate::WriteGate;

/// WAL length (in 4 KiB frames, ~32 MiB) past which the checkpointer restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 8_192;

/// Handle of the checkpoint thread; dropping it runs a last checkpoint and stops the thread.
pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Checkpoints every `every` without blocking the writer (PASSIVE).
    pub(crate) fn start(conn: Connection, gate: Arc<WriteGate>, every: std::time::Duration) -> Result<Checkpointer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("kairos-checkpoint".into())
            .spawn(move || {
                let (lock, cv) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let (guard, _) = cv.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner());
                    stopped = guard;
                    checkpoint(&conn, &gate);
                    if *stopped {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start checkpointer: {e}")))?;
        Ok(Checkpointer { stop, handle: Some(handle) })
    }
}

/// PASSIVE copies without blocking the writer, but under continuous writes it never catches up completely, so
/// the WAL would never restart and would grow without bound. Once the WAL is large, a RESTART right after a
/// PASSIVE pass only has the few frames written meanwhile left to copy: a short pause for the writer (held at
/// the write gate between two transactions), after which the WAL starts over.
fn checkpoint(conn: &Connection, gate: &WriteGate) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
    match result {
        Ok(frames) if frames >= WAL_RESTART_FRAMES => {
            let mut held = std::time::Duration::ZERO;
            let restarted = gate.closed(|| {
                let started = std::time::Instant::now();
                let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
                held = started.elapsed();
                busy
            });
            match restarted {
                Ok(0) => {
                    let held_ms = held.as_millis() as u64;
                    tracing::debug!(frames, held_ms, "WAL restarted (the writer held at the gate meanwhile)");
                }
                Ok(_) => tracing::debug!("WAL restart waited out by a reader; will retry"),
                Err(e) => tracing::warn!(error = %e, "WAL restart failed; will retry"),
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "checkpoint failed; will retry"),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
