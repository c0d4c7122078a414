//! The event log: time order, late events, cursors, scans, and the de-duplication window.

use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use serde_json::json;

use super::{all_pages, at, json, refuses, track, workspace, write};
use crate::Store;

/// Events come back in (timestamp, sequence) order whatever order they arrived in; listings page without
/// skipping or repeating a row; unreadable rows are skipped, never an error.
pub fn events_keep_time_order_and_page_with_cursors(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (ann, bo) = (ContactId(1), ContactId(2));
    // (seq, contact, timestamp): a late event (seq 4, oldest timestamp) and two events in the same second.
    let rows: [(i64, ContactId, i64); 7] =
        [(1, ann, 50), (2, ann, 60), (3, bo, 55), (4, ann, 10), (5, ann, 60), (6, ann, 70), (7, bo, 80)];
    write(store, |w| {
        assert_eq!(w.max_event_seq()?, 0);
        for (seq, who, ts) in rows {
            let e = track(
                &format!("m{seq}"),
                if seq % 2 == 0 { "Product Viewed" } else { "Order Completed" },
                ts,
                100 + seq,
                json!({"n": seq}),
            );
            w.insert_event(ws, who, seq, &e, &json(&e))?;
        }
        let e = track("m8", "Product Viewed", 90, 108, json!({}));
        w.insert_event(other, ContactId(9), 8, &e, &json(&e))?;
        // A row that cannot be read back (damaged, or written by an older build).
        w.insert_event(ws, ann, 9, &track("m9", "Product Viewed", 65, 109, json!({})), "{not json")?;
        Ok(())
    });
    let mut w = store.writer().unwrap();
    assert_eq!(w.max_event_seq().unwrap(), 9);
    let seqs = |events: Vec<kairos_domain::Event>| -> Vec<String> {
        events.into_iter().map(|e| e.message_id.as_str().to_string()).collect()
    };
    assert_eq!(seqs(w.contact_events_ordered(ann).unwrap()), ["m4", "m1", "m2", "m5", "m6"], "by (ts, seq)");
    assert!(w.contact_events_ordered(ContactId(99)).unwrap().is_empty());
    // The cart's own events (orders here: m1 at 50, m5 at 60), from an instant on, inclusive.
    assert_eq!(seqs(w.contact_cart_events(ann, None).unwrap()), ["m1", "m5"]);
    assert_eq!(seqs(w.contact_cart_events(ann, Some(at(60))).unwrap()), ["m5"]);
    assert!(w.contact_cart_events(ann, Some(at(61))).unwrap().is_empty());

    // Newest first by (ts, seq), pages of 2: the unreadable row takes a place in a page but is not listed.
    let r = store.reader().unwrap();
    let timeline = all_pages(|c| r.contact_events(ann, c, 2));
    let got: Vec<(i64, String)> = timeline.iter().map(|e| (e.seq, e.event.message_id.as_str().to_string())).collect();
    assert_eq!(got, [(6, "m6".into()), (5, "m5".into()), (2, "m2".into()), (1, "m1".into()), (4, "m4".into())]);
    assert!(timeline.iter().all(|e| e.contact_id == ann));
    for page_size in [1, 3, 10] {
        assert_eq!(all_pages(|c| r.contact_events(ann, c, page_size)).len(), 5, "page size {page_size}");
    }
    for bad in ["x", "12", "a_b", "1_b"] {
        assert!(refuses(r.contact_events(ann, Some(bad), 2)), "cursor {bad:?}");
    }
    // The workspace's log, most recently received first; another workspace's events are not in it.
    let log: Vec<i64> = all_pages(|c| r.workspace_events(ws, c, 3)).iter().map(|e| e.seq).collect();
    assert_eq!(log, [7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(all_pages(|c| r.workspace_events(other, c, 3)).len(), 1);
    assert!(refuses(r.workspace_events(ws, Some("nope"), 2)));

    // Scans: by name in log order, since a timestamp (both sides), existence of a name.
    let mut named = Vec::new();
    w.events_named(ws, "Order Completed", &mut |c, data| named.push((c, data.contains("\"m")))).unwrap();
    assert_eq!(named, [(ann, true), (bo, true), (ann, true), (bo, true)]);
    let mut since = Vec::new();
    w.events_since(ws, at(60), &mut |c, d| since.push((c, d.len() > 2))).unwrap();
    since.sort_by_key(|(c, _)| c.0);
    assert_eq!(since.len(), 5, "m2 m5 m6 m7 and the unreadable row (ts >= 60): {since:?}");
    let mut read_since = 0;
    r.events_since(ws, at(60), &mut |_, _| read_since += 1).unwrap();
    assert_eq!(read_since, 5);
    assert!(w.has_event_named(ws, "Order Completed").unwrap());
    assert!(!w.has_event_named(ws, "Checkout Started").unwrap());
    assert!(!w.has_event_named(WorkspaceId(999), "Order Completed").unwrap());
    // The same scans on a read view see what is committed.
    let mut read_named = Vec::new();
    r.events_named(ws, "Order Completed", &mut |c, data| read_named.push((c, data.contains("\"m")))).unwrap();
    assert_eq!(read_named, named);
    assert!(r.has_event_named(ws, "Order Completed").unwrap());
    assert!(!r.has_event_named(ws, "Checkout Started").unwrap());
    assert!(!r.has_event_named(WorkspaceId(999), "Order Completed").unwrap());
}

/// A replay reads a workspace's events oldest first by (timestamp, sequence), a page at a time, up to the
/// newest sequence committed when it began; it can start at the newest `n`.
pub fn events_replay_in_time_order_up_to_a_bound(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let r = store.reader().unwrap();
    assert_eq!(r.last_event_seq().unwrap(), 0, "an empty log");
    assert!(r.events_by_time(ws, at(0), i64::MAX, None, 10).unwrap().items.is_empty());
    assert_eq!(r.newest_events_cursor(ws, at(0), i64::MAX, 0).unwrap(), None);
    // (seq, contact, timestamp): late events (seq 4 and 8) and ties on a timestamp (seq 2, 5, 7 at 60).
    let rows: [(i64, i64, i64); 8] =
        [(1, 1, 50), (2, 1, 60), (3, 2, 55), (4, 1, 10), (5, 2, 60), (6, 1, 70), (7, 1, 60), (8, 2, 58)];
    write(store, |w| {
        for (seq, who, ts) in rows {
            let e = track(&format!("m{seq}"), "Product Viewed", ts, 100 + seq, json!({}));
            w.insert_event(ws, ContactId(who), seq, &e, &json(&e))?;
        }
        let e = track("t9", "Product Viewed", 20, 109, json!({}));
        w.insert_event(other, ContactId(9), 9, &e, &json(&e))?;
        // A row that cannot be read back takes its place in a page but is not listed.
        w.insert_event(ws, ContactId(1), 10, &track("m10", "Product Viewed", 65, 110, json!({})), "{not json")?;
        Ok(())
    });
    assert_eq!(r.last_event_seq().unwrap(), 10);
    let replay = |since: i64, until: i64, start: Option<String>, size: usize| -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut cursor = start;
        for _ in 0..100 {
            let p = r.events_by_time(ws, at(since), until, cursor.as_deref(), size).expect("page");
            out.extend(p.items.iter().map(|e| (e.seq, e.contact_id.0)));
            assert!(p.items.iter().all(|e| e.event.message_id.as_str() == format!("m{}", e.seq)));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
        panic!("the replay's cursors never end");
    };
    let ordered = [(4, 1), (1, 1), (3, 2), (8, 2), (2, 1), (5, 2), (7, 1), (6, 1)];
    for size in [1, 2, 3, 100] {
        assert_eq!(replay(0, i64::MAX, None, size), ordered, "page size {size}");
    }
    assert_eq!(replay(58, i64::MAX, None, 2), [(8, 2), (2, 1), (5, 2), (7, 1), (6, 1)], "timestamped at or after");
    assert_eq!(replay(0, 6, None, 2), [(4, 1), (1, 1), (3, 2), (2, 1), (5, 2), (6, 1)], "up to sequence 6");
    assert!(replay(71, i64::MAX, None, 2).is_empty());
    for bad in ["x", "12", "a_b", "1_b"] {
        assert!(refuses(r.events_by_time(ws, at(0), i64::MAX, Some(bad), 2)), "cursor {bad:?}");
    }
    // The newest n (the unreadable row counts: it is in the log), within the same bounds.
    let newest = |n: usize, until: i64| r.newest_events_cursor(ws, at(0), until, n).unwrap();
    assert_eq!(replay(0, i64::MAX, newest(3, i64::MAX), 2), [(7, 1), (6, 1)], "m7, the unreadable m10, m6");
    assert_eq!(replay(0, 6, newest(2, 6), 1), [(5, 2), (6, 1)]);
    assert_eq!(newest(9, i64::MAX), None, "no more than 9");
    assert_eq!(newest(20, i64::MAX), None);
    assert!(replay(0, i64::MAX, newest(0, i64::MAX), 2).is_empty(), "the newest none");
    assert!(r.newest_events_cursor(other, at(0), i64::MAX, 0).unwrap().is_some());
    assert_eq!(r.newest_events_cursor(WorkspaceId(999), at(0), i64::MAX, 0).unwrap(), None);
}

/// The de-duplication window is rebuilt from the log: every event received in it, whatever its place in the
/// sequence, as long as receive times run against the sequence by less than `RECEIVED_ORDER_SLACK`.
pub fn dedupe_window_is_rebuilt_from_the_log(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    // (sequence, workspace, message id, received): one second apart in sequence order, the same message id in
    // two workspaces, and one sequenced fifth but received before the window (a request parsed early, committed
    // late), which neither a walk back nor a search by receive time may stop at.
    let log = [(1, ws, "m1", 1), (2, ws, "m2", 2), (3, ws, "m3", 3), (4, ws, "m4", 4), (5, ws, "m9", 2)]
        .into_iter()
        .chain([(6, ws, "m5", 5), (7, other, "m5", 6), (8, ws, "m8", 6)]);
    write(store, |w| {
        for (seq, space, id, received) in log {
            let e = track(id, "Page Viewed", seq, received, json!({}));
            w.insert_event(space, ContactId(1), seq, &e, &json(&e))?;
        }
        Ok(())
    });
    let mut w = store.writer().unwrap();
    let mut window: Vec<(WorkspaceId, String, Timestamp)> = Vec::new();
    w.recent_message_ids(at(3), &mut |space, id, t| window.push((space, id.to_string(), t))).unwrap();
    let mut want = vec![
        (ws, "m3".to_string(), at(3)),
        (ws, "m4".to_string(), at(4)),
        (ws, "m5".to_string(), at(5)),
        (other, "m5".to_string(), at(6)),
        (ws, "m8".to_string(), at(6)),
    ];
    let key = |e: &(WorkspaceId, String, Timestamp)| (e.2, e.0.0, e.1.clone());
    window.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(window, want, "every event received in the window, and only those");
    let mut none = 0;
    w.recent_message_ids(at(7), &mut |_, _, _| none += 1).unwrap();
    assert_eq!(none, 0);
    let mut all = 0;
    w.recent_message_ids(at(-100), &mut |_, _, _| all += 1).unwrap();
    assert_eq!(all, 8);
}
