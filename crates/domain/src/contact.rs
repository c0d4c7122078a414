//! Contact profiles and the e-commerce fields computed from their events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(doc)]
use crate::cart::CartLog;
use crate::cart::CartOp;
use crate::event::EventKind;
use crate::{ContactId, Email, Event, JsonMap, Money, Phone, Timestamp, WorkspaceId};

/// Most distinct items kept in a cart; further distinct products are ignored (quantities still update).
pub const CART_ITEMS_MAX: usize = 200;
/// Most trait keys kept on one profile.
pub const CONTACT_TRAIT_KEYS_MAX: usize = 500;
/// Most bytes of traits (keys and JSON values) kept on one profile.
pub const CONTACT_TRAITS_BYTES_MAX: usize = 64 * 1024;
/// Longest consent source an identify may name (`consent_source` trait), in bytes.
pub const CONSENT_SOURCE_CHARS_MAX: usize = 40;
/// Largest quantity read from one event.
pub const QUANTITY_MAX: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Subscribed,
    Unsubscribed,
    #[default]
    NeverSubscribed,
}

impl ConsentStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "subscribed" => Some(Self::Subscribed),
            "unsubscribed" => Some(Self::Unsubscribed),
            "never_subscribed" => Some(Self::NeverSubscribed),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::Unsubscribed => "unsubscribed",
            Self::NeverSubscribed => "never_subscribed",
        }
    }
}

/// Consent for one channel: status, when it last changed and where the change came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Consent {
    pub status: ConsentStatus,
    /// The latest change, a repeated status included (an integration confirming `subscribed`).
    pub updated_at: Option<Timestamp>,
    pub source: Option<String>,
    /// When the status last became `subscribed` from another status (repeats do not move it): unsubscribe
    /// links issued before it are stale. Unknown for consents last changed before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConsentSet {
    #[serde(default)]
    pub email: Consent,
    #[serde(default)]
    pub sms: Consent,
    /// Topics (the workspace's lists) the person opted out of in the preference centre: a flow or campaign
    /// about one of them skips the person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics_out: Vec<String>,
    /// How often the person wants marketing email (None: not chosen, as `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<crate::vocab::EmailFrequency>,
}

impl ConsentSet {
    /// Each consent channel's status (email, SMS), to compare before and after a change.
    pub fn statuses(&self) -> [ConsentStatus; 2] {
        [self.email.status, self.sms.status]
    }

    /// The consent of a channel that takes consent (email, SMS).
    pub fn of(&self, channel: crate::Channel) -> Option<&Consent> {
        match channel {
            crate::Channel::Email => Some(&self.email),
            crate::Channel::Sms => Some(&self.sms),
            crate::Channel::Webhook | crate::Channel::Chat => None,
        }
    }

    pub fn channel_mut(&mut self, channel: &str) -> Option<&mut Consent> {
        match channel {
            "email" => Some(&mut self.email),
            "sms" => Some(&mut self.sms),
            _ => None,
        }
    }

    /// For each channel the most recent change wins (used when two contacts merge).
    fn absorb(&mut self, other: ConsentSet) {
        for (mine, theirs) in [(&mut self.email, other.email), (&mut self.sms, other.sms)] {
            if theirs.updated_at > mine.updated_at {
                *mine = theirs;
            }
        }
        // An opt-out of either profile stands; a frequency chosen on either applies.
        for t in other.topics_out {
            if !self.topics_out.contains(&t) {
                self.topics_out.push(t);
            }
        }
        self.frequency = self.frequency.or(other.frequency);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Orders {
    pub count: u64,
    pub total_spent: Money,
    pub first_at: Option<Timestamp>,
    pub last_at: Option<Timestamp>,
    pub refunded_total: Money,
}

impl Orders {
    /// Average order value, rounded to the cent; zero without orders.
    pub fn average_value(&self) -> Money {
        if self.count == 0 {
            return Money::ZERO;
        }
        let n = self.count as i64;
        let t = self.total_spent.cents();
        // Round half away from zero, in integers, so the figure is exact and order-independent.
        Money::from_cents((2 * t + n * t.signum()) / (2 * n))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartItem {
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub price: Money,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// The variant chosen (`"Brass / Large"`), Segment's `variant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Cart {
    pub items: Vec<CartItem>,
    pub updated_at: Option<Timestamp>,
    /// The platform's link that restores this cart (`checkout_url` of the latest checkout or cart event that had
    /// one, such as Shopify's `abandoned_checkout_url`); cleared by an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// The currency its prices are in (ISO 4217, from the latest cart event that named one); cleared by an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// An ISO 4217 code named by an event (`currency`), upper-cased.
pub(crate) fn currency_of(p: &JsonMap) -> Option<String> {
    str_prop(p, "currency")
        .filter(|c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        .map(|c| c.to_ascii_uppercase())
}

impl Cart {
    pub fn value(&self) -> Money {
        self.items.iter().fold(Money::ZERO, |acc, i| acc.saturating_add(i.price.saturating_mul(i.quantity)))
    }
}

/// The fields events alone determine (SPEC 4). Apply events in (timestamp, sequence) order; the result of
/// applying them one by one equals folding all of a contact's stored events in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Computed {
    #[serde(default)]
    pub orders: Orders,
    #[serde(default)]
    pub cart: Cart,
    #[serde(default)]
    pub last_seen_at: Option<Timestamp>,
}

impl Computed {
    /// True when applying `ev` now would break timestamp order (a late cart event that can change the cart):
    /// the caller must then recompute from all stored events instead of applying incrementally.
    pub fn is_late(&self, ev: &Event) -> bool {
        affects_cart(ev)
            && self.cart.updated_at.is_some_and(|u| ev.timestamp < u)
            && !self.cart_settled_at(ev.timestamp)
    }

    /// Whether the cart no longer depends on events at `ts`: a later order emptied it. In (timestamp, sequence)
    /// order the cart is what the cart events after the last `Order Completed` made it, and `orders.last_at` is
    /// that order's time; an event earlier than it (strictly: at the same instant an arriving event sorts after
    /// everything stored) changes the orders' totals, never the cart. This spares most late cart events the
    /// replay of the contact's history (issue 17: the anchor workload's late cart events).
    fn cart_settled_at(&self, ts: Timestamp) -> bool {
        self.orders.last_at.is_some_and(|o| ts < o)
    }

    /// A late event's part that does not depend on order (orders' totals, last seen); the caller then rebuilds
    /// the cart with [`Computed::rebuild_cart`] from the cart events since [`Computed::cart_since`].
    pub fn apply_except_cart(&mut self, ev: &Event) {
        self.fold(ev, true, None);
    }

    /// Where the cart's own history starts: its last order (None: the first event). The cart is the fold of
    /// the cart events (`CART_EVENTS`) at or after this instant, in (timestamp, sequence) order.
    pub fn cart_since(&self) -> Option<Timestamp> {
        self.orders.last_at
    }

    /// The cart again from its events since [`Computed::cart_since`], sorted by (timestamp, sequence).
    pub fn rebuild_cart<'a>(&mut self, cart_events: impl IntoIterator<Item = &'a Event>) {
        self.cart = Computed::recompute(cart_events).cart;
    }

    /// Applies an arriving event (in place, also when it is late but cannot change the cart: see `is_late`).
    pub fn apply(&mut self, ev: &Event) {
        self.apply_op(ev, None);
    }

    /// [`Computed::apply`] with the event's [`CartOp`] already made (`CartOp::of(ev)`), so a caller that keeps
    /// it ([`CartLog`]) does not make it twice.
    pub fn apply_op(&mut self, ev: &Event, op: Option<&CartOp>) {
        // Decided before this event's own order moves `orders.last_at`.
        let settled = affects_cart(ev) && self.cart_settled_at(ev.timestamp);
        self.fold(ev, settled, op);
    }

    /// One step of the fold in (timestamp, sequence) order; `settled`: the event cannot change the cart.
    /// `op`: the event's [`CartOp`] when the caller already has it (else made here when needed).
    fn fold(&mut self, ev: &Event, settled: bool, op: Option<&CartOp>) {
        if ev.is_system() {
            return; // Kairos's own events (Segment Entered, Message Sent, ...) are not the person's activity.
        }
        if matches!(ev.kind, EventKind::Track | EventKind::Page | EventKind::Screen | EventKind::Identify) {
            self.last_seen_at = self.last_seen_at.max(Some(ev.timestamp));
        }
        if ev.kind != EventKind::Track {
            return;
        }
        let ts = ev.timestamp;
        let p = &ev.properties;
        if settled && ev.name.as_deref() != Some("Order Completed") {
            return;
        }
        match ev.name.as_deref().unwrap_or("") {
            "Order Completed" => {
                let o = &mut self.orders;
                o.count += 1;
                o.total_spent = o.total_spent.saturating_add(order_amount_in_store(p));
                o.first_at = Some(o.first_at.map_or(ts, |f| f.min(ts)));
                o.last_at = o.last_at.max(Some(ts));
                if settled {
                    return;
                }
            }
            "Order Refunded" | "Order Cancelled" => {
                self.orders.refunded_total = self.orders.refunded_total.saturating_add(order_amount_in_store(p));
                return;
            }
            _ => {}
        }
        match op {
            Some(op) => self.cart.apply(op, ts),
            None => {
                if let Some(op) = CartOp::of(ev) {
                    self.cart.apply(&op, ts);
                }
            }
        }
    }

    /// Folds events already sorted by (timestamp, sequence).
    pub fn recompute<'a>(events: impl IntoIterator<Item = &'a Event>) -> Computed {
        let mut c = Computed::default();
        for e in events {
            c.fold(e, false, None);
        }
        c
    }
}

/// The track events whose effect on the cart depends on their order.
pub const CART_EVENTS: [&str; 5] =
    ["Order Completed", "Product Added", "Product Removed", "Checkout Started", "Cart Viewed"];

/// Events whose effect on the cart depends on their order.
pub fn affects_cart(ev: &Event) -> bool {
    ev.kind == EventKind::Track && ev.name.as_deref().is_some_and(|n| CART_EVENTS.contains(&n))
}

/// The amount of an order event: Segment's `total`, else `revenue`, else `value`, else the sum of its products.
pub fn order_amount(p: &JsonMap) -> Money {
    for key in ["total", "revenue", "value"] {
        if let Some(m) = p.get(key).and_then(Money::from_json) {
            return m;
        }
    }
    match p.get("products") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_object().and_then(cart_item))
            .fold(Money::ZERO, |acc, i| acc.saturating_add(i.price.saturating_mul(i.quantity))),
        _ => Money::ZERO,
    }
}

/// Largest exchange rate an order may record (store units per unit of the order's currency).
pub const EXCHANGE_RATE_MAX: f64 = 1e6;

/// [`order_amount`] in the store's currency: an order in another currency records the rate it was taken at
/// (`exchange_rate`: store units per unit of its `currency`, as the platform converted it), and is counted at
/// that rate. Without a valid rate the amount is taken as given (an order in the store's currency needs none).
pub fn order_amount_in_store(p: &JsonMap) -> Money {
    let amount = order_amount(p);
    let rate = p.get("exchange_rate").and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    });
    match rate {
        Some(r) if r.is_finite() && r > 0.0 && r <= EXCHANGE_RATE_MAX => {
            let cents = (amount.cents() as f64 * r).round();
            if cents.abs() < i64::MAX as f64 { Money::from_cents(cents as i64) } else { amount }
        }
        _ => amount,
    }
}

/// The product id of e-commerce properties: `product_id`, else `sku`, else `id`.
pub fn product_id(p: &JsonMap) -> Option<String> {
    ["product_id", "sku", "id"].iter().find_map(|k| match p.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

pub(crate) fn quantity(p: &JsonMap) -> Option<i64> {
    let q = match p.get("quantity")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !q.is_finite() || q < 1.0 {
        return None;
    }
    Some((q.round() as i64).min(QUANTITY_MAX))
}

pub(crate) fn str_prop(p: &JsonMap, key: &str) -> Option<String> {
    p.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn cart_item(p: &JsonMap) -> Option<CartItem> {
    Some(CartItem {
        product_id: product_id(p)?,
        sku: str_prop(p, "sku"),
        name: str_prop(p, "name"),
        price: p.get("price").and_then(Money::from_json).unwrap_or(Money::ZERO),
        quantity: quantity(p).unwrap_or(1),
        category: str_prop(p, "category"),
        url: str_prop(p, "url"),
        image_url: str_prop(p, "image_url"),
        variant: str_prop(p, "variant"),
    })
}

/// Longest cart recovery link kept, in bytes.
const CHECKOUT_URL_BYTES_MAX: usize = 2_000;

/// Whether `u` can be a cart's recovery link: an http(s) address of bounded length without spaces.
pub(crate) fn recovery_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && u.len() <= CHECKOUT_URL_BYTES_MAX
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A customer profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub workspace: WorkspaceId,
    pub user_id: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub anonymous_ids: Vec<String>,
    pub traits: JsonMap,
    /// Time of the latest identify whose traits were applied: an older one arriving later (a platform's
    /// webhooks out of order) only fills traits the profile lacks, never overwrites newer values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits_at: Option<Timestamp>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub consent: ConsentSet,
    pub computed: Computed,
    /// Lead scoring and lifecycle stage (`crate::lead`).
    #[serde(default, skip_serializing_if = "crate::Lead::is_empty")]
    pub lead: crate::Lead,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the person's data was erased (`Contact::erase`): the profile is an anonymous shell kept for the
    /// store's figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<Timestamp>,
}

impl Event {
    /// The consent an identify call states, per channel: (channel, status, when it was given: the
    /// `{channel}_consent_at` trait when the sender knows it and it is not after the call, else the call's time).
    /// Only trusted senders' claims are applied.
    pub fn consent_claims(&self) -> Vec<(&'static str, ConsentStatus, Timestamp)> {
        if self.kind != EventKind::Identify {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (key, channel) in [("email_consent", "email"), ("sms_consent", "sms")] {
            if let Some(status) = self.traits.get(key).and_then(Value::as_str).and_then(ConsentStatus::parse) {
                let at = self
                    .traits
                    .get(&format!("{key}_at"))
                    .and_then(Value::as_str)
                    .and_then(Timestamp::parse)
                    .filter(|at| *at <= self.timestamp)
                    .unwrap_or(self.timestamp);
                out.push((channel, status, at));
            }
        }
        out
    }
}

impl Contact {
    pub fn new(id: ContactId, workspace: WorkspaceId, now: Timestamp) -> Self {
        Contact {
            id,
            workspace,
            user_id: None,
            email: None,
            phone: None,
            anonymous_ids: Vec::new(),
            traits: JsonMap::new(),
            traits_at: None,
            timezone: None,
            locale: None,
            consent: ConsentSet::default(),
            computed: Computed::default(),
            lead: crate::Lead::default(),
            created_at: now,
            updated_at: now,
            erased_at: None,
        }
    }

    /// Merges identify traits into the profile, within [`CONTACT_TRAIT_KEYS_MAX`] keys and
    /// [`CONTACT_TRAITS_BYTES_MAX`] bytes: every identify may add keys, so without a bound a public write key could
    /// grow one profile (held in memory and rewritten on each change) without end. A trait that does not fit is
    /// not kept on the profile; the event that carried it stays in the timeline.
    fn merge_traits(&mut self, incoming: &JsonMap, overwrite: bool) {
        // As serialized: `"key":value,` (keys have no characters to escape in practice; close enough for a bound).
        let size = |k: &str, v: &Value| k.len() + 4 + serde_json::to_string(v).map_or(0, |s| s.len());
        let mut bytes: usize = self.traits.iter().map(|(k, v)| size(k, v)).sum();
        for (k, v) in incoming {
            let old = self.traits.get(k).map_or(0, |o| size(k, o));
            let new = size(k, v);
            let keys_ok = old > 0 || self.traits.len() < CONTACT_TRAIT_KEYS_MAX;
            if (overwrite || old == 0) && keys_ok && bytes - old + new <= CONTACT_TRAITS_BYTES_MAX {
                bytes = bytes - old + new;
                self.traits.insert(k.clone(), v.clone());
            }
        }
    }

    /// Applies what an event says about the person: traits (identify), time zone and locale, and consent
    /// traits when `trusted` (sent with a secret key or a verified platform webhook; a public write key cannot
    /// change consent). An identify older than the latest applied only fills traits the profile lacks.
    pub fn apply_profile(&mut self, ev: &Event, trusted: bool) {
        if ev.kind == EventKind::Identify {
            let newest = self.traits_at.is_none_or(|at| ev.timestamp >= at);
            self.merge_traits(&ev.traits, newest);
            if newest {
                self.traits_at = Some(ev.timestamp);
            }
        }
        let traits = ev.identify_traits();
        // The first valid zone wins: traits (set by the person) before context (the browser's zone).
        let candidates = [traits.get("timezone"), traits.get("time_zone"), ev.context.get("timezone")];
        if let Some(tz) = candidates
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|tz| self.timezone.as_deref() == Some(*tz) || is_time_zone(tz))
            && self.timezone.as_deref() != Some(tz)
        {
            self.timezone = Some(tz.to_string());
        }
        if let Some(locale) = traits.get("locale").or_else(|| ev.context.get("locale")).and_then(Value::as_str)
            && self.locale.as_deref() != Some(locale)
            && !locale.is_empty()
            && locale.len() <= 35
        {
            self.locale = Some(locale.to_string());
        }
        if trusted && ev.kind == EventKind::Identify {
            // Where the consent came from (`shopify`, a form...) and when it was given, when the sender knows.
            let source = ev
                .traits
                .get("consent_source")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= CONSENT_SOURCE_CHARS_MAX && s.is_ascii())
                .unwrap_or("identify");
            for (channel, status, at) in ev.consent_claims() {
                self.set_consent(channel, status, at, source);
            }
        }
    }

    /// Records a consent change unless a later change is already recorded. Returns whether it took effect.
    pub fn set_consent(&mut self, channel: &str, status: ConsentStatus, at: Timestamp, source: &str) -> bool {
        let Some(c) = self.consent.channel_mut(channel) else { return false };
        if c.updated_at.is_some_and(|u| u > at) {
            return false;
        }
        let subscribed_at = match status {
            ConsentStatus::Subscribed if c.status == ConsentStatus::Subscribed => c.subscribed_at,
            ConsentStatus::Subscribed => Some(at),
            _ => None,
        };
        *c = Consent { status, updated_at: Some(at), source: Some(source.to_string()), subscribed_at };
        true
    }

    /// Takes in a contact merged into this one. This contact's own values win; the computed fields must be
    /// recomputed by the caller from the union of both event histories.
    pub fn absorb(&mut self, other: Contact) {
        if self.user_id.is_none() {
            self.user_id = other.user_id;
        }
        if self.email.is_none() {
            self.email = other.email;
        }
        if self.phone.is_none() {
            self.phone = other.phone;
        }
        for a in other.anonymous_ids {
            if !self.anonymous_ids.contains(&a) {
                self.anonymous_ids.push(a);
            }
        }
        for (k, v) in other.traits {
            self.traits.entry(k).or_insert(v);
        }
        self.traits_at = self.traits_at.max(other.traits_at);
        if self.timezone.is_none() {
            self.timezone = other.timezone;
        }
        if self.locale.is_none() {
            self.locale = other.locale;
        }
        self.consent.absorb(other.consent);
        self.created_at = self.created_at.min(other.created_at);
    }
}

/// Whether `name` is an IANA time zone known to the bundled database.
pub fn is_time_zone(name: &str) -> bool {
    name.len() <= 64 && jiff::tz::db().get(name).is_ok()
}

#[cfg(test)]
#[path = "contact_order_tests.rs"]
mod order_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageId;
    use serde_json::json;

    pub(super) fn track(name: &str, props: Value, ts: i64) -> Event {
        Event {
            message_id: MessageId::generated(format!("{name}{ts}")),
            kind: EventKind::Track,
            name: Some(name.into()),
            user_id: Some("u".into()),
            anonymous_id: None,
            previous_id: None,
            group_id: None,
            category: None,
            properties: props.as_object().cloned().unwrap_or_default(),
            traits: JsonMap::new(),
            context: JsonMap::new(),
            timestamp: Timestamp::from_secs(ts),
            received_at: Timestamp::from_secs(ts),
            system: false,
        }
    }

    fn identify(traits: Value, ts: i64) -> Event {
        let mut e = track("", json!({}), ts);
        (e.kind, e.name, e.traits) = (EventKind::Identify, None, traits.as_object().cloned().unwrap_or_default());
        e
    }

    #[test]
    fn an_older_identify_only_fills_missing_traits() {
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
        c.apply_profile(&identify(json!({"first_name": "Ann", "city": "Lyon"}), 20), false);
        c.apply_profile(&identify(json!({"first_name": "Anne", "plan": "gold"}), 10), false);
        assert_eq!(c.traits.get("first_name"), Some(&json!("Ann")), "an older identify never overwrites");
        assert_eq!(c.traits.get("plan"), Some(&json!("gold")), "but fills what is missing");
        c.apply_profile(&identify(json!({"first_name": "Annie"}), 30), false);
        assert_eq!(c.traits.get("first_name"), Some(&json!("Annie")));
        assert_eq!(c.traits_at, Some(Timestamp::from_secs(30)));
    }

    #[test]
    fn consent_from_identify_keeps_its_source_and_time() {
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
        let given = "1970-01-01T00:00:40Z";
        let t = json!({"email_consent": "subscribed", "email_consent_at": given, "consent_source": "shopify"});
        c.apply_profile(&identify(t.clone(), 50), false);
        assert_eq!(c.consent.email.status, ConsentStatus::NeverSubscribed, "untrusted senders cannot set consent");
        c.apply_profile(&identify(t, 50), true);
        assert_eq!(c.consent.email.updated_at, Some(Timestamp::from_secs(40)));
        assert_eq!(c.consent.email.source.as_deref(), Some("shopify"));
        // A time after the identify's own, or a source too long, is not believed.
        let t = json!({"sms_consent": "subscribed", "sms_consent_at": "2100-01-01T00:00:00Z", "consent_source": "x".repeat(41)});
        c.apply_profile(&identify(t, 60), true);
        assert_eq!(
            (c.consent.sms.updated_at, c.consent.sms.source.as_deref()),
            (Some(Timestamp::from_secs(60)), Some("identify"))
        );
    }

    #[test]
    fn traits_stay_within_their_bounds() {
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp::from_secs(0));
        let identify = |traits: Value| Event {
            kind: EventKind::Identify,
            traits: traits.as_object().cloned().unwrap(),
            ..track("x", json!({}), 0)
        };
        for i in 0..CONTACT_TRAIT_KEYS_MAX + 50 {
            c.apply_profile(&identify(json!({ format!("k{i}"): i })), false);
        }
        assert_eq!(c.traits.len(), CONTACT_TRAIT_KEYS_MAX);
        c.apply_profile(&identify(json!({"k0": "changed"})), false);
        assert_eq!(c.traits["k0"], "changed", "known keys still change");
        let big = "x".repeat(30 * 1024);
        for i in 0..5 {
            c.apply_profile(&identify(json!({ format!("k{i}"): big })), false);
        }
        let bytes = serde_json::to_string(&c.traits).unwrap().len();
        assert!(bytes <= CONTACT_TRAITS_BYTES_MAX, "{bytes}");
        assert_eq!(c.traits["k0"], big);
        assert_eq!(c.traits["k4"], 4, "a value that does not fit leaves the old one");
    }

    #[test]
    fn cart_and_orders() {
        let mut c = Computed::default();
        c.apply(&track("Product Added", json!({"product_id":"p1","price":10.5,"quantity":2}), 1));
        c.apply(&track("Product Added", json!({"product_id":"p2","price":"4"}), 2));
        c.apply(&track("Product Added", json!({"product_id":"p1","price":10.5}), 3));
        assert_eq!(c.cart.value(), Money(3550));
        c.apply(&track("Product Removed", json!({"product_id":"p1","quantity":1}), 4));
        assert_eq!(c.cart.value(), Money(2500));
        c.apply(&track("Product Removed", json!({"product_id":"p2"}), 5));
        assert_eq!(c.cart.items.len(), 1);
        c.apply(&track("Order Completed", json!({"order_id":"o1","total":21}), 6));
        c.apply(&track("Order Completed", json!({"products":[{"product_id":"x","price":5,"quantity":3}]}), 7));
        c.apply(&track("Order Refunded", json!({"total":5}), 8));
        assert!(c.cart.items.is_empty());
        assert_eq!(c.cart.updated_at, Some(Timestamp::from_secs(7)));
        assert_eq!(c.orders.count, 2);
        assert_eq!(c.orders.total_spent, Money(3600));
        assert_eq!(c.orders.average_value(), Money(1800));
        assert_eq!(c.orders.refunded_total, Money(500));
        assert_eq!(c.orders.first_at, Some(Timestamp::from_secs(6)));
        assert_eq!(c.last_seen_at, Some(Timestamp::from_secs(8)));
        assert!(!c.is_late(&track("Order Refunded", json!({}), 1)));
        // Before the last order: the cart does not depend on it (applied in place, the cart unchanged).
        let before_order = track("Product Added", json!({"product_id":"p"}), 6);
        assert!(!c.is_late(&before_order));
        c.apply(&before_order);
        assert!(c.cart.items.is_empty());
        c.apply(&track("Product Added", json!({"product_id":"p"}), 9));
        assert!(c.is_late(&track("Product Removed", json!({"product_id":"p"}), 8)), "after the last order: a replay");
    }

    #[test]
    fn average_rounds_half_away_from_zero() {
        let o = Orders { count: 3, total_spent: Money(100), ..Default::default() };
        assert_eq!(o.average_value(), Money(33));
        let o = Orders { count: 2, total_spent: Money(101), ..Default::default() };
        assert_eq!(o.average_value(), Money(51));
    }

    #[test]
    fn consent_keeps_latest() {
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
        assert!(c.set_consent("email", ConsentStatus::Subscribed, Timestamp(10), "api"));
        assert!(!c.set_consent("email", ConsentStatus::Unsubscribed, Timestamp(5), "api"));
        assert_eq!(c.consent.email.status, ConsentStatus::Subscribed);
        assert!(!c.set_consent("push", ConsentStatus::Subscribed, Timestamp(10), "api"));
        assert!(is_time_zone("Europe/Helsinki"));
        assert!(!is_time_zone("Mars/Olympus"));
    }

    #[test]
    fn subscribed_at_moves_only_when_subscribing_again() {
        let mut c = Contact::new(ContactId(1), WorkspaceId(1), Timestamp(0));
        c.set_consent("email", ConsentStatus::Subscribed, Timestamp(10), "api");
        c.set_consent("email", ConsentStatus::Subscribed, Timestamp(20), "identify");
        assert_eq!(
            (c.consent.email.subscribed_at, c.consent.email.updated_at),
            (Some(Timestamp(10)), Some(Timestamp(20)))
        );
        c.set_consent("email", ConsentStatus::Unsubscribed, Timestamp(30), "link");
        assert_eq!(c.consent.email.subscribed_at, None);
        c.set_consent("email", ConsentStatus::Subscribed, Timestamp(40), "api");
        assert_eq!(c.consent.email.subscribed_at, Some(Timestamp(40)));
    }
}
