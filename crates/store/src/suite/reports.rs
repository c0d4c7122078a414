//! The rows reports are computed from.

use kairos_domain::{Channel, ConsentStatus, ContactId, Event, JsonMap, MessageStatus, SystemEvent, Timestamp};
use serde_json::json;

use super::messages::message;
use super::{at, contact, json, track, workspace, write};
use crate::Store;
use crate::reports::{Cohort, ConsentChange, MessageRef};

fn system(id: &str, name: &str, t: i64, props: serde_json::Value) -> Event {
    Event::system(name, id.into(), props.as_object().cloned().unwrap_or_else(JsonMap::new), at(t))
}

/// Order rows by timestamp (late ones included), message events with their message, active contacts (not
/// Kairos's own events), consent changes, first orders and the message cohorts with every status they had.
pub fn report_rows(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (ann, bo, cai) = (ContactId(1), ContactId(2), ContactId(3));
    write(store, |w| {
        let mut seq = 0;
        let mut add = |space, who, e: Event| {
            seq += 1;
            w.insert_event(space, who, seq, &e, &json(&e))
        };
        add(ws, ann, track("o1", "Order Completed", 100, 100, json!({"order_id": "A-1", "total": 12.5})))?;
        // A late order: received long after its timestamp.
        add(ws, bo, track("o2", "Order Completed", 150, 5_000, json!({"total": 3})))?;
        add(ws, ann, track("o3", "Order Completed", 300, 300, json!({})))?;
        add(other, ann, track("o4", "Order Completed", 120, 120, json!({"total": 1})))?;
        add(ws, cai, track("c1", "Checkout Started", 110, 110, json!({})))?;
        let sent = json!({"message_id": "m1", "flow_id": "flow_a", "step_id": "s1", "channel": "sms"});
        add(ws, ann, system("k1", "Message Sent", 90, sent))?;
        add(
            ws,
            bo,
            system("k2", "Email Opened", 95, json!({"message_id": "m2", "channel": "email", "machine": true})),
        )?;
        add(
            ws,
            bo,
            system("k3", "Email Clicked", 96, json!({"message_id": "m2", "campaign_id": "cmp_a", "machine": false})),
        )?;
        add(ws, bo, system("k4", "Segment Entered", 97, json!({"segment_id": "seg_x"})))?;
        // Only Kairos's events for dee: not an active contact.
        add(ws, ContactId(4), system("k5", "Segment Entered", 120, json!({})))?;
        // A client's event named like ours, with a malformed property: read field by field.
        add(ws, cai, track("x1", "Email Opened", 130, 130, json!({"message_id": 7, "channel": "email"})))?;

        let mut a = contact(1, ws, "ann@shop.example", "Ann");
        a.computed.orders.first_at = Some(at(50));
        a.consent.email.status = ConsentStatus::Subscribed;
        a.consent.email.updated_at = Some(at(100));
        a.consent.sms.status = ConsentStatus::Unsubscribed;
        a.consent.sms.updated_at = Some(at(500));
        w.upsert_contact(&a)?;
        let mut b = contact(2, ws, "bo@shop.example", "Bo");
        b.consent.email.status = ConsentStatus::Unsubscribed;
        b.consent.email.updated_at = Some(at(150));
        w.upsert_contact(&b)?;
        let mut theirs = contact(5, other, "x@shop.example", "X");
        theirs.consent.email.updated_at = Some(at(150));
        w.upsert_contact(&theirs)?;

        // Messages: flows, a campaign with a variant, a webhook call (not a message to a person).
        w.insert_message(&message("m1", ws, 1, "queued", 80))?;
        w.update_message("m1", MessageStatus::Sent, "{}")?;
        w.update_message("m1", MessageStatus::Opened, "{}")?;
        let mut m2 = message("m2", ws, 2, "sent", 85);
        (m2.flow_id, m2.campaign_id, m2.variant) = (None, Some("cmp_a".into()), Some(1));
        w.insert_message(&m2)?;
        let mut hook = message("h1", ws, 1, "sent", 86);
        hook.channel = Channel::Webhook;
        w.insert_message(&hook)?;
        let mut m3 = message("m3", ws, 3, "sent", 87);
        m3.flow_id = Some("flow_b".into());
        w.insert_message(&m3)?;
        w.insert_message(&message("late", ws, 3, "sent", 400))?;
        Ok(())
    });
    let r = store.reader().unwrap();
    let orders = r.order_rows(ws, at(100), at(300)).unwrap();
    let got: Vec<(i64, ContactId, Timestamp)> = orders.iter().map(|o| (o.seq, o.contact, o.at)).collect();
    assert_eq!(got, [(1, ann, at(100)), (2, bo, at(150))], "timestamped in [from, to), late ones included");
    assert_eq!(orders[0].properties.get("order_id"), Some(&json!("A-1")));
    assert_eq!(r.order_rows(ws, at(0), at(1_000)).unwrap().len(), 3);

    let sent = r.message_event_rows(ws, SystemEvent::MessageSent, at(0), at(1_000), true).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].seq, sent[0].contact, sent[0].at, sent[0].name.as_str()), (6, ann, at(90), "Message Sent"));
    let m1 = MessageRef {
        message_id: Some("m1".into()),
        flow_id: Some("flow_a".into()),
        step_id: Some("s1".into()),
        campaign_id: None,
        channel: Some("sms".into()),
        machine: false,
    };
    assert_eq!(sent[0].message, m1);
    let opens = r.message_event_rows(ws, SystemEvent::EmailOpened, at(0), at(1_000), false).unwrap();
    let got: Vec<(Option<&str>, bool)> =
        opens.iter().map(|e| (e.message.message_id.as_deref(), e.message.machine)).collect();
    assert_eq!(got, [(Some("m2"), true), (None, false)]);
    assert!(r.message_event_rows(ws, SystemEvent::EmailOpened, at(0), at(1_000), true).unwrap().is_empty(), "sms only");
    let clicks = r.message_event_rows(ws, SystemEvent::EmailClicked, at(96), at(97), false).unwrap();
    assert_eq!(clicks[0].message.campaign_id.as_deref(), Some("cmp_a"));
    assert!(r.message_event_rows(ws, SystemEvent::EmailClicked, at(97), at(1_000), false).unwrap().is_empty());

    assert_eq!(r.event_times(ws, "Checkout Started", at(0), at(1_000)).unwrap(), [(cai, at(110))]);
    let named = r.event_rows(ws, "Email Opened", at(95), at(1_000)).unwrap();
    let got: Vec<(i64, ContactId, Option<&serde_json::Value>)> =
        named.iter().map(|e| (e.seq, e.contact, e.properties.get("channel"))).collect();
    assert_eq!(got, [(7, bo, Some(&json!("email"))), (11, cai, Some(&json!("email")))], "any name, with properties");
    assert!(r.event_rows(ws, "Email Opened", at(131), at(1_000)).unwrap().is_empty());
    assert!(r.event_times(ws, "Checkout Started", at(111), at(1_000)).unwrap().is_empty());
    let mut active = r.active_contacts(ws, at(0), at(1_000)).unwrap();
    active.sort();
    assert_eq!(active, [ann, bo, cai], "contacts with events of their own");
    assert_eq!(r.active_contacts(ws, at(90), at(100)).unwrap(), Vec::<ContactId>::new(), "only Kairos's events then");

    let mut consent = r.consent_changes(ws, at(100), at(200)).unwrap();
    consent.sort_by(|a, b| a.status.cmp(&b.status));
    let change = |c: &str, s: &str| ConsentChange { channel: c.into(), status: s.into() };
    assert_eq!(consent, [change("email", "subscribed"), change("email", "unsubscribed")]);
    assert_eq!(r.consent_changes(ws, at(400), at(600)).unwrap(), [change("sms", "unsubscribed")]);
    let first = r.first_orders(&[ann, bo, ann, ContactId(99)]).unwrap();
    assert_eq!(first, [(ann, Some(at(50))), (bo, None), (ContactId(99), None)]);

    let flows = r.message_rows(ws, at(0), at(300), &Cohort::Flows(None)).unwrap();
    let mut got: Vec<(String, String, Vec<String>)> = flows
        .into_iter()
        .map(|m| {
            let mut s = m.statuses;
            s.sort();
            (m.id, m.status, s)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("m1".to_string(), "opened".to_string(), vec!["opened".to_string(), "queued".into(), "sent".into()]),
            ("m3".to_string(), "sent".to_string(), vec!["sent".to_string()]),
        ],
        "flow messages created in the range, webhooks left out, with every status they had"
    );
    let one = r.message_rows(ws, at(0), at(300), &Cohort::Flows(Some("flow_b".into()))).unwrap();
    assert_eq!(one.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m3"]);
    let campaigns = r.message_rows(ws, at(0), at(300), &Cohort::Campaigns).unwrap();
    assert_eq!(campaigns.len(), 1);
    assert_eq!((campaigns[0].campaign_id.as_deref(), campaigns[0].variant), (Some("cmp_a"), Some(1)));
    assert!(r.message_rows(other, at(0), at(1_000), &Cohort::Campaigns).unwrap().is_empty());
}
