//! Which events are a contact's, without an index keyed by contact (issue 17, item 2).
//!
//! An index on `events (contact_id, …)` takes one entry per event at a random place (contacts arrive in no
//! order), so every commit dirtied one more page per event in a B-tree that outgrows the page cache: on the
//! anchor workload that index alone cost 14 100 → 17 100 events/s. The contact's own row is rewritten by the
//! same commit anyway (its profile changed), so the sequence numbers of its events ride in that row instead:
//!
//! - `contacts.events`: the newest of the contact's own events (up to [`ROW_SEQS_MAX`]), ascending sequence
//!   numbers as LEB128 deltas. Written with the profile's upsert: no page beyond the one already written.
//! - `contact_event_chunks`: older lists, spilled from the row when it fills (one row per [`ROW_SEQS_MAX`]
//!   events of a contact) and the lists a merge moves to the survivor.
//! - Kairos's own events (sends, opens, flow entries, stage changes) leave the profile alone and its row
//!   unwritten (a burst of timers writes no contact row), so they keep a partial index by contact
//!   (`system = 1`). One whose contact's row the same transaction writes anyway (a lifecycle stage change: a
//!   tenth of the WAL's pages while 100 000 shoppers arrive) joins that row's list instead and is stored as
//!   `system = 2`, outside the index ([`Pending::note_system`]); those whose row is not written enter the
//!   index at commit ([`flush`]).
//!
//! Everything stays in the database and changes inside the writer's transaction, so a reader's snapshot sees
//! the lists and the events they name together, and a restart has nothing to rebuild. Inside a group the writer
//! holds the sequence numbers of events whose contact row it has not written yet ([`Pending`]) and writes them
//! with that row or, at the latest, just before `COMMIT`.

use std::collections::{BTreeSet, HashMap};

use kairos_domain::ContactId;
use kairos_store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Db;

/// The most sequence numbers a contact row holds before they move to a chunk: ~3 bytes each (the deltas
/// between one person's events), so a row grows by at most ~800 bytes and a contact with a long history does
/// not rewrite it with every event.
pub(crate) const ROW_SEQS_MAX: usize = 256;

/// Tables and columns of this layout, derived from the event log: not part of the logical schema that
/// `kairos migrate` copies between backends (a copy into SQLite rebuilds them, [`rebuild`]).
#[cfg(test)]
pub(crate) const OWN_TABLES: &[&str] = &["contact_event_chunks", "replay_from"];
#[cfg(test)]
pub(crate) const OWN_COLUMNS: &[(&str, &str)] = &[("contacts", "events")];

/// Sequence numbers of events whose contact row has not taken them yet: those inserted in the open transaction,
/// and those of contacts whose row the engine writes later (`crate::written_later`), kept across commits.
#[derive(Default)]
pub(crate) struct Pending {
    /// The open transaction's, written into their rows (or chunks) at the latest at its commit.
    now: HashMap<i64, Vec<i64>>,
    /// Contacts whose row a later transaction writes: their lists wait here, ascending, until that write.
    later: HashMap<i64, Vec<i64>>,
    /// (first sequence, contact) of every list in `later`: the first is where a replay after a crash starts.
    oldest: BTreeSet<(i64, i64)>,
    /// Kairos's own events of the open transaction (stored as `system = 2`): listed with their contact's row if
    /// this transaction writes it, else put in the partial index at commit. Never kept for later (a start's
    /// replay relists customer events only).
    system: HashMap<i64, Vec<i64>>,
}

impl Pending {
    pub(crate) fn note(&mut self, contact: ContactId, seq: i64) {
        match self.later.get_mut(&contact.0) {
            Some(list) => list.push(seq),
            None => self.now.entry(contact.0).or_default().push(seq),
        }
    }

    /// One of Kairos's own events, stored outside the partial index (see the module).
    pub(crate) fn note_system(&mut self, contact: ContactId, seq: i64) {
        self.system.entry(contact.0).or_default().push(seq);
    }

    /// Everything pending for `contact` (its row is being written), customer events ascending, then its own.
    pub(crate) fn take(&mut self, contact: ContactId) -> Option<Vec<i64>> {
        let later = self.later.remove(&contact.0);
        if let Some(&first) = later.as_ref().and_then(|l| l.first()) {
            self.oldest.remove(&(first, contact.0));
        }
        let customer = match (later, self.now.remove(&contact.0)) {
            (Some(mut l), Some(n)) => {
                l.extend(n);
                Some(l)
            }
            (l, n) => l.or(n),
        };
        match (customer, self.system.remove(&contact.0)) {
            (Some(mut c), Some(s)) => {
                c.extend(s);
                Some(c)
            }
            (c, s) => c.or(s),
        }
    }

    pub(crate) fn of(&self, contact: ContactId) -> Vec<i64> {
        let mut out = self.later.get(&contact.0).cloned().unwrap_or_default();
        out.extend(self.now.get(&contact.0).map_or(&[][..], Vec::as_slice));
        out.extend(self.system.get(&contact.0).map_or(&[][..], Vec::as_slice));
        out
    }

    /// Keeps `contact`'s lists past this transaction's commit: its row is written by a later one.
    pub(crate) fn keep(&mut self, contact: ContactId) {
        let Some(new) = self.now.remove(&contact.0) else { return };
        let list = self.later.entry(contact.0).or_default();
        if list.is_empty()
            && let Some(&first) = new.first()
        {
            self.oldest.insert((first, contact.0));
        }
        list.extend(new);
    }

    /// The sequence a replay starts after: every event up to it is in its contact's list.
    pub(crate) fn listed_through(&self) -> Option<i64> {
        self.oldest.first().map(|&(first, _)| first - 1)
    }

    /// The open transaction's lists (not those kept for later).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (ContactId, Vec<i64>)> + '_ {
        self.now.drain().map(|(c, s)| (ContactId(c), s))
    }

    pub(crate) fn clear(&mut self) {
        self.now.clear();
        self.later.clear();
        self.oldest.clear();
        self.system.clear();
    }
}

/// Ascending sequence numbers as LEB128 deltas (the first from 0).
pub(crate) fn encode(seqs: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seqs.len() * 3);
    let mut prev = 0i64;
    for &s in seqs {
        let mut d = s.wrapping_sub(prev) as u64;
        prev = s;
        loop {
            let byte = (d & 0x7f) as u8;
            d >>= 7;
            if d == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// The inverse of [`encode`]; bytes that do not decode are a corrupt row.
pub(crate) fn decode(bytes: &[u8], out: &mut Vec<i64>) -> Result<()> {
    let (mut prev, mut d, mut shift) = (0i64, 0u64, 0u32);
    for &b in bytes {
        if shift > 63 {
            return Err(StoreError::corrupt("contact event list", "a delta longer than 64 bits"));
        }
        d |= u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            prev = prev.wrapping_add(d as i64);
            out.push(prev);
            (d, shift) = (0, 0);
        }
    }
    if shift != 0 {
        return Err(StoreError::corrupt("contact event list", "it ends inside a delta"));
    }
    Ok(())
}

/// The list a contact row holds: None when the contact has no row, empty when the row holds none.
fn row_list(conn: &Connection, contact: ContactId) -> Result<Option<Vec<i64>>> {
    let mut stmt = conn.prepare_cached("SELECT events FROM contacts WHERE id = ?1").db()?;
    let Some(bytes) = stmt.query_row([contact.0], |r| r.get::<_, Option<Vec<u8>>>(0)).optional().db()? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    decode(bytes.as_deref().unwrap_or_default(), &mut out)?;
    Ok(Some(out))
}

fn insert_chunk(conn: &Connection, contact: ContactId, seqs: &mut [i64]) -> Result<()> {
    seqs.sort_unstable();
    let Some(&first) = seqs.first() else { return Ok(()) };
    conn.prepare_cached("INSERT INTO contact_event_chunks (contact_id, first_seq, seqs) VALUES (?1, ?2, ?3)")
        .db()?
        .execute(params![contact.0, first, encode(seqs)])
        .db()?;
    Ok(())
}

/// The row's list with `new` appended, as the upsert of the contact's row writes it: None (NULL) once it has
/// spilled into a chunk.
pub(crate) fn row_list_with(conn: &Connection, contact: ContactId, new: Vec<i64>) -> Result<Option<Vec<u8>>> {
    appended(conn, contact, row_list(conn, contact)?.unwrap_or_default(), new)
}

/// `all` (the row's list as read) with `new` appended, spilled into a chunk past [`ROW_SEQS_MAX`].
fn appended(conn: &Connection, contact: ContactId, mut all: Vec<i64>, new: Vec<i64>) -> Result<Option<Vec<u8>>> {
    all.extend(new);
    if all.len() > ROW_SEQS_MAX {
        insert_chunk(conn, contact, &mut all)?;
        return Ok(None);
    }
    all.sort_unstable();
    Ok(Some(encode(&all)))
}

/// Before `COMMIT`: the lists of contacts whose row this group did not write (an event that left the profile
/// unchanged, or a contact without a row) go into the row, or into a chunk of their own.
pub(crate) fn flush(conn: &Connection, pending: &mut Pending) -> Result<()> {
    // Kairos's own events whose contact's row this transaction did not write: into the partial index.
    for (_, seqs) in pending.system.drain() {
        let mut stmt = conn.prepare_cached("UPDATE events SET system = 1 WHERE seq = ?1").db()?;
        for seq in seqs {
            stmt.execute([seq]).db()?;
        }
    }
    for (contact, mut seqs) in pending.drain() {
        let Some(current) = row_list(conn, contact)? else {
            insert_chunk(conn, contact, &mut seqs)?;
            continue;
        };
        let list = appended(conn, contact, current, seqs)?;
        conn.prepare_cached("UPDATE contacts SET events = ?2 WHERE id = ?1")
            .db()?
            .execute(params![contact.0, list])
            .db()?;
    }
    Ok(())
}

/// Every event sequence number of a contact, ascending: its row's list, its chunks, its system events and
/// `pending` (the writer's own, not yet in the row).
pub(crate) fn seqs_of(conn: &Connection, contact: ContactId, pending: &[i64]) -> Result<Vec<i64>> {
    let mut out = listed(conn, contact)?;
    let mut system = conn.prepare_cached("SELECT seq FROM events WHERE contact_id = ?1 AND system = 1").db()?;
    let rows = system.query_map([contact.0], |r| r.get::<_, i64>(0)).db()?;
    for seq in rows {
        out.push(seq.db()?);
    }
    out.extend_from_slice(pending);
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The sequence numbers a contact's row list and chunks hold, in no order (not its system events, not pending).
pub(crate) fn listed(conn: &Connection, contact: ContactId) -> Result<Vec<i64>> {
    let mut out = row_list(conn, contact)?.unwrap_or_default();
    let mut chunks = conn.prepare_cached("SELECT seqs FROM contact_event_chunks WHERE contact_id = ?1").db()?;
    let mut rows = chunks.query([contact.0]).db()?;
    while let Some(r) = rows.next().db()? {
        decode(r.get_ref(0).db()?.as_blob().map_err(|e| StoreError::corrupt("contact event list", e))?, &mut out)?;
    }
    Ok(out)
}

/// A merge: every list of `from` (and its pending events) becomes one chunk of `to`; the events' rows are
/// re-pointed by the caller.
pub(crate) fn move_lists(conn: &Connection, pending: &mut Pending, from: ContactId, to: ContactId) -> Result<()> {
    let mut own = row_list(conn, from)?.unwrap_or_default();
    own.extend(pending.take(from).unwrap_or_default());
    conn.prepare_cached("UPDATE contacts SET events = NULL WHERE id = ?1").db()?.execute([from.0]).db()?;
    conn.prepare_cached("UPDATE contact_event_chunks SET contact_id = ?2 WHERE contact_id = ?1")
        .db()?
        .execute([from.0, to.0])
        .db()?;
    insert_chunk(conn, to, &mut own)
}

/// Events read at a time while building the lists: their (contact, seq) pairs held in memory, ~32 MiB.
const REBUILD_RANGE_EVENTS: i64 = 1 << 20;

/// Builds every contact's lists from the log: once when the store moves to this layout (migration 20) and after
/// `kairos migrate` copied events into this store. Lists already written are replaced. The log is read in
/// sequence ranges (rows in file order, memory bounded), each range giving each of its contacts one chunk.
pub(crate) fn rebuild(conn: &Connection) -> Result<()> {
    // Kairos's own events listed in rows go back into the partial index: the lists built here are customers'.
    conn.execute_batch(
        "DELETE FROM contact_event_chunks; UPDATE contacts SET events = NULL WHERE events IS NOT NULL;
         UPDATE events SET system = 1 WHERE system = 2;",
    )
    .db()?;
    let last: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()?;
    let mut stmt =
        conn.prepare("SELECT contact_id, seq FROM events WHERE seq >= ?1 AND seq < ?2 AND system IS NULL").db()?;
    let mut from = 0;
    while from <= last {
        let mut by_contact: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut rows = stmt.query([from, from + REBUILD_RANGE_EVENTS]).db()?;
        while let Some(r) = rows.next().db()? {
            by_contact.entry(r.get(0).db()?).or_default().push(r.get(1).db()?);
        }
        for (contact, mut seqs) in by_contact {
            insert_chunk(conn, ContactId(contact), &mut seqs)?;
        }
        from += REBUILD_RANGE_EVENTS;
    }
    if last > 0 {
        tracing::info!(events = last, "listed each contact's events");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rusqlite::params;

    use super::*;

    proptest! {
        #[test]
        fn lists_decode_to_what_was_encoded(mut seqs in proptest::collection::vec(0i64..i64::MAX, 0..300)) {
            seqs.sort_unstable();
            seqs.dedup();
            let mut back = Vec::new();
            decode(&encode(&seqs), &mut back).unwrap();
            prop_assert_eq!(back, seqs);
        }
    }

    /// Events far apart in the log (several ranges of the rebuild), some Kairos's own, are all listed after it.
    #[test]
    fn a_rebuild_lists_every_event_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(false).unwrap();
        let r = REBUILD_RANGE_EVENTS;
        let rows = [(1, 7, None), (r - 1, 7, None), (r, 8, None), (r + 5, 7, Some(1)), (3 * r + 2, 7, None)];
        for (seq, contact, system) in rows {
            conn.execute(
                "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data, system)
                 VALUES (?1, 1, ?2, ?1, 'track', 'Page Viewed', 0, 0, '{}', ?3)",
                params![seq, contact, system],
            )
            .unwrap();
        }
        rebuild(&conn).unwrap();
        assert_eq!(seqs_of(&conn, ContactId(7), &[]).unwrap(), [1, r - 1, r + 5, 3 * r + 2]);
        assert_eq!(seqs_of(&conn, ContactId(8), &[]).unwrap(), [r]);
        rebuild(&conn).unwrap();
        assert_eq!(seqs_of(&conn, ContactId(7), &[]).unwrap().len(), 4, "a second rebuild replaces the lists");
    }

    /// Kairos's own events: listed in their contact's row when the transaction writes it (outside the partial
    /// index), indexed at commit otherwise, and kept out of a waiting row; a contact's reads find them all either
    /// way, and a rebuild puts the listed ones back in the index.
    #[test]
    fn own_events_ride_in_a_row_written_anyway_else_in_the_index() {
        use kairos_domain::{Contact, Event, JsonMap, Timestamp};
        use kairos_store::Store as _;
        use kairos_store::write::{ContactWrites as _, EventWrites as _};
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let keys = store.create_workspace("t", Timestamp(0)).unwrap();
        let ws = store.workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
        let (a, b, c) = (ContactId(1), ContactId(2), ContactId(3));
        let own =
            |seq: i64| Event::system("Lifecycle Stage Changed", format!("m{seq}"), JsonMap::new(), Timestamp(seq));
        let mut w = store.sqlite_writer().unwrap();
        kairos_store::Writer::begin(&mut w).unwrap();
        for (seq, contact) in [(1, a), (2, b), (3, c)] {
            let e = own(seq);
            w.insert_event(ws, contact, seq, &e, &serde_json::to_string(&e).unwrap()).unwrap();
        }
        // a's row is written by this transaction, b's waits (a customer event of it too), c's is not written.
        let mut e = own(4);
        e.system = false;
        w.insert_event(ws, b, 4, &e, &serde_json::to_string(&e).unwrap()).unwrap();
        w.upsert_contacts(&[&Contact::new(a, ws, Timestamp(0))]).unwrap();
        w.write_later(&[b]).unwrap();
        kairos_store::Writer::commit(&mut w).unwrap();
        let conn = store.connect(true).unwrap();
        let flag = |seq: i64| -> Option<i64> {
            conn.query_row("SELECT system FROM events WHERE seq = ?1", [seq], |r| r.get(0)).unwrap()
        };
        assert_eq!((flag(1), flag(2), flag(3), flag(4)), (Some(2), Some(1), Some(1), None));
        assert_eq!(listed(&conn, a).unwrap(), [1], "listed in the row written anyway");
        assert!(listed(&conn, b).unwrap().is_empty(), "a waiting row takes no event of Kairos's own");
        for (contact, want) in [(a, vec![1]), (b, vec![2, 4]), (c, vec![3])] {
            let found: Vec<i64> = w.contact_events_ordered(contact).unwrap().iter().map(|e| e.timestamp.0).collect();
            assert_eq!(found, want, "contact {contact}");
        }
        drop(w);
        let rw = store.connect(false).unwrap();
        rebuild(&rw).unwrap();
        assert_eq!(flag(1), Some(1), "a rebuild indexes them again");
        assert_eq!(seqs_of(&rw, a, &[]).unwrap(), [1]);
    }

    #[test]
    fn a_truncated_list_is_corrupt() {
        let bytes = encode(&[1, 1_000_000]);
        let mut out = Vec::new();
        assert!(decode(&bytes[..bytes.len() - 1], &mut out).is_err());
        assert!(decode(&[0xff; 11], &mut Vec::new()).is_err());
    }

    #[test]
    fn close_events_take_about_three_bytes() {
        let seqs: Vec<i64> = (0..256).map(|i| 5_000_000 + i * 10_000).collect();
        assert!(encode(&seqs).len() <= 256 * 2 + 3);
    }
}
