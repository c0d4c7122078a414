//! Last-touch attribution (SPEC 10): an order is credited to the contact's latest touch before it that lies
//! within its channel's window. Machine opens and clicks (scanners, privacy proxies) are never touches.

use std::collections::{HashMap, HashSet};

use kairos_domain::{ContactId, Timestamp};
use kairos_store::reports::{MessageEventRow, OrderRow};

use crate::{Attributed, Order, TOUCH_EVENTS, Touch, TouchKind, Windows};

/// Orders from their rows, in the rows' order.
pub fn orders(rows: &[OrderRow]) -> Vec<Order> {
    rows.iter()
        .map(|r| {
            let order_id = match r.properties.get("order_id") {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            Order {
                seq: r.seq,
                contact: r.contact,
                at: r.at,
                // In the store's currency, at the rate the order recorded.
                amount: kairos_domain::contact::order_amount_in_store(&r.properties),
                order_id,
            }
        })
        .collect()
}

/// The range of touches that can earn `orders` (`[first order - longest window, last order]`), None without
/// orders.
pub fn touch_range(orders: &[Order], windows: Windows) -> Option<(Timestamp, Timestamp)> {
    let first = orders.iter().map(|o| o.at).min()?;
    let last = orders.iter().map(|o| o.at).max().unwrap_or(first);
    Some((first.saturating_sub(windows.longest()), Timestamp::from_micros(last.as_micros().saturating_add(1))))
}

/// Touches from the rows of [`TOUCH_EVENTS`]: human opens and clicks, and SMS sends. With `only`, just those of
/// these contacts.
pub fn touches(rows: &[MessageEventRow], only: Option<&HashSet<ContactId>>) -> Vec<Touch> {
    rows.iter()
        .filter(|r| only.is_none_or(|set| set.contains(&r.contact)))
        // Scanners and privacy proxies, not people.
        .filter(|r| !r.message.machine)
        .filter_map(|r| {
            let kind = match TOUCH_EVENTS.iter().position(|(e, _)| e.as_str() == r.name)? {
                0 => TouchKind::Open,
                1 => TouchKind::Click,
                _ => TouchKind::Sent,
            };
            let m = &r.message;
            Some(Touch {
                seq: r.seq,
                contact: r.contact,
                at: r.at,
                kind,
                channel: m.channel.clone().unwrap_or_else(|| "email".into()),
                message_id: m.message_id.clone(),
                flow_id: m.flow_id.clone(),
                step_id: m.step_id.clone(),
                campaign_id: m.campaign_id.clone(),
            })
        })
        .collect()
}

/// For each order, the index in `touches` of the touch that earns it, if any: among the contact's touches at or
/// before the order that lie within their channel's window, the latest (by time, then log sequence). Last touch
/// wins across channels: a click yesterday beats an SMS last week even when both are within their windows.
pub fn attribute(orders: &[Order], touches: &[Touch], windows: Windows) -> Vec<Option<usize>> {
    let mut by_contact: HashMap<ContactId, Vec<usize>> = HashMap::new();
    for (i, t) in touches.iter().enumerate() {
        by_contact.entry(t.contact).or_default().push(i);
    }
    for list in by_contact.values_mut() {
        list.sort_by_key(|&i| (touches[i].at, touches[i].seq));
    }
    let longest = windows.longest().as_micros();
    orders
        .iter()
        .map(|o| {
            let list = by_contact.get(&o.contact)?;
            let end = list.partition_point(|&i| touches[i].at <= o.at);
            for &i in list[..end].iter().rev() {
                let t = &touches[i];
                let age = o.at.as_micros() - t.at.as_micros();
                if age > longest {
                    break;
                }
                if age <= windows.of(&t.channel).as_micros() {
                    return Some(i);
                }
            }
            None
        })
        .collect()
}

/// The orders that a touch earned, with that touch, in the orders' order; unattributed orders are left out.
pub fn attribute_orders(orders: Vec<Order>, touches: &[Touch], windows: Windows) -> Vec<Attributed> {
    let picks = attribute(&orders, touches, windows);
    orders
        .into_iter()
        .zip(picks)
        .filter_map(|(order, pick)| pick.map(|i| Attributed { order, touch: touches[i].clone() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use kairos_domain::{Duration, JsonMap, Money};
    use kairos_store::reports::MessageRef;
    use serde_json::json;

    use super::*;

    const H: i64 = 3_600_000_000;

    fn order(contact: i64, at_h: i64, cents: i64) -> Order {
        Order { seq: at_h, contact: ContactId(contact), at: Timestamp(at_h * H), amount: Money(cents), order_id: None }
    }

    fn touch(contact: i64, at_h: i64, kind: TouchKind, channel: &str, message: &str) -> Touch {
        Touch {
            seq: at_h,
            contact: ContactId(contact),
            at: Timestamp(at_h * H),
            kind,
            channel: channel.into(),
            message_id: Some(message.into()),
            flow_id: None,
            step_id: None,
            campaign_id: None,
        }
    }

    #[test]
    fn last_touch_within_its_channel_window_wins() {
        let w = Windows::default(); // email 5 d, sms 1 d
        let touches = vec![
            touch(1, 0, TouchKind::Open, "email", "m1"),
            touch(1, 10, TouchKind::Click, "email", "m2"),
            touch(1, 20, TouchKind::Sent, "sms", "s1"),
            touch(2, 0, TouchKind::Sent, "sms", "s2"),
            touch(3, 50, TouchKind::Click, "email", "late"),
        ];
        let orders = vec![
            order(1, 5, 100),   // only m1 before it
            order(1, 30, 100),  // sms 10 h ago beats the click 20 h ago
            order(1, 50, 100),  // sms is 30 h old (past 1 d): the click 40 h ago wins
            order(1, 200, 100), // everything older than 5 d
            order(2, 23, 100),  // sms within a day
            order(2, 25, 100),  // sms past a day
            order(3, 49, 100),  // the touch comes after the order
        ];
        let picks: Vec<Option<&str>> = attribute(&orders, &touches, w)
            .into_iter()
            .map(|p| p.map(|i| touches[i].message_id.as_deref().unwrap()))
            .collect();
        assert_eq!(picks, vec![Some("m1"), Some("s1"), Some("m2"), None, Some("s2"), None, None]);
        // Windows come from the settings.
        let short = Windows { email: Duration::from_secs(3_600), sms: Duration::from_secs(3_600) };
        let picks: Vec<Option<usize>> = attribute(&orders, &touches, short);
        assert!(picks.iter().all(Option::is_none), "{picks:?}");
        let kept = attribute_orders(orders, &touches, w);
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[1].touch.message_id.as_deref(), Some("s1"));
    }

    fn event(seq: i64, contact: i64, name: &str, channel: Option<&str>, machine: bool) -> MessageEventRow {
        MessageEventRow {
            seq,
            contact: ContactId(contact),
            at: Timestamp(seq * H),
            name: name.into(),
            message: MessageRef {
                message_id: Some(format!("m{seq}")),
                channel: channel.map(str::to_string),
                machine,
                ..MessageRef::default()
            },
        }
    }

    #[test]
    fn machine_reactions_and_other_contacts_are_no_touches() {
        let rows = vec![
            event(1, 1, "Email Opened", None, false),
            event(2, 1, "Email Opened", None, true),
            event(3, 1, "Email Clicked", Some("sms"), false),
            event(4, 2, "Message Sent", Some("sms"), false),
            event(5, 1, "Unsubscribed", None, false),
        ];
        let all = touches(&rows, None);
        let got: Vec<(i64, TouchKind, &str)> = all.iter().map(|t| (t.seq, t.kind, t.channel.as_str())).collect();
        assert_eq!(got, vec![(1, TouchKind::Open, "email"), (3, TouchKind::Click, "sms"), (4, TouchKind::Sent, "sms")]);
        let only: HashSet<ContactId> = [ContactId(2)].into();
        assert_eq!(touches(&rows, Some(&only)).len(), 1);
    }

    #[test]
    fn order_amounts_and_ids_come_from_the_properties() {
        let props = |v: serde_json::Value| -> JsonMap { serde_json::from_value(v).unwrap() };
        let row = |seq, p| OrderRow { seq, contact: ContactId(1), at: Timestamp(seq), properties: p };
        let rows = vec![
            row(1, props(json!({"order_id": "o-1", "total": 12.5}))),
            row(2, props(json!({"order_id": 42, "revenue": "3"}))),
            row(3, props(json!({"order_id": "", "products": [{"product_id": "p", "price": 2, "quantity": 3}]}))),
            row(4, JsonMap::new()),
            // A EUR order in a USD store, converted at the rate it recorded; a bad rate counts the amount as is.
            row(5, props(json!({"total": 100, "currency": "EUR", "exchange_rate": 1.0825}))),
            row(6, props(json!({"total": 100, "currency": "EUR", "exchange_rate": -2}))),
        ];
        let got: Vec<(Option<String>, i64)> =
            orders(&rows).into_iter().map(|o| (o.order_id, o.amount.cents())).collect();
        assert_eq!(
            got,
            vec![
                (Some("o-1".into()), 1250),
                (Some("42".into()), 300),
                (None, 600),
                (None, 0),
                (None, 10825),
                (None, 10000)
            ]
        );
        assert_eq!(touch_range(&[], Windows::default()), None);
        let os = orders(&rows[..2]);
        let (from, to) = touch_range(&os, Windows::default()).unwrap();
        assert_eq!((from, to), (Timestamp(1).saturating_sub(Windows::default().email), Timestamp(3)));
    }
}
