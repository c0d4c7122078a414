//! Signup forms (SPEC 16 "Site"): each a JSON document under an id unique across workspaces, since the hosted
//! form's address (`/f/{id}`) names no workspace.

use kairos_domain::{Timestamp, WorkspaceId};

use crate::Result;

/// Writes of forms, inside the committer's transaction.
pub trait FormWrites {
    /// Inserts or replaces a form of `ws`; a form id another workspace holds is refused (false).
    fn save_form(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<bool>;
}

/// Reads of forms, on committed data.
pub trait FormReads {
    /// A form by its id, with the workspace it belongs to.
    fn form(&self, id: &str) -> Result<Option<(WorkspaceId, String)>>;
    /// The workspace's forms (id, JSON), by id.
    fn forms(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>>;
}
