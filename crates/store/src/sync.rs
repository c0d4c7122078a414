//! The small state of a workspace's syncs with store platforms, by name: backfill cursors and progress
//! (`backfill/shopify`), incremental sync cursors (`poll/magento/orders`), Shopify inventory items' products
//! (`shopify/inventory_item/{id}`). Values are short text (JSON or an id), written by the committer.

use kairos_domain::{Timestamp, WorkspaceId};

use crate::Result;

/// Longest name, in bytes.
pub const SYNC_NAME_BYTES_MAX: usize = 200;
/// Longest value, in bytes.
pub const SYNC_VALUE_BYTES_MAX: usize = 16 * 1024;

/// Writes of sync state, inside the committer's transaction.
pub trait SyncWrites {
    fn sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<Option<String>>;
    /// Stores (or replaces) a value.
    fn put_sync_state(&mut self, ws: WorkspaceId, name: &str, value: &str, at: Timestamp) -> Result<()>;
    /// Removes a value; whether there was one.
    fn delete_sync_state(&mut self, ws: WorkspaceId, name: &str) -> Result<bool>;
}

/// Reads of sync state, on committed data.
pub trait SyncReads {
    fn sync_state(&self, ws: WorkspaceId, name: &str) -> Result<Option<String>>;
}
