//! Segments: definitions, members and size samples.

use kairos_domain::{ContactId, Timestamp};

use super::{all_pages, at, contact, refuses, workspace, write};
use crate::{Store, StoredSegment};

fn segment(public_id: &str, ws: kairos_domain::WorkspaceId, name: &str, definition: &str, t: i64) -> StoredSegment {
    StoredSegment {
        row: 0,
        public_id: public_id.into(),
        workspace: ws,
        name: name.into(),
        definition: definition.into(),
        created_at: at(t),
        updated_at: at(t),
    }
}

/// Saving updates by public id; members are added idempotently and page by contact id; sizes keep the latest
/// value per bucket; a deleted segment and its members are gone.
pub fn segments_members_and_sizes(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (vip, lapsed, theirs) = write(store, |w| {
        let vip = w.save_segment(&segment("seg_vip", ws, "VIP", "{\"a\":1}", 1))?;
        let lapsed = w.save_segment(&segment("seg_lapsed", ws, "Lapsed", "{\"b\":1}", 2))?;
        let theirs = w.save_segment(&segment("seg_theirs", other, "Theirs", "{}", 3))?;
        // An update by public id keeps the row and the creation time.
        let again = w.save_segment(&segment("seg_vip", ws, "VIPs", "{\"a\":2}", 5))?;
        assert_eq!(again, vip);
        for id in 1..=5 {
            w.upsert_contact(&contact(id, ws, &format!("c{id}@shop.example"), "C"))?;
            w.set_member(vip, ContactId(id), true, at(10))?;
        }
        w.set_member(vip, ContactId(2), true, at(11))?; // already a member
        w.set_member(vip, ContactId(4), false, at(12))?;
        w.set_member(vip, ContactId(9), false, at(12))?; // never a member
        w.set_member(lapsed, ContactId(1), true, at(12))?;
        w.record_size(vip, at(3600), 3)?;
        w.record_size(vip, at(3600), 4)?; // the same bucket: the latest value wins
        w.record_size(vip, at(7200), 4)?;
        w.record_size(vip, at(0), 1)?;
        Ok((vip, lapsed, theirs))
    });
    let mut w = store.writer().unwrap();
    let all = w.segments().unwrap();
    let rows: Vec<(i64, &str, &str)> = all.iter().map(|s| (s.row, s.name.as_str(), s.definition.as_str())).collect();
    assert_eq!(rows, [(vip, "VIPs", "{\"a\":2}"), (lapsed, "Lapsed", "{\"b\":1}"), (theirs, "Theirs", "{}")]);
    assert_eq!((all[0].created_at, all[0].updated_at), (at(1), at(5)));
    let mut members = Vec::new();
    w.segment_members(vip, &mut |c| members.push(c.0)).unwrap();
    members.sort();
    assert_eq!(members, [1, 2, 3, 5]);

    let r = store.reader().unwrap();
    let listed: Vec<(String, u64)> = r.segments(ws).unwrap().into_iter().map(|(s, n)| (s.public_id, n)).collect();
    assert_eq!(listed, [("seg_vip".to_string(), 4), ("seg_lapsed".to_string(), 1)]);
    assert_eq!(r.segment_row(ws, "seg_vip").unwrap(), Some(vip));
    assert_eq!(r.segment_row(other, "seg_vip").unwrap(), None, "another workspace's segment");
    let (one, size) = r.segment(ws, "seg_vip").unwrap().expect("a live segment");
    assert_eq!((one.row, one.name.as_str(), one.definition.as_str(), size), (vip, "VIPs", "{\"a\":2}", 4));
    assert_eq!((one.created_at, one.updated_at), (at(1), at(5)));
    assert_eq!(r.segment(other, "seg_vip").unwrap(), None, "another workspace's segment");
    assert_eq!(r.segment(ws, "seg_nope").unwrap(), None);
    for size in [1, 3, 10] {
        let page: Vec<i64> = all_pages(|c| r.segment_member_page(vip, c, size)).iter().map(|k| k.id.0).collect();
        assert_eq!(page, [1, 2, 3, 5], "page size {size}");
    }
    assert!(refuses(r.segment_member_page(vip, Some("first"), 2)));
    assert_eq!(r.segment_sizes(vip, at(3600)).unwrap(), [(at(3600), 4), (at(7200), 4)]);
    assert_eq!(r.segment_sizes(vip, at(-1)).unwrap().len(), 3);
    // A contact's segments (a profile's "in segments"), with when it entered each; only this workspace's.
    let of = |c: i64| -> Vec<(String, Timestamp)> {
        r.contact_segments(ws, ContactId(c)).unwrap().into_iter().map(|(s, t)| (s.public_id, t)).collect()
    };
    assert_eq!(of(1), [("seg_vip".to_string(), at(10)), ("seg_lapsed".to_string(), at(12))]);
    assert!(of(4).is_empty(), "left the segment");
    assert!(r.contact_segments(other, ContactId(1)).unwrap().is_empty(), "another workspace's view");
    drop(r);

    write(store, |w| w.delete_segment(vip));
    assert_eq!(w.segments().unwrap().iter().map(|s| s.row).collect::<Vec<_>>(), [lapsed, theirs]);
    let mut left = 0;
    w.segment_members(vip, &mut |_| left += 1).unwrap();
    assert_eq!(left, 0, "a deleted segment's members are gone");
    let r = store.reader().unwrap();
    assert_eq!(r.segment_row(ws, "seg_vip").unwrap(), None);
    assert_eq!(r.segment(ws, "seg_vip").unwrap(), None, "a deleted segment");
    assert_eq!(r.segments(ws).unwrap().len(), 1);
}
