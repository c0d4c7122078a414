//! The product catalog (one JSON row per product and workspace).

use kairos_domain::{Product, WorkspaceId};
use kairos_store::read::ProductReads;
use kairos_store::write::ProductWrites;
use kairos_store::{Page, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteWriter, corrupt, to_json};

impl ProductWrites for SqliteWriter {
    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        product(&self.conn, ws, id)
    }

    fn upsert_product(&mut self, ws: WorkspaceId, p: &Product) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO products (workspace_id, id, data, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            )
            .db()?;
        stmt.execute(params![ws.0, p.id, to_json(p), p.updated_at.as_micros()]).db()?;
        Ok(())
    }

    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM products WHERE workspace_id = ?1 AND id = ?2").db()?;
        Ok(stmt.query_row(params![ws.0, id], |_| Ok(())).optional().db()?.is_some())
    }

    fn products_after(&mut self, ws: WorkspaceId, after: Option<&str>, limit: usize) -> Result<Vec<Product>> {
        products_after(&self.conn, ws, after, limit)
    }
}

/// At most `limit` products with ids after `after` (`""`: from the first), by id.
fn products_after(conn: &Connection, ws: WorkspaceId, after: Option<&str>, limit: usize) -> Result<Vec<Product>> {
    let mut stmt = conn
        .prepare_cached("SELECT data FROM products WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
        .db()?;
    let rows = stmt
        .query_map(params![ws.0, after.unwrap_or(""), limit as i64], |r| r.get::<_, String>(0))
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    rows.into_iter().map(|d| serde_json::from_str(&d).map_err(|e| corrupt("product", e))).collect()
}

fn product(conn: &Connection, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM products WHERE workspace_id = ?1 AND id = ?2").db()?;
    let data: Option<String> = stmt.query_row(params![ws.0, id], |r| r.get(0)).optional().db()?;
    data.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("product", e))).transpose()
}

impl ProductReads for SqliteReader<'_> {
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        product(&self.conn, ws, id)
    }

    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>> {
        let items = products_after(&self.conn, ws, cursor, limit + 1)?;
        Ok(Page::from_rows(items, limit, |p| p.id.clone()))
    }
}
