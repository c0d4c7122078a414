//! Sealed secrets by name (`kairos_store::secrets`): the table holds only the bytes `SecretBox` sealed.

use kairos_domain::Timestamp;
use kairos_store::Result;
use kairos_store::read::SecretReads;
use kairos_store::write::SecretWrites;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Db, SqliteReader, SqliteWriter};

fn get(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT sealed FROM secrets WHERE name = ?1").db()?;
    stmt.query_row([name], |r| r.get(0)).optional().db()
}

fn names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM secrets ORDER BY name").db()?;
    let rows = stmt.query_map([], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

impl SecretWrites for SqliteWriter {
    fn secret(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        get(&self.conn, name)
    }

    fn insert_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<Vec<u8>> {
        self.conn
            .prepare_cached(
                "INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .db()?
            .execute(params![name, sealed, at.as_micros()])
            .db()?;
        get(&self.conn, name)?.ok_or_else(|| crate::corrupt("secrets", format!("{name:?} vanished after insert")))
    }

    fn put_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            )
            .db()?
            .execute(params![name, sealed, at.as_micros()])
            .db()?;
        Ok(())
    }

    fn delete_secret(&mut self, name: &str) -> Result<bool> {
        let n = self.conn.prepare_cached("DELETE FROM secrets WHERE name = ?1").db()?.execute([name]).db()?;
        Ok(n > 0)
    }

    fn secret_names(&mut self) -> Result<Vec<String>> {
        names(&self.conn)
    }
}

impl SecretReads for SqliteReader<'_> {
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        get(&self.conn, name)
    }

    fn secret_names(&self) -> Result<Vec<String>> {
        names(&self.conn)
    }
}
