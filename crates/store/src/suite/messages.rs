//! Messages (idempotent sends, filters, cursors, provider ids) and the suppression list.

use kairos_domain::{Channel, ContactId, MessageStatus, WorkspaceId};

use super::{all_pages, at, refuses, workspace, write};
use crate::{MessageFilter, Store, StoredMessage};

pub(crate) fn message(id: &str, ws: WorkspaceId, contact: i64, status: &str, t: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        workspace: ws,
        contact: ContactId(contact),
        channel: Channel::Email,
        to: Some(format!("c{contact}@shop.example")),
        flow_id: Some("flow_a".into()),
        campaign_id: None,
        step_id: Some("s1".into()),
        status: MessageStatus::parse(status).expect("a message status"),
        data: format!("{{\"n\":\"{id}\"}}"),
        created_at: at(t),
        variant: None,
        subject_variant: None,
    }
}

/// The subject line a message was given (A/B within one template) is kept with it, through its updates, and in
/// the rows of reports.
pub fn subject_variants_are_kept(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    write(store, |w| {
        let mut b = message("b", ws, 1, "sent", 1);
        b.subject_variant = Some(1);
        w.insert_message(&b)?;
        let mut e = message("e", ws, 2, "queued", 2);
        e.subject_variant = Some(4);
        w.insert_message(&e)?;
        w.insert_message(&message("plain", ws, 3, "sent", 3))?;
        w.update_message("e", MessageStatus::Opened, "{\"opened\":1}")?;
        assert_eq!(w.message("e")?.and_then(|m| m.subject_variant), Some(4), "an update keeps it");
        Ok(())
    });
    let r = store.reader().unwrap();
    let listed: Vec<(String, Option<i64>)> = all_pages(|c| r.messages(ws, &MessageFilter::default(), c, 2))
        .into_iter()
        .map(|m| (m.id, m.subject_variant))
        .collect();
    assert_eq!(listed, [("plain".to_string(), None), ("e".to_string(), Some(4)), ("b".to_string(), Some(1))]);
    assert_eq!(r.message_of(ws, "b").unwrap().and_then(|m| m.subject_variant), Some(1));
    let mut rows: Vec<(String, Option<i64>)> = r
        .message_rows(ws, at(0), at(100), &crate::reports::Cohort::Flows(None))
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.subject_variant))
        .collect();
    rows.sort();
    assert_eq!(rows, [("b".to_string(), Some(1)), ("e".to_string(), Some(4)), ("plain".to_string(), None)]);
}

/// The same message id is stored once (a retried step sends nothing twice); listings filter and page.
pub fn sends_are_idempotent_and_messages_filtered(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        assert!(w.insert_message(&message("m1", ws, 1, "sent", 1))?);
        let mut retry = message("m1", ws, 1, "queued", 2);
        retry.data = "{\"second\":true}".into();
        assert!(!w.insert_message(&retry)?, "a second insert of the same id is refused");
        assert_eq!(w.message("m1")?.map(|m| (m.status, m.data)), Some((MessageStatus::Sent, "{\"n\":\"m1\"}".into())));
        w.insert_message(&message("m2", ws, 2, "deferred", 2))?;
        w.insert_message(&message("m3", ws, 1, "queued", 3))?;
        let mut sms = message("m4", ws, 2, "retrying", 4);
        (sms.channel, sms.to, sms.flow_id) = (Channel::Sms, Some("+358401234567".into()), Some("flow_b".into()));
        w.insert_message(&sms)?;
        w.insert_message(&message("m5", ws, 3, "sent", 5))?;
        w.insert_message(&message("m6", ws, 3, "failed", 6))?;
        w.insert_message(&message("theirs", other, 1, "sent", 7))?;
        w.update_message("m3", MessageStatus::Sent, "{\"n\":\"m3\",\"sent\":true}")?;
        w.update_message("m1", MessageStatus::Opened, "{\"opened\":1}")?;
        assert_eq!(w.message("m3")?.map(|m| m.status), Some(MessageStatus::Sent));
        assert_eq!(w.message("nope")?, None);
        w.set_provider_id("SM123", "m4")?;
        w.set_provider_id("SM124", "m4")?;
        w.set_provider_id("SM123", "m5")?; // the same provider id again: the latest message wins
        assert_eq!(w.message_by_provider_id("SM123")?.as_deref(), Some("m5"));
        assert_eq!(w.message_by_provider_id("SM124")?.as_deref(), Some("m4"));
        assert_eq!(w.message_by_provider_id("SM999")?, None);
        Ok(())
    });
    let mut w = store.writer().unwrap();
    let mut pending = Vec::new();
    w.pending_and_recent_messages(at(3), &mut |m| pending.push(m.id)).unwrap();
    assert_eq!(
        pending,
        ["m2", "m3", "m4", "m5", "theirs"],
        "deferred, queued, retrying, and sent since; in creation order"
    );

    let r = store.reader().unwrap();
    let ids = |f: MessageFilter, size: usize| -> Vec<String> {
        all_pages(|c| r.messages(ws, &f, c, size)).into_iter().map(|m| m.id).collect()
    };
    for size in [1, 2, 10] {
        assert_eq!(ids(MessageFilter::default(), size), ["m6", "m5", "m4", "m3", "m2", "m1"], "page size {size}");
    }
    assert_eq!(ids(MessageFilter { contact: Some(ContactId(1)), ..Default::default() }, 1), ["m3", "m1"]);
    assert_eq!(ids(MessageFilter { status: Some("sent".into()), ..Default::default() }, 1), ["m5", "m3"]);
    assert_eq!(ids(MessageFilter { flow_id: Some("flow_b".into()), ..Default::default() }, 1), ["m4"]);
    assert_eq!(ids(MessageFilter { to: Some("c3@shop.example".into()), ..Default::default() }, 1), ["m6", "m5"]);
    assert!(ids(MessageFilter { campaign_id: Some("cmp_x".into()), ..Default::default() }, 1).is_empty());
    assert!(refuses(r.messages(ws, &MessageFilter::default(), Some("m3"), 2)));
    let outbox: Vec<String> =
        all_pages(|c| r.outbox(ws, Some("c1@shop.example"), Some("flow_a"), c, 1)).into_iter().map(|m| m.id).collect();
    assert_eq!(outbox, ["m3", "m1"]);
    assert_eq!(r.message_of(ws, "m1").unwrap().map(|m| m.status), Some(MessageStatus::Opened));
    assert_eq!(r.message_of(ws, "theirs").unwrap(), None, "another workspace's message");
    assert_eq!(r.message_of(other, "theirs").unwrap().map(|m| m.contact), Some(ContactId(1)));
    // By id alone (signed links): any workspace's message, as stored.
    assert_eq!(r.message("theirs").unwrap().map(|m| m.workspace), Some(other));
    assert_eq!(r.message("m1").unwrap(), r.message_of(ws, "m1").unwrap());
    assert_eq!(r.message("nope").unwrap(), None);
}

/// Suppression is per workspace and channel, idempotent, and lifted explicitly.
pub fn suppression_per_workspace_and_channel(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        w.suppress(ws, Channel::Email, "ann@shop.example", "hard_bounce", at(1))?;
        w.suppress(ws, Channel::Email, "ann@shop.example", "complaint", at(2))?; // already suppressed: kept as it was
        w.suppress(ws, Channel::Sms, "+358401234567", "manual", at(3))?;
        assert!(w.is_suppressed(ws, Channel::Email, "ann@shop.example")?);
        assert!(!w.is_suppressed(ws, Channel::Sms, "ann@shop.example")?, "per channel");
        assert!(!w.is_suppressed(other, Channel::Email, "ann@shop.example")?, "per workspace");
        Ok(())
    });
    let r = store.reader().unwrap();
    let list = r.suppressions(ws, 10).unwrap();
    let got: Vec<(&str, &str, &str)> =
        list.iter().map(|(c, a, why, _)| (c.as_str(), a.as_str(), why.as_str())).collect();
    assert_eq!(got, [("sms", "+358401234567", "manual"), ("email", "ann@shop.example", "hard_bounce")], "newest first");
    assert_eq!(list[1].3, at(1));
    assert_eq!(r.suppressions(ws, 1).unwrap().len(), 1);
    assert!(r.suppressions(other, 10).unwrap().is_empty());
    drop(r);
    write(store, |w| {
        assert!(w.unsuppress(ws, Channel::Email, "ann@shop.example")?);
        assert!(!w.unsuppress(ws, Channel::Email, "ann@shop.example")?, "already lifted");
        assert!(!w.is_suppressed(ws, Channel::Email, "ann@shop.example")?);
        Ok(())
    });
}
