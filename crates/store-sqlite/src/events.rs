//! The event log: `events` (append-only apart from merges re-pointing `contact_id`) and `event_messages`, the
//! message each event about a message refers to (what reports join on instead of reading the event's JSON).

use kairos_domain::{ContactId, Event, Timestamp, WorkspaceId};
use kairos_store::read::EventReads;
use kairos_store::reports::MessageRef;
use kairos_store::write::EventWrites;
use kairos_store::{Page, Result, StoreError, StoredEvent};
use rusqlite::{OptionalExtension, params};

use crate::rows::{event_row, readable_event};
use kairos_store::codec::{EventRow, event_page, page_rows, time_cursor, time_cursor_at};

use crate::{Db, SqliteReader, SqliteWriter, contact_events, cursor_number, time_index};

/// What a history read decides on before decoding an event's JSON.
struct Head<'a> {
    ts: i64,
    kind: &'a str,
    name: Option<&'a str>,
}

/// The readable events among `seqs` that `keep` accepts, in (timestamp, sequence) order.
fn contact_history(conn: &rusqlite::Connection, seqs: &[i64], keep: impl Fn(&Head<'_>) -> bool) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached("SELECT ts, kind, name, data FROM events WHERE seq = ?1").db()?;
    let mut found = Vec::new();
    for &seq in seqs {
        let mut rows = stmt.query([seq]).db()?;
        let Some(r) = rows.next().db()? else { continue };
        let text = |i| r.get_ref(i).db().and_then(|v| v.as_str_or_null().map_err(|e| StoreError::corrupt("event", e)));
        let head = Head { ts: r.get(0).db()?, kind: text(1)?.unwrap_or_default(), name: text(2)? };
        if keep(&head) {
            found.push((head.ts, seq, text(3)?.unwrap_or_default().to_owned()));
        }
    }
    found.sort_unstable_by_key(|&(ts, seq, _)| (ts, seq));
    Ok(found.into_iter().flat_map(|(_, seq, data)| readable_event(seq, &data)).collect())
}

impl EventWrites for SqliteWriter {
    fn max_event_seq(&mut self) -> Result<i64> {
        self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()
    }

    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()> {
        // Each workspace's entries of the covering index `events_by_workspace (workspace_id, seq, received_at,
        // message_id)` from the first sequence received shortly before the window: no event row is read.
        let first = crate::reports::first_seq_received(&self.conn, since)?;
        let mut next_ws =
            self.conn.prepare_cached("SELECT MIN(workspace_id) FROM events WHERE workspace_id > ?1").db()?;
        let mut window = self
            .conn
            .prepare_cached(
                "SELECT message_id, received_at FROM events INDEXED BY events_by_workspace
                 WHERE workspace_id = ?1 AND seq >= ?2 AND received_at >= ?3",
            )
            .db()?;
        let mut ws = i64::MIN;
        while let Some(w) = next_ws.query_row([ws], |r| r.get::<_, Option<i64>>(0)).db()? {
            ws = w;
            let mut rows = window.query(params![ws, first, since.as_micros()]).db()?;
            while let Some(r) = rows.next().db()? {
                let id = r.get_ref(0).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("message id: {e}")))?;
                f(WorkspaceId(ws), id, Timestamp::from_micros(r.get(1).db()?));
            }
        }
        Ok(())
    }

    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, e: &Event, data: &str) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data, system)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .db()?;
        stmt.execute(params![
            seq,
            ws.0,
            contact.0,
            e.message_id.as_str(),
            e.kind.as_str(),
            e.name,
            e.timestamp.as_micros(),
            e.received_at.as_micros(),
            data,
            // Outside the partial index until the commit knows whether the contact's row lists it.
            e.system.then_some(2),
        ])
        .db()?;
        self.keys.inserted(ws.0, seq, e.timestamp.as_micros(), e.name.as_deref());
        self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        // A customer's events go into the contact's list; Kairos's own into it too when the transaction writes
        // the contact's row, else into their partial index (`crate::contact_events`).
        if e.system {
            self.pending.note_system(contact, seq);
        } else {
            self.pending.note(contact, seq);
        }
        if self.conn.is_autocommit() {
            contact_events::flush(&self.conn, &mut self.pending)?;
        }
        if let Some(m) = MessageRef::of(e) {
            self.conn
                .prepare_cached(
                    "INSERT INTO event_messages (seq, message_id, flow_id, step_id, campaign_id, channel, machine)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .db()?
                .execute(params![seq, m.message_id, m.flow_id, m.step_id, m.campaign_id, m.channel, m.machine])
                .db()?;
        }
        Ok(())
    }

    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>> {
        let seqs = contact_events::seqs_of(&self.conn, contact, &self.pending.of(contact))?;
        contact_history(&self.conn, &seqs, |_| true)
    }

    fn contact_cart_events(&mut self, contact: ContactId, since: Option<Timestamp>) -> Result<Vec<Event>> {
        let seqs = contact_events::seqs_of(&self.conn, contact, &self.pending.of(contact))?;
        let from = since.map_or(i64::MIN, Timestamp::as_micros);
        let cart = kairos_domain::contact::CART_EVENTS;
        contact_history(&self.conn, &seqs, |h| {
            h.ts >= from && h.kind == "track" && h.name.is_some_and(|n| cart.contains(&n))
        })
    }

    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()> {
        let seqs = contact_events::seqs_of(&self.conn, from, &self.pending.of(from))?;
        let mut stmt = self.conn.prepare_cached("UPDATE events SET contact_id = ?2 WHERE seq = ?1").db()?;
        for seq in seqs {
            stmt.execute([seq, to.0]).db()?;
        }
        contact_events::move_lists(&self.conn, &mut self.pending, from, to)
    }

    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_named(&self.conn, ws, name, f)
    }

    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        time_index::scan_since(&self.conn, ws, since, f)
    }

    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        any_named(&self.conn, ws, name)
    }
}

/// A workspace's events of one name in log order: each run's (`crate::event_keys`, the runs in order, each read
/// by its sequence numbers in order), then the log's tail past the mark as it was read (a run filed meanwhile
/// starts past it: nothing is read twice or missed).
pub(crate) fn scan_named(
    conn: &rusqlite::Connection,
    ws: WorkspaceId,
    name: &str,
    f: &mut dyn FnMut(ContactId, &str),
) -> Result<()> {
    let through: i64 =
        conn.prepare_cached("SELECT seq FROM event_keys_through").db()?.query_row([], |r| r.get(0)).db()?;
    let mut runs = conn
        .prepare_cached(
            "SELECT seqs FROM event_name_runs WHERE workspace_id = ?1 AND name = ?2 AND first_seq <= ?3
             ORDER BY first_seq",
        )
        .db()?;
    let mut listed = runs.query(params![ws.0, name, through]).db()?;
    while let Some(run) = listed.next().db()? {
        let seqs: String = run.get(0).db()?;
        scan_rows(conn, RUN_ROWS, params![seqs], f)?;
    }
    scan_rows(conn, TAIL_ROWS, params![ws.0, name, through], f)
}

/// The rows of one run's sequence numbers (a JSON array), in sequence order: SQLite walks the list sorted.
pub(crate) const RUN_ROWS: &str =
    "SELECT contact_id, data FROM events WHERE seq IN (SELECT value FROM json_each(?1)) ORDER BY seq";
/// The rows of a name past the mark.
pub(crate) const TAIL_ROWS: &str =
    "SELECT contact_id, data FROM events WHERE seq > ?3 AND workspace_id = ?1 AND name = ?2 ORDER BY seq";

fn scan_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    args: impl rusqlite::Params,
    f: &mut dyn FnMut(ContactId, &str),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(args).db()?;
    while let Some(r) = rows.next().db()? {
        let data: String = r.get(1).db()?;
        f(ContactId(r.get(0).db()?), &data);
    }
    Ok(())
}

/// Whether the workspace has an event of that name.
pub(crate) const ANY_NAMED: &str = "SELECT 1 FROM events_named WHERE workspace_id = ?1 AND name = ?2 LIMIT 1";

pub(crate) fn any_named(conn: &rusqlite::Connection, ws: WorkspaceId, name: &str) -> Result<bool> {
    let mut stmt = conn.prepare_cached(ANY_NAMED).db()?;
    Ok(stmt.query_row(params![ws.0, name], |_| Ok(())).optional().db()?.is_some())
}

/// The cursor of the time-ordered listings.
fn by_time(&(seq, _, _, ts): &EventRow) -> String {
    time_cursor_at(ts, seq)
}

impl EventReads for SqliteReader<'_> {
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let (ts, seq) = time_cursor(cursor, (i64::MAX, i64::MAX))?;
        // Newest first by (timestamp, sequence): the contact's (ts, seq) pairs are read from their rows' headers,
        // then only the page's rows whole.
        let seqs = contact_events::seqs_of(&self.conn, contact, &[])?;
        let mut keys = Vec::with_capacity(seqs.len());
        let mut stmt = self.conn.prepare_cached("SELECT ts FROM events WHERE seq = ?1").db()?;
        for s in seqs {
            if let Some(t) = stmt.query_row([s], |r| r.get::<_, i64>(0)).optional().db()?
                && (t, s) < (ts, seq)
            {
                keys.push((t, s));
            }
        }
        keys.sort_unstable_by(|a, b| b.cmp(a));
        keys.truncate(usize::try_from(page_rows(limit)).unwrap_or(usize::MAX));
        let rows = time_index::rows_by_seq(&self.conn, keys.into_iter().map(|(_, s)| s))?;
        Ok(event_page(rows, limit, by_time))
    }

    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let before = cursor_number(cursor, i64::MAX)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, contact_id, data, ts FROM events WHERE workspace_id = ?1 AND seq < ?2
                 ORDER BY seq DESC LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, before, page_rows(limit)], event_row)
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
        Ok(event_page(rows, limit, |(seq, ..)| seq.to_string()))
    }

    fn events_since(&self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        time_index::scan_since(&self.conn, ws, since, f)
    }

    fn events_named(&self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_named(&self.conn, ws, name, f)
    }

    fn has_event_named(&self, ws: WorkspaceId, name: &str) -> Result<bool> {
        any_named(&self.conn, ws, name)
    }

    fn last_event_seq(&self) -> Result<i64> {
        self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()
    }

    fn events_by_time(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredEvent>> {
        let after = time_cursor(cursor, (i64::MIN, i64::MIN))?;
        let rows = time_index::page_after(&self.conn, &self.day_keys, (ws, since, until_seq), after, limit)?;
        Ok(event_page(rows, limit, by_time))
    }

    fn newest_events_cursor(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        n: usize,
    ) -> Result<Option<String>> {
        let row = time_index::before_newest(&self.conn, ws, since, until_seq, n)?;
        Ok(row.map(|(ts, seq)| time_cursor_at(ts, seq)))
    }
}
