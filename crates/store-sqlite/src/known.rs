//! Which identities the store may hold, so the committer's look-up of a new one skips the table (issue 17,
//! item 2): a shopper's first event claims two or three identities nobody has bound yet, and each miss was a
//! descent of `identities`' B-tree (three quarters of it fetching pages), 16 % of the committer while the
//! anchor workload's shoppers arrive (profile 2026-12-07; ARCHITECTURE "New shoppers cheaper").
//!
//! A Bloom filter over (workspace, kind, value), shared by every writer of one store: "absent" is certain,
//! "present" may be wrong (then the table answers, as before). It is complete once its background scan of the
//! table ends; until then every look-up goes to the table. Completeness rests on two facts:
//! - every writer of this store adds each identity it binds ([`Known::add`]) from before the scan's first read
//!   transaction starts, so a binding is either found by the scan (which pages by key, a key never changes) or
//!   added by its writer;
//! - on SQLite only this process's writers bind identities while it runs (one committer; the other connections
//!   write workspaces and users; `kairos migrate` copies into a store no server runs on).
//!
//! Removed identities (an erasure, a merge's replaced address) stay in the filter: a false "present" only.
//! Past [`KNOWN_OVERFLOW_FACTOR`] times the keys it was sized for, it answers "present" always.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kairos_domain::WorkspaceId;
use kairos_store::IdentityKind;

/// Keys the filter is sized for at least ([`KNOWN_BITS_PER_KEY`] bits each, rounded up to a power of two: 2 MB).
const KNOWN_KEYS_MIN: u64 = 1 << 20;
/// Identities expected per contact when sizing (an anonymous id or two, a user id, an email, a phone).
const KNOWN_KEYS_PER_CONTACT: u64 = 4;
/// Bits per expected key: with [`KNOWN_PROBES`] probes, ~0.5 % of absent keys answer "present".
const KNOWN_BITS_PER_KEY: u64 = 12;
/// Bits set and tested per key.
const KNOWN_PROBES: u64 = 4;
/// Past this many times the keys it was sized for, the filter answers "present" always (the table decides).
const KNOWN_OVERFLOW_FACTOR: u64 = 2;
/// Rows the scan reads per read transaction (a few milliseconds each: the WAL can restart between pages).
const KNOWN_SCAN_PAGE_ROWS: i64 = 20_000;
/// Rows scanned between the scan's progress lines in the log.
const KNOWN_SCAN_LOG_EVERY: u64 = 1_000_000;

#[derive(Debug)]
pub(crate) struct Known {
    bits: Box<[AtomicU64]>,
    /// Bit count - 1 (a power of two).
    mask: u64,
    /// Keys added (rows scanned and bindings made; a key added twice counts twice).
    added: AtomicU64,
    /// Keys sized for.
    sized_for: u64,
    /// The scan of the table ended: "absent" answers are certain.
    complete: AtomicBool,
}

fn hash(ws: WorkspaceId, kind: IdentityKind, value: &str) -> u64 {
    // Fixed keys: the filter lives in memory only, and values are not chosen to collide by anyone who gains
    // from it (a collision costs one look-up in the table).
    let mut h = std::hash::DefaultHasher::new();
    (ws.0, kind.code(), value).hash(&mut h);
    h.finish()
}

impl Known {
    /// An empty filter for a store whose highest contact id is `max_contact`.
    pub(crate) fn sized(max_contact: i64) -> Self {
        let keys = (max_contact.max(0) as u64).saturating_mul(KNOWN_KEYS_PER_CONTACT).max(KNOWN_KEYS_MIN);
        let bits = (keys * KNOWN_BITS_PER_KEY).next_power_of_two();
        Known {
            bits: (0..bits / 64).map(|_| AtomicU64::new(0)).collect(),
            mask: bits - 1,
            added: AtomicU64::new(0),
            sized_for: keys,
            complete: AtomicBool::new(false),
        }
    }

    fn probes(&self, h: u64) -> impl Iterator<Item = u64> + '_ {
        // Double hashing (Kirsch–Mitzenmacher): probe i at h1 + i·h2.
        let (h1, h2) = (h, h.rotate_left(32) | 1);
        (0..KNOWN_PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & self.mask)
    }

    pub(crate) fn add(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) {
        self.add_hash(hash(ws, kind, value));
    }

    fn add_hash(&self, h: u64) {
        for bit in self.probes(h) {
            self.bits[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        self.added.fetch_add(1, Ordering::Relaxed);
    }

    /// False only when the store certainly does not hold the identity.
    pub(crate) fn may_hold(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> bool {
        if !self.complete.load(Ordering::Acquire)
            || self.added.load(Ordering::Relaxed) > self.sized_for * KNOWN_OVERFLOW_FACTOR
        {
            return true;
        }
        self.probes(hash(ws, kind, value))
            .all(|bit| self.bits[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0)
    }

    #[cfg(test)]
    fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }
}

/// Starts a store's filter: sized from its contacts, filled from `identities` on a thread of its own (a large
/// store's scan takes seconds; look-ups go to the table meanwhile). The caller's writers add from now on.
pub(crate) fn start(path: &std::path::Path) -> kairos_store::Result<Arc<Known>> {
    use crate::Db;
    let conn = crate::connect(path, true)?;
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM contacts", [], |r| r.get(0)).db()?;
    let known = Arc::new(Known::sized(max));
    let filling = known.clone();
    std::thread::Builder::new()
        .name("kairos-identities".into())
        .spawn(move || match fill(&conn, &filling, KNOWN_SCAN_PAGE_ROWS) {
            Ok(n) => {
                filling.complete.store(true, Ordering::Release);
                tracing::debug!(identities = n, "identity filter complete");
            }
            // The filter stays incomplete: every look-up asks the table, as without it.
            Err(e) => tracing::warn!(error = %e, "identity filter not built; identities are looked up in the table"),
        })
        .map_err(|e| kairos_store::StoreError::Unavailable(format!("cannot start a thread: {e}")))?;
    Ok(known)
}

/// Adds every row of `identities`, in pages by key. Each page is its own read transaction, so a large store's
/// scan does not keep the checkpointer from restarting the WAL while the load runs beside it. Paging is as
/// complete as one snapshot: a row bound before the filter existed keeps its key (the primary key never
/// changes), so the page whose range holds it finds it; a row bound since is added by its writer.
fn fill(conn: &rusqlite::Connection, known: &Known, page: i64) -> kairos_store::Result<u64> {
    use crate::Db;
    let mut stmt = conn
        .prepare(
            "SELECT workspace_id, kind, value FROM identities WHERE (workspace_id, kind, value) > (?1, ?2, ?3) \
             ORDER BY workspace_id, kind, value LIMIT ?4",
        )
        .db()?;
    let mut n = 0u64;
    // Below every key: workspace and kind codes are positive.
    let mut last: (i64, i64, String) = (i64::MIN, i64::MIN, String::new());
    loop {
        let mut rows = stmt.query(rusqlite::params![last.0, last.1, last.2, page]).db()?;
        let mut in_page = 0i64;
        while let Some(r) = rows.next().db()? {
            let (ws, code, value): (i64, i64, String) = (r.get(0).db()?, r.get(1).db()?, r.get(2).db()?);
            // A kind this build does not know is never looked up.
            if let Some(kind) = IdentityKind::from_code(code) {
                known.add(WorkspaceId(ws), kind, &value);
            }
            last = (ws, code, value);
            in_page += 1;
            n += 1;
            if n.is_multiple_of(KNOWN_SCAN_LOG_EVERY) {
                tracing::debug!(identities = n, "identity filter filling");
            }
        }
        if in_page < page {
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use kairos_domain::ContactId;
    use kairos_store::write::{ContactWrites, Writer};

    use super::*;
    use crate::SqliteStore;

    fn complete(w: &crate::SqliteWriter) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !w.known.is_complete() {
            assert!(std::time::Instant::now() < until, "the scan of identities never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_restarted_store_finds_what_was_bound_and_skips_the_table_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, email, user) = (WorkspaceId(1), IdentityKind::Email, IdentityKind::UserId);
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            let mut w = store.sqlite_writer().unwrap();
            w.begin().unwrap();
            w.set_identity(ws, email, "at-once@example.com", ContactId(1)).unwrap();
            w.bind_identity_later(ws, user, "kept-1", ContactId(2)).unwrap();
            w.write_identities().unwrap();
            w.commit().unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut w = store.sqlite_writer().unwrap();
        complete(&w);
        w.begin().unwrap();
        assert_eq!(w.lookup_identity(ws, email, "at-once@example.com").unwrap(), Some(ContactId(1)), "scanned");
        assert_eq!(w.lookup_identity(ws, user, "kept-1").unwrap(), Some(ContactId(2)), "scanned");
        assert_eq!(w.lookup_identity(ws, user, "never").unwrap(), None);
        // Bound by this writer: added, whether at once or kept, and found by another writer of the store.
        w.set_identity(ws, email, "new@example.com", ContactId(3)).unwrap();
        w.bind_identity_later(ws, user, "kept-2", ContactId(4)).unwrap();
        w.write_identities().unwrap();
        w.commit().unwrap();
        let mut other = store.sqlite_writer().unwrap();
        other.begin().unwrap();
        assert_eq!(other.lookup_identity(ws, email, "new@example.com").unwrap(), Some(ContactId(3)));
        assert_eq!(other.lookup_identity(ws, user, "kept-2").unwrap(), Some(ContactId(4)));
        other.rollback().unwrap();
        // A row no writer of this store bound (what the module rules out) is not looked for: the filter, not the
        // table, answered the misses above.
        let raw = crate::connect(&store.path, false).unwrap();
        raw.execute("INSERT INTO identities (workspace_id, kind, value, contact_id) VALUES (1, 2, 'behind@x', 5)", [])
            .unwrap();
        w.begin().unwrap();
        assert_eq!(w.lookup_identity(ws, email, "behind@x").unwrap(), None);
        w.rollback().unwrap();
    }

    #[test]
    fn absent_is_certain_once_complete_and_present_until_then() {
        let k = Known::sized(0);
        let ws = WorkspaceId(1);
        k.add(ws, IdentityKind::Email, "a@example.com");
        assert!(k.may_hold(ws, IdentityKind::Email, "b@example.com"), "incomplete: the table decides");
        k.complete.store(true, Ordering::Release);
        assert!(k.may_hold(ws, IdentityKind::Email, "a@example.com"));
        let absent = (0..10_000).filter(|i| !k.may_hold(ws, IdentityKind::Email, &format!("{i}@x"))).count();
        assert!(absent > 9_900, "an almost empty filter says absent: {absent}");
        assert!(k.may_hold(ws, IdentityKind::Email, "a@example.com"));
        // The workspace and the kind are part of the key.
        assert!(!k.may_hold(WorkspaceId(2), IdentityKind::Email, "a@example.com"));
        assert!(!k.may_hold(ws, IdentityKind::UserId, "a@example.com"));
    }

    #[test]
    fn an_overfull_filter_answers_present() {
        let k = Known::sized(0);
        k.complete.store(true, Ordering::Release);
        let ws = WorkspaceId(1);
        for i in 0..KNOWN_KEYS_MIN * KNOWN_OVERFLOW_FACTOR + 1 {
            k.add_hash(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert!(k.may_hold(ws, IdentityKind::Email, "never@added"));
    }

    #[test]
    fn the_scan_pages_through_every_row_across_workspaces_and_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = crate::connect(&store.path, false).unwrap();
        let kinds = [IdentityKind::Email, IdentityKind::UserId, IdentityKind::AnonymousId];
        let mut bound = Vec::new();
        for ws in 1..=3 {
            for kind in kinds {
                for value in ["a", "a\u{0}b", "zz", "\u{e9}t\u{e9}"] {
                    conn.execute(
                        "INSERT INTO identities (workspace_id, kind, value, contact_id) VALUES (?1, ?2, ?3, 1)",
                        rusqlite::params![ws, kind.code(), value],
                    )
                    .unwrap();
                    bound.push((WorkspaceId(ws), kind, value));
                }
            }
        }
        // Pages that end inside a key's run, at a workspace's end, and exactly at the table's end (36 rows).
        for page in [1, 5, 12, 36, 1000] {
            let k = Known::sized(0);
            assert_eq!(fill(&conn, &k, page).unwrap(), bound.len() as u64, "page {page}");
            k.complete.store(true, Ordering::Release);
            for (ws, kind, value) in &bound {
                assert!(k.may_hold(*ws, *kind, value), "page {page}: {ws:?} {kind:?} {value:?} missed");
            }
        }
    }
}
