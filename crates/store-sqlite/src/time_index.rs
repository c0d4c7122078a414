//! A workspace's events in time order, through an index whose entries do not land at random places (issue 17,
//! item 2).
//!
//! An index on `(workspace_id, ts)` takes each event where its timestamp falls: when events arrive out of time
//! order (mobile batches, backfills, the anchor workload's 30 days) that is a random page of a B-tree larger than
//! the page cache, read and rewritten by the commit: 17 100 → 22 500 events/s on the anchor without it.
//! `events_by_day` keyed the day (UTC) of the timestamp, then the sequence number: within a day, entries arrive in
//! key order, so inserts touched only the last page of each day being written (one or two for a store sending
//! live events, 30 for the anchor). Every page a commit dirties is written whole to the WAL, so the number of such
//! places is what counted: hours (720 on the anchor) gave 15 800 events/s, days 17 700. Since migration 24 the same
//! keys are filed a batch at a time, one run per day (`crate::event_keys`), and read through the view
//! `events_dated` (the runs plus the log's unfiled tail). The keys hold `ts` too, so ordering a day needs no row:
//! a page of the time-ordered listing reads the day's keys from its cursor on, sorted, and then only its own rows.
//! The sorted day is kept by the reader ([`DayCache`]) for the next page, so a replay reads each day's keys once
//! however many pages it spans; a day past [`DAY_CACHE_KEYS_MAX`] entries is sorted per page by SQLite instead
//! (bounded memory, slower).

use std::cell::RefCell;

use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_store::Result;
use kairos_store::codec::{EventRow, page_rows};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Db;

/// The bucket of `events_dated`, in microseconds (SQL's integer division truncates as Rust's does: `day_of_ts!`).
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// The most index entries of one day a reader keeps sorted between pages: 16 bytes each, 64 MiB.
pub(crate) const DAY_CACHE_KEYS_MAX: usize = 4 << 20;

// Each part's own MIN / MAX: one over the view would read every entry from the bound on.
const NEXT_DAY: &str = concat!(
    "SELECT MIN(d) FROM (SELECT MIN(day) AS d FROM event_day_runs WHERE workspace_id = ?1 AND day >= ?2
     UNION ALL SELECT MIN(",
    day_of_ts!(),
    ") FROM events WHERE seq > (SELECT seq FROM event_keys_through) AND workspace_id = ?1 AND ",
    day_of_ts!(),
    " >= ?2)"
);
const PREV_DAY: &str = concat!(
    "SELECT MAX(d) FROM (SELECT MAX(day) AS d FROM event_day_runs WHERE workspace_id = ?1 AND day <= ?2
     UNION ALL SELECT MAX(",
    day_of_ts!(),
    ") FROM events WHERE seq > (SELECT seq FROM event_keys_through) AND workspace_id = ?1 AND ",
    day_of_ts!(),
    " <= ?2)"
);
const SORTED_DAY: &str =
    "SELECT ts, seq FROM events_dated WHERE workspace_id = ?1 AND day = ?2 AND ts >= ?3 AND seq <= ?4 LIMIT ?5";
const TOP_KEYS_AFTER: &str = "SELECT seq FROM events_dated WHERE workspace_id = ?1 AND day = ?2 AND ts >= ?3
     AND (ts > ?4 OR (ts = ?4 AND seq > ?5)) AND seq <= ?6 ORDER BY ts, seq LIMIT ?7";
const COUNT_DAY: &str =
    "SELECT COUNT(*) FROM events_dated WHERE workspace_id = ?1 AND day = ?2 AND ts >= ?3 AND seq <= ?4";
const PICK_DAY: &str = "SELECT ts, seq FROM events_dated WHERE workspace_id = ?1 AND day = ?2 AND ts >= ?3
     AND seq <= ?4 ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?5";
const SCAN_SINCE: &str = "SELECT e.contact_id, e.data FROM events_dated k JOIN events e ON e.seq = k.seq
     WHERE k.workspace_id = ?1 AND k.day >= ?2 AND k.ts >= ?3";

/// A day's (ts, seq) keys sorted, for the (workspace, day, since, until) they were read with.
#[derive(Default)]
pub(crate) struct DayCache(RefCell<Option<SortedDay>>);

type SortedDay = (DayQuery, Vec<(i64, i64)>);

#[derive(Clone, Copy, PartialEq, Eq)]
struct DayQuery {
    ws: i64,
    day: i64,
    since: i64,
    until_seq: i64,
}

fn day(ts: i64) -> i64 {
    ts / DAY_MICROS
}

/// The first day at or after `from` holding an event of the workspace.
fn next_day(conn: &Connection, ws: WorkspaceId, from: i64) -> Result<Option<i64>> {
    conn.prepare_cached(NEXT_DAY).db()?.query_row(params![ws.0, from], |r| r.get(0)).db()
}

/// The last day at or before `to` holding an event of the workspace.
fn prev_day(conn: &Connection, ws: WorkspaceId, to: i64) -> Result<Option<i64>> {
    conn.prepare_cached(PREV_DAY).db()?.query_row(params![ws.0, to], |r| r.get(0)).db()
}

/// Whole rows of `seqs`, in that order (rows gone meanwhile are left out).
pub(crate) fn rows_by_seq(conn: &Connection, seqs: impl IntoIterator<Item = i64>) -> Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached("SELECT seq, contact_id, data, ts FROM events WHERE seq = ?1").db()?;
    let mut rows = Vec::new();
    for seq in seqs {
        rows.extend(stmt.query_row([seq], crate::rows::event_row).optional().db()?);
    }
    Ok(rows)
}

/// Up to `limit` + 1 events of the workspace with `ts >= since` and `seq <= until_seq` after `(ts, seq)` =
/// `after`, oldest first by (timestamp, sequence).
pub(crate) fn page_after(
    conn: &Connection,
    cache: &DayCache,
    q: (WorkspaceId, Timestamp, i64),
    after: (i64, i64),
    limit: usize,
) -> Result<Vec<EventRow>> {
    page_after_keeping(conn, cache, q, after, limit, DAY_CACHE_KEYS_MAX)
}

fn page_after_keeping(
    conn: &Connection,
    cache: &DayCache,
    q: (WorkspaceId, Timestamp, i64),
    after: (i64, i64),
    limit: usize,
    keep_max: usize,
) -> Result<Vec<EventRow>> {
    let (ws, since, until_seq) = q;
    let want = usize::try_from(page_rows(limit)).unwrap_or(usize::MAX);
    let since = since.as_micros();
    let mut keys: Vec<i64> = Vec::new();
    let mut d = day(since.max(after.0));
    while keys.len() < want {
        let Some(found) = next_day(conn, ws, d)? else { break };
        let q = DayQuery { ws: ws.0, day: found, since, until_seq };
        if !day_keys_after(conn, cache, (q, keep_max), after, want, &mut keys)? {
            top_keys_after(conn, q, after, want, &mut keys)?;
        }
        d = found + 1;
    }
    rows_by_seq(conn, keys)
}

/// From the reader's sorted day (read and sorted first if it is another day): the keys after `after`, up to
/// `want` in all. False when the day is too large to keep.
///
/// Kept only while it cannot change: every sequence number up to `until_seq` is committed (the committer gives
/// them in commit order) and an event's timestamp is never rewritten.
fn day_keys_after(
    conn: &Connection,
    cache: &DayCache,
    (q, keep_max): (DayQuery, usize),
    after: (i64, i64),
    want: usize,
    keys: &mut Vec<i64>,
) -> Result<bool> {
    let mut held = cache.0.borrow_mut();
    let fresh;
    let sorted = match held.as_ref() {
        Some((k, sorted)) if *k == q => sorted,
        _ => {
            *held = None;
            let Some(sorted) = sorted_day(conn, q, keep_max)? else { return Ok(false) };
            let last: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()?;
            if q.until_seq <= last {
                &held.insert((q, sorted)).1
            } else {
                fresh = sorted;
                &fresh
            }
        }
    };
    let from = sorted.partition_point(|&k| k <= after);
    keys.extend(sorted[from..].iter().take(want - keys.len()).map(|&(_, seq)| seq));
    Ok(true)
}

/// The day's (ts, seq) keys sorted; None past `keep_max`.
fn sorted_day(conn: &Connection, q: DayQuery, keep_max: usize) -> Result<Option<Vec<(i64, i64)>>> {
    let cap = i64::try_from(keep_max).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(SORTED_DAY).db()?;
    let rows = stmt.query_map(params![q.ws, q.day, q.since, q.until_seq, cap + 1], |r| Ok((r.get(0)?, r.get(1)?)));
    let mut sorted = rows.db()?.collect::<rusqlite::Result<Vec<(i64, i64)>>>().db()?;
    if sorted.len() > keep_max {
        return Ok(None);
    }
    sorted.sort_unstable();
    Ok(Some(sorted))
}

/// SQLite's own top-N over the day's index entries after `after` (a day too large to keep sorted).
fn top_keys_after(conn: &Connection, q: DayQuery, after: (i64, i64), want: usize, keys: &mut Vec<i64>) -> Result<()> {
    let left = i64::try_from(want - keys.len()).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(TOP_KEYS_AFTER).db()?;
    let rows = stmt.query_map(params![q.ws, q.day, q.since, after.0, after.1, q.until_seq, left], |r| r.get(0)).db()?;
    for seq in rows {
        keys.push(seq.db()?);
    }
    Ok(())
}

/// `(ts, seq)` of the event just before the workspace's newest `n` with `ts >= since` and `seq <= until_seq`.
pub(crate) fn before_newest(
    conn: &Connection,
    ws: WorkspaceId,
    since: Timestamp,
    until_seq: i64,
    n: usize,
) -> Result<Option<(i64, i64)>> {
    let since = since.as_micros();
    let mut skip = i64::try_from(n).unwrap_or(i64::MAX);
    let mut h = i64::MAX;
    while let Some(found) = prev_day(conn, ws, h)? {
        if found < day(since) {
            break;
        }
        let in_day: i64 = conn
            .prepare_cached(COUNT_DAY)
            .db()?
            .query_row(params![ws.0, found, since, until_seq], |r| r.get(0))
            .db()?;
        if in_day > skip {
            let mut stmt = conn.prepare_cached(PICK_DAY).db()?;
            return stmt
                .query_row(params![ws.0, found, since, until_seq, skip], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db();
        }
        skip -= in_day;
        h = found - 1;
    }
    Ok(None)
}

/// Every event of the workspace with `ts >= since`, in no particular order: (contact, stored JSON).
pub(crate) fn scan_since(
    conn: &Connection,
    ws: WorkspaceId,
    since: Timestamp,
    f: &mut dyn FnMut(ContactId, &str),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(SCAN_SINCE).db()?;
    let mut rows = stmt.query(params![ws.0, day(since.as_micros()), since.as_micros()]).db()?;
    while let Some(r) = rows.next().db()? {
        let data: String = r.get(1).db()?;
        f(ContactId(r.get(0).db()?), &data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;

    /// Two days of events out of order, written straight to a store; answers the store and the expected order.
    /// The same with the first `filed` events filed in day runs (`crate::event_keys`), the rest in the tail.
    fn store_with_days(dir: &std::path::Path) -> (crate::SqliteStore, WorkspaceId, Vec<i64>) {
        store_filed(dir, 0)
    }

    fn store_filed(dir: &std::path::Path, filed: i64) -> (crate::SqliteStore, WorkspaceId, Vec<i64>) {
        let store = crate::SqliteStore::open(dir).unwrap();
        let ws = WorkspaceId(1);
        let w = store.connect(false).unwrap();
        let mut want = Vec::new();
        for seq in 1..=60i64 {
            let ts = (seq * 7_919 % 60) * 3_600 * 1_000_000 / 2;
            insert(&w, ws, seq, ts);
            want.push((ts, seq));
            if seq == filed {
                crate::event_keys::refile(&w).unwrap();
            }
        }
        want.sort_unstable();
        (store, ws, want.into_iter().map(|(_, s)| s).collect())
    }

    fn insert(conn: &Connection, ws: WorkspaceId, seq: i64, ts: i64) {
        conn.execute(
            "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data)
             VALUES (?1, ?2, 1, ?1, 'track', 'Page Viewed', ?3, 0, '{}')",
            params![seq, ws.0, ts],
        )
        .unwrap();
    }

    fn replay(conn: &Connection, cache: &DayCache, ws: WorkspaceId, until: i64, size: usize, keep: usize) -> Vec<i64> {
        let (mut out, mut after) = (Vec::new(), (i64::MIN, i64::MIN));
        loop {
            let q = (ws, Timestamp::from_micros(i64::MIN), until);
            let mut rows = page_after_keeping(conn, cache, q, after, size, keep).unwrap();
            let more = rows.len() > size;
            rows.truncate(size);
            out.extend(rows.iter().map(|r| r.0));
            match rows.last() {
                Some(&(seq, _, _, ts)) if more => after = (ts, seq),
                _ => return out,
            }
        }
    }

    /// Days kept sorted by the reader and days too large to keep (SQLite's top-N) page the same.
    #[test]
    fn kept_and_unkept_days_page_alike() {
        for filed in [0, 25, 60] {
            let dir = tempfile::tempdir().unwrap();
            let (store, ws, want) = store_filed(dir.path(), filed);
            let conn = store.connect(true).unwrap();
            for (size, keep) in [(1, 1_000), (7, 1_000), (7, 3), (100, 3), (4, 0)] {
                let got = replay(&conn, &DayCache::default(), ws, 60, size, keep);
                assert_eq!(got, want, "filed {filed}, size {size}, keep {keep}");
            }
            let since = Timestamp::from_micros(i64::MIN);
            for n in [0, 1, 30, 59] {
                let (_, seq) = before_newest(&conn, ws, since, 60, n).unwrap().unwrap();
                assert_eq!(seq, want[want.len() - n - 1], "filed {filed}, newest {n}");
            }
            assert_eq!(before_newest(&conn, ws, since, 60, 60).unwrap(), None);
            let mut seen = 0;
            scan_since(&conn, ws, since, &mut |_, _| seen += 1).unwrap();
            assert_eq!(seen, 60, "filed {filed}");
        }
    }

    /// A listing not bounded by what is committed (`until_seq` past the log) sees what later commits add.
    #[test]
    fn an_open_ended_listing_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ws, _) = store_with_days(dir.path());
        let conn = store.connect(true).unwrap();
        let cache = DayCache::default();
        let q = (ws, Timestamp::from_micros(i64::MIN), i64::MAX);
        let first = page_after(&conn, &cache, q, (i64::MIN, i64::MIN), 1).unwrap();
        insert(&store.connect(false).unwrap(), ws, 61, first[0].3 + 1);
        let next = page_after(&conn, &cache, q, (first[0].3, first[0].0), 1).unwrap();
        assert_eq!(next[0].0, 61, "the event committed since the first page");
    }

    /// Each statement reads the day runs by their key and the log's tail by sequence, never a whole table (a
    /// plan, which no behaviour test would notice regressing).
    #[test]
    fn the_time_ordered_reads_use_the_day_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(true).unwrap();
        for sql in [NEXT_DAY, PREV_DAY, SORTED_DAY, TOP_KEYS_AFTER, COUNT_DAY, PICK_DAY, SCAN_SINCE] {
            crate::event_keys::tests::assert_keyed(&conn, sql, "workspace_id=? AND day");
        }
    }
}
