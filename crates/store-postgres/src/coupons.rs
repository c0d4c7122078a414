//! Coupon pools and the codes handed out (one row per code and contact).

use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_store::read::CouponReads;
use kairos_store::write::CouponWrites;
use kairos_store::{IssuedCode, Result};

use crate::conn::Conn;
use crate::{PgReader, PgWriter, get};

impl CouponWrites for PgWriter {
    fn save_pool(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO coupon_pools (workspace_id, id, data, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data",
            &[&ws.0, &id, &data, &at.as_micros()],
        )?;
        Ok(())
    }

    fn pools(&mut self, f: &mut dyn FnMut(WorkspaceId, String, String)) -> Result<()> {
        self.conn.for_each("SELECT workspace_id, id, data FROM coupon_pools", &[], &mut |r| {
            f(WorkspaceId(get(r, 0)?), get(r, 1)?, get(r, 2)?);
            Ok(())
        })
    }

    fn issue_code(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        code: &str,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO coupon_codes (workspace_id, code, pool_id, contact_id, issued_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&ws.0, &code, &pool, &contact.0, &at.as_micros()],
        )?;
        Ok(n == 1)
    }

    fn issued_code(&mut self, ws: WorkspaceId, pool: &str, contact: ContactId) -> Result<Option<(String, Timestamp)>> {
        let row = self.conn.query_opt(
            "SELECT code, issued_at FROM coupon_codes WHERE workspace_id = $1 AND pool_id = $2 AND contact_id = $3
             ORDER BY issued_at DESC LIMIT 1",
            &[&ws.0, &pool, &contact.0],
        )?;
        row.map(|r| Ok((get(&r, 0)?, Timestamp::from_micros(get(&r, 1)?)))).transpose()
    }

    fn code_used(&mut self, ws: WorkspaceId, code: &str) -> Result<bool> {
        let row = self
            .conn
            .query_opt("SELECT 1 FROM coupon_codes WHERE workspace_id = $1 AND code = $2 LIMIT 1", &[&ws.0, &code])?;
        Ok(row.is_some())
    }

    fn pool_issued(&mut self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        pool_issued(&mut self.conn, ws, pool)
    }

    fn coupon_code(&mut self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        coupon_code(&mut self.conn, ws, code, contact)
    }

    fn redeem_code(
        &mut self,
        ws: WorkspaceId,
        code: &str,
        contact: ContactId,
        order: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE coupon_codes SET redeemed_at = $4, order_id = $5
             WHERE workspace_id = $1 AND code = $2 AND contact_id = $3 AND redeemed_at IS NULL",
            &[&ws.0, &code, &contact.0, &at.as_micros(), &order],
        )?;
        Ok(n > 0)
    }
}

fn pool_issued(conn: &mut Conn, ws: WorkspaceId, pool: &str) -> Result<u64> {
    let row =
        conn.query_one("SELECT COUNT(*) FROM coupon_codes WHERE workspace_id = $1 AND pool_id = $2", &[&ws.0, &pool])?;
    Ok(get::<i64>(&row, 0)? as u64)
}

fn coupon_code(conn: &mut Conn, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
    // An unredeemed holder first (false sorts before true), then the latest issued.
    let row = conn.query_opt(
        "SELECT pool_id, contact_id, issued_at, redeemed_at FROM coupon_codes
         WHERE workspace_id = $1 AND code = $2 AND ($3::BIGINT IS NULL OR contact_id = $3)
         ORDER BY redeemed_at IS NOT NULL, issued_at DESC LIMIT 1",
        &[&ws.0, &code, &contact.map(|c| c.0)],
    )?;
    row.map(|r| {
        Ok(IssuedCode {
            pool: get(&r, 0)?,
            contact: ContactId(get(&r, 1)?),
            issued_at: Timestamp::from_micros(get(&r, 2)?),
            redeemed_at: get::<Option<i64>>(&r, 3)?.map(Timestamp::from_micros),
        })
    })
    .transpose()
}

impl CouponReads for PgReader<'_> {
    fn coupon_code(&self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        coupon_code(&mut self.conn(), ws, code, contact)
    }

    fn pool_issued(&self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        pool_issued(&mut self.conn(), ws, pool)
    }

    fn coupon_pools(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>> {
        let rows =
            self.conn().query("SELECT id, data FROM coupon_pools WHERE workspace_id = $1 ORDER BY id", &[&ws.0])?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }
}
