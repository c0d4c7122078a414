//! Sealed secrets by name (`kairos_store::secrets`): the table holds only the bytes `SecretBox` sealed.

use kairos_domain::Timestamp;
use kairos_store::read::SecretReads;
use kairos_store::write::SecretWrites;
use kairos_store::{Result, StoreError};

use crate::conn::Conn;
use crate::{PgReader, PgWriter, get};

fn sealed(conn: &mut Conn, name: &str) -> Result<Option<Vec<u8>>> {
    let row = conn.query_opt("SELECT sealed FROM secrets WHERE name = $1", &[&name])?;
    row.map(|r| get(&r, 0)).transpose()
}

fn names(conn: &mut Conn) -> Result<Vec<String>> {
    // `name` sorts byte by byte (`COLLATE "C"` in the schema), as in the SQLite store.
    conn.query("SELECT name FROM secrets ORDER BY name", &[])?.iter().map(|r| get(r, 0)).collect()
}

impl SecretWrites for PgWriter {
    fn secret(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        sealed(&mut self.conn, name)
    }

    fn insert_secret(&mut self, name: &str, value: &[u8], at: Timestamp) -> Result<Vec<u8>> {
        // Another writer inserting the same name waits here until it commits (then nothing is inserted), and
        // the read below, a statement of its own, sees its committed value (READ COMMITTED).
        self.conn.execute(
            "INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO NOTHING",
            &[&name, &value, &at.as_micros()],
        )?;
        sealed(&mut self.conn, name)?
            .ok_or_else(|| StoreError::corrupt("secrets", format!("{name:?} vanished after insert")))
    }

    fn put_secret(&mut self, name: &str, value: &[u8], at: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at",
            &[&name, &value, &at.as_micros()],
        )?;
        Ok(())
    }

    fn delete_secret(&mut self, name: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM secrets WHERE name = $1", &[&name])? > 0)
    }

    fn secret_names(&mut self) -> Result<Vec<String>> {
        names(&mut self.conn)
    }
}

impl SecretReads for PgReader<'_> {
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        sealed(&mut self.conn(), name)
    }

    fn secret_names(&self) -> Result<Vec<String>> {
        names(&mut self.conn())
    }
}
