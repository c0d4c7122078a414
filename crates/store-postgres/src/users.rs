//! UI users and sessions: short transactions on a pooled connection beside the committer. They touch no table
//! the committer writes.

use kairos_domain::{Email, Timestamp, WorkspaceId};
use kairos_store::keys::hash_key;
use kairos_store::read::UserReads;
use kairos_store::users::{Session, StoredSession, User, UserError, Users};
use kairos_store::{Result, StoreError};

use crate::conn::Conn;
use crate::{PgReader, PgStore, get};

/// Runs `f` in one transaction on `conn`: committed when it succeeds, rolled back otherwise (the connection goes
/// back to the pool with no transaction open).
fn in_transaction<T, E: From<StoreError>>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E> {
    conn.batch("BEGIN")?;
    match f(conn) {
        Ok(v) => {
            conn.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            // A failed rollback means a lost connection, which the pool does not lend again.
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn workspace_row(conn: &mut Conn, public_id: &str) -> Result<WorkspaceId, UserError> {
    let row = conn.query_opt("SELECT id FROM workspaces WHERE public_id = $1", &[&public_id])?;
    let row = row.ok_or_else(|| UserError::UnknownWorkspace(public_id.to_string()))?;
    Ok(WorkspaceId(get(&row, 0)?))
}

impl Users for PgStore {
    fn insert_user(&self, workspace: &str, email: &Email, hash: &str, now: Timestamp) -> Result<User, UserError> {
        in_transaction(&mut *self.side()?, |conn| {
            let ws = workspace_row(conn, workspace)?;
            let inserted = conn.query_opt(
                "INSERT INTO users (workspace_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id",
                &[&ws.0, &email.as_str(), &hash, &now.as_micros()],
            )?;
            let id: i64 = get(&inserted.ok_or(UserError::Exists)?, 0)?;
            Ok(User { id, workspace: ws, email: email.as_str().to_string() })
        })
    }

    fn update_password(&self, workspace: &str, email: &Email, hash: &str) -> Result<User, UserError> {
        in_transaction(&mut *self.side()?, |conn| {
            let ws = workspace_row(conn, workspace)?;
            let row = conn.query_opt(
                "UPDATE users SET password_hash = $3 WHERE workspace_id = $1 AND email = $2 RETURNING id",
                &[&ws.0, &email.as_str(), &hash],
            )?;
            let id: i64 = get(&row.ok_or(UserError::NotFound)?, 0)?;
            conn.execute("DELETE FROM sessions WHERE user_id = $1", &[&id])?;
            Ok(User { id, workspace: ws, email: email.as_str().to_string() })
        })
    }

    fn password_hashes(&self, email: &Email) -> Result<Vec<(User, String)>, StoreError> {
        let rows = self.side()?.query(
            "SELECT id, workspace_id, password_hash FROM users WHERE email = $1 ORDER BY id",
            &[&email.as_str()],
        )?;
        rows.iter()
            .map(|r| {
                let user =
                    User { id: get(r, 0)?, workspace: WorkspaceId(get(r, 1)?), email: email.as_str().to_string() };
                Ok((user, get(r, 2)?))
            })
            .collect()
    }

    fn workspace_users(&self, ws: WorkspaceId) -> Result<Vec<User>, StoreError> {
        let rows =
            self.side()?.query("SELECT id, email FROM users WHERE workspace_id = $1 ORDER BY email", &[&ws.0])?;
        rows.iter().map(|r| Ok(User { id: get(r, 0)?, workspace: ws, email: get(r, 1)? })).collect()
    }

    fn insert_session(&self, s: &StoredSession) -> Result<(), StoreError> {
        in_transaction(&mut *self.side()?, |conn| {
            conn.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&s.created_at.as_micros()])?;
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &s.token_hash,
                    &s.user_id,
                    &s.workspace.0,
                    &s.csrf,
                    &s.created_at.as_micros(),
                    &s.expires_at.as_micros(),
                ],
            )?;
            Ok(())
        })
    }

    fn delete_session_hash(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.side()?.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
        Ok(())
    }
}

impl UserReads for PgReader<'_> {
    fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>> {
        let row = self.conn().query_opt(
            "SELECT s.user_id, s.workspace_id, w.public_id, w.name, u.email, s.csrf, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = s.workspace_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            &[&hash_key(token), &now.as_micros()],
        )?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Session {
            user_id: get(&r, 0)?,
            workspace: WorkspaceId(get(&r, 1)?),
            workspace_public_id: get(&r, 2)?,
            workspace_name: get(&r, 3)?,
            email: get(&r, 4)?,
            csrf: get(&r, 5)?,
            expires_at: Timestamp::from_micros(get(&r, 6)?),
        }))
    }
}
