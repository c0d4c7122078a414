//! The WAL checkpointer: copies the WAL into the database file on its own thread, so group commits never
//! stall on a checkpoint's fsync.

use std::sync::{Arc, Condvar, Mutex};

use kairos_store::{Result, StoreError};
use rusqlite::Connection;

use crate::gate::WriteGate;

/// WAL length (in 4 KiB frames, ~32 MiB) past which the checkpointer restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 8_192;
/// Frames written during the last passive pass (4 KiB each) below which the restart may hold the writer: the
/// restart copies about as many again (those written during that pass) and flushes them. At 1 000 the writer
/// was held 50 – 120 ms, at 250 ~10 – 20 ms (anchor ingest, 2026-12-06).
const RESTART_FRESH_FRAMES_MAX: i64 = 250;
/// Passive passes before a restart at most, however fast frames arrive.
const PASSES_BEFORE_RESTART_MAX: usize = 16;

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
/// the WAL would never restart and would grow without bound. Once the WAL is large, passive passes repeat
/// until one had few new frames to copy (each pass copies the frames written during the one before, fewer each
/// time while copying outpaces writing); the RESTART right after has about as few left: a short pause for the
/// writer (held at the write gate between two transactions), after which the WAL starts over. A single pass
/// before the restart left it the frames of a whole pass (~300 ms of writes): the writer was held ~100 ms at
/// every restart, the slowest requests' wait.
fn checkpoint(conn: &Connection, gate: &WriteGate) {
    let (mut passes, mut seen) = (0, 0);
    let (log, fresh) = loop {
        // The WAL's length when the pass began: the frames this pass copied (all of them, with no reader).
        let started = std::time::Instant::now();
        let log = match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(log) => log,
            Err(e) => return tracing::warn!(error = %e, "checkpoint failed; will retry"),
        };
        tracing::trace!(frames = log - seen, took_ms = started.elapsed().as_millis() as u64, "passive pass");
        passes += 1;
        match after_pass(log, seen, passes) {
            Next::Done => return,
            Next::Pass => seen = log,
            Next::Restart => break (log, log - seen),
        }
    };
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
            tracing::debug!(
                frames = log,
                fresh,
                passes,
                held_ms,
                "WAL restarted (the writer held at the gate meanwhile)"
            );
        }
        Ok(_) => tracing::debug!("WAL restart waited out by a reader; will retry"),
        Err(e) => tracing::warn!(error = %e, "WAL restart failed; will retry"),
    }
}

#[derive(Debug, PartialEq)]
enum Next {
    /// The WAL is short: nothing more until the next period.
    Done,
    /// Another passive pass first: the last one had many new frames to copy.
    Pass,
    /// Restart now (holding the writer): few frames are left to copy.
    Restart,
}

/// What follows a passive pass that began at WAL length `log`, the one before it having begun at `seen` (0
/// for the first), after `passes` passes.
fn after_pass(log: i64, seen: i64, passes: usize) -> Next {
    if log < WAL_RESTART_FRAMES {
        Next::Done
    } else if log - seen > RESTART_FRESH_FRAMES_MAX && passes < PASSES_BEFORE_RESTART_MAX {
        Next::Pass
    } else {
        Next::Restart
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_repeat_until_few_frames_are_new() {
        assert_eq!(after_pass(WAL_RESTART_FRAMES - 1, 0, 1), Next::Done, "a short WAL is left as it is");
        assert_eq!(after_pass(40_000, 0, 1), Next::Pass, "the first pass had 40 000 frames: the writer went on");
        assert_eq!(after_pass(43_000, 40_000, 2), Next::Pass, "3 000 more during it");
        let few = RESTART_FRESH_FRAMES_MAX;
        assert_eq!(after_pass(43_000 + few, 43_000, 3), Next::Restart, "few came during the last pass");
        assert_eq!(after_pass(80_000, 40_000, PASSES_BEFORE_RESTART_MAX), Next::Restart, "bounded passes");
    }
}
