//! Contact rows written later (issue 17, item 2): the committer may leave the row of a contact that changed only
//! by folding events into its profile for a later transaction to write (ARCHITECTURE "Contact rows written
//! later"). The events themselves are committed at once; what waits is the row, and with it the list of those
//! events (`crate::contact_events`), which stays pending in the writer across commits ([`Pending::keep`]).
//!
//! What a crash loses is therefore only rows, never events, and the events tell what the rows miss: with every
//! commit the writer records in `replay_from` the sequence up to which every event is in its contact's list (the
//! first pending sequence of the oldest waiting contact, minus one). A start reads the customer events after it
//! that no list names ([`unwritten`]): those whose sequence is past the last one their contact's lists hold (a
//! contact's row is always written with everything pending for it, so what is listed precedes what is not).

use std::collections::HashMap;

use kairos_domain::ContactId;
use kairos_store::Result;
use kairos_store::codec::readable_event;
use kairos_store::write::{Unwritten, UnwrittenEvents};
use rusqlite::{Connection, OptionalExtension, params};

use crate::Db;
use crate::contact_events::{self, Pending};

/// Before `COMMIT`: records where a replay would start, when that changed since the last commit: the earlier of
/// the rows' mark and `bindings` (where the kept identity bindings' events start, `crate::bindings`). `written`
/// is what this connection last wrote (None: not known, as after a rollback).
pub(crate) fn record(
    conn: &Connection,
    pending: &Pending,
    bindings: Option<i64>,
    written: &mut Option<Option<i64>>,
) -> Result<()> {
    let now = match (pending.listed_through(), bindings) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if *written == Some(now) {
        return Ok(());
    }
    match now {
        Some(seq) => conn
            .prepare_cached("INSERT INTO replay_from (id, seq) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET seq = ?1")
            .db()?
            .execute([seq])
            .db()?,
        None => conn.prepare_cached("DELETE FROM replay_from").db()?.execute([]).db()?,
    };
    *written = Some(now);
    Ok(())
}

/// The customer events no contact row lists yet (left by a stop that did not write every row), oldest first,
/// with their contacts and sequences: a page of those after `after` (None: after the replay mark), at most `max`
/// of the log's events looked at, so a replay of a long wait never holds every event at once. `listed` keeps
/// the last sequence each contact's stored lists hold from one page to the next (a replay writes no list until
/// its load's commit, so they hold for the whole replay).
pub(crate) fn unwritten(
    conn: &Connection,
    listed: &mut HashMap<i64, i64>,
    after: Option<i64>,
    max: usize,
) -> Result<UnwrittenEvents> {
    let after = match after {
        Some(seq) => seq,
        None => {
            *listed = HashMap::new();
            let mark: Option<i64> =
                conn.query_row("SELECT seq FROM replay_from WHERE id = 1", [], |r| r.get(0)).optional().db()?;
            let Some(mark) = mark else { return Ok(UnwrittenEvents::default()) };
            tracing::info!(after = mark, "replaying the events whose contact rows were not written");
            mark
        }
    };
    // Not cached: read only by a start, it would take a place of the committer's statements in the cache.
    let mut stmt = conn
        .prepare("SELECT seq, contact_id, data FROM events WHERE seq > ?1 AND system IS NULL ORDER BY seq LIMIT ?2")
        .db()?;
    let mut rows = stmt.query(params![after, max as i64]).db()?;
    let mut page = UnwrittenEvents::default();
    let mut looked_at = 0;
    while let Some(r) = rows.next().db()? {
        let (seq, contact): (i64, i64) = (r.get(0).db()?, r.get(1).db()?);
        looked_at += 1;
        page.next = Some(seq);
        let last = match listed.get(&contact) {
            Some(&last) => last,
            None => {
                let last = contact_events::listed(conn, ContactId(contact))?.into_iter().max().unwrap_or(0);
                *listed.entry(contact).or_insert(last)
            }
        };
        // A listed event is returned too: its identities may be among the bindings a crash lost.
        let listed = seq <= last;
        let data = r.get_ref(2).db()?.as_str().map_err(|e| crate::corrupt("event", e))?;
        page.events.extend(readable_event(seq, data).map(|event| Unwritten {
            contact: ContactId(contact),
            seq,
            event,
            listed,
        }));
    }
    if looked_at < max {
        page.next = None;
        *listed = HashMap::new();
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use kairos_domain::{Contact, Event, JsonMap, Timestamp, WorkspaceId};
    use kairos_store::{Store, Writer};

    use super::*;

    fn track(n: i64) -> Event {
        let mut e = Event::system("Product Viewed", format!("m{n}"), JsonMap::new(), Timestamp::from_secs(n));
        e.system = false;
        e.user_id = Some("u".into());
        e
    }

    fn insert(w: &mut dyn Writer, ws: WorkspaceId, contact: ContactId, seq: i64) {
        let e = track(seq);
        w.insert_event(ws, contact, seq, &e, &serde_json::to_string(&e).unwrap()).unwrap();
    }

    fn mark(store: &crate::SqliteStore) -> Option<i64> {
        let conn = store.connect(true).unwrap();
        conn.query_row("SELECT seq FROM replay_from", [], |r| r.get(0)).optional().unwrap()
    }

    /// A fresh store (its directory kept alive with it) and the internal id of its one workspace.
    fn store_with_workspace() -> (tempfile::TempDir, crate::SqliteStore, WorkspaceId) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        let keys = store.create_workspace("t", Timestamp(0)).unwrap();
        let ws = store.workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
        (dir, store, ws)
    }

    fn seqs(events: &[(ContactId, i64, Event)]) -> Vec<(i64, i64)> {
        events.iter().map(|(c, s, _)| (c.0, *s)).collect()
    }

    /// Every event to replay that no row lists, read `max` of the log's events a page.
    fn unwritten_by(w: &mut dyn Writer, max: usize) -> Vec<(ContactId, i64, Event)> {
        replayed_by(w, max).into_iter().filter(|u| !u.listed).map(|u| (u.contact, u.seq, u.event)).collect()
    }

    /// Every event the replay reads, listed or not, `max` of the log's events a page.
    fn replayed_by(w: &mut dyn Writer, max: usize) -> Vec<Unwritten> {
        let (mut all, mut after) = (Vec::new(), None);
        loop {
            let page = w.unwritten_events(after, max).unwrap();
            all.extend(page.events);
            match page.next {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    /// A waiting row keeps its events' list across commits and the replay mark names its first event; a crash
    /// (the writer dropped) leaves exactly those events to replay, and writing the row clears the mark.
    #[test]
    fn waiting_rows_leave_their_events_to_replay_until_written() {
        let (_dir, store, ws) = store_with_workspace();
        let (a, b) = (ContactId(1), ContactId(2));
        {
            let mut w = store.writer().unwrap();
            assert!(w.writes_contacts_later());
            w.begin().unwrap();
            w.upsert_contacts(&[&Contact::new(a, ws, Timestamp(0)), &Contact::new(b, ws, Timestamp(0))]).unwrap();
            insert(&mut *w, ws, a, 1);
            insert(&mut *w, ws, b, 2);
            w.upsert_contact(&Contact::new(a, ws, Timestamp(0))).unwrap();
            w.upsert_contact(&Contact::new(b, ws, Timestamp(0))).unwrap();
            w.commit().unwrap();
            assert_eq!(mark(&store), None, "every row written: nothing to replay");

            w.begin().unwrap();
            insert(&mut *w, ws, a, 3);
            insert(&mut *w, ws, b, 4);
            w.write_later(&[a]).unwrap();
            w.upsert_contact(&Contact::new(b, ws, Timestamp(0))).unwrap();
            w.commit().unwrap();
            assert_eq!(mark(&store), Some(2));

            w.begin().unwrap();
            insert(&mut *w, ws, a, 5);
            insert(&mut *w, ws, b, 6);
            w.write_later(&[a, b]).unwrap();
            assert_eq!(w.contact_events_ordered(a).unwrap().len(), 3, "the writer's own reads see waiting lists");
            w.commit().unwrap();
            assert_eq!(mark(&store), Some(2));
            // Another connection's commit (users, keys, sessions) knows nothing of waiting rows.
            let mut other = store.writer().unwrap();
            other.begin().unwrap();
            other.commit().unwrap();
            assert_eq!(mark(&store), Some(2));
        }
        // The crash: the waiting lists are gone with the writer; the events are in the log.
        let mut w = store.writer().unwrap();
        w.begin().unwrap();
        let events = unwritten_by(&mut *w, 1_000);
        assert_eq!(seqs(&events), [(1, 3), (1, 5), (2, 6)]);
        // A page at a time, whatever the page's size: the same events (seq 4 is b's and listed; 1 and 2 before the
        // mark).
        for max in [1, 2, 3] {
            assert_eq!(seqs(&unwritten_by(&mut *w, max)), seqs(&events), "pages of {max}");
        }
        for (c, s, _) in &events {
            w.relist_event(*c, *s).unwrap();
        }
        w.upsert_contact(&Contact::new(a, ws, Timestamp(0))).unwrap();
        w.upsert_contact(&Contact::new(b, ws, Timestamp(0))).unwrap();
        w.commit().unwrap();
        assert_eq!(mark(&store), None);
        assert_eq!(w.contact_events_ordered(a).unwrap().len(), 3);
        assert_eq!(w.contact_events_ordered(b).unwrap().len(), 3);
        w.begin().unwrap();
        assert!(unwritten_by(&mut *w, 1_000).is_empty());
        w.rollback().unwrap();
    }

    /// A rolled-back group forgets the lists it kept: the load that follows replays them from the last mark.
    #[test]
    fn a_rollback_drops_waiting_lists_and_the_committed_mark_still_covers_them() {
        let (_dir, store, ws) = store_with_workspace();
        let a = ContactId(1);
        let mut w = store.writer().unwrap();
        w.begin().unwrap();
        w.upsert_contact(&Contact::new(a, ws, Timestamp(0))).unwrap();
        insert(&mut *w, ws, a, 1);
        w.write_later(&[a]).unwrap();
        w.commit().unwrap();
        w.begin().unwrap();
        insert(&mut *w, ws, a, 2);
        w.write_later(&[a]).unwrap();
        w.rollback().unwrap();
        assert_eq!(mark(&store), Some(0));
        w.begin().unwrap();
        assert_eq!(seqs(&unwritten_by(&mut *w, 1)), [(1, 1)], "the rolled-back event was never stored");
        w.rollback().unwrap();
    }

    fn identity_rows(store: &crate::SqliteStore) -> i64 {
        let conn = store.connect(true).unwrap();
        conn.query_row("SELECT COUNT(*) FROM identities", [], |r| r.get(0)).unwrap()
    }

    /// Bindings kept for later: the writer and the readers find them (readers once committed), the table has them
    /// only when written; until then the replay mark covers the events that made them, and a crash leaves those
    /// events to replay, listed ones included; a merge or an erasure writes them first.
    #[test]
    fn kept_bindings_are_found_written_in_order_and_replayed_after_a_crash() {
        use kairos_store::IdentityKind::{AnonymousId, Email};
        let (_dir, store, ws) = store_with_workspace();
        let (a, b) = (ContactId(1), ContactId(2));
        let reader_finds = |value: &str| {
            store.read_pool().with(|r| kairos_store::read::ContactReads::contact_by_identity(r, ws, AnonymousId, value))
        };
        {
            let mut w = store.writer().unwrap();
            w.begin().unwrap();
            w.upsert_contacts(&[&Contact::new(a, ws, Timestamp(0)), &Contact::new(b, ws, Timestamp(0))]).unwrap();
            insert(&mut *w, ws, a, 1);
            w.commit().unwrap();
            assert_eq!(mark(&store), None);

            w.begin().unwrap();
            w.bind_identity_later(ws, AnonymousId, "anon-b", b).unwrap();
            insert(&mut *w, ws, b, 2);
            w.bind_identity_later(ws, AnonymousId, "anon-a", a).unwrap();
            insert(&mut *w, ws, a, 3);
            // The rows are written at once here: only the bindings wait.
            w.upsert_contacts(&[&Contact::new(a, ws, Timestamp(0)), &Contact::new(b, ws, Timestamp(0))]).unwrap();
            assert_eq!(w.lookup_identity(ws, AnonymousId, "anon-a").unwrap(), Some(a), "the writer finds its own");
            assert!(reader_finds("anon-a").unwrap().is_none(), "not committed yet");
            w.commit().unwrap();
            assert_eq!(w.identities_waiting(), 2);
            assert_eq!(identity_rows(&store), 0);
            assert_eq!(reader_finds("anon-a").unwrap().map(|c| c.id), Some(a), "a reader finds a kept binding");
            assert_eq!(mark(&store), Some(1), "replayed from after the last event before the first kept binding");
            w.begin().unwrap();
            w.remove_identity(ws, AnonymousId, "anon-b").unwrap();
            w.commit().unwrap();
            assert!(reader_finds("anon-b").unwrap().is_none(), "a removed kept binding is gone for readers too");
        }
        // The crash: the kept bindings are gone with the writer; the events after the mark are replayed, the
        // listed ones marked so.
        let mut w = store.writer().unwrap();
        w.begin().unwrap();
        let replayed = replayed_by(&mut *w, 1_000);
        assert_eq!(
            replayed.iter().map(|u| (u.contact.0, u.seq, u.listed)).collect::<Vec<_>>(),
            [(2, 2, true), (1, 3, true)]
        );
        assert!(w.lookup_identity(ws, AnonymousId, "anon-a").unwrap().is_none());
        w.bind_identity_later(ws, Email, "b@example.com", b).unwrap();
        w.bind_identity_later(ws, AnonymousId, "anon-a", a).unwrap();
        w.write_identities().unwrap();
        w.commit().unwrap();
        assert_eq!(mark(&store), None);
        assert_eq!((w.identities_waiting(), identity_rows(&store)), (0, 2));
        assert_eq!(reader_finds("anon-a").unwrap().map(|c| c.id), Some(a), "from the table now");

        // A merge writes the kept bindings before it; a rollback drops what was kept.
        w.begin().unwrap();
        w.bind_identity_later(ws, AnonymousId, "anon-a2", a).unwrap();
        w.mark_merged(a, b, Timestamp(5)).unwrap();
        assert_eq!(w.identities_waiting(), 0);
        w.bind_identity_later(ws, AnonymousId, "anon-b2", b).unwrap();
        w.rollback().unwrap();
        assert_eq!((w.identities_waiting(), identity_rows(&store)), (0, 2));
        assert!(reader_finds("anon-b2").unwrap().is_none());
    }
}
