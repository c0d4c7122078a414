//! Messages (with the statuses they have had and their human opens and clicks as columns), provider ids and
//! the suppression list.
//!
//! `seq` (generated, increasing) stands for SQLite's rowid: creation order for listings and their cursors.

use kairos_domain::{Channel, ContactId, MessageStatus, Timestamp, WorkspaceId};
use kairos_store::read::MessageReads;
use kairos_store::write::MessageWrites;
use kairos_store::{MessageFilter, Page, Reaction, Result, StoredMessage, Suppression};
use postgres::Row;

use crate::rows::{sql_limit, wire};
use crate::{PgReader, PgWriter, cursor_number, get};

/// Columns 0..=12 of a messages row, as [`message_row`] reads them.
macro_rules! message_columns {
    () => {
        "id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status, data, created_at, \
         variant, subject_variant"
    };
}

fn message_row(r: &Row) -> Result<StoredMessage> {
    Ok(StoredMessage {
        id: get(r, 0)?,
        workspace: WorkspaceId(get(r, 1)?),
        contact: ContactId(get(r, 2)?),
        channel: wire(r, 3, Channel::parse)?,
        to: get(r, 4)?,
        flow_id: get(r, 5)?,
        campaign_id: get(r, 6)?,
        step_id: get(r, 7)?,
        status: wire(r, 8, MessageStatus::parse)?,
        data: get(r, 9)?,
        created_at: Timestamp::from_micros(get(r, 10)?),
        variant: get(r, 11)?,
        subject_variant: get(r, 12)?,
    })
}

impl MessageWrites for PgWriter {
    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool> {
        // The id is the idempotency key (run × step, campaign × contact): a second insert of it changes nothing.
        // `statuses` holds every status the message has had, space-separated with spaces around: ` queued sent `.
        let n = self.conn.execute(
            "INSERT INTO messages (id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id,
                 status, data, created_at, variant, statuses, subject_variant)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, ' ' || $9::TEXT || ' ', $13)
             ON CONFLICT (id) DO NOTHING",
            &[
                &m.id,
                &m.workspace.0,
                &m.contact.0,
                &m.channel.as_str(),
                &m.to,
                &m.flow_id,
                &m.campaign_id,
                &m.step_id,
                &m.status.as_str(),
                &m.data,
                &m.created_at.as_micros(),
                &m.variant,
                &m.subject_variant,
            ],
        )?;
        Ok(n == 1)
    }

    fn update_message(&mut self, id: &str, status: MessageStatus, data: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE messages SET status = $2, data = $3,
                 statuses = CASE WHEN strpos(statuses, ' ' || $2::TEXT || ' ') > 0 THEN statuses
                     ELSE statuses || $2::TEXT || ' ' END
             WHERE id = $1",
            &[&id, &status.as_str(), &data],
        )?;
        Ok(())
    }

    fn count_reaction(&mut self, id: &str, reaction: Reaction) -> Result<()> {
        let sql = match reaction {
            Reaction::Open => "UPDATE messages SET opens = opens + 1 WHERE id = $1",
            Reaction::Click => "UPDATE messages SET clicks = clicks + 1 WHERE id = $1",
        };
        self.conn.execute(sql, &[&id])?;
        Ok(())
    }

    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>> {
        let row =
            self.conn.query_opt(concat!("SELECT ", message_columns!(), " FROM messages WHERE id = $1"), &[&id])?;
        row.as_ref().map(message_row).transpose()
    }

    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO provider_ids (provider_id, message_id) VALUES ($1, $2)
             ON CONFLICT (provider_id) DO UPDATE SET message_id = excluded.message_id",
            &[&provider_id, &message],
        )?;
        Ok(())
    }

    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>> {
        let row = self.conn.query_opt("SELECT message_id FROM provider_ids WHERE provider_id = $1", &[&provider_id])?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()> {
        self.conn.for_each(
            concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE status IN ('deferred', 'queued', 'retrying')
                     OR (status = 'sent' AND created_at >= $1) ORDER BY seq"
            ),
            &[&since.as_micros()],
            &mut |r| {
                f(message_row(r)?);
                Ok(())
            },
        )
    }

    fn suppress(
        &mut self,
        ws: WorkspaceId,
        channel: Channel,
        address: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO suppressions (workspace_id, channel, address, reason, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&ws.0, &channel.as_str(), &address, &reason, &at.as_micros()],
        )?;
        Ok(())
    }

    fn unsuppress(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM suppressions WHERE workspace_id = $1 AND channel = $2 AND address = $3",
            &[&ws.0, &channel.as_str(), &address],
        )?;
        Ok(n > 0)
    }

    fn is_suppressed(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        let row = self.conn.query_opt(
            "SELECT 1 FROM suppressions WHERE workspace_id = $1 AND channel = $2 AND address = $3",
            &[&ws.0, &channel.as_str(), &address],
        )?;
        Ok(row.is_some())
    }
}

impl MessageReads for PgReader<'_> {
    fn messages(
        &self,
        ws: WorkspaceId,
        f: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        let before = cursor_number(cursor, i64::MAX)?;
        let rows = self.conn().query(
            concat!(
                "SELECT ",
                message_columns!(),
                ", seq FROM messages
                 WHERE workspace_id = $1 AND seq < $2 AND ($3::TEXT IS NULL OR to_addr = $3)
                     AND ($4::TEXT IS NULL OR flow_id = $4) AND ($5::TEXT IS NULL OR campaign_id = $5)
                     AND ($6::BIGINT IS NULL OR contact_id = $6) AND ($7::TEXT IS NULL OR status = $7)
                 ORDER BY seq DESC LIMIT $8"
            ),
            &[
                &ws.0,
                &before,
                &f.to,
                &f.flow_id,
                &f.campaign_id,
                &f.contact.map(|c| c.0),
                &f.status,
                &sql_limit(limit).saturating_add(1),
            ],
        )?;
        let more = rows.len() > limit;
        let next_cursor =
            if more { rows.get(limit.wrapping_sub(1)).map(|r| get::<i64>(r, 13)).transpose()? } else { None };
        let items = rows.iter().take(limit).map(message_row).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor: next_cursor.map(|seq| seq.to_string()) })
    }

    fn message(&self, id: &str) -> Result<Option<StoredMessage>> {
        let row =
            self.conn().query_opt(concat!("SELECT ", message_columns!(), " FROM messages WHERE id = $1"), &[&id])?;
        row.as_ref().map(message_row).transpose()
    }

    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>> {
        let row = self.conn().query_opt(
            concat!("SELECT ", message_columns!(), " FROM messages WHERE id = $1 AND workspace_id = $2"),
            &[&id, &ws.0],
        )?;
        row.as_ref().map(message_row).transpose()
    }

    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<Suppression>> {
        let rows = self.conn().query(
            "SELECT channel, address, reason, created_at FROM suppressions WHERE workspace_id = $1
             ORDER BY created_at DESC LIMIT $2",
            &[&ws.0, &sql_limit(limit)],
        )?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?, Timestamp::from_micros(get(r, 3)?)))).collect()
    }
}
