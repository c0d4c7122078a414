//! UI logins (SPEC 13, 16, 18): users with Argon2id password hashes, and browser sessions.
//!
//! A session is a random token handed to the browser in a cookie; only its SHA-256 is stored, with a per-session
//! CSRF token and an absolute expiry. These writes are rare (a login, a logout) and go through a connection of
//! their own beside the committer (`BEGIN IMMEDIATE` where they read first): SQLite serialises them with the busy
//! timeout.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kairos_domain::{Email, Timestamp, WorkspaceId};
use rand::Rng;
use rusqlite::{OptionalExtension, params};

use crate::StoreError;
use crate::keys::{hash_key, random_token};
use crate::sqlite::{SqliteReader, SqliteStore};

/// Shortest and longest accepted passwords (characters / bytes).
pub const PASSWORD_CHARS_MIN: usize = 8;
pub const PASSWORD_BYTES_MAX: usize = 1_024;
/// Bytes of randomness in a session token and in its CSRF token.
const SESSION_TOKEN_BYTES: usize = 32;
const CSRF_TOKEN_BYTES: usize = 24;
/// Bytes of salt per password hash.
const SALT_BYTES: usize = 16;

/// Why a user could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("no workspace with id {0:?}")]
    UnknownWorkspace(String),
    #[error("a user with this email already exists in the workspace")]
    Exists,
    #[error("no user with this email in the workspace")]
    NotFound,
    #[error("the email is not a valid address")]
    InvalidEmail,
    #[error("the password must be {PASSWORD_CHARS_MIN} to {PASSWORD_BYTES_MAX} characters")]
    InvalidPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for UserError {
    fn from(e: rusqlite::Error) -> Self {
        UserError::Store(e.into())
    }
}

/// A UI user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub workspace: WorkspaceId,
    pub email: String,
}

/// A live session, as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    pub workspace: WorkspaceId,
    pub workspace_public_id: String,
    pub workspace_name: String,
    pub email: String,
    /// The token unsafe requests must echo in `X-CSRF-Token`.
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// What a login hands to the browser: the cookie's token (never stored) and the CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): tens of milliseconds per hash.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of a password.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    check_password(password)?;
    let mut salt = [0u8; SALT_BYTES];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Ok(argon2().hash_password(password.as_bytes(), &salt).map_err(|e| UserError::Hash(e.to_string()))?.to_string())
}

/// Whether `password` matches a stored PHC hash (false for a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < PASSWORD_CHARS_MIN || password.len() > PASSWORD_BYTES_MAX {
        return Err(UserError::InvalidPassword);
    }
    Ok(())
}

/// A hash no password matches, verified when the email is unknown so that a login takes as long either way
/// (no telling which emails have accounts from the response time).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token("", 16)).unwrap_or_default())
}

impl SqliteStore {
    fn workspace_row(conn: &rusqlite::Connection, public_id: &str) -> Result<WorkspaceId, UserError> {
        conn.query_row("SELECT id FROM workspaces WHERE public_id = ?1", [public_id], |r| r.get(0))
            .optional()?
            .map(WorkspaceId)
            .ok_or_else(|| UserError::UnknownWorkspace(public_id.to_string()))
    }

    /// Adds a UI login to the workspace with public id `workspace` (as `workspace create` prints it).
    pub fn create_user(&self, workspace: &str, email: &str, password: &str, now: Timestamp) -> Result<User, UserError> {
        let email = Email::parse(email).ok_or(UserError::InvalidEmail)?;
        let hash = hash_password(password)?;
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ws = Self::workspace_row(&tx, workspace)?;
        let inserted = tx.execute(
            "INSERT INTO users (workspace_id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, email) DO NOTHING",
            params![ws.0, email.as_str(), hash, now.as_micros()],
        )?;
        if inserted == 0 {
            return Err(UserError::Exists);
        }
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(User { id, workspace: ws, email: email.as_str().to_string() })
    }

    /// Sets a user's password and ends every session of that user.
    pub fn set_password(&self, workspace: &str, email: &str, password: &str) -> Result<User, UserError> {
        let email = Email::parse(email).ok_or(UserError::InvalidEmail)?;
        let hash = hash_password(password)?;
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ws = Self::workspace_row(&tx, workspace)?;
        let id: i64 = tx
            .query_row(
                "UPDATE users SET password_hash = ?3 WHERE workspace_id = ?1 AND email = ?2 RETURNING id",
                params![ws.0, email.as_str(), hash],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(UserError::NotFound)?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        tx.commit()?;
        Ok(User { id, workspace: ws, email: email.as_str().to_string() })
    }

    /// Checks an email and password. The same email may have a login in several workspaces: the first whose
    /// password matches wins. Slow on purpose (Argon2): call it off the async threads.
    pub fn authenticate_user(&self, email: &str, password: &str) -> Result<Option<User>, UserError> {
        let Some(email) = Email::parse(email) else {
            verify_password(password, decoy_hash());
            return Ok(None);
        };
        if password.len() > PASSWORD_BYTES_MAX {
            return Ok(None);
        }
        let conn = self.connect(true)?;
        let mut stmt =
            conn.prepare("SELECT id, workspace_id, password_hash FROM users WHERE email = ?1 ORDER BY id")?;
        let candidates = stmt
            .query_map([email.as_str()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        if candidates.is_empty() {
            verify_password(password, decoy_hash());
            return Ok(None);
        }
        Ok(candidates.into_iter().find(|(_, _, phc)| verify_password(password, phc)).map(|(id, ws, _)| User {
            id,
            workspace: WorkspaceId(ws),
            email: email.as_str().to_string(),
        }))
    }

    /// Opens a session for `user` lasting `ttl_micros`; expired sessions are swept on the way.
    pub fn create_session(&self, user: &User, now: Timestamp, ttl_micros: i64) -> Result<NewSession, UserError> {
        let token = random_token("", SESSION_TOKEN_BYTES);
        let csrf = random_token("", CSRF_TOKEN_BYTES);
        let expires_at = Timestamp::from_micros(now.as_micros().saturating_add(ttl_micros));
        let mut conn = self.connect(false)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now.as_micros()])?;
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![hash_key(&token), user.id, user.workspace.0, csrf, now.as_micros(), expires_at.as_micros()],
        )?;
        tx.commit()?;
        Ok(NewSession { token, csrf, expires_at })
    }

    /// Ends the session whose cookie token is `token` (nothing happens for an unknown token).
    pub fn delete_session(&self, token: &str) -> Result<(), UserError> {
        let conn = self.connect(false)?;
        conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash_key(token)])?;
        Ok(())
    }
}

impl SqliteReader<'_> {
    /// The live session a cookie token belongs to (`None` when unknown, expired, or its user is gone).
    pub fn session(&self, token: &str, now: Timestamp) -> crate::Result<Option<Session>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.user_id, s.workspace_id, w.public_id, w.name, u.email, s.csrf, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = s.workspace_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )?;
        Ok(stmt
            .query_row(params![hash_key(token), now.as_micros()], |r| {
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
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let ws = store.create_workspace("Shop", Timestamp::from_micros(0)).unwrap();
        (dir, store, ws.id)
    }

    #[test]
    fn passwords_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(matches!(hash_password("short"), Err(UserError::InvalidPassword)));
    }

    #[test]
    fn users_log_in_and_sessions_expire() {
        let (_dir, store, ws) = store();
        let now = Timestamp::from_micros(1_000_000);
        let user = store.create_user(&ws, " Ann@Shop.example ", "s3cret-pass", now).unwrap();
        assert_eq!(user.email, "ann@shop.example");
        assert!(matches!(store.create_user(&ws, "ann@shop.example", "another-pass", now), Err(UserError::Exists)));
        assert!(matches!(
            store.create_user("ws_nope", "b@shop.example", "s3cret-pass", now),
            Err(UserError::UnknownWorkspace(_))
        ));
        assert!(matches!(store.create_user(&ws, "not-an-email", "s3cret-pass", now), Err(UserError::InvalidEmail)));

        assert_eq!(store.authenticate_user("ANN@shop.example", "s3cret-pass").unwrap(), Some(user.clone()));
        assert_eq!(store.authenticate_user("ann@shop.example", "wrong-pass").unwrap(), None);
        assert_eq!(store.authenticate_user("bob@shop.example", "s3cret-pass").unwrap(), None);

        let s = store.create_session(&user, now, 10_000_000).unwrap();
        let pool = store.read_pool(1).unwrap();
        let found = pool.with(|r| r.session(&s.token, now)).unwrap().expect("live session");
        assert_eq!(
            (found.workspace, found.email.as_str(), found.csrf.as_str()),
            (user.workspace, "ann@shop.example", s.csrf.as_str())
        );
        let later = Timestamp::from_micros(now.as_micros() + 10_000_000);
        assert_eq!(pool.with(|r| r.session(&s.token, later)).unwrap(), None, "expired");
        assert_eq!(pool.with(|r| r.session("forged", now)).unwrap(), None);

        store.delete_session(&s.token).unwrap();
        assert_eq!(pool.with(|r| r.session(&s.token, now)).unwrap(), None, "logged out");

        let s2 = store.create_session(&user, now, 10_000_000).unwrap();
        store.set_password(&ws, "ann@shop.example", "new-password").unwrap();
        assert_eq!(pool.with(|r| r.session(&s2.token, now)).unwrap(), None, "a new password ends sessions");
        assert!(store.authenticate_user("ann@shop.example", "new-password").unwrap().is_some());
    }
}
