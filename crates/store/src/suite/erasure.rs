use kairos_domain::{ContactId, Event};
use serde_json::json;

use super::{at, contact, json, track, workspace, write};
use crate::erasure::{AuditEntry, PersonalRows};
use crate::{IdentityKind, Store};

/// Erasure rewrites one person's rows (theirs and those of contacts merged into them, buffered events
/// included), removes their identities, and remembers erased hashes and audit lines per workspace.
pub fn erasure_rewrites_a_persons_rows(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (ann, ann_old, bo) = (ContactId(1), ContactId(2), ContactId(3));
    write(store, |w| {
        w.upsert_contact(&contact(1, ws, "ann@shop.example", "Ann"))?;
        w.upsert_contact(&contact(2, ws, "ann.old@shop.example", "Ann"))?;
        w.upsert_contact(&contact(3, ws, "bo@shop.example", "Bo"))?;
        w.set_identity(ws, IdentityKind::Email, "ann@shop.example", ann)?;
        w.set_identity(ws, IdentityKind::AnonymousId, "anon-ann", ann)?;
        w.set_identity(ws, IdentityKind::Email, "bo@shop.example", bo)?;
        w.insert_message(&super::messages::message("m-ann-old", ws, 2, "sent", 5))?;
        w.insert_message(&super::messages::message("m-bo", ws, 3, "sent", 5))?;
        w.insert_task(ws, ann_old, "flow_welcome", "Call Ann", at(6))?;
        w.mark_merged(ann_old, ann, at(7))?;
        Ok(())
    });
    write(store, |w| {
        // Inserted in the same transaction as the erasure: rewritten too.
        let e = track("e1", "Order Completed", 8, 8, json!({"email": "ann@shop.example"}));
        w.insert_event(ws, ann, 1, &e, &json(&e))?;
        let b = track("e2", "Order Completed", 9, 9, json!({"email": "bo@shop.example"}));
        w.insert_event(ws, bo, 2, &b, &json(&b))?;
        let mut people = vec![ann];
        people.extend(w.merged_into(ann)?);
        assert_eq!(people, vec![ann, ann_old]);
        let mut erase_event = |t: &str| json(&serde_json::from_str::<Event>(t).expect("stored event").erased());
        assert_eq!(w.rewrite_personal(PersonalRows::Events, &people, &mut erase_event)?, 1);
        let mut scrub = |_: &str| "{}".to_string();
        assert_eq!(w.rewrite_personal(PersonalRows::Messages, &people, &mut scrub)?, 1);
        assert_eq!(w.rewrite_personal(PersonalRows::Tasks, &people, &mut |_| "(erased)".into())?, 1);
        assert_eq!(w.rewrite_personal(PersonalRows::RunTriggers, &people, &mut scrub)?, 0);
        let mut removed = w.remove_identities_of(ws, &people)?;
        removed.sort_by_key(|(k, _)| k.code());
        assert_eq!(
            removed,
            vec![(IdentityKind::Email, "ann@shop.example".into()), (IdentityKind::AnonymousId, "anon-ann".into())]
        );
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "ann@shop.example")?, None);
        assert_eq!(w.lookup_identity(ws, IdentityKind::Email, "bo@shop.example")?, Some(bo));
        w.record_erasure(ws, b"hash-ann", at(10))?;
        w.record_erasure(ws, b"hash-ann", at(9))?;
        assert_eq!(w.erasure_time(ws, b"hash-ann")?, Some(at(10)), "seen inside the transaction");
        w.record_audit(&AuditEntry {
            workspace: ws,
            at: at(10),
            actor: "key:…abcd".into(),
            action: "contact.erase".into(),
            subject: "contact:1".into(),
            detail: "Erased".into(),
        })?;
        Ok(())
    });
    let r = store.reader().expect("reader");
    assert_eq!(r.contacts_with_anonymous_prefix(ws, "anon-", 10).expect("prefix"), Vec::<ContactId>::new());
    drop(r);
    write(store, |w| {
        w.set_identity(ws, IdentityKind::AnonymousId, "shopify-customer:1", bo)?;
        w.set_identity(ws, IdentityKind::AnonymousId, "shopify-order:9", bo)?;
        w.set_identity(ws, IdentityKind::AnonymousId, "shopifyx", ann)?;
        w.set_identity(other, IdentityKind::AnonymousId, "shopify-customer:1", ContactId(4))
    });
    let r = store.reader().expect("reader");
    assert_eq!(r.contacts_with_anonymous_prefix(ws, "shopify-", 10).expect("prefix"), vec![bo]);
    let events = r.contact_events(ann, None, 10).expect("events").items;
    assert_eq!(events.len(), 1);
    assert!(events[0].event.properties.is_empty(), "the event was rewritten");
    let bo_events = r.contact_events(bo, None, 10).expect("events").items;
    assert_eq!(bo_events[0].event.properties["email"], json!("bo@shop.example"), "others' rows are untouched");
    let m = r.message("m-ann-old").expect("message").expect("kept");
    assert_eq!((m.to.as_deref(), m.data.as_str()), (None, "{}"));
    assert_eq!(r.message("m-bo").expect("message").expect("kept").to.as_deref(), Some("c3@shop.example"));
    assert!(r.tasks(ws, None).expect("tasks").iter().all(|t| t.message == "(erased)"), "the task text was rewritten");
    assert_eq!(r.erased_at(ws, b"hash-ann").expect("read"), Some(at(10)), "the latest erasure wins");
    assert_eq!(r.erased_at(other, b"hash-ann").expect("read"), None, "per workspace");
    let log = r.audit_log(ws, 10).expect("audit");
    assert_eq!((log.len(), log[0].action.as_str()), (1, "contact.erase"));
    assert!(r.audit_log(other, 10).expect("audit").is_empty());
    drop(r);
    write(store, |w| {
        assert!(w.forget_erasure(ws, b"hash-ann")?);
        assert!(!w.forget_erasure(ws, b"hash-ann")?);
        Ok(())
    });
    assert_eq!(store.reader().expect("reader").erased_at(ws, b"hash-ann").expect("read"), None);
}

/// Sync state is per workspace and name; the latest value wins.
pub fn sync_state_per_workspace(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        assert_eq!(w.sync_state(ws, "backfill/shopify")?, None);
        w.put_sync_state(ws, "backfill/shopify", "{\"page\":1}", at(1))?;
        w.put_sync_state(ws, "backfill/shopify", "{\"page\":2}", at(2))?;
        w.put_sync_state(other, "backfill/shopify", "theirs", at(2))?;
        assert_eq!(w.sync_state(ws, "backfill/shopify")?.as_deref(), Some("{\"page\":2}"));
        Ok(())
    });
    let r = store.reader().expect("reader");
    assert_eq!(r.sync_state(ws, "backfill/shopify").expect("read").as_deref(), Some("{\"page\":2}"));
    assert_eq!(r.sync_state(other, "backfill/shopify").expect("read").as_deref(), Some("theirs"));
    drop(r);
    write(store, |w| {
        assert!(w.delete_sync_state(ws, "backfill/shopify")?);
        assert!(!w.delete_sync_state(ws, "backfill/shopify")?);
        Ok(())
    });
    assert_eq!(store.reader().expect("reader").sync_state(ws, "backfill/shopify").expect("read"), None);
}

/// Site items: ids are unique across workspaces and kinds (a public address names no workspace).
pub fn site_items_are_found_by_id_across_workspaces(store: &dyn Store) {
    use kairos_domain::vocab::SiteKind::{Form, Quiz};
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        assert!(w.save_site_item(ws, Form, "frm_a", "{\"v\":1}", at(1))?);
        assert!(w.save_site_item(ws, Form, "frm_a", "{\"v\":2}", at(2))?, "its own workspace replaces it");
        assert!(!w.save_site_item(other, Form, "frm_a", "{\"theirs\":true}", at(3))?, "another workspace's id");
        assert!(!w.save_site_item(ws, Quiz, "frm_a", "{}", at(3))?, "an id of another kind");
        assert!(w.save_site_item(other, Form, "frm_b", "{}", at(3))?);
        assert!(w.save_site_item(ws, Quiz, "quiz_a", "{}", at(3))?);
        assert!(!w.delete_site_item(other, Quiz, "quiz_a")?, "another workspace cannot delete it");
        Ok(())
    });
    let r = store.reader().expect("reader");
    assert_eq!(r.site_item(Form, "frm_a").expect("read"), Some((ws, "{\"v\":2}".to_string())));
    assert_eq!(r.site_item(Quiz, "frm_a").expect("read"), None, "found only as its own kind");
    assert_eq!(r.site_item(Form, "frm_zz").expect("read"), None);
    assert_eq!(r.site_items(ws, Form).expect("list"), vec![("frm_a".to_string(), "{\"v\":2}".to_string())]);
    assert_eq!(r.site_items(ws, Quiz).expect("list").len(), 1);
    drop(r);
    write(store, |w| {
        assert!(w.delete_site_item(ws, Quiz, "quiz_a")?);
        Ok(())
    });
    assert_eq!(store.reader().expect("reader").site_items(ws, Quiz).expect("list"), vec![]);
}
