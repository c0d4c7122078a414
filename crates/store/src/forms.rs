//! What a workspace puts on the store's website (SPEC 16 "Site", issue 14): signup forms, quizzes and landing
//! pages, each a JSON document of a [`SiteKind`] under an id unique across workspaces and kinds, since its public
//! address (`/f/{id}`, `/q/{id}`, `/p/{id}`) names no workspace.

use kairos_domain::vocab::SiteKind;
use kairos_domain::{Timestamp, WorkspaceId};

use crate::Result;

/// Writes of site items, inside the committer's transaction.
pub trait SiteWrites {
    /// Inserts or replaces an item of `ws`; an id another workspace (or another kind) holds is refused (false).
    fn save_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str, data: &str, at: Timestamp) -> Result<bool>;
    /// Removes an item of `ws`; false when `ws` has no such item.
    fn delete_site_item(&mut self, ws: WorkspaceId, kind: SiteKind, id: &str) -> Result<bool>;
}

/// Reads of site items, on committed data.
pub trait SiteReads {
    /// An item by its id, with the workspace it belongs to.
    fn site_item(&self, kind: SiteKind, id: &str) -> Result<Option<(WorkspaceId, String)>>;
    /// The workspace's items of a kind (id, JSON), by id.
    fn site_items(&self, ws: WorkspaceId, kind: SiteKind) -> Result<Vec<(String, String)>>;
}
