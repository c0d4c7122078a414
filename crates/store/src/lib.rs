//! The storage boundary, with no backend in it: the traits every backend implements, the rows they exchange,
//! the error type, API key and password hashing, and (feature `suite`) the test suite every backend runs.
//!
//! Shape (the engine builds on it):
//! - [`Store`]: the handle a process opens once (`kairos_store_sqlite::SqliteStore::open` today). It hands out
//!   the single [`Writer`] (the committer's connection), pooled read-only [`Reads`] views, and the rarely used
//!   writes that live beside the committer ([`Users`], workspaces).
//! - Writes happen inside one transaction at a time: [`Writer::begin`] / [`Writer::commit`] /
//!   [`Writer::rollback`], or the guard [`Transaction`] (`writer.transaction()?`, rolled back unless committed).
//!   The operations of an open transaction are [`WriteTx`]: one trait per aggregate ([`write::EventWrites`],
//!   [`write::ContactWrites`], [`write::SegmentWrites`], ...), each with the reads that must see the
//!   transaction's own writes. A subsystem takes only the aggregate it owns (`&mut dyn SegmentWrites`; a
//!   `&mut dyn WriteTx` coerces to it).
//! - Reads of committed data are [`Reads`]: one trait per aggregate ([`read::ContactReads`],
//!   [`read::ReportReads`], ...) on read-only connections, never inside the committer. Everything a query needs
//!   (listings, report rows, campaign numbers, simulation's event scan, previews' templates) is there.
//! - Secrets (the link-signing key, webhook secrets, DKIM keys) are stored sealed ([`secrets`]): the backend
//!   keeps bytes under a name ([`write::SecretWrites`], [`read::SecretReads`]); [`SecretBox`] seals and opens
//!   them under the master key, which never enters the database.
//!
//! Nothing here names a backend: SQL lives in `kairos-store-sqlite` (a CI test and clippy's
//! `disallowed-types` keep it there).

pub mod codec;
pub mod copy;
pub mod erasure;
pub mod error;
pub mod forms;
pub mod keys;
pub mod lease;
pub mod packed;
pub mod read;
pub mod reports;
pub mod rows;
pub mod secrets;
#[cfg(feature = "suite")]
pub mod suite;
pub mod sync;
pub mod users;
pub mod write;

use std::path::PathBuf;

use kairos_domain::{Timestamp, WorkspaceId};

pub use erasure::{AuditEntry, PersonalRows};
pub use error::{Result, StoreError};
pub use keys::{KeyKind, NewWorkspace};
pub use lease::{Lease, LeaseHolder, Leases};
pub use read::Reads;
pub use rows::*;
pub use secrets::{MasterKey, SecretBox, SecretError};
pub use users::Users;
pub use write::{DurableSync, Transaction, WriteTx, Writer};

/// Every trait of the boundary, for `use kairos_store::prelude::*`.
pub mod prelude {
    pub use crate::Store;
    pub use crate::erasure::{ErasureReads, ErasureWrites};
    pub use crate::forms::{SiteReads, SiteWrites};
    pub use crate::read::*;
    pub use crate::sync::{SyncReads, SyncWrites};
    pub use crate::users::Users;
    pub use crate::write::*;
}

/// Work a backend does in the background (SQLite: WAL checkpoints) until this handle is dropped.
pub type Background = Box<dyn Send + Sync>;

/// An opened database: where the committer's writer, the read views and the side writes come from.
pub trait Store: Users + Send + Sync {
    /// The connection of the single writer (the committer). Opened once per process.
    fn writer(&self) -> Result<Box<dyn Writer>>;
    /// A read-only view of committed data, from a pool (never blocks the writer).
    fn reader(&self) -> Result<Box<dyn Reads + '_>>;
    /// Creates a workspace with one write key and one secret key.
    fn create_workspace(&self, name: &str, now: Timestamp) -> Result<NewWorkspace>;
    /// (internal id, public id, name) of every workspace, oldest first.
    fn workspaces(&self) -> Result<Vec<(WorkspaceId, String, String)>>;
    /// Starts the backend's background upkeep; it stops (after a last pass) when the handle is dropped.
    fn start_background(&self) -> Result<Background>;
    /// The directory of an embedded backend's files; None for a server database. Only an embedded database may
    /// fall back to a master key file the binary creates itself (a server database is shared by nodes, which
    /// must all be given the same key).
    fn local_dir(&self) -> Option<PathBuf>;
    /// Whole tables in key order, for copying a store to another backend (`kairos migrate`).
    fn copier(&self) -> Result<Box<dyn copy::RowCopy + '_>>;
    /// The leases of a database several nodes share (`crate::lease`); None for an embedded one.
    fn leases(&self) -> Option<std::sync::Arc<dyn Leases>> {
        None
    }
}

impl<'a> dyn Store + 'a {
    /// Runs `f` on a read view (blocking: call it off async threads).
    pub fn read<T>(&self, f: impl FnOnce(&dyn Reads) -> Result<T>) -> Result<T> {
        let r = self.reader()?;
        f(&*r)
    }
}
