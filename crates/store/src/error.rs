//! What can go wrong below the storage boundary, in terms every backend can express. A backend converts its
//! driver's errors into these (`kairos-store-sqlite` maps its SQLite errors); nothing above names a driver.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed: an I/O error, a driver error, a statement it refused. The message is the backend's.
    #[error("database error: {message}")]
    Backend { message: String },
    /// The database cannot be opened or reached now (missing directory, unsupported URL, busy past the
    /// timeout). Retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// A uniqueness rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data cannot be read back (or a background task could not start).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A page cursor that this listing did not hand out.
    #[error("{0}")]
    InvalidCursor(String),
}

impl StoreError {
    pub fn backend(message: impl std::fmt::Display) -> Self {
        StoreError::Backend { message: message.to_string() }
    }
    pub fn corrupt(what: &str, e: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(format!("{what}: {e}"))
    }
    /// The error of every listing for a cursor it cannot read.
    pub fn bad_cursor() -> Self {
        StoreError::InvalidCursor("cursor is not valid".into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
