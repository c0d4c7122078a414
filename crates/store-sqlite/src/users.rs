//! UI users and sessions: short transactions on a connection of their own beside the committer (`BEGIN
//! IMMEDIATE` where they read first); SQLite serialises them with the busy timeout. They touch no table the
//! committer writes.

use kairos_domain::{Email, Timestamp, WorkspaceId};
use kairos_store::keys::hash_key;
use kairos_store::read::UserReads;
use kairos_store::users::{Session, StoredSession, User, UserError, Users};
use kairos_store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Db, SqliteReader, SqliteStore};

fn workspace_row(conn: &Connection, public_id: &str) -> Result<WorkspaceId, UserError> {
    conn.query_row("SELECT id FROM workspaces WHERE public_id = ?1", [public_id], |r| r.get(0))
        .optional()
        .db()?
        .map(WorkspaceId)
        .ok_or_else(|| UserError::UnknownWorkspace(public_id.to_string()))
}

impl Users for SqliteStore {
    fn insert_user(&self, workspace: &str, email: &Email, hash: &str, now: Timestamp) -> Result<User, UserError> {
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let ws = workspace_row(&tx, workspace)?;
        let inserted = tx
            .execute(
                "INSERT INTO users (workspace_id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, email) DO NOTHING",
                params![ws.0, email.as_str(), hash, now.as_micros()],
            )
            .db()?;
        if inserted == 0 {
            return Err(UserError::Exists);
        }
        let id = tx.last_insert_rowid();
        tx.commit().db()?;
        Ok(User { id, workspace: ws, email: email.as_str().to_string() })
    }

    fn update_password(&self, workspace: &str, email: &Email, hash: &str) -> Result<User, UserError> {
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        let ws = workspace_row(&tx, workspace)?;
        let id: i64 = tx
            .query_row(
                "UPDATE users SET password_hash = ?3 WHERE workspace_id = ?1 AND email = ?2 RETURNING id",
                params![ws.0, email.as_str(), hash],
                |r| r.get(0),
            )
            .optional()
            .db()?
            .ok_or(UserError::NotFound)?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id]).db()?;
        tx.commit().db()?;
        Ok(User { id, workspace: ws, email: email.as_str().to_string() })
    }

    fn password_hashes(&self, email: &Email) -> Result<Vec<(User, String)>, StoreError> {
        let conn = self.connect(true)?;
        let mut stmt =
            conn.prepare("SELECT id, workspace_id, password_hash FROM users WHERE email = ?1 ORDER BY id").db()?;
        let rows = stmt
            .query_map([email.as_str()], |r| {
                let user = User { id: r.get(0)?, workspace: WorkspaceId(r.get(1)?), email: email.as_str().to_string() };
                Ok((user, r.get::<_, String>(2)?))
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn workspace_users(&self, ws: WorkspaceId) -> Result<Vec<User>, StoreError> {
        let conn = self.connect(true)?;
        let mut stmt = conn.prepare("SELECT id, email FROM users WHERE workspace_id = ?1 ORDER BY email").db()?;
        let rows = stmt.query_map([ws.0], |r| Ok(User { id: r.get(0)?, workspace: ws, email: r.get(1)? })).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn insert_session(&self, s: &StoredSession) -> Result<(), StoreError> {
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [s.created_at.as_micros()]).db()?;
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.token_hash, s.user_id, s.workspace.0, s.csrf, s.created_at.as_micros(), s.expires_at.as_micros()],
        )
        .db()?;
        tx.commit().db()
    }

    fn delete_session_hash(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        let conn = self.connect(false)?;
        conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash]).db()?;
        Ok(())
    }
}

impl UserReads for SqliteReader<'_> {
    fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.user_id, s.workspace_id, w.public_id, w.name, u.email, s.csrf, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = s.workspace_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            )
            .db()?;
        stmt.query_row(params![hash_key(token), now.as_micros()], |r| {
            Ok(Session {
                user_id: r.get(0)?,
                workspace: WorkspaceId(r.get(1)?),
                workspace_public_id: r.get(2)?,
                workspace_name: r.get(3)?,
                email: r.get(4)?,
                csrf: r.get(5)?,
                expires_at: Timestamp::from_micros(r.get(6)?),
            })
        })
        .optional()
        .db()
    }
}
