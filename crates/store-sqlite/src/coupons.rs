//! Coupon pools and the codes handed out (one row per code and contact).

use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_store::read::CouponReads;
use kairos_store::write::CouponWrites;
use kairos_store::{IssuedCode, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteWriter};

impl CouponWrites for SqliteWriter {
    fn save_pool(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO coupon_pools (workspace_id, id, data, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data",
            )
            .db()?
            .execute(params![ws.0, id, data, at.as_micros()])
            .db()?;
        Ok(())
    }

    fn pools(&mut self, f: &mut dyn FnMut(WorkspaceId, String, String)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT workspace_id, id, data FROM coupon_pools").db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            f(WorkspaceId(r.get(0).db()?), r.get(1).db()?, r.get(2).db()?);
        }
        Ok(())
    }

    fn issue_code(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        code: &str,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO coupon_codes (workspace_id, code, pool_id, contact_id, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![ws.0, code, pool, contact.0, at.as_micros()])
            .db()?;
        Ok(n == 1)
    }

    fn issued_code(&mut self, ws: WorkspaceId, pool: &str, contact: ContactId) -> Result<Option<(String, Timestamp)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT code, issued_at FROM coupon_codes WHERE workspace_id = ?1 AND pool_id = ?2 AND contact_id = ?3
                 ORDER BY issued_at DESC LIMIT 1",
            )
            .db()?;
        stmt.query_row(params![ws.0, pool, contact.0], |r| Ok((r.get(0)?, Timestamp::from_micros(r.get(1)?))))
            .optional()
            .db()
    }

    fn code_used(&mut self, ws: WorkspaceId, code: &str) -> Result<bool> {
        let mut stmt =
            self.conn.prepare_cached("SELECT 1 FROM coupon_codes WHERE workspace_id = ?1 AND code = ?2").db()?;
        Ok(stmt.query_row(params![ws.0, code], |_| Ok(())).optional().db()?.is_some())
    }

    fn pool_issued(&mut self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        pool_issued(&self.conn, ws, pool)
    }

    fn coupon_code(&mut self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        coupon_code(&self.conn, ws, code, contact)
    }

    fn redeem_code(
        &mut self,
        ws: WorkspaceId,
        code: &str,
        contact: ContactId,
        order: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE coupon_codes SET redeemed_at = ?4, order_id = ?5
                 WHERE workspace_id = ?1 AND code = ?2 AND contact_id = ?3 AND redeemed_at IS NULL",
            )
            .db()?
            .execute(params![ws.0, code, contact.0, at.as_micros(), order])
            .db()?;
        Ok(n > 0)
    }
}

fn pool_issued(conn: &Connection, ws: WorkspaceId, pool: &str) -> Result<u64> {
    let mut stmt =
        conn.prepare_cached("SELECT COUNT(*) FROM coupon_codes WHERE workspace_id = ?1 AND pool_id = ?2").db()?;
    Ok(stmt.query_row(params![ws.0, pool], |r| r.get::<_, i64>(0)).db()? as u64)
}

fn coupon_code(
    conn: &Connection,
    ws: WorkspaceId,
    code: &str,
    contact: Option<ContactId>,
) -> Result<Option<IssuedCode>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT pool_id, contact_id, issued_at, redeemed_at FROM coupon_codes
             WHERE workspace_id = ?1 AND code = ?2 AND (?3 IS NULL OR contact_id = ?3)
             ORDER BY redeemed_at IS NOT NULL, issued_at DESC LIMIT 1",
        )
        .db()?;
    stmt.query_row(params![ws.0, code, contact.map(|c| c.0)], |r| {
        Ok(IssuedCode {
            pool: r.get(0)?,
            contact: ContactId(r.get(1)?),
            issued_at: Timestamp::from_micros(r.get(2)?),
            redeemed_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_micros),
        })
    })
    .optional()
    .db()
}

impl CouponReads for SqliteReader<'_> {
    fn coupon_code(&self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        coupon_code(&self.conn, ws, code, contact)
    }

    fn pool_issued(&self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        pool_issued(&self.conn, ws, pool)
    }

    fn coupon_pools(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id, data FROM coupon_pools WHERE workspace_id = ?1 ORDER BY id").db()?;
        let rows = stmt.query_map([ws.0], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }
}
