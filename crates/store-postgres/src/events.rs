//! The event log: `events` (append-only apart from merges re-pointing `contact_id`) and `event_messages`, the
//! message each event about a message refers to (what reports join on instead of reading the event's JSON).
//!
//! Inserted events are buffered in the writer and written together, one statement per table, when the
//! transaction commits or before the writer reads events ([`PendingEvents`]): ingestion writes thousands per
//! transaction, and one round trip per event would cap it far below what the committer needs.

use kairos_domain::{ContactId, Event, Timestamp, WorkspaceId};
use kairos_store::codec::{EventRow, event_page, page_rows, readable_event, time_cursor, time_cursor_at};
use kairos_store::read::EventReads;
use kairos_store::reports::MessageRef;
use kairos_store::write::EventWrites;
use kairos_store::{Page, Result, StoredEvent};
use postgres::Row;

use crate::conn::Conn;
use crate::{PgReader, PgWriter, cursor_number, get};

/// Rows the de-duplication window reads per round trip while walking the log backwards.
const WINDOW_BATCH_ROWS: i64 = 1_000;
/// Events a transaction buffers before writing them (one statement per this many rows at most).
const EVENTS_BUFFERED_MAX: usize = 10_000;

/// Events inserted in the open transaction and not written yet, column by column (the rows of one binary
/// `COPY`; their `event_messages` rows go in one `UNNEST` insert). Written when the transaction commits and before any statement of the writer reads events
/// ([`PgWriter::flush_events`]); dropped when it rolls back.
#[derive(Default)]
pub(crate) struct PendingEvents {
    seq: Vec<i64>,
    workspace: Vec<i64>,
    contact: Vec<i64>,
    message_id: Vec<String>,
    kind: Vec<&'static str>,
    name: Vec<Option<String>>,
    ts: Vec<i64>,
    received_at: Vec<i64>,
    data: Vec<String>,
    system: Vec<Option<bool>>,
    /// `event_messages` rows of the events above that are about a message.
    messages: PendingMessageRefs,
}

#[derive(Default)]
struct PendingMessageRefs {
    seq: Vec<i64>,
    message_id: Vec<Option<String>>,
    flow_id: Vec<Option<String>>,
    step_id: Vec<Option<String>>,
    campaign_id: Vec<Option<String>>,
    channel: Vec<Option<String>>,
    machine: Vec<bool>,
}

impl PendingEvents {
    fn push(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, e: &Event, data: &str) {
        self.seq.push(seq);
        self.workspace.push(ws.0);
        self.contact.push(contact.0);
        self.message_id.push(e.message_id.as_str().to_string());
        self.kind.push(e.kind.as_str());
        self.name.push(e.name.clone());
        self.ts.push(e.timestamp.as_micros());
        self.received_at.push(e.received_at.as_micros());
        self.data.push(data.to_string());
        // NULL rather than false, as in the SQLite store (reports filter on `system IS NULL`).
        self.system.push(e.system.then_some(true));
        if let Some(m) = MessageRef::of(e) {
            let refs = &mut self.messages;
            refs.seq.push(seq);
            refs.message_id.push(m.message_id);
            refs.flow_id.push(m.flow_id);
            refs.step_id.push(m.step_id);
            refs.campaign_id.push(m.campaign_id);
            refs.channel.push(m.channel);
            refs.machine.push(m.machine);
        }
    }

    /// Forgets the buffered events (written, or their transaction rolled back).
    pub(crate) fn clear(&mut self) {
        *self = PendingEvents::default();
    }
}

impl PgWriter {
    /// Writes the events `insert_event` buffered in this transaction. Every statement of the writer that reads
    /// `events` or `event_messages` calls this first, and so does the commit.
    pub(crate) fn flush_events(&mut self) -> Result<()> {
        if self.pending_events.seq.is_empty() {
            return Ok(());
        }
        // Cleared whether written or not: a failed statement aborts the transaction they belong to.
        let written = self.write_pending_events();
        self.pending_events.clear();
        written
    }

    fn write_pending_events(&mut self) -> Result<()> {
        use postgres::types::Type;
        let p = &self.pending_events;
        let types = [
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::BOOL,
        ];
        self.conn.copy_in_binary(
            "COPY events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data, system)
             FROM STDIN (FORMAT binary)",
            &types,
            |w| {
                for i in 0..p.seq.len() {
                    w.write(&[
                        &p.seq[i],
                        &p.workspace[i],
                        &p.contact[i],
                        &p.message_id[i],
                        &p.kind[i],
                        &p.name[i],
                        &p.ts[i],
                        &p.received_at[i],
                        &p.data[i],
                        &p.system[i],
                    ])
                    .map_err(crate::pg_error)?;
                }
                Ok(())
            },
        )?;
        let m = &p.messages;
        if !m.seq.is_empty() {
            self.conn.execute(
                "INSERT INTO event_messages (seq, message_id, flow_id, step_id, campaign_id, channel, machine)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                     $7::BOOLEAN[])",
                &[&m.seq, &m.message_id, &m.flow_id, &m.step_id, &m.campaign_id, &m.channel, &m.machine],
            )?;
        }
        Ok(())
    }
}

impl EventWrites for PgWriter {
    fn max_event_seq(&mut self) -> Result<i64> {
        self.flush_events()?;
        last_seq(&mut self.conn)
    }

    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()> {
        self.flush_events()?;
        // Walk the log backwards by sequence (the primary key) and stop at the first event received well before
        // the window: sequence order is receive order, give or take `RECEIVED_ORDER_SLACK`. In batches, so the
        // walk stops without reading (or the server sending) the rest.
        let stop = since.saturating_sub(kairos_store::write::RECEIVED_ORDER_SLACK).as_micros();
        let mut before = i64::MAX;
        loop {
            let rows = self.conn.query(
                "SELECT seq, workspace_id, message_id, received_at FROM events WHERE seq < $1
                 ORDER BY seq DESC LIMIT $2",
                &[&before, &WINDOW_BATCH_ROWS],
            )?;
            for r in &rows {
                let received: i64 = get(r, 3)?;
                if received < stop {
                    return Ok(());
                }
                if received >= since.as_micros() {
                    let id: &str = get(r, 2)?;
                    f(WorkspaceId(get(r, 1)?), id, Timestamp::from_micros(received));
                }
                before = get(r, 0)?;
            }
            if rows.len() < WINDOW_BATCH_ROWS as usize {
                return Ok(());
            }
        }
    }

    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, e: &Event, data: &str) -> Result<()> {
        self.pending_events.push(ws, contact, seq, e, data);
        // Outside a transaction each statement commits on its own: nothing waits for a commit.
        if !self.open || self.pending_events.seq.len() >= EVENTS_BUFFERED_MAX {
            self.flush_events()?;
        }
        Ok(())
    }

    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>> {
        self.flush_events()?;
        let mut out = Vec::new();
        self.conn.for_each(
            "SELECT seq, data FROM events WHERE contact_id = $1 ORDER BY ts, seq",
            &[&contact.0],
            &mut |r| {
                out.extend(readable_event(get(r, 0)?, get(r, 1)?));
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Without flushing the buffered events (a late cart event per batch would otherwise cut every `COPY`
    /// short: 4 500 events/s on the anchor workload): the written rows, and the buffer's rows of the contact.
    fn contact_cart_events(&mut self, contact: ContactId, since: Option<Timestamp>) -> Result<Vec<Event>> {
        let names: Vec<&str> = kairos_domain::contact::CART_EVENTS.to_vec();
        let from = since.map_or(i64::MIN, Timestamp::as_micros);
        let mut rows: Vec<(i64, i64, String)> = Vec::new();
        self.conn.for_each(
            "SELECT ts, seq, data FROM events WHERE contact_id = $1 AND ts >= $2 AND kind = 'track' AND name = ANY($3)",
            &[&contact.0, &from, &names],
            &mut |r| {
                rows.push((get(r, 0)?, get(r, 1)?, get(r, 2)?));
                Ok(())
            },
        )?;
        let p = &self.pending_events;
        for i in 0..p.seq.len() {
            let named = p.name[i].as_deref().is_some_and(|n| names.contains(&n));
            if p.contact[i] == contact.0 && p.kind[i] == "track" && named && p.ts[i] >= from {
                rows.push((p.ts[i], p.seq[i], p.data[i].clone()));
            }
        }
        rows.sort_unstable_by_key(|(ts, seq, _)| (*ts, *seq));
        Ok(rows.into_iter().flat_map(|(_, seq, data)| readable_event(seq, &data)).collect())
    }

    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()> {
        self.flush_events()?;
        self.conn.execute("UPDATE events SET contact_id = $2 WHERE contact_id = $1", &[&from.0, &to.0])?;
        Ok(())
    }

    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        self.flush_events()?;
        scan_named(&mut self.conn, ws, name, f)
    }

    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        self.flush_events()?;
        scan_since(&mut self.conn, ws, since, f)
    }

    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        self.flush_events()?;
        any_named(&mut self.conn, ws, name)
    }
}

fn last_seq(conn: &mut Conn) -> Result<i64> {
    get(&conn.query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?, 0)
}

fn scan_named(conn: &mut Conn, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
    conn.for_each(
        "SELECT contact_id, data FROM events WHERE workspace_id = $1 AND name = $2 ORDER BY seq",
        &[&ws.0, &name],
        &mut |r| {
            f(ContactId(get(r, 0)?), get(r, 1)?);
            Ok(())
        },
    )
}

fn any_named(conn: &mut Conn, ws: WorkspaceId, name: &str) -> Result<bool> {
    let row = conn.query_opt("SELECT 1 FROM events WHERE workspace_id = $1 AND name = $2 LIMIT 1", &[&ws.0, &name])?;
    Ok(row.is_some())
}

fn scan_since(conn: &mut Conn, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
    conn.for_each(
        "SELECT contact_id, data FROM events WHERE workspace_id = $1 AND ts >= $2",
        &[&ws.0, &since.as_micros()],
        &mut |r| {
            f(ContactId(get(r, 0)?), get(r, 1)?);
            Ok(())
        },
    )
}

/// `(seq, contact_id, data, ts)` of a row selected in that order.
fn event_row(r: &Row) -> Result<EventRow> {
    Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?))
}

fn event_rows(rows: &[Row]) -> Result<Vec<EventRow>> {
    rows.iter().map(event_row).collect()
}

/// The cursor of the time-ordered listings.
fn by_time(&(seq, _, _, ts): &EventRow) -> String {
    time_cursor_at(ts, seq)
}

impl EventReads for PgReader<'_> {
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let (ts, seq) = time_cursor(cursor, (i64::MAX, i64::MAX))?;
        let rows = self.conn().query(
            "SELECT seq, contact_id, data, ts FROM events WHERE contact_id = $1 AND (ts, seq) < ($2, $3)
             ORDER BY ts DESC, seq DESC LIMIT $4",
            &[&contact.0, &ts, &seq, &page_rows(limit)],
        )?;
        Ok(event_page(event_rows(&rows)?, limit, by_time))
    }

    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        let before = cursor_number(cursor, i64::MAX)?;
        let rows = self.conn().query(
            "SELECT seq, contact_id, data, ts FROM events WHERE workspace_id = $1 AND seq < $2
             ORDER BY seq DESC LIMIT $3",
            &[&ws.0, &before, &page_rows(limit)],
        )?;
        Ok(event_page(event_rows(&rows)?, limit, |(seq, ..)| seq.to_string()))
    }

    fn events_since(&self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_since(&mut self.conn(), ws, since, f)
    }

    fn events_named(&self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        scan_named(&mut self.conn(), ws, name, f)
    }

    fn has_event_named(&self, ws: WorkspaceId, name: &str) -> Result<bool> {
        any_named(&mut self.conn(), ws, name)
    }

    fn last_event_seq(&self) -> Result<i64> {
        last_seq(&mut self.conn())
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
        // `events_by_time (workspace_id, ts, seq)` gives (ts, seq) order unsorted.
        let rows = self.conn().query(
            "SELECT seq, contact_id, data, ts FROM events
             WHERE workspace_id = $1 AND ts >= $2 AND (ts, seq) > ($3, $4) AND seq <= $5
             ORDER BY ts, seq LIMIT $6",
            &[&ws.0, &since.as_micros(), &after_ts, &after_seq, &until_seq, &page_rows(limit)],
        )?;
        Ok(event_page(event_rows(&rows)?, limit, by_time))
    }

    fn newest_events_cursor(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        n: usize,
    ) -> Result<Option<String>> {
        // The event just before the newest `n` (read from the index alone); the listing starts after it.
        let offset = i64::try_from(n).unwrap_or(i64::MAX);
        let row = self.conn().query_opt(
            "SELECT ts, seq FROM events WHERE workspace_id = $1 AND ts >= $2 AND seq <= $3
             ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET $4",
            &[&ws.0, &since.as_micros(), &until_seq, &offset],
        )?;
        row.map(|r| Ok(time_cursor_at(get(&r, 0)?, get(&r, 1)?))).transpose()
    }
}
