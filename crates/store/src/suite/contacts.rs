//! Contacts and identities: merges, listings, search.

use kairos_domain::ContactId;
use serde_json::json;

use super::{all_pages, at, contact, json, refuses, track, workspace, write};
use crate::{IdentityKind, Store};

/// A merged-away contact answers as its survivor: identities and events follow it, and chains are flattened.
pub fn merges_follow_survivors(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (a, b, c) = (ContactId(1), ContactId(2), ContactId(3));
    write(store, |w| {
        assert_eq!(w.max_contact_id()?, 0);
        w.upsert_contact(&contact(1, ws, "ann@shop.example", "Ann"))?;
        w.upsert_contact(&contact(2, ws, "ann.work@shop.example", "Ann W"))?;
        w.upsert_contact(&contact(3, ws, "cai@shop.example", "Cai"))?;
        w.upsert_contact(&contact(4, other, "ann@shop.example", "Other Ann"))?;
        w.set_identity(ws, IdentityKind::UserId, "u-ann", a)?;
        w.set_identity(ws, IdentityKind::Email, "ann.work@shop.example", b)?;
        w.set_identity(ws, IdentityKind::AnonymousId, "anon-3", c)?;
        w.set_identity(other, IdentityKind::UserId, "u-ann", ContactId(4))?;
        // Several at once, within the transaction that bound them (a server database's buffered identities).
        let found = w.lookup_identities(ws, IdentityKind::Email, &["nobody@shop.example", "ann.work@shop.example"])?;
        assert_eq!(found, [("ann.work@shop.example".to_string(), b)]);
        assert!(w.lookup_identities(ws, IdentityKind::UserId, &[])?.is_empty());
        for (seq, who) in [(1, a), (2, b), (3, b), (4, c)] {
            let e = track(&format!("m{seq}"), "Page Viewed", seq, seq, json!({}));
            w.insert_event(ws, who, seq, &e, &json(&e))?;
        }
        Ok(())
    });
    write(store, |w| {
        assert_eq!(w.lookup_identity(ws, IdentityKind::UserId, "u-ann")?, Some(a));
        assert_eq!(w.lookup_identity(other, IdentityKind::UserId, "u-ann")?, Some(ContactId(4)), "per workspace");
        // B is the same person as A.
        w.reassign_events(b, a)?;
        w.mark_merged(b, a, at(10))?;
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "ann.work@shop.example")?, Some(a));
        assert!(w.load_contact(b)?.is_none(), "a merged contact is no longer live");
        assert_eq!(w.contact_events_ordered(a)?.len(), 3);
        assert!(w.contact_events_ordered(b)?.is_empty());
        // Then A merges into C: B's pointer is flattened to C.
        w.reassign_events(a, c)?;
        w.mark_merged(a, c, at(11))?;
        assert_eq!(w.lookup_identity(ws, IdentityKind::UserId, "u-ann")?, Some(c));
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "ann.work@shop.example")?, Some(c));
        let mut found = w.lookup_identities(ws, IdentityKind::UserId, &["u-ann", "u-cai"])?;
        found.extend(w.lookup_identities(other, IdentityKind::UserId, &["u-ann"])?);
        assert_eq!(
            found,
            [("u-ann".to_string(), c), ("u-ann".to_string(), ContactId(4))],
            "merges followed, per workspace"
        );
        assert_eq!(w.max_contact_id()?, 4);
        Ok(())
    });
    let mut w = store.writer().unwrap();
    let mut merged = Vec::new();
    w.merged_contacts(&mut |loser, survivor| merged.push((loser, survivor))).unwrap();
    merged.sort();
    assert_eq!(merged, [(a, c), (b, c)]);
    let mut live = Vec::new();
    w.all_contacts(&mut |k| live.push(k.id())).unwrap();
    live.sort();
    assert_eq!(live, [c, ContactId(4)]);
    assert_eq!(w.contact_events_ordered(c).unwrap().len(), 4);

    let r = store.reader().unwrap();
    assert_eq!(r.contact(ws, b).unwrap().map(|k| k.id), Some(c), "the survivor answers for the loser");
    assert_eq!(r.contact(ws, a).unwrap().map(|k| k.id), Some(c));
    assert_eq!(r.contact(other, c).unwrap(), None, "another workspace's contact is not found");
    assert_eq!(r.contact(ws, ContactId(99)).unwrap(), None);
    assert_eq!(r.contact_by_identity(ws, IdentityKind::UserId, "u-ann").unwrap().map(|k| k.id), Some(c));
    assert_eq!(r.contact_by_identity(ws, IdentityKind::Phone, "+358401234567").unwrap(), None);
    let listed: Vec<ContactId> = all_pages(|cur| r.contacts(ws, cur, 10)).iter().map(|k| k.id).collect();
    assert_eq!(listed, [c], "merged contacts are not listed");
    let timeline: Vec<i64> = all_pages(|cur| r.contact_events(c, cur, 10)).iter().map(|e| e.seq).collect();
    assert_eq!(timeline, [4, 3, 2, 1]);
    drop(r);

    // Identities move and go.
    write(store, |w| {
        w.set_identity(ws, IdentityKind::Email, "ann.work@shop.example", ContactId(4))?;
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "ann.work@shop.example")?, Some(ContactId(4)));
        w.remove_identity(ws, IdentityKind::Email, "ann.work@shop.example")?;
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "ann.work@shop.example")?, None);
        w.remove_identity(ws, IdentityKind::Email, "never@shop.example")?;
        Ok(())
    });
}

/// Contacts page newest first with cursors; search matches email, phone, user id and names.
pub fn contacts_page_and_search(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        for id in 1..=7 {
            let mut c = contact(id, ws, &format!("shopper{id}@shop.example"), &format!("Shopper {id}"));
            if id == 3 {
                c.traits.insert("first_name".into(), json!("Ann"));
                c.traits.insert("last_name".into(), json!("Lindqvist"));
                c.phone = kairos_domain::Phone::parse("+358401234567");
                c.user_id = Some("crm_77".into());
            }
            if id == 5 {
                c.email = kairos_domain::Email::parse("a_b@shop.example");
            }
            w.upsert_contact(&c)?;
        }
        w.upsert_contact(&contact(8, other, "shopper8@shop.example", "Elsewhere"))?;
        // Updating a contact replaces its profile.
        let mut c = contact(7, ws, "seven@shop.example", "Seven");
        c.updated_at = at(99);
        w.upsert_contact(&c)?;
        assert_eq!(
            w.load_contact(ContactId(7))?.and_then(|c| c.email).map(|e| e.as_str().to_string()).as_deref(),
            Some("seven@shop.example")
        );
        Ok(())
    });
    let r = store.reader().unwrap();
    for size in [1, 2, 3, 7, 50] {
        let ids: Vec<i64> = all_pages(|c| r.contacts(ws, c, size)).iter().map(|k| k.id.0).collect();
        assert_eq!(ids, [7, 6, 5, 4, 3, 2, 1], "page size {size}");
    }
    assert!(refuses(r.contacts(ws, Some("seven"), 2)));
    let found = |q: &str| -> Vec<i64> { r.search_contacts(ws, q, 10).unwrap().iter().map(|k| k.id.0).collect() };
    assert_eq!(found("ann lindqvist"), [3], "first and last name together");
    assert_eq!(found("LINDQVIST"), [3], "case-insensitive");
    assert_eq!(found("+35840123"), [3]);
    assert_eq!(found("crm_7"), [3]);
    assert_eq!(found("seven@"), [7]);
    assert_eq!(found("a_b"), [5], "LIKE wildcards are literal");
    assert_eq!(found("a%b"), Vec::<i64>::new());
    assert_eq!(found("elsewhere"), Vec::<i64>::new(), "other workspaces are not searched");
    assert_eq!(r.search_contacts(ws, "shopper", 2).unwrap().len(), 2, "limit");
}

/// A start's load takes every live profile packed (no JSON decoded), as it was last written; a merged-away
/// contact is not loaded.
pub fn contacts_load_packed_as_last_written(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let mut ann = contact(1, ws, "ann@shop.example", "Ann");
    ann.traits.insert("address".into(), json!({"country": "FI", "lines": ["Street 1", null, 2.5]}));
    ann.phone = kairos_domain::Phone::parse("+358401234567");
    let bo = contact(2, ws, "bo@shop.example", "Bo");
    let gone = contact(3, ws, "gone@shop.example", "Gone");
    write(store, |w| {
        for c in [&ann, &bo, &gone] {
            w.upsert_contact(c)?;
        }
        w.mark_merged(gone.id, bo.id, at(5))
    });
    ann.traits.insert("vip".into(), json!(true));
    ann.updated_at = at(9);
    write(store, |w| w.upsert_contact(&ann));
    let mut w = store.writer().unwrap();
    let mut loaded = Vec::new();
    w.all_contacts(&mut |k| loaded.push(k)).unwrap();
    assert!(loaded.iter().all(|k| k.is_packed()), "every row written since the packed column came loads packed");
    let mut loaded: Vec<_> = loaded.into_iter().map(|k| k.into_contact().unwrap()).collect();
    loaded.sort_by_key(|c| c.id);
    assert_eq!(loaded, [ann, bo]);
}
