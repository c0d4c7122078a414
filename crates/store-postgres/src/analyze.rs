//! Statistics for young tables: PostgreSQL's planner chooses its plans from the sizes and value counts the last
//! `ANALYZE` measured, and autovacuum analyses a table only once its changes pass a tenth of it, at most once a
//! minute per database. A store's tables grow from nothing while its first events arrive; until then the planner
//! keeps the statistics of a nearly empty table. Measured on the anchor workload (issue 17, 2026-12-06): the
//! identity look-up (`value = ANY($3)`) scanned every identity of a kind because the statistics said there were
//! a few hundred, and ingestion ran at 1 200 – 3 000 events/s for 40 s, then at 14 000 once autovacuum came.
//!
//! This thread analyses a table of this store's schema as soon as it has doubled since it was last measured
//! (`n_live_tup` against `pg_class.reltuples`), from `ANALYZE_MIN_ROWS` rows on: a handful of analyses over a
//! table's youth (each doubling), after which autovacuum's own rule takes over. Analyses run on a connection of
//! their own and never block the committer (`ANALYZE` takes a lock that only other maintenance conflicts with),
//! and an analysis also renews the plans that connections prepared on the table.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use kairos_store::{Result, StoreError};

use crate::conn::Conn;

/// How often the thread looks at the tables' sizes.
const ANALYZE_CHECK_EVERY: Duration = Duration::from_secs(2);
/// Rows a table has at least before its growth is worth an analysis (below that any plan is fast).
const ANALYZE_MIN_ROWS: i64 = 1_000;
/// The longest one analysis may take (a very large table sampled from a cold disk); it is tried again later.
const ANALYZE_TIMEOUT_SECS: u32 = 60;

/// Handle of the analysing thread; dropping it stops the thread (an analysis under way is cancelled, so a node
/// stops at once).
pub struct Analyzer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    /// Cancels the thread's statement under way (set once it is connected).
    cancel: Arc<Mutex<Option<postgres::CancelToken>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Analyzer {
    pub(crate) fn start(config: postgres::Config) -> Result<Analyzer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let cancel = Arc::new(Mutex::new(None));
        let token = cancel.clone();
        let handle = std::thread::Builder::new()
            .name("kairos-analyze".into())
            .spawn(move || {
                let mut conn: Option<Conn> = None;
                let mut attempted = HashMap::new();
                let (lock, cv) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    drop(stopped);
                    let stopping = || *lock.lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = analyze_grown(&config, &mut conn, &token, &mut attempted, stopping) {
                        // The database away or a missing privilege: the planner keeps autovacuum's statistics.
                        tracing::debug!(error = %e, "could not analyse the tables that grew; will retry");
                        conn = None;
                    }
                    stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if !*stopped {
                        stopped = cv.wait_timeout(stopped, ANALYZE_CHECK_EVERY).unwrap_or_else(|e| e.into_inner()).0;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the statistics thread: {e}")))?;
        Ok(Analyzer { stop, cancel, handle: Some(handle) })
    }
}

/// Analyses every table of the store's schema that has doubled since its last analysis, until `stopping`.
/// `attempted` keeps each table's live rows at this thread's last analysis of it: a role that does not own a
/// table gets a warning and no analysis from PostgreSQL (no error), and the table is then tried again only
/// once it has doubled again, not every few seconds.
fn analyze_grown(
    config: &postgres::Config,
    conn: &mut Option<Conn>,
    cancel: &Mutex<Option<postgres::CancelToken>>,
    attempted: &mut HashMap<String, f64>,
    stopping: impl Fn() -> bool,
) -> Result<()> {
    if conn.as_ref().is_none_or(Conn::is_closed) {
        let mut c = Conn::connect(config)?;
        c.batch(&format!("SET statement_timeout = '{ANALYZE_TIMEOUT_SECS}s'"))?;
        *cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.cancel_token());
        *conn = Some(c);
    }
    let conn = conn.as_mut().expect("connected above");
    for (table, live, analysed) in table_sizes(conn)? {
        if stopping() {
            break;
        }
        if !due(live, analysed, attempted.get(&table).copied()) {
            continue;
        }
        let started = std::time::Instant::now();
        conn.batch(&format!("ANALYZE {}", quoted(&table)))?;
        tracing::debug!(table, duration_ms = started.elapsed().as_millis() as u64, "analysed a table that grew");
        attempted.insert(table, live);
    }
    Ok(())
}

/// Whether a table of `live` rows is due an analysis: at least [`ANALYZE_MIN_ROWS`], and twice what its last
/// analysis counted (`analysed`: `reltuples`, -1 before the first one since PostgreSQL 14, 0 before that) and
/// twice what it held when this thread last analysed it (`attempted`).
fn due(live: f64, analysed: f64, attempted: Option<f64>) -> bool {
    let measured = analysed.max(attempted.unwrap_or(0.0)).max(0.0);
    live >= ANALYZE_MIN_ROWS as f64 && live >= 2.0 * measured
}

/// (name, live rows, rows its last analysis counted) of each table of the current schema.
fn table_sizes(conn: &mut Conn) -> Result<Vec<(String, f64, f64)>> {
    let rows = conn.query(
        "SELECT s.relname::text, s.n_live_tup::float8, c.reltuples::float8
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
         WHERE s.schemaname = current_schema()",
        &[],
    )?;
    rows.iter().map(|r| Ok((crate::get(r, 0)?, crate::get(r, 1)?, crate::get(r, 2)?))).collect()
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Drop for Analyzer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(token) = self.cancel.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // Nothing under way is fine too: a cancel of an idle connection does nothing. The blocking client
            // runs its own runtime, so this goes off any async one (a store dropped inside `block_on`).
            crate::off_runtime(move || {
                let _ = token.cancel_query(postgres::NoTls);
            });
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn a_table_is_due_when_it_doubled_since_it_was_last_measured_or_tried() {
        assert!(!due(999.0, -1.0, None), "below the minimum");
        assert!(due(1_000.0, -1.0, None), "never analysed");
        assert!(due(1_000.0, 0.0, None), "never analysed (PostgreSQL before 14)");
        assert!(!due(1_999.0, 1_000.0, None));
        assert!(due(2_000.0, 1_000.0, None));
        // Tried at 4 000 rows but the statistics did not move (a table this role does not own): not again
        // until 8 000.
        assert!(!due(4_000.0, -1.0, Some(4_000.0)));
        assert!(!due(7_999.0, -1.0, Some(4_000.0)));
        assert!(due(8_000.0, -1.0, Some(4_000.0)));
    }
}
