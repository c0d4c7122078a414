//! Campaigns, their recipients, and the numbers of their A/B variants.

use kairos_domain::{CampaignStatus, ContactId, MessageStatus, Timestamp, WorkspaceId};
use kairos_store::read::CampaignReads;
use kairos_store::write::CampaignWrites;
use kairos_store::{Recipient, Result, StoredCampaign, VariantResult};
use postgres::Row;

use crate::conn::Conn;
use crate::rows::{sql_limit, wire};
use crate::{PgReader, PgWriter, get};

/// Orders this long after a campaign message count as its revenue (A/B revenue metric): 5 days in µs.
const REVENUE_WINDOW_MICROS: i64 = 5 * 86_400 * 1_000_000;
/// Recipients inserted per statement (an audience is inserted in one call; the arrays of one statement stay
/// a few hundred kB).
const RECIPIENTS_PER_INSERT_MAX: usize = 10_000;

/// `SELECT` of the columns [`campaign_row`] reads.
macro_rules! campaign_select {
    () => {
        "SELECT id, public_id, workspace_id, name, status, definition, state, created_at, updated_at FROM campaigns"
    };
}

fn campaign_row(r: &Row) -> Result<StoredCampaign> {
    Ok(StoredCampaign {
        row: get(r, 0)?,
        public_id: get(r, 1)?,
        workspace: WorkspaceId(get(r, 2)?),
        name: get(r, 3)?,
        status: wire(r, 4, CampaignStatus::parse)?,
        definition: get(r, 5)?,
        state: get(r, 6)?,
        created_at: Timestamp::from_micros(get(r, 7)?),
        updated_at: Timestamp::from_micros(get(r, 8)?),
    })
}

impl CampaignWrites for PgWriter {
    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64> {
        let row = self.conn.query_one(
            "INSERT INTO campaigns (public_id, workspace_id, name, status, definition, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                 definition = excluded.definition, state = excluded.state, updated_at = excluded.updated_at
             RETURNING id",
            &[
                &c.public_id,
                &c.workspace.0,
                &c.name,
                &c.status.as_str(),
                &c.definition,
                &c.state,
                &c.created_at.as_micros(),
                &c.updated_at.as_micros(),
            ],
        )?;
        get(&row, 0)
    }

    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        campaign(&mut self.conn, ws, public_id)
    }

    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>> {
        let rows = self
            .conn
            .query(concat!(campaign_select!(), " WHERE status IN ('scheduled', 'sending') ORDER BY id"), &[])?;
        rows.iter().map(campaign_row).collect()
    }

    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()> {
        // Many rows per statement; in list order, so a contact listed twice keeps its first row, as a contact
        // already listed keeps its row.
        for chunk in list.chunks(RECIPIENTS_PER_INSERT_MAX) {
            let contacts: Vec<i64> = chunk.iter().map(|r| r.contact.0).collect();
            let due: Vec<i64> = chunk.iter().map(|r| r.due_at.as_micros()).collect();
            let variants: Vec<i64> = chunk.iter().map(|r| r.variant).collect();
            self.conn.execute(
                "INSERT INTO campaign_recipients (campaign_id, contact_id, due_at, variant)
                 SELECT $1::BIGINT, r.contact, r.due, r.variant
                 FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) WITH ORDINALITY AS r (contact, due, variant, n)
                 ORDER BY r.n
                 ON CONFLICT DO NOTHING",
                &[&campaign, &contacts, &due, &variants],
            )?;
        }
        Ok(())
    }

    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>> {
        // Where a node will claim the recipients it sends to once several nodes share the database: a plain
        // single-table scan, ready to take `FOR UPDATE SKIP LOCKED`.
        let rows = self.conn.query(
            "SELECT contact_id, due_at, variant FROM campaign_recipients
             WHERE campaign_id = $1 AND NOT done AND due_at <= $2 AND variant >= 0 ORDER BY due_at LIMIT $3",
            &[&campaign, &now.as_micros(), &sql_limit(limit)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(Recipient {
                    contact: ContactId(get(r, 0)?),
                    due_at: Timestamp::from_micros(get(r, 1)?),
                    variant: get(r, 2)?,
                })
            })
            .collect()
    }

    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()> {
        self.conn.execute(
            "UPDATE campaign_recipients SET done = TRUE WHERE campaign_id = $1 AND contact_id = $2",
            &[&campaign, &contact.0],
        )?;
        Ok(())
    }

    fn drop_pending_recipients(&mut self, campaign: i64) -> Result<u64> {
        let n =
            self.conn.execute("DELETE FROM campaign_recipients WHERE campaign_id = $1 AND NOT done", &[&campaign])?;
        Ok(n)
    }

    fn delete_campaign(&mut self, campaign: i64) -> Result<()> {
        self.conn.execute("DELETE FROM campaign_recipients WHERE campaign_id = $1", &[&campaign])?;
        self.conn.execute("DELETE FROM campaigns WHERE id = $1", &[&campaign])?;
        Ok(())
    }

    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64> {
        self.conn.execute(
            "UPDATE campaign_recipients SET variant = $2, due_at = GREATEST(due_at, $3)
             WHERE campaign_id = $1 AND variant = -1 AND NOT done",
            &[&campaign, &variant, &due.as_micros()],
        )
    }

    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)> {
        recipient_counts(&mut self.conn, campaign)
    }

    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        variant_results(&mut self.conn, campaign_public_id)
    }

    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        // It reads `events`: the ones buffered in this transaction are written first.
        self.flush_events()?;
        campaign_revenue(&mut self.conn, campaign_public_id)
    }
}

fn campaign(conn: &mut Conn, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
    let row = conn
        .query_opt(concat!(campaign_select!(), " WHERE workspace_id = $1 AND public_id = $2"), &[&ws.0, &public_id])?;
    row.as_ref().map(campaign_row).transpose()
}

/// (pending, waiting for the A/B winner, done).
fn recipient_counts(conn: &mut Conn, campaign: i64) -> Result<(u64, u64, u64)> {
    let r = conn.query_one(
        "SELECT COUNT(*) FILTER (WHERE NOT done AND variant >= 0), COUNT(*) FILTER (WHERE NOT done AND variant < 0),
                COUNT(*) FILTER (WHERE done)
         FROM campaign_recipients WHERE campaign_id = $1",
        &[&campaign],
    )?;
    Ok((get::<i64>(&r, 0)? as u64, get::<i64>(&r, 1)? as u64, get::<i64>(&r, 2)? as u64))
}

fn variant_results(conn: &mut Conn, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
    let rows = conn.query(
        "SELECT variant,
                COUNT(*) FILTER (WHERE status NOT IN ('skipped', 'deferred', 'failed', 'bounced')),
                COUNT(*) FILTER (WHERE status IN ('opened', 'clicked') OR opens > 0),
                COUNT(*) FILTER (WHERE status = 'clicked' OR clicks > 0)
         FROM messages WHERE campaign_id = $1 AND variant IS NOT NULL
         GROUP BY variant ORDER BY variant",
        &[&campaign_public_id],
    )?;
    rows.iter()
        .map(|r| {
            Ok(VariantResult {
                variant: get(r, 0)?,
                sent: get::<i64>(r, 1)? as u64,
                opened: get::<i64>(r, 2)? as u64,
                clicked: get::<i64>(r, 3)? as u64,
            })
        })
        .collect()
}

fn campaign_revenue(conn: &mut Conn, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
    // The order amount is read from the order event's properties: they are the client's own free-form data
    // (Segment's e-commerce spec), not a serialized structure of ours, so there is no column to read instead.
    // As SQLite's `SUM(COALESCE(json_extract(...), ...))`: the first of total, revenue and value that is not
    // missing or null; a number as it is, a boolean as 1 or 0, a string by its leading number (0 without one),
    // anything else 0. Summed as NUMERIC and clamped to the range of a double, so no stored value can make the
    // report fail on an overflow.
    let rows = conn.query(
        "SELECT m.variant, LEAST(GREATEST(COALESCE(SUM(
                    CASE jsonb_typeof(a.v)
                        WHEN 'number' THEN a.v::NUMERIC
                        WHEN 'boolean' THEN CASE WHEN a.v::BOOLEAN THEN 1 ELSE 0 END
                        WHEN 'string' THEN COALESCE(SUBSTRING(a.v #>> '{}'
                            FROM '^\\s*([-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d{1,3})?)')::NUMERIC, 0)
                        ELSE 0
                    END), 0),
                -1.7976931348623157e308), 1.7976931348623157e308)::FLOAT8
         FROM messages m JOIN events e ON e.contact_id = m.contact_id AND e.name = 'Order Completed'
             AND e.ts >= m.created_at AND e.ts < m.created_at + $2
         CROSS JOIN LATERAL (SELECT e.data::JSONB -> 'properties' AS p) j
         CROSS JOIN LATERAL (SELECT COALESCE(NULLIF(j.p -> 'total', 'null'), NULLIF(j.p -> 'revenue', 'null'),
             NULLIF(j.p -> 'value', 'null')) AS v) a
         WHERE m.campaign_id = $1 AND m.variant IS NOT NULL
         GROUP BY m.variant",
        &[&campaign_public_id, &REVENUE_WINDOW_MICROS],
    )?;
    rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
}

impl CampaignReads for PgReader<'_> {
    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>> {
        let rows =
            self.conn().query(concat!(campaign_select!(), " WHERE workspace_id = $1 ORDER BY id DESC"), &[&ws.0])?;
        rows.iter().map(campaign_row).collect()
    }

    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        campaign(&mut self.conn(), ws, public_id)
    }

    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(MessageStatus, u64)>> {
        let rows = self
            .conn()
            .query("SELECT status, COUNT(*) FROM messages WHERE campaign_id = $1 GROUP BY status", &[&public_id])?;
        rows.iter().map(|r| Ok((wire(r, 0, MessageStatus::parse)?, get::<i64>(r, 1)? as u64))).collect()
    }

    fn recipient_counts(&self, campaign: i64) -> Result<(u64, u64, u64)> {
        recipient_counts(&mut self.conn(), campaign)
    }

    fn variant_results(&self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        variant_results(&mut self.conn(), campaign_public_id)
    }

    fn campaign_revenue(&self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        campaign_revenue(&mut self.conn(), campaign_public_id)
    }
}
