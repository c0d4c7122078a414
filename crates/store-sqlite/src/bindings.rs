//! Identity bindings written later (issue 17, item 2): a new identity (an anonymous id, a user id, an email)
//! was an insert at a random page of `identities`, one page per binding per commit: in the first minutes of the
//! anchor workload (100 000 shoppers arriving) a third of the WAL's frames. The committer now keeps the bindings
//! events make ([`Bindings::bind`]) and writes them every couple of seconds, sorted by the table's key, so one
//! page takes many of them (ARCHITECTURE "Identity bindings written in batches").
//!
//! - The committer's own look-ups see them at once ([`Bindings::get`]); readers on other connections see those
//!   of committed transactions through [`Shared`], checked before the table.
//! - A crash loses only what the log tells again: every binding kept here was made by resolving an ingested
//!   event, logged with its contact. The replay mark (`crate::written_later`) is never past the last sequence
//!   in use when the oldest kept binding was made ([`Bindings::from`]), and a start's replay binds again every
//!   claim of the events after it that is not bound.
//! - What would make the log tell it differently writes them first: a merge (the survivor's fields may differ
//!   from the loser's), an erasure (it deletes by contact).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use kairos_domain::{ContactId, WorkspaceId};
use kairos_store::{IdentityKind, Result};
use rusqlite::{Connection, params};

use crate::Db;

/// Binds an identity to a contact (a later binding of the same identity replaces it): kept ones and at once.
pub(crate) const UPSERT_IDENTITY: &str = "INSERT INTO identities (workspace_id, kind, value, contact_id)
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (workspace_id, kind, value) DO UPDATE SET contact_id = excluded.contact_id";

/// (workspace, kind code, value): sorted, the order of `identities`' primary key.
type Key = (i64, i64, String);

/// A kept binding.
#[derive(Debug, Clone, Copy)]
struct Entry {
    contact: i64,
    /// The committer's transaction that made it: readers on other connections see it once that committed.
    txn: u64,
    /// Written into the table by the open transaction: dropped from here once that commits.
    written: bool,
}

/// The bindings the committer keeps, shared with the readers of other connections (one map: a binding is
/// inserted once and found by both).
#[derive(Debug, Default)]
pub(crate) struct Shared(Mutex<Map>);

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<Key, Entry>,
    /// The committer's transactions are numbered; those up to this one committed.
    committed: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The contact a committed kept binding names (the caller follows merges, as it does for the table's).
    pub(crate) fn get(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Option<ContactId> {
        let map = self.lock();
        let entry = map.entries.get(&(ws.0, kind.code(), value.to_string()));
        entry.filter(|e| e.txn <= map.committed).map(|e| ContactId(e.contact))
    }

    /// Contacts of committed kept bindings of `kind` whose value starts with `prefix`, at most `limit`.
    pub(crate) fn with_prefix(
        &self,
        ws: WorkspaceId,
        kind: IdentityKind,
        prefix: &str,
        limit: usize,
    ) -> Vec<ContactId> {
        let map = self.lock();
        map.entries
            .iter()
            .filter(|((w, k, v), e)| *w == ws.0 && *k == kind.code() && v.starts_with(prefix) && e.txn <= map.committed)
            .map(|(_, e)| ContactId(e.contact))
            .take(limit)
            .collect()
    }
}

/// The committer's side of the kept bindings.
#[derive(Debug)]
pub(crate) struct Bindings {
    shared: Arc<Shared>,
    /// The open transaction's number (see [`Map::committed`]).
    txn: u64,
    /// Whether the open transaction bound any.
    bound: bool,
    /// Whether the open transaction wrote the kept bindings into the table.
    wrote: bool,
    /// The last sequence in use when the oldest kept binding was made: every event up to it has its bindings in
    /// the table. None: nothing kept.
    from: Option<i64>,
    /// How many are kept and not written.
    kept: usize,
    /// A key to look up without allocating.
    probe: Key,
}

impl Bindings {
    pub(crate) fn new(shared: Arc<Shared>) -> Bindings {
        Bindings { shared, txn: 1, bound: false, wrote: false, from: None, kept: 0, probe: (0, 0, String::new()) }
    }

    fn fill_probe(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) {
        self.probe.0 = ws.0;
        self.probe.1 = kind.code();
        self.probe.2.clear();
        self.probe.2.push_str(value);
    }

    /// The contact a kept binding names, committed or not.
    pub(crate) fn get(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Option<ContactId> {
        self.fill_probe(ws, kind, value);
        let map = self.shared.lock();
        map.entries.get(&self.probe).filter(|e| !e.written).map(|e| ContactId(e.contact))
    }

    /// Keeps a binding made while resolving an event sequenced after `last_seq`.
    pub(crate) fn bind(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId, last_seq: i64) {
        self.from.get_or_insert(last_seq);
        let key = (ws.0, kind.code(), value.to_string());
        let entry = Entry { contact: contact.0, txn: self.txn, written: false };
        if self.shared.lock().entries.insert(key, entry).is_none_or(|e| e.written) {
            self.kept += 1;
        }
        self.bound = true;
    }

    /// The binding is removed (the table's row is deleted by the caller).
    pub(crate) fn remove(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) {
        self.fill_probe(ws, kind, value);
        let mut map = self.shared.lock();
        if map.entries.get(&self.probe).is_some_and(|e| !e.written) {
            map.entries.remove(&self.probe);
            self.kept -= 1;
        }
    }

    /// How many are kept and not written.
    pub(crate) fn len(&self) -> usize {
        self.kept
    }

    /// Where a replay must start for the kept bindings (see the module).
    pub(crate) fn from(&self) -> Option<i64> {
        self.from
    }

    /// Writes every kept binding, in key order, inside the open transaction.
    pub(crate) fn write(&mut self, conn: &Connection) -> Result<()> {
        if self.from.is_none() {
            return Ok(());
        }
        let mut rows: Vec<(Key, i64)> = {
            let mut map = self.shared.lock();
            map.entries
                .iter_mut()
                .filter(|(_, e)| !e.written)
                .map(|(k, e)| {
                    e.written = true;
                    (k.clone(), e.contact)
                })
                .collect()
        };
        // In the table's key order: consecutive inserts land on the same pages.
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut stmt = conn.prepare_cached(UPSERT_IDENTITY).db()?;
        for ((ws, kind, value), contact) in rows {
            stmt.execute(params![ws, kind, value, contact]).db()?;
        }
        self.wrote = true;
        self.from = None;
        self.kept = 0;
        Ok(())
    }

    /// After `COMMIT`: readers see this transaction's bindings; those it wrote are found in the table now.
    pub(crate) fn committed(&mut self) {
        if !std::mem::take(&mut self.bound) && !self.wrote {
            return;
        }
        let mut map = self.shared.lock();
        map.committed = self.txn;
        self.txn += 1;
        if std::mem::take(&mut self.wrote) {
            map.entries.retain(|_, e| !e.written);
        }
    }

    /// The committer's connection is gone (a stop writes them first): what it kept is lost with it, as a crash
    /// loses it, and the next start binds it again from the log.
    pub(crate) fn dropped(&mut self) {
        if self.from.is_some() || self.bound {
            self.clear();
        }
    }

    /// A rollback: everything kept is dropped (the committer replays from the committed mark, binding again).
    pub(crate) fn clear(&mut self) {
        self.shared.lock().entries.clear();
        self.bound = false;
        self.wrote = false;
        self.from = None;
        self.kept = 0;
    }
}
