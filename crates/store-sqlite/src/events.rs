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

use crate::{Db, SqliteReader, SqliteWriter, cursor_number};

impl EventWrites for SqliteWriter {
    fn max_event_seq(&mut self) -> Result<i64> {
        self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()
    }

    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()> {
        // The window's range of the covering index `events_received`: no event row is read.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT workspace_id, message_id, received_at FROM events INDEXED BY events_received
                 WHERE received_at >= ?1 ORDER BY received_at DESC",
            )
            .db()?;
        let mut rows = stmt.query([since.as_micros()]).db()?;
        while let Some(r) = rows.next().db()? {
            let id = r.get_ref(1).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("message id: {e}")))?;
            f(WorkspaceId(r.get(0).db()?), id, Timestamp::from_micros(r.get(2).db()?));
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
            e.system.then_some(1),
        ])
        .db()?;
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
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, data FROM events WHERE contact_id = ?1 ORDER BY ts, seq").db()?;
        let rows = stmt.query_map([contact.0], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, data) = row.db()?;
            out.extend(readable_event(seq, &data));
        }
        Ok(out)
    }

    fn contact_cart_events(&mut self, contact: ContactId, since: Option<Timestamp>) -> Result<Vec<Event>> {
        let [a, b, c, d, e] = kairos_domain::contact::CART_EVENTS;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, data FROM events WHERE contact_id = ?1 AND ts >= ?2 AND kind = 'track'
                   AND name IN (?3, ?4, ?5, ?6, ?7) ORDER BY ts, seq",
            )
            .db()?;
        let from = since.map_or(i64::MIN, Timestamp::as_micros);
        let rows = stmt
            .query_map(params![contact.0, from, a, b, c, d, e], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .db()?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, data) = row.db()?;
            out.extend(readable_event(seq, &data));
        }
        Ok(out)
    }

    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE events SET contact_id = ?2 WHERE contact_id = ?1")
            .db()?
            .execute([from.0, to.0])
            .db()?;
        Ok(())
    }

    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_named(&self.conn, ws, name, f)
    }

    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_since(&self.conn, ws, since, f)
    }

    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        any_named(&self.conn, ws, name)
    }
}

fn scan_named(
    conn: &rusqlite::Connection,
    ws: WorkspaceId,
    name: &str,
    f: &mut dyn FnMut(ContactId, &str),
) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("SELECT contact_id, data FROM events WHERE workspace_id = ?1 AND name = ?2 ORDER BY seq")
        .db()?;
    let mut rows = stmt.query(params![ws.0, name]).db()?;
    while let Some(r) = rows.next().db()? {
        let data: String = r.get(1).db()?;
        f(ContactId(r.get(0).db()?), &data);
    }
    Ok(())
}

fn any_named(conn: &rusqlite::Connection, ws: WorkspaceId, name: &str) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM events WHERE workspace_id = ?1 AND name = ?2 LIMIT 1").db()?;
    Ok(stmt.query_row(params![ws.0, name], |_| Ok(())).optional().db()?.is_some())
}

fn scan_since(
    conn: &rusqlite::Connection,
    ws: WorkspaceId,
    since: Timestamp,
    f: &mut dyn FnMut(ContactId, &str),
) -> Result<()> {
    let mut stmt = conn.prepare("SELECT contact_id, data FROM events WHERE workspace_id = ?1 AND ts >= ?2").db()?;
    let mut rows = stmt.query(params![ws.0, since.as_micros()]).db()?;
    while let Some(r) = rows.next().db()? {
        let data: String = r.get(1).db()?;
        f(ContactId(r.get(0).db()?), &data);
    }
    Ok(())
}

/// The cursor of the time-ordered listings.
fn by_time(&(seq, _, _, ts): &EventRow) -> String {
    time_cursor_at(ts, seq)
}

impl EventReads for SqliteReader<'_> {
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let (ts, seq) = time_cursor(cursor, (i64::MAX, i64::MAX))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, contact_id, data, ts FROM events
                 WHERE contact_id = ?1 AND (ts < ?2 OR (ts = ?2 AND seq < ?3))
                 ORDER BY ts DESC, seq DESC LIMIT ?4",
            )
            .db()?;
        let rows = stmt
            .query_map(params![contact.0, ts, seq, page_rows(limit)], event_row)
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
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
        scan_since(&self.conn, ws, since, f)
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
        let (after_ts, after_seq) = time_cursor(cursor, (i64::MIN, i64::MIN))?;
        // `events_by_time` (workspace_id, ts) holds the rowid (seq) last, so it gives (ts, seq) order unsorted.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, contact_id, data, ts FROM events
                 WHERE workspace_id = ?1 AND ts >= ?2 AND (ts > ?3 OR seq > ?4) AND seq <= ?5
                 ORDER BY ts, seq LIMIT ?6",
            )
            .db()?;
        let from = since.as_micros().max(after_ts);
        let rows = stmt
            .query_map(params![ws.0, from, after_ts, after_seq, until_seq, page_rows(limit)], event_row)
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
        Ok(event_page(rows, limit, by_time))
    }

    fn newest_events_cursor(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        n: usize,
    ) -> Result<Option<String>> {
        // The event just before the newest `n` (read from the index alone); the listing starts after it.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, seq FROM events WHERE workspace_id = ?1 AND ts >= ?2 AND seq <= ?3
                 ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?4",
            )
            .db()?;
        let offset = i64::try_from(n).unwrap_or(i64::MAX);
        let row = stmt
            .query_row(params![ws.0, since.as_micros(), until_seq, offset], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()
            .db()?;
        Ok(row.map(|(ts, seq)| time_cursor_at(ts, seq)))
    }
}
