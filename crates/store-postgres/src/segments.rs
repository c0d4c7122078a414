//! Segments: definitions (soft-deleted so public ids are never reused), memberships and size samples.

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::read::SegmentReads;
use kairos_store::write::SegmentWrites;
use kairos_store::{Page, Result, StoreError, StoredSegment};
use postgres::Row;

use crate::rows::sql_limit;
use crate::{PgReader, PgWriter, cursor_number, get};

/// The columns [`segment_row`] reads (0..=6).
macro_rules! segment_columns {
    () => {
        "id, public_id, workspace_id, name, definition, created_at, updated_at"
    };
}

fn segment_row(r: &Row) -> Result<StoredSegment> {
    Ok(StoredSegment {
        row: get(r, 0)?,
        public_id: get(r, 1)?,
        workspace: WorkspaceId(get(r, 2)?),
        name: get(r, 3)?,
        definition: get(r, 4)?,
        created_at: Timestamp::from_micros(get(r, 5)?),
        updated_at: Timestamp::from_micros(get(r, 6)?),
    })
}

/// A segment row followed by its member count (column 7).
fn segment_with_size(r: &Row) -> Result<(StoredSegment, u64)> {
    Ok((segment_row(r)?, get::<i64>(r, 7)? as u64))
}

impl SegmentWrites for PgWriter {
    fn segments(&mut self) -> Result<Vec<StoredSegment>> {
        let rows = self
            .conn
            .query(concat!("SELECT ", segment_columns!(), " FROM segments WHERE NOT deleted ORDER BY id"), &[])?;
        rows.iter().map(segment_row).collect()
    }

    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64> {
        let row = self.conn.query_one(
            "INSERT INTO segments (public_id, workspace_id, name, definition, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
                 updated_at = excluded.updated_at
             RETURNING id",
            &[
                &s.public_id,
                &s.workspace.0,
                &s.name,
                &s.definition,
                &s.created_at.as_micros(),
                &s.updated_at.as_micros(),
            ],
        )?;
        get(&row, 0)
    }

    fn delete_segment(&mut self, row: i64) -> Result<()> {
        self.conn.execute("UPDATE segments SET deleted = TRUE WHERE id = $1", &[&row])?;
        self.conn.execute("DELETE FROM segment_members WHERE segment_id = $1", &[&row])?;
        Ok(())
    }

    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        self.conn.for_each("SELECT contact_id FROM segment_members WHERE segment_id = $1", &[&row], &mut |r| {
            f(ContactId(get(r, 0)?));
            Ok(())
        })
    }

    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()> {
        if member {
            self.conn.execute(
                "INSERT INTO segment_members (segment_id, contact_id, entered_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&row, &contact.0, &at.as_micros()],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM segment_members WHERE segment_id = $1 AND contact_id = $2",
                &[&row, &contact.0],
            )?;
        }
        Ok(())
    }

    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO segment_sizes (segment_id, at, size) VALUES ($1, $2, $3)
             ON CONFLICT (segment_id, at) DO UPDATE SET size = excluded.size",
            &[&row, &bucket.as_micros(), &(size as i64)],
        )?;
        Ok(())
    }
}

impl SegmentReads for PgReader<'_> {
    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>> {
        let rows = self.conn().query(
            concat!(
                "SELECT ",
                segment_columns!(),
                ", (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.id)
                 FROM segments s WHERE workspace_id = $1 AND NOT deleted ORDER BY id"
            ),
            &[&ws.0],
        )?;
        rows.iter().map(segment_with_size).collect()
    }

    fn segment(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<(StoredSegment, u64)>> {
        let row = self.conn().query_opt(
            concat!(
                "SELECT ",
                segment_columns!(),
                ", (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.id)
                 FROM segments s WHERE workspace_id = $1 AND public_id = $2 AND NOT deleted"
            ),
            &[&ws.0, &public_id],
        )?;
        row.as_ref().map(segment_with_size).transpose()
    }

    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>> {
        let row = self.conn().query_opt(
            "SELECT id FROM segments WHERE workspace_id = $1 AND public_id = $2 AND NOT deleted",
            &[&ws.0, &public_id],
        )?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let after = cursor_number(cursor, 0)?;
        let rows = self.conn().query(
            "SELECT c.id, c.data FROM segment_members m JOIN contacts c ON c.id = m.contact_id
             WHERE m.segment_id = $1 AND m.contact_id > $2 ORDER BY m.contact_id LIMIT $3",
            &[&row, &after, &sql_limit(limit).saturating_add(1)],
        )?;
        let items = rows
            .iter()
            .map(|r| serde_json::from_str(get(r, 1)?).map_err(|e| StoreError::corrupt("contact", e)))
            .collect::<Result<Vec<Contact>>>()?;
        Ok(Page::from_rows(items, limit, |c| c.id.0.to_string()))
    }

    fn contact_segments(&self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<(StoredSegment, Timestamp)>> {
        let rows = self.conn().query(
            concat!(
                "SELECT ",
                segment_columns!(),
                ", m.entered_at FROM segments s JOIN segment_members m ON m.segment_id = s.id AND m.contact_id = $2
                 WHERE s.workspace_id = $1 AND NOT s.deleted ORDER BY s.id"
            ),
            &[&ws.0, &contact.0],
        )?;
        rows.iter().map(|r| Ok((segment_row(r)?, Timestamp::from_micros(get(r, 7)?)))).collect()
    }

    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>> {
        let rows = self.conn().query(
            "SELECT at, size FROM segment_sizes WHERE segment_id = $1 AND at >= $2 ORDER BY at",
            &[&row, &since.as_micros()],
        )?;
        rows.iter().map(|r| Ok((Timestamp::from_micros(get(r, 0)?), get::<i64>(r, 1)? as u64))).collect()
    }
}
