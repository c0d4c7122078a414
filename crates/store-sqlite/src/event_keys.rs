//! A workspace's events by day, filed in runs a batch at a time (issue 17, item 2).
//!
//! `events_by_day (workspace_id, day, seq, ts)` was an index of the event table: every commit added each of its
//! events to it, a B-tree insert per event (a descent, comparisons, page splits), and rewrote the last page of
//! every day it touched, whole, into the WAL (on the anchor workload ~72 of a commit's ~330 pages: 30 days in
//! flight). Without it the committer spent ~10 % less CPU an event. Filing the same entries a batch at a time,
//! sorted, into a table keyed like the index saved the pages but not the per-entry insert: no gain (measured).
//!
//! So the entries are filed as **runs**: once [`KEYS_BATCH_EVENTS`] events wait past the mark, a commit writes one
//! row per (workspace, day) present in them, `event_day_runs (workspace_id, day, base_seq, keys)`, whose `keys`
//! are the day's events of the batch as a JSON array of integers, each the sequence's offset from `base_seq` and
//! the time within the day packed into one ([`pack`]: the view expands them with `json_each` and unpacks with
//! two shifts, no JSON inside JSON), and `event_name_runs (workspace_id, name, first_seq, last_seq, seqs)`.
//! `event_keys_through` holds the sequence up to which every event is filed. Reads go through the view `events_dated`: the runs of the day asked for, expanded, plus the
//! log's tail past the mark (a scan by sequence of at most a batch and a group), so what a commit made visible is
//! read at once, as before. A day's read expands its runs (~one per batch that held the day) instead of walking
//! index entries: the same entries, in a few rows.
//!
//! The committer files the keys it kept of the events it inserted when they are exactly the tail (every sequence
//! from the mark on); otherwise — a rollback cleared them, another writer logged events, the store just opened,
//! `kairos migrate` copied a log in — the tail is filed from the log itself (`INSERT … SELECT … GROUP BY`), so
//! nothing is ever left out. Reading the tail back from the log cost as much as the runs saved (its pages had
//! left the committer's cache).

use std::fmt::Write as _;

use kairos_store::Result;
use rusqlite::{Connection, params};

use crate::Db;

/// Events of the log's tail past which a commit files it: the tail a read scans besides the runs is at most this
/// plus one group; a larger batch writes fewer, longer runs.
pub(crate) const KEYS_BATCH_EVENTS: i64 = 4_096;

/// Bits of a packed key holding the time within the day (plus a day, so a negative timestamp's remainder stays
/// positive): 2 days of microseconds < 2^38. The sequence's offset from the run's base takes the bits above.
const TS_BITS: u32 = 38;
/// Most sequence numbers a run spans: offsets stay below 2^24, packed keys below 2^62.
const RUN_SPAN_MAX: i64 = 1 << 24;

/// A key packed as the view `events_dated` unpacks it (migration 24: `base_seq + (k >> 38)`,
/// `day * 86400000000 - 86400000000 + (k & (2^38 - 1))`).
fn pack(base: i64, seq: i64, ts: i64) -> i64 {
    let within = ts - day(ts) * crate::time_index::DAY_MICROS + crate::time_index::DAY_MICROS;
    ((seq - base) << TS_BITS) | within
}

/// Tables of this layout, derived from the event log: not part of the logical schema that `kairos migrate`
/// copies between backends (a copy into SQLite files them, [`refile`]).
#[cfg(test)]
pub(crate) const OWN_TABLES: &[&str] = &["event_day_runs", "event_keys_through", "event_name_runs"];

/// The writer's view of the tail: the mark it last read or wrote, and the keys of the events it inserted since,
/// in insertion order (its own events: the committer gives sequence numbers in order).
#[derive(Default)]
pub(crate) struct Tail {
    through: Option<i64>,
    last: i64,
    keys: Vec<Key>,
}

/// An event's workspace, sequence, timestamp and name.
struct Key {
    ws: i64,
    seq: i64,
    ts: i64,
    name: Option<Box<str>>,
}

impl Tail {
    /// The writer inserted event `seq` of workspace `ws` timestamped `ts`, named `name`.
    pub(crate) fn inserted(&mut self, ws: i64, seq: i64, ts: i64, name: Option<&str>) {
        self.last = self.last.max(seq);
        self.keys.push(Key { ws, seq, ts, name: name.map(Box::from) });
    }

    /// The transaction ended without its commit: the mark is read again when next needed, and the next filing
    /// reads the tail from the log.
    pub(crate) fn forget(&mut self) {
        self.through = None;
        self.keys.clear();
    }

    /// Before a commit: files the tail when a batch of events waits. From the keys this writer kept when they
    /// are exactly the tail (each sequence from the mark on, in order); otherwise (a rollback cleared them,
    /// another writer inserted events, the store just opened) from the log.
    pub(crate) fn before_commit(&mut self, conn: &Connection) -> Result<()> {
        let through = match self.through {
            Some(t) => t,
            None => *self.through.insert(through(conn)?),
        };
        if self.last - through < KEYS_BATCH_EVENTS {
            return Ok(());
        }
        let whole = self.keys.iter().zip(through + 1..).all(|(k, seq)| k.seq == seq)
            && i64::try_from(self.keys.len()).is_ok_and(|n| n == self.last - through)
            && self.last - through < RUN_SPAN_MAX;
        let filed = if whole { file_keys(conn, through, &mut self.keys)? } else { file_tail(conn)? };
        self.keys.clear();
        self.through = Some(filed);
        Ok(())
    }
}

fn through(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT seq FROM event_keys_through").db()?.query_row([], |r| r.get(0)).db()
}

/// Files `keys` (the whole tail past `base`, in sequence order), one run per (workspace, day) and per (workspace,
/// name), and moves the mark past them.
fn file_keys(conn: &Connection, base: i64, keys: &mut [Key]) -> Result<i64> {
    let Some(last) = keys.last().map(|k| k.seq) else { return through(conn) };
    // Each run keeps its events in sequence order (the sequence breaks ties: an unstable sort allocates nothing).
    keys.sort_unstable_by_key(|k| (k.ws, day(k.ts), k.seq));
    let mut insert = conn
        .prepare_cached("INSERT INTO event_day_runs (workspace_id, day, base_seq, keys) VALUES (?1, ?2, ?3, ?4)")
        .db()?;
    for run in keys.chunk_by(|a, b| (a.ws, day(a.ts)) == (b.ws, day(b.ts))) {
        let json = json_list(run, |k, json| write!(json, "{}", pack(base, k.seq, k.ts)));
        insert.execute(params![run[0].ws, day(run[0].ts), base, json]).db()?;
    }
    keys.sort_unstable_by(|a, b| (a.ws, &a.name, a.seq).cmp(&(b.ws, &b.name, b.seq)));
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO event_name_runs (workspace_id, name, first_seq, last_seq, seqs) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .db()?;
    for run in keys.chunk_by(|a, b| (a.ws, &a.name) == (b.ws, &b.name)) {
        let (Some(name), Some(end)) = (&run[0].name, run.last()) else { continue };
        let json = json_list(run, |k, json| write!(json, "{}", k.seq));
        insert.execute(params![run[0].ws, name, run[0].seq, end.seq, json]).db()?;
    }
    conn.prepare_cached("UPDATE event_keys_through SET seq = ?1").db()?.execute([last]).db()?;
    Ok(last)
}

/// A JSON array of what `item` writes for each key.
fn json_list(run: &[Key], item: impl Fn(&Key, &mut String) -> std::fmt::Result) -> String {
    let mut json = String::with_capacity(run.len() * 28 + 2);
    json.push('[');
    for (i, k) in run.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // Writing to a String cannot fail.
        let _ = item(k, &mut json);
    }
    json.push(']');
    json
}

/// The day of a timestamp as `day_of_ts!` computes it in SQL (both truncate toward zero).
fn day(ts: i64) -> i64 {
    ts / crate::time_index::DAY_MICROS
}

/// Events a run filed from the log covers at most (a store moving to this layout files its whole log): a run
/// holds at most this many keys, ~16 bytes each (below [`RUN_SPAN_MAX`]).
const FILE_RANGE_EVENTS: i64 = 65_536;
const _: () = assert!(FILE_RANGE_EVENTS < RUN_SPAN_MAX && KEYS_BATCH_EVENTS < RUN_SPAN_MAX);

/// Files every event past the mark from the log, one run per (workspace, day) and range of sequences, and moves
/// the mark to the last event.
pub(crate) fn file_tail(conn: &Connection) -> Result<i64> {
    let last: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()?;
    let mut stmt = conn
        .prepare_cached(concat!(
            "INSERT INTO event_day_runs (workspace_id, day, base_seq, keys)
             SELECT workspace_id, day, ?1, json_group_array(((seq - ?1) << 38) | (ts - day * 86400000000 + 86400000000))
             FROM (SELECT workspace_id, ",
            day_of_ts!(),
            " AS day, seq, ts FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY 1, 2, 3)
             GROUP BY workspace_id, day"
        ))
        .db()?;
    let mut names = conn
        .prepare_cached(
            "INSERT INTO event_name_runs (workspace_id, name, first_seq, last_seq, seqs)
             SELECT workspace_id, name, MIN(seq), MAX(seq), json_group_array(seq)
             FROM (SELECT workspace_id, name, seq FROM events WHERE seq > ?1 AND seq <= ?2 AND name IS NOT NULL
                   ORDER BY 1, 2, 3)
             GROUP BY workspace_id, name",
        )
        .db()?;
    let mut from = through(conn)?;
    while from < last {
        let to = last.min(from.saturating_add(FILE_RANGE_EVENTS));
        stmt.execute([from, to]).db()?;
        names.execute([from, to]).db()?;
        from = to;
    }
    conn.prepare_cached("UPDATE event_keys_through SET seq = ?1").db()?.execute([from]).db()?;
    Ok(from)
}

/// Files the whole log again: when the store moves to this layout (migration 24) and after `kairos migrate`
/// copied events into this store.
pub(crate) fn refile(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM event_day_runs; DELETE FROM event_name_runs; UPDATE event_keys_through SET seq = 0;",
    )
    .db()?;
    let last = file_tail(conn)?;
    if last > 0 {
        tracing::info!(events = last, "filed the log's events by day and by name");
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `sql`'s plan reads runs by their key (`key`: the start of its constraint, e.g. `workspace_id=? AND day`)
    /// and the log's tail by sequence (or through the workspace's index of sequences), and scans no table whole.
    pub(crate) fn assert_keyed(conn: &Connection, sql: &str, key: &str) {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let unbound = vec![rusqlite::types::Null; stmt.parameter_count()];
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(unbound), |r| r.get(3))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let runs = |p: &&String| p.starts_with("SEARCH ") && p.contains(&format!("USING PRIMARY KEY ({key}"));
        assert!(plan.iter().any(|p| runs(&p)), "{sql}: {plan:?}");
        let tail = |p: &&String| {
            p.starts_with("SEARCH events USING INTEGER PRIMARY KEY (rowid>?")
                || p.starts_with("SEARCH events USING INDEX events_by_workspace (workspace_id=? AND seq>?")
        };
        assert!(plan.iter().any(|p| tail(&p)), "{sql}: {plan:?}");
        let whole =
            |p: &&String| ["events", "event_day_runs", "event_name_runs"].iter().any(|t| **p == format!("SCAN {t}"));
        assert!(!plan.iter().any(|p| whole(&p)), "{sql}: {plan:?}");
    }

    /// The reads by name take the name runs by their key and the tail.
    #[test]
    fn reads_by_name_use_the_name_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(true).unwrap();
        for sql in [crate::events::ANY_NAMED, crate::reports::EVENT_ROWS, crate::reports::EVENT_TIMES] {
            assert_keyed(&conn, sql, "workspace_id=? AND name=?");
        }
        // A run's rows: each by its sequence, in order without a sort holding the rows.
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", crate::events::RUN_ROWS)).unwrap();
        let plan: Vec<String> =
            stmt.query_map(["[]"], |r| r.get(3)).unwrap().collect::<std::result::Result<_, _>>().unwrap();
        assert!(plan.iter().any(|p| p.starts_with("SEARCH events USING INTEGER PRIMARY KEY (rowid=?)")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("FOR ORDER BY")), "{plan:?}");
    }

    /// Every read by name finds each event of that name once, in log order, filed or not.
    #[test]
    fn reads_by_name_find_filed_and_unfiled_events_in_log_order() {
        use kairos_domain::{Timestamp, WorkspaceId};
        use kairos_store::read::ReportReads;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(false).unwrap();
        let mut tail = Tail::default();
        log(&conn, &mut tail, 1..=KEYS_BATCH_EVENTS + 10);
        tail.before_commit(&conn).unwrap();
        log(&conn, &mut tail, KEYS_BATCH_EVENTS + 11..=KEYS_BATCH_EVENTS + 60);
        assert_eq!(count(&conn, "SELECT seq FROM event_keys_through"), KEYS_BATCH_EVENTS + 10);
        let reader = store.read_pool().get().unwrap();
        let (from, to) = (Timestamp::from_micros(i64::MIN), Timestamp::from_micros(i64::MAX));
        for (ws, name) in [(2, "n1"), (1, "n2"), (2, "n3"), (1, "n0"), (1, "none")] {
            let want: Vec<i64> = conn
                .prepare("SELECT seq FROM events WHERE workspace_id = ?1 AND name = ?2 ORDER BY seq")
                .unwrap()
                .query_map(params![ws, name], |r| r.get(0))
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
            assert_eq!(want.is_empty(), name == "none", "{ws} {name}");
            let mut scanned = Vec::new();
            crate::events::scan_named(&conn, WorkspaceId(ws), name, &mut |_, data| {
                scanned.push(serde_json::from_str::<serde_json::Value>(data).unwrap()["seq"].as_i64().unwrap())
            })
            .unwrap();
            assert_eq!(scanned, want, "{ws} {name}");
            let rows = reader.event_rows(WorkspaceId(ws), name, from, to).unwrap();
            assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), want, "{ws} {name}");
            let times = reader.event_times(WorkspaceId(ws), name, from, to).unwrap();
            let want_times: Vec<i64> = want.iter().map(|s| (s * 7919 % 97) * 3_600_000_000 - 7_200_000_000).collect();
            assert_eq!(times.iter().map(|t| t.1.as_micros()).collect::<Vec<_>>(), want_times, "{ws} {name}");
            assert_eq!(crate::events::any_named(&conn, WorkspaceId(ws), name).unwrap(), !want.is_empty());
        }
    }

    /// Logs events `seqs` straight into the table (two workspaces, four days out of time order, four names and
    /// none) and tells `tail`.
    fn log(conn: &Connection, tail: &mut Tail, seqs: std::ops::RangeInclusive<i64>) {
        for seq in seqs {
            let (ws, ts) = (1 + seq % 2, (seq * 7919 % 97) * 3_600_000_000 - 7_200_000_000);
            let name = (seq % 5 != 0).then(|| format!("n{}", seq % 4));
            conn.execute(
                "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data)
                 VALUES (?1, ?2, 1, 'm' || ?1, 'track', ?4, ?3, 0, json_object('seq', ?1))",
                params![seq, ws, ts, name],
            )
            .unwrap();
            tail.inserted(ws, seq, ts, name.as_deref());
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The view holds each event once with its workspace, day and time, filed or not.
    fn check(conn: &Connection, filed: i64, total: i64) {
        assert_eq!(count(conn, "SELECT seq FROM event_keys_through"), filed);
        assert_eq!(count(conn, "SELECT COUNT(*) FROM events_dated"), total);
        let same = "SELECT COUNT(DISTINCT d.seq) FROM events e JOIN events_dated d ON d.seq = e.seq
                    WHERE d.workspace_id = e.workspace_id AND d.ts = e.ts AND d.day = e.ts / 86400000000";
        assert_eq!(count(conn, same), total);
        let named = "SELECT COUNT(*) FROM events WHERE name IS NOT NULL";
        assert_eq!(count(conn, "SELECT COUNT(*) FROM events_named"), count(conn, named));
        let same = "SELECT COUNT(DISTINCT k.seq) FROM events e JOIN events_named k ON k.seq = e.seq
                    WHERE k.workspace_id = e.workspace_id AND k.name = e.name";
        assert_eq!(count(conn, same), count(conn, named));
    }

    /// A commit files the tail only past a batch, one run per workspace and day, from the writer's keys or from
    /// the log, and the view holds the log throughout.
    #[test]
    fn the_view_holds_the_log_filed_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(false).unwrap();
        let runs = |conn: &Connection| count(conn, "SELECT COUNT(*) FROM event_day_runs");
        let mut tail = Tail::default();
        let batch = KEYS_BATCH_EVENTS;
        log(&conn, &mut tail, 1..=100);
        tail.before_commit(&conn).unwrap();
        check(&conn, 0, 100);
        assert_eq!(runs(&conn), 0);
        // From the writer's keys.
        log(&conn, &mut tail, 101..=batch + 10);
        tail.before_commit(&conn).unwrap();
        check(&conn, batch + 10, batch + 10);
        let days = "SELECT COUNT(*) FROM (SELECT DISTINCT workspace_id, ts / 86400000000 FROM events)";
        assert_eq!(runs(&conn), count(&conn, days), "one run per workspace and day");
        let names = "SELECT COUNT(*) FROM (SELECT DISTINCT workspace_id, name FROM events WHERE name IS NOT NULL)";
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM event_name_runs"), count(&conn, names), "and per name");
        // A rollback forgets the keys: the next batch is read from the log, the keys of the rolled-back
        // transaction's events (not in the log) never filed.
        log(&conn, &mut tail, batch + 11..=batch + 20);
        tail.inserted(1, batch + 21, 0, Some("gone"));
        tail.forget();
        log(&conn, &mut tail, batch + 22..=2 * batch + 30);
        tail.before_commit(&conn).unwrap();
        check(&conn, 2 * batch + 30, 2 * batch + 29);
        // Events another writer logged between this one's.
        let mut other = Tail::default();
        log(&conn, &mut tail, 2 * batch + 31..=3 * batch + 40);
        log(&conn, &mut other, 3 * batch + 41..=3 * batch + 41);
        log(&conn, &mut tail, 3 * batch + 42..=3 * batch + 50);
        tail.before_commit(&conn).unwrap();
        check(&conn, 3 * batch + 50, 3 * batch + 49);
        refile(&conn).unwrap();
        check(&conn, 3 * batch + 50, 3 * batch + 49);
    }
}
