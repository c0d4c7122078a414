//! UI logins (SPEC 13, 16, 18): users with Argon2id password hashes, and browser sessions.
//!
//! A session is a random token handed to the browser in a cookie; only its SHA-256 is stored, with a per-session
//! CSRF token and an absolute expiry. These writes are rare (a login, a logout) and go through the backend beside
//! the committer, never through it. A backend implements the few required methods of [`Users`]; the checks,
//! hashing and tokens (the provided methods) are the same for every backend.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kairos_domain::{Email, Timestamp, WorkspaceId};
use rand::Rng;

use crate::StoreError;
use crate::keys::{hash_key, random_token};

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

/// A session as stored: the hash of its token, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub workspace: WorkspaceId,
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Users and sessions. Blocking and slow on purpose where passwords are checked (Argon2): call off async threads.
pub trait Users {
    /// Adds a user to the workspace with public id `workspace`; [`UserError::Exists`] when the email has one.
    fn insert_user(
        &self,
        workspace: &str,
        email: &Email,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<User, UserError>;
    /// Replaces a user's password hash and ends every session of that user.
    fn update_password(&self, workspace: &str, email: &Email, password_hash: &str) -> Result<User, UserError>;
    /// The users with this email (one per workspace at most) with their password hashes, oldest first.
    fn password_hashes(&self, email: &Email) -> Result<Vec<(User, String)>, StoreError>;
    /// The workspace's users (UI logins), by email: who tasks can be assigned to.
    fn workspace_users(&self, ws: WorkspaceId) -> Result<Vec<User>, StoreError>;
    /// Stores a new session, sweeping sessions expired at `s.created_at` on the way.
    fn insert_session(&self, s: &StoredSession) -> Result<(), StoreError>;
    /// Ends the session with this token hash (nothing happens for an unknown one).
    fn delete_session_hash(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// Adds a UI login to the workspace with public id `workspace` (as `workspace create` prints it).
    fn create_user(&self, workspace: &str, email: &str, password: &str, now: Timestamp) -> Result<User, UserError> {
        let email = Email::parse(email).ok_or(UserError::InvalidEmail)?;
        let hash = hash_password(password)?;
        self.insert_user(workspace, &email, &hash, now)
    }

    /// Sets a user's password and ends every session of that user.
    fn set_password(&self, workspace: &str, email: &str, password: &str) -> Result<User, UserError> {
        let email = Email::parse(email).ok_or(UserError::InvalidEmail)?;
        let hash = hash_password(password)?;
        self.update_password(workspace, &email, &hash)
    }

    /// Checks an email and password. The same email may have a login in several workspaces: the first whose
    /// password matches wins. An unknown email takes as long as a wrong password.
    fn authenticate_user(&self, email: &str, password: &str) -> Result<Option<User>, UserError> {
        let Some(email) = Email::parse(email) else {
            verify_password(password, decoy_hash());
            return Ok(None);
        };
        if password.len() > PASSWORD_BYTES_MAX {
            return Ok(None);
        }
        let candidates = self.password_hashes(&email)?;
        if candidates.is_empty() {
            verify_password(password, decoy_hash());
            return Ok(None);
        }
        Ok(candidates.into_iter().find(|(_, phc)| verify_password(password, phc)).map(|(user, _)| user))
    }

    /// Opens a session for `user` lasting `ttl_micros`; expired sessions are swept on the way.
    fn create_session(&self, user: &User, now: Timestamp, ttl_micros: i64) -> Result<NewSession, UserError> {
        let token = random_token("", SESSION_TOKEN_BYTES);
        let csrf = random_token("", CSRF_TOKEN_BYTES);
        let expires_at = Timestamp::from_micros(now.as_micros().saturating_add(ttl_micros));
        self.insert_session(&StoredSession {
            token_hash: hash_key(&token),
            user_id: user.id,
            workspace: user.workspace,
            csrf: csrf.clone(),
            created_at: now,
            expires_at,
        })?;
        Ok(NewSession { token, csrf, expires_at })
    }

    /// Ends the session whose cookie token is `token` (nothing happens for an unknown token).
    fn delete_session(&self, token: &str) -> Result<(), UserError> {
        Ok(self.delete_session_hash(&hash_key(token))?)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(matches!(hash_password("short"), Err(UserError::InvalidPassword)));
    }
}
