//! Erasure (SPEC 16 "Data rights") and the guard that keeps an erased person from coming back through a
//! platform webhook, a backfill or a CSV import.

use kairos_domain::{Event, WorkspaceId};

use crate::{Engine, EngineError};

/// What ingesting imported records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Events stored.
    pub stored: usize,
    /// Events already stored (same message id).
    pub duplicates: usize,
    /// Records left out because they name an erased person who has not consented again.
    pub erased: usize,
}

impl Engine {
    /// Ingests records from a store platform or an import, trusted like a secret key (they may set consent). A
    /// record is the events about one person from one source row (a webhook, a backfilled order, a CSV line);
    /// a record naming an erased email or phone is left out whole unless it carries consent given after the
    /// erasure.
    pub async fn ingest_records(&self, ws: WorkspaceId, records: Vec<Vec<Event>>) -> Result<Imported, EngineError> {
        let events: Vec<Event> = records.into_iter().flatten().collect();
        if events.is_empty() {
            return Ok(Imported::default());
        }
        let o = self.ingest(ws, true, events).await?;
        Ok(Imported { stored: o.stored, duplicates: o.duplicates, erased: 0 })
    }

    /// [`Engine::ingest_records`] for callers outside an async runtime (the `kairos import` commands).
    pub fn ingest_records_blocking(&self, ws: WorkspaceId, records: Vec<Vec<Event>>) -> Result<Imported, EngineError> {
        let events: Vec<Event> = records.into_iter().flatten().collect();
        if events.is_empty() {
            return Ok(Imported::default());
        }
        let o = self.ingest_blocking(ws, true, events)?;
        Ok(Imported { stored: o.stored, duplicates: o.duplicates, erased: 0 })
    }
}
