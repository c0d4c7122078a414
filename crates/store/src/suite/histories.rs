//! A contact's history as the engine writes it: many groups, rows written before, after or never, Kairos's own
//! events beside a customer's, long histories, rolled-back groups and merges.

use std::collections::BTreeMap;

use kairos_domain::ContactId;
use serde_json::json;

use super::{all_pages, at, contact, json, track, workspace, write};
use crate::Store;
use crate::erasure::PersonalRows;

/// (timestamp, sequence, name) of each event a contact should list.
type Oracle = BTreeMap<ContactId, Vec<(i64, i64, &'static str)>>;

fn ids(events: Vec<kairos_domain::Event>) -> Vec<String> {
    events.into_iter().map(|e| e.message_id.as_str().to_string()).collect()
}

fn expected(oracle: &Oracle, who: ContactId, keep: impl Fn(&(i64, i64, &str)) -> bool) -> Vec<String> {
    let mut rows: Vec<_> = oracle.get(&who).into_iter().flatten().filter(|r| keep(r)).copied().collect();
    rows.sort_unstable();
    rows.into_iter().map(|(_, seq, _)| format!("m{seq}")).collect()
}

/// Each contact lists exactly its events, in (timestamp, sequence) order, whatever wrote its row and when.
pub fn contact_histories_follow_every_write(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let (ann, bo, cai) = (ContactId(1), ContactId(2), ContactId(3));
    let mut oracle = Oracle::new();
    let mut seq = 0;
    write(store, |w| w.upsert_contact(&contact(3, ws, "cai@shop.example", "Cai")));
    // 7 groups of 100: Ann's row written after her events, before them, or not at all; Bo has no row; every
    // tenth event is Kairos's own; timestamps out of order. Ann passes several hundred events.
    for group in 0..7 {
        write(store, |w| {
            if group % 3 == 1 {
                w.upsert_contact(&contact(1, ws, "ann@shop.example", "Ann"))?;
            }
            for i in 0..100 {
                seq += 1;
                let who = if i % 5 == 4 { bo } else { ann };
                let name = if i % 3 == 0 { "Product Added" } else { "Page Viewed" };
                let ts = (seq * 7919) % 1000;
                let mut e = track(&format!("m{seq}"), name, ts, seq, json!({}));
                e.system = i % 10 == 9;
                w.insert_event(ws, who, seq, &e, &json(&e))?;
                oracle.entry(who).or_default().push((ts, seq, name));
            }
            // The group reads its own events before they are committed.
            assert_eq!(ids(w.contact_events_ordered(ann)?), expected(&oracle, ann, |_| true));
            if group % 3 == 0 {
                w.upsert_contact(&contact(1, ws, "ann@shop.example", "Ann"))?;
            }
            Ok(())
        });
    }
    // A group rolled back leaves no trace: its sequence numbers are used again by the next group, for Ann only.
    let mut w = store.writer().unwrap();
    {
        let mut tx = w.transaction().unwrap();
        for s in [seq + 1, seq + 2] {
            let e = track(&format!("gone{s}"), "Page Viewed", 5, s, json!({}));
            tx.insert_event(ws, cai, s, &e, &json(&e)).unwrap();
        }
        tx.upsert_contact(&contact(3, ws, "cai@shop.example", "Cai")).unwrap();
        tx.rollback().unwrap();
    }
    {
        let mut tx = w.transaction().unwrap();
        let e = track(&format!("m{}", seq + 1), "Page Viewed", 6, seq + 1, json!({}));
        tx.insert_event(ws, cai, seq + 1, &e, &json(&e)).unwrap();
        // Dropped without commit: rolled back too.
    }
    write(store, |w| {
        for s in [seq + 1, seq + 2] {
            let e = track(&format!("m{s}"), "Product Added", 999, s, json!({}));
            w.insert_event(ws, ann, s, &e, &json(&e))?;
            oracle.entry(ann).or_default().push((999, s, "Product Added"));
        }
        Ok(())
    });
    assert!(w.contact_events_ordered(cai).unwrap().is_empty(), "rolled-back events are nobody's");
    assert_eq!(ids(w.contact_events_ordered(bo).unwrap()), expected(&oracle, bo, |_| true));
    assert_eq!(ids(w.contact_events_ordered(ann).unwrap()), expected(&oracle, ann, |_| true));
    let cart = |from: i64| move |&(ts, _, name): &(i64, i64, &str)| ts >= from && name == "Product Added";
    assert_eq!(ids(w.contact_cart_events(ann, Some(at(500))).unwrap()), expected(&oracle, ann, cart(500)));
    // Bo is Ann: the survivor lists both histories, within the merge's group and after it.
    write(store, |w| {
        w.reassign_events(bo, ann)?;
        w.mark_merged(bo, ann, at(2_000))?;
        let moved = oracle.remove(&bo).unwrap();
        oracle.entry(ann).or_default().extend(moved);
        assert_eq!(ids(w.contact_events_ordered(ann)?), expected(&oracle, ann, |_| true));
        assert!(w.contact_events_ordered(bo)?.is_empty());
        Ok(())
    });
    assert_eq!(ids(w.contact_events_ordered(ann).unwrap()), expected(&oracle, ann, |_| true));
    assert_eq!(ids(w.contact_cart_events(ann, None).unwrap()), expected(&oracle, ann, cart(0)));
    // Readers page the same history newest first.
    let r = store.reader().unwrap();
    let mut newest_first = expected(&oracle, ann, |_| true);
    newest_first.reverse();
    let paged: Vec<String> =
        all_pages(|c| r.contact_events(ann, c, 64)).into_iter().map(|e| e.event.message_id.as_str().into()).collect();
    assert_eq!(paged, newest_first);
    assert!(all_pages(|c| r.contact_events(bo, c, 64)).is_empty());
    // Erasure finds every one of them.
    let n = write(store, |w| w.rewrite_personal(PersonalRows::Events, &[ann], &mut |t| t.to_string()));
    assert_eq!(n, newest_first.len() as u64);
}

/// A workspace's events in (timestamp, sequence) order across many hours and days (both sides of 1970
/// included), with ties, late arrivals and another workspace between them: every page size, lower bound on
/// time, upper bound on sequence, and start at the newest `n`.
pub fn time_order_spans_hours(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    // Seconds from `at(0)`: 3 days at random, a tie every 17th event, some before 1970.
    let mut x: i64 = 12_345;
    let mut oracle: Vec<(i64, i64)> = Vec::new();
    write(store, |w| {
        for seq in 1..=400 {
            x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
            let ts = match seq {
                _ if seq % 17 == 0 => 3_600,
                _ if seq % 41 == 0 => -1_900_000_000 - x % 20_000,
                _ => x % (3 * 86_400),
            };
            let target = if seq % 9 == 0 { other } else { ws };
            let e = track(&format!("m{seq}"), "Page Viewed", ts, seq, json!({}));
            w.insert_event(target, ContactId(1 + seq % 7), seq, &e, &json(&e))?;
            if target == ws {
                oracle.push((at(ts).as_micros(), seq));
            }
        }
        Ok(())
    });
    oracle.sort_unstable();
    let r = store.reader().unwrap();
    let replay = |since: i64, until: i64, start: Option<String>, size: usize| -> Vec<i64> {
        let (mut out, mut cursor) = (Vec::new(), start);
        for _ in 0..1_000 {
            let p = r.events_by_time(ws, kairos_domain::Timestamp::from_micros(since), until, cursor.as_deref(), size);
            let p = p.expect("page");
            out.extend(p.items.iter().map(|e| e.seq));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
        panic!("the replay's cursors never end");
    };
    let want = |since: i64, until: i64| -> Vec<i64> {
        oracle.iter().filter(|&&(ts, seq)| ts >= since && seq <= until).map(|&(_, seq)| seq).collect()
    };
    for size in [1, 7, 50, 1_000] {
        assert_eq!(replay(i64::MIN, i64::MAX, None, size), want(i64::MIN, i64::MAX), "page size {size}");
    }
    for (since, until) in [(at(0).as_micros(), 200), (at(40_000).as_micros(), i64::MAX), (-5_000_000, 390), (0, 10)] {
        assert_eq!(replay(since, until, None, 13), want(since, until), "since {since}, until {until}");
    }
    // Starting at the newest n: the listing then holds exactly those.
    let all = want(i64::MIN, i64::MAX);
    for n in [0, 1, 5, 60, all.len() - 1, all.len(), all.len() + 3] {
        let start = r.newest_events_cursor(ws, kairos_domain::Timestamp::from_micros(i64::MIN), i64::MAX, n).unwrap();
        match start {
            Some(c) => assert_eq!(replay(i64::MIN, i64::MAX, Some(c), 11), all[all.len() - n..], "newest {n}"),
            None => assert!(n >= all.len(), "newest {n}: no cursor"),
        }
    }
    let since = at(86_400).as_micros();
    let bounded = want(since, 300);
    let start = r.newest_events_cursor(ws, kairos_domain::Timestamp::from_micros(since), 300, 10).unwrap();
    assert_eq!(replay(since, 300, start, 4), bounded[bounded.len() - 10..], "newest 10 from a day on, up to 300");
    // Events since an instant, in any order.
    let mut seen = Vec::new();
    r.events_since(ws, kairos_domain::Timestamp::from_micros(since), &mut |_, data| {
        seen.push(serde_json::from_str::<kairos_domain::Event>(data).unwrap().message_id.as_str().to_string());
    })
    .unwrap();
    let mut expected: Vec<String> = want(since, i64::MAX).into_iter().map(|s| format!("m{s}")).collect();
    seen.sort_unstable();
    expected.sort_unstable();
    assert_eq!(seen, expected);
}
