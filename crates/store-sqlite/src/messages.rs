//! Messages (with the statuses they have had and their human opens and clicks as columns), provider ids and
//! the suppression list.

use kairos_domain::{Channel, MessageStatus, Timestamp, WorkspaceId};
use kairos_store::read::MessageReads;
use kairos_store::write::MessageWrites;
use kairos_store::{MessageFilter, Page, Reaction, Result, StoredMessage, Suppression};
use rusqlite::{OptionalExtension, params};

use crate::rows::{MESSAGE_COLUMNS, message_row};
use crate::{Db, SqliteReader, SqliteWriter, cursor_number};

impl MessageWrites for SqliteWriter {
    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool> {
        // `statuses` holds every status the message has had, space-separated with spaces around: ` queued sent `.
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id,
                     status, data, created_at, variant, statuses, subject_variant)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ' ' || ?9 || ' ', ?13)
                 ON CONFLICT (id) DO NOTHING",
            )
            .db()?
            .execute(params![
                m.id,
                m.workspace.0,
                m.contact.0,
                m.channel.as_str(),
                m.to,
                m.flow_id,
                m.campaign_id,
                m.step_id,
                m.status.as_str(),
                m.data,
                m.created_at.as_micros(),
                m.variant,
                m.subject_variant,
            ])
            .db()?;
        Ok(n == 1)
    }

    fn update_message(&mut self, id: &str, status: MessageStatus, data: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = ?2, data = ?3,
                     statuses = CASE WHEN instr(statuses, ' ' || ?2 || ' ') > 0 THEN statuses ELSE statuses || ?2 || ' ' END
                 WHERE id = ?1",
            )
            .db()?
            .execute(params![id, status.as_str(), data])
            .db()?;
        Ok(())
    }

    fn count_reaction(&mut self, id: &str, reaction: Reaction) -> Result<()> {
        let sql = match reaction {
            Reaction::Open => "UPDATE messages SET opens = opens + 1 WHERE id = ?1",
            Reaction::Click => "UPDATE messages SET clicks = clicks + 1 WHERE id = ?1",
        };
        self.conn.prepare_cached(sql).db()?.execute([id]).db()?;
        Ok(())
    }

    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1")).db()?;
        stmt.query_row([id], message_row).optional().db()
    }

    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO provider_ids (provider_id, message_id) VALUES (?1, ?2)")
            .db()?
            .execute(params![provider_id, message])
            .db()?;
        Ok(())
    }

    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT message_id FROM provider_ids WHERE provider_id = ?1").db()?;
        stmt.query_row([provider_id], |r| r.get(0)).optional().db()
    }

    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE status IN ('deferred', 'queued', 'retrying')
                     OR (status = 'sent' AND created_at >= ?1) ORDER BY rowid"
            ))
            .db()?;
        let mut rows = stmt.query([since.as_micros()]).db()?;
        while let Some(r) = rows.next().db()? {
            f(message_row(r).db()?);
        }
        Ok(())
    }

    fn suppress(
        &mut self,
        ws: WorkspaceId,
        channel: Channel,
        address: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO suppressions (workspace_id, channel, address, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
            )
            .db()?
            .execute(params![ws.0, channel.as_str(), address, reason, at.as_micros()])
            .db()?;
        Ok(())
    }

    fn unsuppress(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM suppressions WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3")
            .db()?
            .execute(params![ws.0, channel.as_str(), address])
            .db()?;
        Ok(n > 0)
    }

    fn is_suppressed(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM suppressions WHERE workspace_id = ?1 AND channel = ?2 AND address = ?3")
            .db()?;
        Ok(stmt.query_row(params![ws.0, channel.as_str(), address], |_| Ok(())).optional().db()?.is_some())
    }
}

impl MessageReads for SqliteReader<'_> {
    fn messages(
        &self,
        ws: WorkspaceId,
        f: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        let before = cursor_number(cursor, i64::MAX)?;
        // Only the filters given, each a plain equality: SQLite then walks the index of the most selective one in
        // row order (`messages_by_to`, `messages_by_contact`, `messages_by_campaign`, each ending in the row id)
        // instead of every message of the workspace newest first (`?3 IS NULL OR to_addr = ?3` cannot use one).
        let filters: [(&str, Option<rusqlite::types::Value>); 5] = [
            ("to_addr", f.to.clone().map(Into::into)),
            ("flow_id", f.flow_id.clone().map(Into::into)),
            ("campaign_id", f.campaign_id.clone().map(Into::into)),
            ("contact_id", f.contact.map(|c| c.0.into())),
            ("status", f.status.clone().map(Into::into)),
        ];
        let mut sql = format!("SELECT {MESSAGE_COLUMNS}, rowid FROM messages WHERE workspace_id = ?1 AND rowid < ?2");
        let mut values: Vec<rusqlite::types::Value> = vec![ws.0.into(), before.into()];
        for (column, value) in filters {
            if let Some(v) = value {
                values.push(v);
                sql.push_str(&format!(" AND {column} = ?{}", values.len()));
            }
        }
        values.push(((limit + 1) as i64).into());
        sql.push_str(&format!(" ORDER BY rowid DESC LIMIT ?{}", values.len()));
        let mut stmt = self.conn.prepare_cached(&sql).db()?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| Ok((message_row(r)?, r.get::<_, i64>(13)?)))
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
        let more = rows.len() > limit;
        let next_cursor = if more { rows.get(limit.wrapping_sub(1)).map(|(_, seq)| seq.to_string()) } else { None };
        Ok(Page { items: rows.into_iter().take(limit).map(|(m, _)| m).collect(), next_cursor })
    }

    fn message(&self, id: &str) -> Result<Option<StoredMessage>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1")).db()?;
        stmt.query_row([id], message_row).optional().db()
    }

    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND workspace_id = ?2"))
            .db()?;
        stmt.query_row(params![id, ws.0], message_row).optional().db()
    }

    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<Suppression>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT channel, address, reason, created_at FROM suppressions WHERE workspace_id = ?1
                 ORDER BY created_at DESC LIMIT ?2",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, Timestamp::from_micros(r.get(3)?)))
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }
}
