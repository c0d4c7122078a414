//! The rows of reports (SPEC 10). Reads stay proportional to the range asked for:
//! - events are read per name through `events_by_name (workspace_id, name, seq)`, from the first sequence received
//!   shortly before the range starts. Sequence order is receive order (one committer assigns both), and an event's
//!   timestamp is never more than a day after its receive time (`kairos_domain::event::FUTURE_SKEW_MAX`), so no
//!   event of the range lies before that sequence;
//! - messages through `messages_by_workspace (workspace_id, created_at)` (the SQLite store walks its row ids
//!   instead; a PostgreSQL table has none that grows with creation time).
//!
//! Only the consent changes read every contact of the workspace: consent is kept on the profile (status and time
//! of the latest change per channel), not as events.

use std::collections::{HashMap, HashSet};

use kairos_domain::{ContactId, Duration, JsonMap, SystemEvent, Timestamp, WorkspaceId};
use kairos_store::Result;
use kairos_store::read::ReportReads;
use kairos_store::reports::{Cohort, ConsentChange, MessageEventRow, MessageRef, MessageRow, OrderRow};

use crate::{PgReader, get};

/// The order event (Segment's e-commerce spec).
const ORDER_EVENT: &str = "Order Completed";
/// How far an event's timestamp may lie after its receive time (the ingestion clamp), plus a margin for
/// receive times that are not strictly increasing with the sequence (concurrent requests, clock steps).
const RECEIVE_SLACK: Duration = Duration::from_secs(86_400 + 3_600);

impl PgReader<'_> {
    /// The first event sequence that can hold an event timestamped at or after `at`: a binary search over the
    /// sequence (the primary key) for the first event received from `at - RECEIVE_SLACK` on. A few point reads,
    /// no scan.
    fn first_seq_for(&self, at: Timestamp) -> Result<i64> {
        let from = at.saturating_sub(RECEIVE_SLACK).as_micros();
        let mut conn = self.conn();
        let bounds = conn.query_one("SELECT MIN(seq), MAX(seq) FROM events", &[])?;
        let (Some(mut lo), Some(max)) = (get::<Option<i64>>(&bounds, 0)?, get::<Option<i64>>(&bounds, 1)?) else {
            return Ok(0);
        };
        let mut hi = max.saturating_add(1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row =
                conn.query_opt("SELECT seq, received_at FROM events WHERE seq >= $1 ORDER BY seq LIMIT 1", &[&mid])?;
            match row {
                Some(r) if get::<i64>(&r, 1)? < from => lo = get::<i64>(&r, 0)? + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }
}

/// The `properties` object of a stored event: the client's own free-form data (Segment's e-commerce spec:
/// `total`, `revenue`, `products`...), not a serialized structure of ours, so reading it from the stored event is
/// the point. Empty when the row or its properties cannot be read.
fn properties_of(data: &str) -> JsonMap {
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(default)]
        properties: serde_json::Value,
    }
    match serde_json::from_str::<Stored>(data) {
        Ok(Stored { properties: serde_json::Value::Object(map) }) => map,
        _ => JsonMap::new(),
    }
}

impl ReportReads for PgReader<'_> {
    fn order_rows(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>> {
        self.event_rows(ws, ORDER_EVENT, from, to)
    }

    fn event_rows(&self, ws: WorkspaceId, name: &str, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>> {
        let first = self.first_seq_for(from)?;
        let mut out = Vec::new();
        self.conn().for_each(
            "SELECT seq, contact_id, ts, data FROM events
             WHERE workspace_id = $1 AND name = $2 AND seq >= $3 AND ts >= $4 AND ts < $5
             ORDER BY seq",
            &[&ws.0, &name, &first, &from.as_micros(), &to.as_micros()],
            &mut |r| {
                out.push(OrderRow {
                    seq: get(r, 0)?,
                    contact: ContactId(get(r, 1)?),
                    at: Timestamp::from_micros(get(r, 2)?),
                    properties: properties_of(get(r, 3)?),
                });
                Ok(())
            },
        )?;
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
        let first = self.first_seq_for(from)?;
        let rows = self.conn().query(
            "SELECT e.seq, e.contact_id, e.ts, m.message_id, m.flow_id, m.step_id, m.campaign_id, m.channel,
                    m.machine
             FROM events e JOIN event_messages m ON m.seq = e.seq
             WHERE e.workspace_id = $1 AND e.name = $2 AND e.seq >= $3 AND e.ts >= $4 AND e.ts < $5
                 AND (NOT $6::BOOLEAN OR m.channel = 'sms')
             ORDER BY e.seq",
            &[&ws.0, &event.as_str(), &first, &from.as_micros(), &to.as_micros(), &sms_only],
        )?;
        rows.iter()
            .map(|r| {
                Ok(MessageEventRow {
                    seq: get(r, 0)?,
                    contact: ContactId(get(r, 1)?),
                    at: Timestamp::from_micros(get(r, 2)?),
                    name: event.as_str().to_string(),
                    message: MessageRef {
                        message_id: get(r, 3)?,
                        flow_id: get(r, 4)?,
                        step_id: get(r, 5)?,
                        campaign_id: get(r, 6)?,
                        channel: get(r, 7)?,
                        machine: get(r, 8)?,
                    },
                })
            })
            .collect()
    }

    fn event_times(
        &self,
        ws: WorkspaceId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(ContactId, Timestamp)>> {
        let first = self.first_seq_for(from)?;
        let rows = self.conn().query(
            "SELECT contact_id, ts FROM events
             WHERE workspace_id = $1 AND name = $2 AND seq >= $3 AND ts >= $4 AND ts < $5 ORDER BY seq",
            &[&ws.0, &name, &first, &from.as_micros(), &to.as_micros()],
        )?;
        rows.iter().map(|r| Ok((ContactId(get(r, 0)?), Timestamp::from_micros(get(r, 1)?)))).collect()
    }

    fn active_contacts(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ContactId>> {
        let first = self.first_seq_for(from)?;
        let rows = self.conn().query(
            "SELECT DISTINCT contact_id FROM events
             WHERE seq >= $1 AND workspace_id = $2 AND ts >= $3 AND ts < $4 AND system IS NULL",
            &[&first, &ws.0, &from.as_micros(), &to.as_micros()],
        )?;
        rows.iter().map(|r| Ok(ContactId(get(r, 0)?))).collect()
    }

    fn consent_changes(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ConsentChange>> {
        let rows = self.conn().query(
            "SELECT 'email', email_consent FROM contacts
             WHERE workspace_id = $1 AND merged_into IS NULL AND email_consent_at >= $2 AND email_consent_at < $3
             UNION ALL
             SELECT 'sms', sms_consent FROM contacts
             WHERE workspace_id = $1 AND merged_into IS NULL AND sms_consent_at >= $2 AND sms_consent_at < $3",
            &[&ws.0, &from.as_micros(), &to.as_micros()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(ConsentChange { channel: get(r, 0)?, status: get::<Option<String>>(r, 1)?.unwrap_or_default() })
            })
            .collect()
    }

    fn first_orders(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, Option<Timestamp>)>> {
        let mut seen = HashSet::new();
        let ids: Vec<i64> = contacts.iter().filter(|c| seen.insert(**c)).map(|c| c.0).collect();
        // One round trip for all of them; answered in the order asked, each contact once.
        let rows = self.conn().query("SELECT id, first_order_at FROM contacts WHERE id = ANY($1)", &[&ids])?;
        let mut first = HashMap::with_capacity(rows.len());
        for r in &rows {
            first.insert(get::<i64>(r, 0)?, get::<Option<i64>>(r, 1)?);
        }
        Ok(ids
            .into_iter()
            .map(|id| (ContactId(id), first.get(&id).copied().flatten().map(Timestamp::from_micros)))
            .collect())
    }

    fn message_rows(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        cohort: &Cohort,
    ) -> Result<Vec<MessageRow>> {
        let (flows, flow, campaigns) = match cohort {
            Cohort::Flows(f) => (true, f.as_deref(), false),
            Cohort::Campaigns => (false, None, true),
        };
        let rows = self.conn().query(
            "SELECT id, contact_id, flow_id, campaign_id, step_id, variant, status, statuses, subject_variant
             FROM messages
             WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3 AND channel != 'webhook'
                 AND (NOT $4::BOOLEAN OR flow_id IS NOT NULL) AND ($5::TEXT IS NULL OR flow_id = $5)
                 AND (NOT $6::BOOLEAN OR campaign_id IS NOT NULL)",
            &[&ws.0, &from.as_micros(), &to.as_micros(), &flows, &flow, &campaigns],
        )?;
        rows.iter()
            .map(|r| {
                let statuses: &str = get(r, 7)?;
                Ok(MessageRow {
                    id: get(r, 0)?,
                    contact: ContactId(get(r, 1)?),
                    flow_id: get(r, 2)?,
                    campaign_id: get(r, 3)?,
                    step_id: get(r, 4)?,
                    variant: get(r, 5)?,
                    status: get(r, 6)?,
                    statuses: statuses.split_whitespace().map(str::to_string).collect(),
                    subject_variant: get(r, 8)?,
                })
            })
            .collect()
    }
}
