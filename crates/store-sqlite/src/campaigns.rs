//! Campaigns, their recipients, and the numbers of their A/B variants.

use kairos_domain::{ContactId, MessageStatus, Timestamp, WorkspaceId};
use kairos_store::read::CampaignReads;
use kairos_store::write::CampaignWrites;
use kairos_store::{Recipient, Result, StoredCampaign, VariantResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{CAMPAIGN_SELECT, campaign_row, wire};
use crate::{Db, SqliteReader, SqliteWriter};

/// Orders this long after a campaign message count as its revenue (A/B revenue metric): 5 days in µs.
const REVENUE_WINDOW_MICROS: i64 = 5 * 86_400 * 1_000_000;

impl CampaignWrites for SqliteWriter {
    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO campaigns (public_id, workspace_id, name, status, definition, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                     definition = excluded.definition, state = excluded.state, updated_at = excluded.updated_at
                 RETURNING id",
            )
            .db()?
            .query_row(
                params![
                    c.public_id,
                    c.workspace.0,
                    c.name,
                    c.status.as_str(),
                    c.definition,
                    c.state,
                    c.created_at.as_micros(),
                    c.updated_at.as_micros()
                ],
                |r| r.get(0),
            )
            .db()
    }

    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        campaign(&self.conn, ws, public_id)
    }

    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE status IN ('scheduled', 'sending') ORDER BY id"))
            .db()?;
        stmt.query_map([], campaign_row).db()?.collect::<Result<Vec<_>, _>>().db()
    }

    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO campaign_recipients (campaign_id, contact_id, due_at, variant)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?;
        for r in list {
            stmt.execute(params![campaign, r.contact.0, r.due_at.as_micros(), r.variant]).db()?;
        }
        Ok(())
    }

    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT contact_id, due_at, variant FROM campaign_recipients
                 WHERE campaign_id = ?1 AND done = 0 AND due_at <= ?2 AND variant >= 0 ORDER BY due_at LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![campaign, now.as_micros(), limit as i64], |r| {
                Ok(Recipient {
                    contact: ContactId(r.get(0)?),
                    due_at: Timestamp::from_micros(r.get(1)?),
                    variant: r.get(2)?,
                })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE campaign_recipients SET done = 1 WHERE campaign_id = ?1 AND contact_id = ?2")
            .db()?
            .execute(params![campaign, contact.0])
            .db()?;
        Ok(())
    }

    fn drop_pending_recipients(&mut self, campaign: i64) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM campaign_recipients WHERE campaign_id = ?1 AND done = 0")
            .db()?
            .execute(params![campaign])
            .db()?;
        Ok(n as u64)
    }

    fn delete_campaign(&mut self, campaign: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM campaign_recipients WHERE campaign_id = ?1")
            .db()?
            .execute(params![campaign])
            .db()?;
        self.conn.prepare_cached("DELETE FROM campaigns WHERE id = ?1").db()?.execute(params![campaign]).db()?;
        Ok(())
    }

    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE campaign_recipients SET variant = ?2, due_at = MAX(due_at, ?3)
                 WHERE campaign_id = ?1 AND variant = -1 AND done = 0",
            )
            .db()?
            .execute(params![campaign, variant, due.as_micros()])
            .db()?;
        Ok(n as u64)
    }

    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)> {
        recipient_counts(&self.conn, campaign)
    }

    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        variant_results(&self.conn, campaign_public_id)
    }

    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        campaign_revenue(&self.conn, campaign_public_id)
    }
}

fn campaign(conn: &Connection, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
    let mut stmt =
        conn.prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE workspace_id = ?1 AND public_id = ?2")).db()?;
    stmt.query_row(params![ws.0, public_id], campaign_row).optional().db()
}

fn recipient_counts(conn: &Connection, campaign: i64) -> Result<(u64, u64, u64)> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(done = 0 AND variant >= 0), 0), COALESCE(SUM(done = 0 AND variant < 0), 0),
                    COALESCE(SUM(done = 1), 0)
             FROM campaign_recipients WHERE campaign_id = ?1",
        )
        .db()?;
    stmt.query_row([campaign], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
    })
    .db()
}

fn variant_results(conn: &Connection, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT variant,
                    SUM(status NOT IN ('skipped', 'deferred', 'failed', 'bounced')),
                    SUM(status IN ('opened', 'clicked') OR opens > 0),
                    SUM(status = 'clicked' OR clicks > 0)
             FROM messages WHERE campaign_id = ?1 AND variant IS NOT NULL
             GROUP BY variant ORDER BY variant",
        )
        .db()?;
    let rows = stmt
        .query_map([campaign_public_id], |r| {
            Ok(VariantResult {
                variant: r.get(0)?,
                sent: r.get::<_, Option<i64>>(1)?.unwrap_or(0) as u64,
                opened: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                clicked: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
            })
        })
        .db()?;
    rows.collect::<Result<Vec<_>, _>>().db()
}

fn campaign_revenue(conn: &Connection, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
    let span: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT workspace_id, MIN(created_at), MAX(created_at) FROM messages
             WHERE campaign_id = ?1 AND variant IS NOT NULL GROUP BY workspace_id",
        )
        .db()?
        .query_row([campaign_public_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .db()?;
    let Some((ws, first_sent, last_sent)) = span else { return Ok(Vec::new()) };
    // The workspace's orders received since the campaign began (by name and sequence: events are not indexed
    // by contact, see `crate::contact_events`), then joined to its messages by contact. The order amount is read
    // from the order event's properties: they are the client's own free-form data (Segment's e-commerce spec),
    // not a serialized structure of ours, so there is no column to read instead.
    let first_seq = crate::reports::first_seq_for(conn, Timestamp::from_micros(first_sent))?;
    let mut stmt = conn
        .prepare_cached(
            "WITH orders AS MATERIALIZED (
                 SELECT e.contact_id, e.ts, COALESCE(json_extract(e.data, '$.properties.total'),
                     json_extract(e.data, '$.properties.revenue'), json_extract(e.data, '$.properties.value'), 0)
                     AS amount
                 FROM events_named k JOIN events e ON e.seq = k.seq
                 WHERE k.workspace_id = ?3 AND k.name = 'Order Completed' AND k.run_last >= ?4 AND k.seq >= ?4
                     AND e.ts >= ?5 AND e.ts < ?6 + ?2
             )
             SELECT m.variant, COALESCE(SUM(o.amount), 0.0)
             FROM messages m JOIN orders o ON o.contact_id = m.contact_id
                 AND o.ts >= m.created_at AND o.ts < m.created_at + ?2
             WHERE m.campaign_id = ?1 AND m.variant IS NOT NULL
             GROUP BY m.variant",
        )
        .db()?;
    let rows = stmt
        .query_map(params![campaign_public_id, REVENUE_WINDOW_MICROS, ws, first_seq, first_sent, last_sent], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .db()?;
    rows.collect::<Result<Vec<_>, _>>().db()
}

impl CampaignReads for SqliteReader<'_> {
    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("{CAMPAIGN_SELECT} WHERE workspace_id = ?1 ORDER BY id DESC")).db()?;
        stmt.query_map([ws.0], campaign_row).db()?.collect::<Result<Vec<_>, _>>().db()
    }

    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        campaign(&self.conn, ws, public_id)
    }

    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(MessageStatus, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, COUNT(*) FROM messages WHERE campaign_id = ?1 GROUP BY status")
            .db()?;
        let rows = stmt
            .query_map([public_id], |r| Ok((wire(r, 0, MessageStatus::parse)?, r.get::<_, i64>(1)? as u64)))
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn recipient_counts(&self, campaign: i64) -> Result<(u64, u64, u64)> {
        recipient_counts(&self.conn, campaign)
    }

    fn variant_results(&self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        variant_results(&self.conn, campaign_public_id)
    }

    fn campaign_revenue(&self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        campaign_revenue(&self.conn, campaign_public_id)
    }
}
