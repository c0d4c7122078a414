//! The product catalog (one JSON row per product and workspace).

use kairos_domain::{Product, WorkspaceId};
use kairos_store::codec::{from_json, page_rows};
use kairos_store::read::ProductReads;
use kairos_store::write::ProductWrites;
use kairos_store::{Page, Result};

use crate::conn::Conn;
use crate::{PgReader, PgWriter, get, to_json};

impl ProductWrites for PgWriter {
    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        product(&mut self.conn, ws, id)
    }

    fn upsert_product(&mut self, ws: WorkspaceId, p: &Product) -> Result<()> {
        self.conn.execute(
            "INSERT INTO products (workspace_id, id, data, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id, id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at",
            &[&ws.0, &p.id, &to_json(p), &p.updated_at.as_micros()],
        )?;
        Ok(())
    }

    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        let row = self.conn.query_opt("SELECT 1 FROM products WHERE workspace_id = $1 AND id = $2", &[&ws.0, &id])?;
        Ok(row.is_some())
    }

    fn products_after(&mut self, ws: WorkspaceId, after: Option<&str>, limit: usize) -> Result<Vec<Product>> {
        products_after(&mut self.conn, ws, after, i64::try_from(limit).unwrap_or(i64::MAX))
    }
}

/// At most `limit` products with ids after `after` (`""`: from the first), by id. `id` sorts byte by byte
/// (`COLLATE "C"` in the schema), as in the SQLite store, whatever the database's collation.
fn products_after(conn: &mut Conn, ws: WorkspaceId, after: Option<&str>, limit: i64) -> Result<Vec<Product>> {
    let rows = conn.query(
        "SELECT data FROM products WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        &[&ws.0, &after.unwrap_or(""), &limit],
    )?;
    rows.iter().map(|r| from_json("product", get(r, 0)?)).collect()
}

fn product(conn: &mut Conn, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
    let row = conn.query_opt("SELECT data FROM products WHERE workspace_id = $1 AND id = $2", &[&ws.0, &id])?;
    row.map(|r| from_json("product", get(&r, 0)?)).transpose()
}

impl ProductReads for PgReader<'_> {
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        product(&mut self.conn(), ws, id)
    }

    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>> {
        let items = products_after(&mut self.conn(), ws, cursor, page_rows(limit))?;
        Ok(Page::from_rows(items, limit, |p| p.id.clone()))
    }
}
