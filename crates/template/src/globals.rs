//! The variables a template sees (SPEC 9), converted from JSON once per contact.

use std::sync::Arc;

use jiff::tz::TimeZone;
use liquid_core::model::KString;

use crate::context::{Currency, RenderSettings};
use crate::data::Node;

/// Variables a render usually has (SPEC 9's list), to size the builder once.
const VARS_EXPECTED: usize = 12;

/// JSON converted for rendering, cheap to clone and share: convert data that is the same for many contacts (the
/// `store`, `recommendations` of a campaign) once and hand the same `Data` to every [`GlobalsBuilder`].
#[derive(Debug, Clone)]
pub struct Data(pub(crate) Arc<Node>);

impl Data {
    /// Converts a JSON value (strings also get their HTML-escaped form, once).
    pub fn from_json(v: &serde_json::Value) -> Self {
        Self(Arc::new(Node::from_json(v)))
    }
}

impl From<&serde_json::Value> for Data {
    fn from(v: &serde_json::Value) -> Self {
        Self::from_json(v)
    }
}

impl From<serde_json::Value> for Data {
    fn from(v: serde_json::Value) -> Self {
        Self::from_json(&v)
    }
}

/// Everything one render needs: the variables, the contact's time zone, the instant "now" means, and the store
/// currency. Build it once per contact with [`Globals::builder`] and render any number of templates with it.
#[derive(Debug, Clone)]
pub struct Globals {
    /// Variable name → value, sorted by name.
    vars: Vec<(KString, Data)>,
    pub(crate) settings: RenderSettings,
}

impl Globals {
    /// Starts the variables of one render. `now` is the instant `{{ "now" | date: ... }}` shows; the crate never
    /// reads the clock itself.
    pub fn builder(now: jiff::Timestamp) -> GlobalsBuilder {
        GlobalsBuilder {
            vars: Vec::with_capacity(VARS_EXPECTED),
            settings: RenderSettings { tz: TimeZone::UTC, now, currency: None, numbers: None },
            currency_set: false,
        }
    }

    pub(crate) fn var(&self, name: &str) -> Option<&Node> {
        self.vars.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok().map(|i| &*self.vars[i].1.0)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(k, _)| k.as_str())
    }

    /// The contact's time zone used by the `date` filter.
    pub fn time_zone(&self) -> &TimeZone {
        &self.settings.tz
    }
}

/// Builds [`Globals`]. Each setter converts its JSON immediately; setting a name twice keeps the last value.
#[derive(Debug)]
pub struct GlobalsBuilder {
    vars: Vec<(KString, Data)>,
    settings: RenderSettings,
    currency_set: bool,
}

impl GlobalsBuilder {
    /// Sets any variable (the named setters below cover SPEC 9's list).
    pub fn var(mut self, name: &str, value: impl Into<Data>) -> Self {
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| k.as_str() == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((KString::from_ref(name), value)),
        }
        self
    }

    /// `contact`: traits and computed fields.
    pub fn contact(self, v: impl Into<Data>) -> Self {
        self.var("contact", v)
    }

    /// `event`: the trigger event's properties (cart items, order).
    pub fn event(self, v: impl Into<Data>) -> Self {
        self.var("event", v)
    }

    /// `cart`: `{value, items, ...}`; see [`crate::cart_json`].
    pub fn cart(self, v: impl Into<Data>) -> Self {
        self.var("cart", v)
    }

    /// `products`: catalog lookups (an array).
    pub fn products(self, v: impl Into<Data>) -> Self {
        self.var("products", v)
    }

    /// `recommendations`: `{also_bought: [...], also_viewed: [...], based_on_history, trending, recently_viewed}`.
    pub fn recommendations(self, v: impl Into<Data>) -> Self {
        self.var("recommendations", v)
    }

    /// `coupon`: an object, or null when none was issued.
    pub fn coupon(self, v: impl Into<Data>) -> Self {
        self.var("coupon", v)
    }

    /// `store`: `{name, currency, url, free_shipping_threshold}`. Its `currency` becomes the default of `money`
    /// unless [`GlobalsBuilder::currency`] set one.
    pub fn store(mut self, v: &serde_json::Value) -> Self {
        if !self.currency_set {
            self.settings.currency = v.get("currency").and_then(|c| c.as_str()).and_then(Currency::parse);
        }
        self.var("store", v)
    }

    /// `store` from already converted data (shared between contacts), with its currency given separately.
    pub fn store_data(mut self, v: Data, currency: Option<&str>) -> Self {
        if !self.currency_set {
            self.settings.currency = currency.and_then(Currency::parse);
        }
        self.var("store", v)
    }

    /// The store's currency as the default of `money` without the `store` variable (a template that never reads
    /// `store` still formats money in it); [`GlobalsBuilder::currency`] still wins.
    pub fn store_currency(mut self, code: &str) -> Self {
        if !self.currency_set {
            self.settings.currency = Currency::parse(code);
        }
        self
    }

    /// Overrides the default currency of `money` (an ISO 4217 code; anything else means none).
    pub fn currency(mut self, code: &str) -> Self {
        self.settings.currency = Currency::parse(code);
        self.currency_set = true;
        self
    }

    /// `unsubscribe_url`.
    pub fn unsubscribe_url(self, url: &str) -> Self {
        self.text("unsubscribe_url", url)
    }

    /// `preferences_url`.
    pub fn preferences_url(self, url: &str) -> Self {
        self.text("preferences_url", url)
    }

    /// A string variable, converted straight from the `&str` (the links differ per contact, so they are
    /// converted per render: no JSON value on the way).
    fn text(self, name: &str, s: &str) -> Self {
        self.var(name, Data(Arc::new(Node::text(s))))
    }

    /// The contact's IANA time zone (`"Europe/Paris"`) for `date`. An unknown or missing name means UTC: contact
    /// data is messy and a wrong zone must not stop a send.
    pub fn timezone(mut self, name: Option<&str>) -> Self {
        self.settings.tz = name.and_then(|n| TimeZone::get(n.trim()).ok()).unwrap_or(TimeZone::UTC);
        self
    }

    /// The contact's locale (`de-DE`, `fr`): how `money` writes amounts (`1.234,50 €`). Unknown or missing: the
    /// English way (`€1,234.50`).
    pub fn locale(mut self, locale: Option<&str>) -> Self {
        self.settings.numbers = locale.and_then(crate::context::NumberStyle::of_locale);
        self
    }

    /// The contact's time zone, already resolved.
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.settings.tz = tz;
        self
    }

    pub fn build(mut self) -> Globals {
        self.vars.sort_by(|a, b| a.0.cmp(&b.0));
        Globals { vars: self.vars, settings: self.settings }
    }
}
