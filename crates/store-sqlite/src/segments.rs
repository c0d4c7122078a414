//! Segments: definitions (soft-deleted so public ids are never reused), memberships and size samples.

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::read::SegmentReads;
use kairos_store::write::SegmentWrites;
use kairos_store::{Page, Result, StoredSegment};
use rusqlite::{OptionalExtension, params};

use crate::rows::{SEGMENT_COLUMNS, segment_row};
use crate::{Db, SqliteReader, SqliteWriter, corrupt, cursor_number};

impl SegmentWrites for SqliteWriter {
    fn segments(&mut self) -> Result<Vec<StoredSegment>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE deleted = 0 ORDER BY id")).db()?;
        let rows = stmt.query_map([], segment_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO segments (public_id, workspace_id, name, definition, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
                     updated_at = excluded.updated_at
                 RETURNING id",
            )
            .db()?;
        stmt.query_row(
            params![
                s.public_id,
                s.workspace.0,
                s.name,
                s.definition,
                s.created_at.as_micros(),
                s.updated_at.as_micros()
            ],
            |r| r.get(0),
        )
        .db()
    }

    fn delete_segment(&mut self, row: i64) -> Result<()> {
        self.conn.prepare_cached("UPDATE segments SET deleted = 1 WHERE id = ?1").db()?.execute([row]).db()?;
        self.conn.prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1").db()?.execute([row]).db()?;
        Ok(())
    }

    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT contact_id FROM segment_members WHERE segment_id = ?1").db()?;
        let mut rows = stmt.query([row]).db()?;
        while let Some(r) = rows.next().db()? {
            f(ContactId(r.get(0).db()?));
        }
        Ok(())
    }

    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()> {
        if member {
            self.conn
                .prepare_cached(
                    "INSERT INTO segment_members (segment_id, contact_id, entered_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )
                .db()?
                .execute(params![row, contact.0, at.as_micros()])
                .db()?;
        } else {
            self.conn
                .prepare_cached("DELETE FROM segment_members WHERE segment_id = ?1 AND contact_id = ?2")
                .db()?
                .execute(params![row, contact.0])
                .db()?;
        }
        Ok(())
    }

    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO segment_sizes (segment_id, at, size) VALUES (?1, ?2, ?3)
                 ON CONFLICT (segment_id, at) DO UPDATE SET size = excluded.size",
            )
            .db()?
            .execute(params![row, bucket.as_micros(), size as i64])
            .db()?;
        Ok(())
    }
}

impl SegmentReads for SqliteReader<'_> {
    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS}, (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.id)
                 FROM segments s WHERE workspace_id = ?1 AND deleted = 0 ORDER BY id"
            ))
            .db()?;
        let rows = stmt.query_map([ws.0], |r| Ok((segment_row(r)?, r.get::<_, i64>(7)? as u64))).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn segment(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<(StoredSegment, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS}, (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.id)
                 FROM segments s WHERE workspace_id = ?1 AND public_id = ?2 AND deleted = 0"
            ))
            .db()?;
        stmt.query_row(params![ws.0, public_id], |r| Ok((segment_row(r)?, r.get::<_, i64>(7)? as u64))).optional().db()
    }

    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM segments WHERE workspace_id = ?1 AND public_id = ?2 AND deleted = 0")
            .db()?;
        stmt.query_row(params![ws.0, public_id], |r| r.get(0)).optional().db()
    }

    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let after = cursor_number(cursor, 0)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.data FROM segment_members m JOIN contacts c ON c.id = m.contact_id
                 WHERE m.segment_id = ?1 AND m.contact_id > ?2 ORDER BY m.contact_id LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![row, after, (limit + 1) as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
        let items = rows
            .iter()
            .map(|(_, d)| serde_json::from_str(d).map_err(|e| corrupt("contact", e)))
            .collect::<Result<Vec<Contact>>>()?;
        Ok(Page::from_rows(items, limit, |c| c.id.0.to_string()))
    }

    fn contact_segments(&self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<(StoredSegment, Timestamp)>> {
        // The workspace's segments first, then one primary-key probe each (segment_members is keyed by segment).
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS}, m.entered_at FROM segments s CROSS JOIN segment_members m
                 ON m.segment_id = s.id AND m.contact_id = ?2
                 WHERE s.workspace_id = ?1 AND s.deleted = 0 ORDER BY s.id"
            ))
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, contact.0], |r| Ok((segment_row(r)?, Timestamp::from_micros(r.get(7)?))))
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, size FROM segment_sizes WHERE segment_id = ?1 AND at >= ?2 ORDER BY at")
            .db()?;
        let rows = stmt
            .query_map(params![row, since.as_micros()], |r| {
                Ok((Timestamp::from_micros(r.get(0)?), r.get::<_, i64>(1)? as u64))
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }
}
