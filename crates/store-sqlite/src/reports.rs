//! The rows of reports (SPEC 10). Reads stay proportional to the range asked for:
//! - events are read per name through `events_named` (runs by name, `crate::event_keys`), from the first sequence
//!   received shortly before the range starts. Sequence order is receive order (one committer assigns both), and an
//!   event's timestamp is never more than a day after its receive time (`kairos_domain::event::FUTURE_SKEW_MAX`), so
//!   no event of the range lies before that sequence;
//! - messages likewise from the first row created shortly before the range (rows are inserted in creation order).
//!
//! Only the consent changes read every contact of the workspace: consent is kept on the profile (status and time
//! of the latest change per channel), not as events.

use std::collections::HashSet;

use kairos_domain::{ContactId, Duration, JsonMap, SystemEvent, Timestamp, WorkspaceId};
use kairos_store::Result;
use kairos_store::read::ReportReads;
use kairos_store::reports::{Cohort, ConsentChange, MessageEventRow, MessageRef, MessageRow, OrderRow};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Db, SqliteReader};

/// The order event (Segment's e-commerce spec).
const ORDER_EVENT: &str = "Order Completed";
/// How far an event's timestamp may lie after its receive time (the ingestion clamp), plus a margin for
/// receive times that are not strictly increasing with the sequence (concurrent requests, clock steps).
const RECEIVE_SLACK: Duration = Duration::from_secs(86_400 + 3_600);
/// Margin for message rows whose creation times are not strictly increasing with their row ids.
const CREATE_SLACK: Duration = Duration::from_secs(3_600);

/// A workspace's events of one name from a sequence on, within a time range (`events_named`: the runs whose
/// last event is at or past that sequence, and the log's tail), in no particular order.
pub(crate) const EVENT_ROWS: &str = "SELECT e.seq, e.contact_id, e.ts, json_extract(e.data, '$.properties')
     FROM events_named k JOIN events e ON e.seq = k.seq
     WHERE k.workspace_id = ?1 AND k.name = ?2 AND k.run_last >= ?3 AND k.seq >= ?3 AND e.ts >= ?4 AND e.ts < ?5";
/// The same, only who, when and the sequence.
pub(crate) const EVENT_TIMES: &str =
    "SELECT e.contact_id, e.ts, e.seq FROM events_named k JOIN events e ON e.seq = k.seq
     WHERE k.workspace_id = ?1 AND k.name = ?2 AND k.run_last >= ?3 AND k.seq >= ?3 AND e.ts >= ?4 AND e.ts < ?5";

/// The first row id of `table` from which on `col` (a time growing with the row id) is at or after `at`.
/// A binary search over the row id (the primary key): a few point reads, no scan.
fn first_rowid_from(conn: &Connection, table: &str, col: &str, at: Timestamp) -> Result<i64> {
    let (min, max): (Option<i64>, Option<i64>) = conn
        .query_row(&format!("SELECT MIN(rowid), MAX(rowid) FROM {table}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
        .db()?;
    let (Some(mut lo), Some(max)) = (min, max) else { return Ok(0) };
    let mut hi = max + 1;
    let mut stmt = conn
        .prepare_cached(&format!("SELECT rowid, {col} FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT 1"))
        .db()?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let row: Option<(i64, i64)> = stmt.query_row([mid], |r| Ok((r.get(0)?, r.get(1)?))).optional().db()?;
        match row {
            Some((id, t)) if t < at.as_micros() => lo = id + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// The first event sequence that can hold an event timestamped at or after `at`.
pub(crate) fn first_seq_for(conn: &Connection, at: Timestamp) -> Result<i64> {
    first_rowid_from(conn, "events", "received_at", at.saturating_sub(RECEIVE_SLACK))
}

/// The first event sequence that can hold an event received at or after `at`.
pub(crate) fn first_seq_received(conn: &Connection, at: Timestamp) -> Result<i64> {
    first_rowid_from(conn, "events", "received_at", at.saturating_sub(kairos_store::write::RECEIVED_ORDER_SLACK))
}

impl ReportReads for SqliteReader<'_> {
    fn order_rows(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>> {
        self.event_rows(ws, ORDER_EVENT, from, to)
    }

    fn event_rows(&self, ws: WorkspaceId, name: &str, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>> {
        let first = first_seq_for(&self.conn, from)?;
        // The order's properties are the client's own free-form data (Segment's e-commerce spec: `total`,
        // `revenue`, `products`...), not a serialized structure of ours: reading them from the stored event is
        // the point. Only that object is extracted, not the whole event (whose context can be large).
        let mut stmt = self.conn.prepare_cached(EVENT_ROWS).db()?;
        let mut rows = stmt.query(params![ws.0, name, first, from.as_micros(), to.as_micros()]).db()?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().db()? {
            let raw: Option<String> = r.get(3).db()?;
            let properties: JsonMap = raw.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            out.push(OrderRow {
                seq: r.get(0).db()?,
                contact: ContactId(r.get(1).db()?),
                at: Timestamp::from_micros(r.get(2).db()?),
                properties,
            });
        }
        // In log order: the runs come unordered (`crate::event_keys`).
        out.sort_unstable_by_key(|o| o.seq);
        Ok(out)
    }

    fn message_event_rows(
        &self,
        ws: WorkspaceId,
        event: SystemEvent,
        from: Timestamp,
        to: Timestamp,
        sms_only: bool,
    ) -> Result<Vec<MessageEventRow>> {
        let first = first_seq_for(&self.conn, from)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.seq, e.contact_id, e.ts, m.message_id, m.flow_id, m.step_id, m.campaign_id, m.channel,
                        m.machine
                 FROM events e JOIN event_messages m ON m.seq = e.seq
                 WHERE e.workspace_id = ?1 AND e.name = ?2 AND e.seq >= ?3 AND e.ts >= ?4 AND e.ts < ?5
                     AND (?6 = 0 OR m.channel = 'sms')
                 ORDER BY e.seq",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, event.as_str(), first, from.as_micros(), to.as_micros(), sms_only], |r| {
                Ok(MessageEventRow {
                    seq: r.get(0)?,
                    contact: ContactId(r.get(1)?),
                    at: Timestamp::from_micros(r.get(2)?),
                    name: event.as_str().to_string(),
                    message: MessageRef {
                        message_id: r.get(3)?,
                        flow_id: r.get(4)?,
                        step_id: r.get(5)?,
                        campaign_id: r.get(6)?,
                        channel: r.get(7)?,
                        machine: r.get(8)?,
                    },
                })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn event_times(
        &self,
        ws: WorkspaceId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(ContactId, Timestamp)>> {
        let first = first_seq_for(&self.conn, from)?;
        let mut stmt = self.conn.prepare_cached(EVENT_TIMES).db()?;
        let rows = stmt
            .query_map(params![ws.0, name, first, from.as_micros(), to.as_micros()], |r| {
                Ok((r.get::<_, i64>(2)?, ContactId(r.get(0)?), Timestamp::from_micros(r.get(1)?)))
            })
            .db()?;
        let mut rows = rows.collect::<Result<Vec<_>, _>>().db()?;
        // In log order: the runs come unordered (`crate::event_keys`).
        rows.sort_unstable_by_key(|&(seq, ..)| seq);
        Ok(rows.into_iter().map(|(_, contact, at)| (contact, at)).collect())
    }

    fn active_contacts(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ContactId>> {
        let first = first_seq_for(&self.conn, from)?;
        // NOT INDEXED: walk the log from `first` by sequence (the primary key) rather than every event of the
        // workspace through an index of the workspace.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT contact_id FROM events NOT INDEXED
                 WHERE seq >= ?1 AND workspace_id = ?2 AND ts >= ?3 AND ts < ?4 AND system IS NULL",
            )
            .db()?;
        let rows = stmt.query_map(params![first, ws.0, from.as_micros(), to.as_micros()], |r| r.get(0)).db()?;
        rows.map(|r| r.map(ContactId)).collect::<Result<Vec<_>, _>>().db()
    }

    fn consent_changes(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ConsentChange>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT 'email', email_consent FROM contacts
                 WHERE workspace_id = ?1 AND merged_into IS NULL AND email_consent_at >= ?2 AND email_consent_at < ?3
                 UNION ALL
                 SELECT 'sms', sms_consent FROM contacts
                 WHERE workspace_id = ?1 AND merged_into IS NULL AND sms_consent_at >= ?2 AND sms_consent_at < ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, from.as_micros(), to.as_micros()], |r| {
                Ok(ConsentChange { channel: r.get(0)?, status: r.get::<_, Option<String>>(1)?.unwrap_or_default() })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn first_orders(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, Option<Timestamp>)>> {
        let mut stmt = self.conn.prepare_cached("SELECT first_order_at FROM contacts WHERE id = ?1").db()?;
        let mut out = Vec::with_capacity(contacts.len());
        let mut seen = HashSet::new();
        for c in contacts.iter().filter(|c| seen.insert(**c)) {
            let first: Option<Option<i64>> = stmt.query_row([c.0], |r| r.get(0)).optional().db()?;
            out.push((*c, first.flatten().map(Timestamp::from_micros)));
        }
        Ok(out)
    }

    fn message_rows(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        cohort: &Cohort,
    ) -> Result<Vec<MessageRow>> {
        let first = first_rowid_from(&self.conn, "messages", "created_at", from.saturating_sub(CREATE_SLACK))?;
        let (flows, flow, campaigns) = match cohort {
            Cohort::Flows(f) => (true, f.as_deref(), false),
            Cohort::Campaigns => (false, None, true),
        };
        // NOT INDEXED: walk rows from `first` by row id instead of every message of the workspace.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, contact_id, flow_id, campaign_id, step_id, variant, status, statuses, subject_variant
                 FROM messages NOT INDEXED
                 WHERE rowid >= ?1 AND workspace_id = ?2 AND created_at >= ?3 AND created_at < ?4
                     AND channel != 'webhook'
                     AND (?5 = 0 OR flow_id IS NOT NULL) AND (?6 IS NULL OR flow_id = ?6)
                     AND (?7 = 0 OR campaign_id IS NOT NULL)",
            )
            .db()?;
        let rows = stmt
            .query_map(params![first, ws.0, from.as_micros(), to.as_micros(), flows, flow, campaigns], |r| {
                let statuses: String = r.get(7)?;
                Ok(MessageRow {
                    id: r.get(0)?,
                    contact: ContactId(r.get(1)?),
                    flow_id: r.get(2)?,
                    campaign_id: r.get(3)?,
                    step_id: r.get(4)?,
                    variant: r.get(5)?,
                    status: r.get(6)?,
                    statuses: statuses.split_whitespace().map(str::to_string).collect(),
                    subject_variant: r.get(8)?,
                })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }
}
