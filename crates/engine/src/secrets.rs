//! Workspace secrets the engine reads and writes: each workspace's webhook signing secret, sealed in the store
//! (`kairos_store::secrets`), never in the settings JSON or a message row. Read on each use rather than
//! cached, so every node sharing the database signs with the value stored now.

use kairos_domain::{Timestamp, WorkspaceId};
use kairos_store::read::SecretReads;
use kairos_store::secrets::{SecretBox, names};
use kairos_store::write::SecretWrites;
use kairos_store::{SecretError, StoreError};

use crate::EngineError;

/// Bytes of randomness in a generated webhook secret (`whsec_` + 48 hex digits).
const WEBHOOK_SECRET_BYTES: usize = 24;

fn store_error(e: SecretError) -> EngineError {
    EngineError::Store(StoreError::from(e))
}

/// The workspace's committed webhook secret, from a read view.
pub(crate) fn webhook_secret_committed(
    r: &dyn SecretReads,
    sealer: &SecretBox,
    ws: WorkspaceId,
) -> Result<Option<String>, EngineError> {
    let name = names::webhook(ws);
    match sealer.read(r, &name).map_err(store_error)? {
        Some(bytes) => Ok(Some(text(&name, bytes)?)),
        None => Ok(None),
    }
}

/// The workspace's webhook secret, generated and stored at first use (if two nodes generate one at once, both
/// use the one stored first).
pub(crate) fn webhook_secret_or_new(
    tx: &mut dyn SecretWrites,
    sealer: &SecretBox,
    ws: WorkspaceId,
    now: Timestamp,
) -> Result<String, EngineError> {
    let name = names::webhook(ws);
    let bytes = sealer.get_or_insert_with(tx, &name, now, generate).map_err(store_error)?;
    text(&name, bytes)
}

/// Sets the workspace's webhook secret (`PUT /api/v1/settings`); `None` removes it, so the next webhook call
/// generates a new one.
pub(crate) fn set_webhook_secret(
    tx: &mut dyn SecretWrites,
    sealer: &SecretBox,
    ws: WorkspaceId,
    secret: Option<&str>,
    now: Timestamp,
) -> Result<(), EngineError> {
    let name = names::webhook(ws);
    match secret {
        Some(s) => sealer.put(tx, &name, s.as_bytes(), now).map_err(store_error),
        None => tx.delete_secret(&name).map(|_| ()).map_err(EngineError::Store),
    }
}

fn generate() -> Vec<u8> {
    use rand::RngExt as _;
    let bytes: [u8; WEBHOOK_SECRET_BYTES] = rand::rng().random();
    format!("whsec_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()).into_bytes()
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String, EngineError> {
    String::from_utf8(bytes)
        .map_err(|_| EngineError::Store(StoreError::Corrupt(format!("the secret {name:?} is not text"))))
}
