//! The history's people: each email sent gets the reactions its recipient would have (`kairos_sample::behaviour`),
//! carried out when their time comes through the links a recipient follows; and the campaigns go out on their day.

use std::cmp::Reverse;

use kairos_domain::{SystemEvent, Timestamp};
use kairos_engine::links::Link;
use kairos_sample::behaviour::{self, Reaction};
use serde_json::Value;

use rand::RngExt;

use super::{DAY_US, Due, History, READER_AGENT, Res, at};
use crate::demo_content;

/// Events read per page while looking for new sends.
const EVENTS_PAGE: usize = 64;
/// Gap between a click and the order it leads to when both fall in one step: the order comes after the touch.
const ORDER_AFTER_CLICK_US: i64 = 1_000_000;

impl History {
    /// Creates the `i`-th demo campaign and sends it now.
    pub(super) async fn launch(&mut self, i: usize) -> Res<()> {
        let doc = (demo_content::CAMPAIGNS[i].document)();
        let doc = demo_content::with_segment_ids(doc, |name| self.segments.get(name).cloned());
        let doc = kairos_engine::campaigns::CampaignDocument::parse(doc)
            .map_err(|e| anyhow::anyhow!("demo campaign {i}: {e}"))?;
        let campaign = self.engine.create_campaign(self.ws, doc).await?;
        self.engine.schedule_campaign(self.ws, campaign.public_id).await?;
        Ok(())
    }

    /// Carries out the reactions due by `now`: opens, clicks and unsubscribes through their signed links, and
    /// answers the orders they lead to (events to store), timestamped just after.
    pub(super) async fn react(&mut self, now: i64) -> Res<Vec<Value>> {
        let mut links = tokio::task::JoinSet::new();
        let mut buyers = Vec::new();
        let mut refunds = Vec::new();
        while let Some(Reverse((when, id))) = self.queue.peek().copied() {
            if when > now {
                break;
            }
            self.queue.pop();
            let (message, shopper, reaction) = match self.due.remove(&id) {
                Some(Due::Reaction { message, shopper, reaction }) => (message, shopper, reaction),
                Some(Due::Refund { shopper, order }) => {
                    refunds.push((shopper, order));
                    continue;
                }
                None => continue,
            };
            let link = match reaction {
                Reaction::Open => {
                    self.tally.opens += 1;
                    Link::Open { message }
                }
                Reaction::Click { link } => {
                    self.tally.clicks += 1;
                    Link::Click { message, index: link }
                }
                Reaction::Unsubscribe => Link::Unsubscribe { message, issued: None },
                Reaction::Order => {
                    buyers.push(shopper);
                    continue;
                }
            };
            let engine = self.engine.clone();
            links.spawn(async move { engine.link_followed(link, Some(READER_AGENT.to_string())).await });
        }
        while let Some(done) = links.join_next().await {
            done??;
        }
        if buyers.is_empty() && refunds.is_empty() {
            return Ok(Vec::new());
        }
        let t = self.clock.advance_to(Timestamp::from_micros(now + ORDER_AFTER_CLICK_US)).as_micros();
        let mut orders = Vec::new();
        for (shopper, order) in refunds {
            let id = self.next_id();
            orders.push(behaviour::refund(&self.shoppers[shopper], &order, at(t), id));
        }
        for shopper in buyers {
            let items = match self.carts.remove(&shopper) {
                Some(items) if !items.is_empty() => items,
                _ => {
                    let picked = behaviour::pick_products(&self.shoppers[shopper], &self.catalog, &mut self.rng);
                    behaviour::items(&picked)
                }
            };
            if items.is_empty() {
                continue;
            }
            self.tally.orders_after_click += 1;
            let id = self.next_id();
            let order = behaviour::order(&self.shoppers[shopper], items, at(t), id.clone(), format!("ord-{id}"));
            self.maybe_refund(shopper, &order);
            orders.push(order);
        }
        Ok(orders)
    }

    /// Now and then an order comes back, two to ten days later.
    pub(super) fn maybe_refund(&mut self, shopper: usize, order: &Value) {
        if !self.rng.random_bool(behaviour::REFUND_CHANCE) {
            return;
        }
        let ordered = order["timestamp"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let when = ordered.map_or(0, |t| t.as_microsecond()) + self.rng.random_range(2 * DAY_US..10 * DAY_US);
        self.schedule(when, Due::Refund { shopper, order: order.clone() });
    }

    fn schedule(&mut self, when: i64, due: Due) {
        self.ids += 1;
        self.due.insert(self.ids, due);
        self.queue.push(Reverse((when, self.ids)));
    }

    /// Reads the emails sent since the last look (the newest events, back to the last one seen) and schedules
    /// their recipients' reactions.
    pub(super) async fn read_sends(&mut self) -> Res<()> {
        let ws = self.ws;
        let (mut cursor, mut newest, mut sent) = (None::<String>, self.seen_seq, Vec::new());
        'pages: loop {
            let page = self.engine.read(|r| r.workspace_events(ws, cursor.as_deref(), EVENTS_PAGE))?;
            for e in page.items {
                if e.seq <= self.seen_seq {
                    break 'pages;
                }
                newest = newest.max(e.seq);
                let p = &e.event.properties;
                if e.event.name.as_deref() == Some(SystemEvent::MessageSent.as_str())
                    && p.get("channel").and_then(Value::as_str) == Some("email")
                    && let Some(message) = p.get("message_id").and_then(Value::as_str)
                {
                    sent.push((e.contact_id, message.to_string(), e.event.timestamp));
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        self.seen_seq = newest;
        // Who a contact is comes from its user id, which its row may not have written yet (it waits like a fold,
        // ARCHITECTURE "Contact rows written later"): the rows of those not known yet are written first. Reading
        // them raw lost a recipient's reactions now and then under load.
        let unknown: Vec<kairos_domain::ContactId> =
            sent.iter().map(|s| s.0).filter(|c| !self.who.contains_key(c)).collect();
        self.engine.settle_contacts(ws, unknown).await?;
        // Oldest first, as they were sent: the reactions' randomness follows the history's order.
        for (contact, message, sent_at) in sent.into_iter().rev() {
            self.tally.emails += 1;
            let Some(shopper) = self.shopper_of(contact)? else { continue };
            let links = self.links_of(&message)?;
            let has_cart = self.carts.contains_key(&shopper);
            for (offset, reaction) in behaviour::react(&self.shoppers[shopper], links, has_cart, &mut self.rng) {
                let due = Due::Reaction { message: message.clone(), shopper, reaction };
                self.schedule(sent_at.as_micros() + offset, due);
            }
        }
        Ok(())
    }

    /// The sample shopper a contact is (by their user id), None for people outside the sample (live sign-ups).
    fn shopper_of(&mut self, contact: kairos_domain::ContactId) -> Res<Option<usize>> {
        if let Some(known) = self.who.get(&contact) {
            return Ok(*known);
        }
        let ws = self.ws;
        let c = self.engine.read(|r| r.contact(ws, contact))?;
        let index = c
            .and_then(|c| c.user_id)
            .and_then(|u| u.strip_prefix("cust-").and_then(|n| n.parse::<usize>().ok()))
            .filter(|i| *i < self.shoppers.len());
        self.who.insert(contact, index);
        Ok(index)
    }

    /// How many tracked links a message has (what a click can follow).
    fn links_of(&self, message: &str) -> Res<usize> {
        let m = self.engine.read(|r| r.message(message))?;
        let data: Value = m.map(|m| serde_json::from_str(&m.data).unwrap_or_default()).unwrap_or_default();
        Ok(data["links"].as_array().map_or(0, Vec::len))
    }
}
