//! Rendering a template for a contact: the workspace's renderer (partials and layouts), compiled templates, the
//! variables of one message (contact, trigger event and cart without items now out of stock, store, signed links,
//! coupon, recommendations) and click tracking of html parts.
//!
//! The committer renders sends inside its transaction; previews render on a read view of committed data, off
//! the committer (issue 11). Both go through [`Render`], over [`RenderReads`]: the few reads rendering needs,
//! answered by either side.

use std::collections::HashMap;
use std::sync::Arc;

use kairos_domain::{Contact, ContactId, Event, JsonMap, Product, SkipReason, Timestamp, WorkspaceId};
use kairos_store::Reads;
use kairos_template::{Globals, Renderer, Template, TemplateParts};
use serde_json::{Value, json};

use crate::EngineError;
use crate::links::{Link, LinkKey};
use crate::rec_cache::RecCache;
use crate::settings::Settings;
use crate::tracking::track_html;

/// Events of a contact read per page when a read view gathers its history (recommendations).
const HISTORY_PAGE_EVENTS: usize = 1_000;

/// What rendering reads from the store.
pub(crate) trait RenderReads {
    /// (version, JSON) of a template's current version.
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<(i64, String)>>;
    /// (id, JSON) of the workspace's templates of `channel` (partials, layouts), by id.
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> kairos_store::Result<Vec<(String, String)>>;
    fn product(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<Product>>;
    /// At most `limit` catalog products with ids after `after`, by id (a collection's scan).
    fn products_after(
        &mut self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: usize,
    ) -> kairos_store::Result<Vec<Product>>;
    /// A contact's readable events, oldest first by (timestamp, sequence).
    fn contact_history(&mut self, contact: ContactId) -> kairos_store::Result<Vec<Event>>;
    /// Events of a workspace timestamped at or after `since`, in no particular order: (contact, JSON).
    fn events_since(
        &mut self,
        ws: WorkspaceId,
        since: Timestamp,
        f: &mut dyn FnMut(ContactId, &str),
    ) -> kairos_store::Result<()>;
}

/// The committer's writer: reads see its open transaction.
impl RenderReads for crate::stores::Stores {
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<(i64, String)>> {
        self.template_tx().template_data(ws, id)
    }
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> kairos_store::Result<Vec<(String, String)>> {
        self.template_tx().templates_of_channel(ws, channel)
    }
    fn product(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<Product>> {
        crate::stores::Stores::product(self, ws, id)
    }
    fn products_after(
        &mut self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: usize,
    ) -> kairos_store::Result<Vec<Product>> {
        crate::stores::Stores::products_after(self, ws, after, limit)
    }
    fn contact_history(&mut self, contact: ContactId) -> kairos_store::Result<Vec<Event>> {
        self.event_tx().contact_events_ordered(contact)
    }
    fn events_since(
        &mut self,
        ws: WorkspaceId,
        since: Timestamp,
        f: &mut dyn FnMut(ContactId, &str),
    ) -> kairos_store::Result<()> {
        self.event_tx().events_since(ws, since, f)
    }
}

/// A read view of committed data (previews).
pub(crate) struct ViewReads<'a>(pub(crate) &'a dyn Reads);

impl RenderReads for ViewReads<'_> {
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<(i64, String)>> {
        self.0.template_data(ws, id)
    }
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> kairos_store::Result<Vec<(String, String)>> {
        self.0.templates_of_channel(ws, channel)
    }
    fn product(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<Product>> {
        self.0.product(ws, id)
    }
    fn products_after(
        &mut self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: usize,
    ) -> kairos_store::Result<Vec<Product>> {
        Ok(self.0.products(ws, after, limit)?.items)
    }
    fn contact_history(&mut self, contact: ContactId) -> kairos_store::Result<Vec<Event>> {
        let mut newest_first = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.0.contact_events(contact, cursor.as_deref(), HISTORY_PAGE_EVENTS)?;
            newest_first.extend(page.items.into_iter().map(|e| e.event));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }
    fn events_since(
        &mut self,
        ws: WorkspaceId,
        since: Timestamp,
        f: &mut dyn FnMut(ContactId, &str),
    ) -> kairos_store::Result<()> {
        self.0.events_since(ws, since, f)
    }
}

/// Compiled templates and per-workspace renderers (partials and layouts), rebuilt when one of them changes.
#[derive(Default)]
pub(crate) struct TemplateCache {
    pub(crate) renderers: HashMap<WorkspaceId, Arc<Renderer>>,
    pub(crate) compiled: HashMap<(WorkspaceId, String), Compiled>,
}

/// A compiled template version and which costly variables it reads.
#[derive(Clone)]
pub(crate) struct Compiled {
    pub(crate) version: i64,
    template: Arc<Template>,
    uses_recommendations: bool,
    uses_products: bool,
    /// Reads `cart`: a message about the cart, not about the one product its trigger event names.
    uses_cart: bool,
    /// Which of the per-message variables it can read at all.
    reads: ReadsVars,
    /// The subject variant everyone gets once a winner was picked (`winner` of the stored template).
    winner: Option<usize>,
    /// The catalog categories it reads as `collections["name"]`.
    collections: Vec<String>,
}

/// The per-message variables a template can read. Liquid looks a variable up by an identifier written in the
/// source (no expression names a root variable), so a name that appears in none of the sources a template
/// compiles with (its own JSON, every partial and layout of the workspace) is never read, and building it (the
/// contact's JSON, the cart with its catalog prices, two signed links) would be work thrown away. Matching the
/// name anywhere, strings and comments included, can only say "reads" too often, never too rarely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadsVars {
    pub(crate) contact: bool,
    pub(crate) event: bool,
    pub(crate) cart: bool,
    pub(crate) store: bool,
    pub(crate) coupon: bool,
    pub(crate) unsubscribe_url: bool,
    pub(crate) preferences_url: bool,
}

impl ReadsVars {
    pub(crate) const ALL: Self = Self {
        contact: true,
        event: true,
        cart: true,
        store: true,
        coupon: true,
        unsubscribe_url: true,
        preferences_url: true,
    };

    pub(crate) fn of(sources: &[&str]) -> Self {
        let named = |name: &str| sources.iter().any(|s| s.contains(name));
        Self {
            contact: named("contact"),
            event: named("event"),
            cart: named("cart"),
            store: named("store"),
            coupon: named("coupon"),
            unsubscribe_url: named("unsubscribe_url"),
            preferences_url: named("preferences_url"),
        }
    }
}

/// Where signed links point, and the key that signs them.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub key: LinkKey,
    /// Base URL of the server as recipients reach it (`[email] public_url`).
    pub public_url: String,
}

impl LinkConfig {
    /// The signed URL of a link.
    pub(crate) fn url(&self, link: Link) -> String {
        let path = match &link {
            Link::Open { .. } => "o",
            Link::Click { .. } => "c",
            Link::Unsubscribe { .. } => "u",
            Link::Preferences { .. } => "preferences",
            Link::Confirm { .. } => "confirm",
        };
        format!("{}/{path}/{}", self.public_url, self.key.token(&link))
    }

    /// The one-click unsubscribe URL of a message (`List-Unsubscribe`), issued `now`.
    pub(crate) fn unsubscribe_url(&self, message: &str, now: Timestamp) -> String {
        self.url(Link::Unsubscribe { message: message.into(), issued: Some(now.as_micros()) })
    }
}

/// The collections a template's parts and the workspace's partials and layouts (their stored JSON, `shared`)
/// read. Looked for in the Liquid sources: in stored JSON the names' quotes are escaped.
fn collections_read(parts: &TemplateParts, shared: &str) -> Vec<String> {
    let mut source = liquid_sources(parts);
    if shared.contains("collections") {
        // `shared` is the partials' JSON objects one after the other.
        for v in serde_json::Deserializer::from_str(shared).into_iter::<Value>().map_while(Result::ok) {
            for k in ["html", "body"] {
                source.push_str(v[k].as_str().unwrap_or_default());
            }
        }
    }
    kairos_template::blocks::collection_names(&source)
}

/// Every Liquid source of a template's parts, one after the other (to see which costly variables it reads).
fn liquid_sources(parts: &TemplateParts) -> String {
    let own = [&parts.subject, &parts.preview_text, &parts.html, &parts.text, &parts.body].into_iter().flatten();
    let variants = parts.variants.iter().flat_map(|v| std::iter::once(&v.subject).chain(v.preview_text.as_ref()));
    own.chain(variants).map(String::as_str).collect()
}

/// Which subject line (variant) a render uses, for templates with subject variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// A message being sent: the variant it was given when first rendered (kept through retries and the
    /// re-render at hand-off), else the template's chosen winner, else the contact's share of the test
    /// ([`kairos_template::pick_variant`]).
    Send(Option<usize>),
    /// A preview: this variant (0 is A; one the template does not have shows A).
    Exactly(usize),
}

pub(crate) fn invalid(e: kairos_template::TemplateError) -> EngineError {
    EngineError::Invalid { message: e.to_string(), field: Some(e.field().to_string()) }
}

/// The `contact` variable: traits, identity and computed fields (amounts in major units).
pub(crate) fn contact_json(c: &Contact) -> Value {
    let mut o = c.traits.clone();
    o.insert("id".into(), json!(c.id.0));
    o.insert("email".into(), json!(c.email.as_ref().map(|e| e.as_str())));
    o.insert("phone".into(), json!(c.phone.as_ref().map(|p| p.as_str())));
    o.insert("user_id".into(), json!(c.user_id));
    o.insert("timezone".into(), json!(c.timezone));
    let orders = &c.computed.orders;
    o.insert(
        "orders".into(),
        json!({"count": orders.count, "total_spent": orders.total_spent.as_major(),
               "average_value": orders.average_value().as_major(),
               "last_order_at": orders.last_at.map(|t| t.to_string())}),
    );
    o.insert("lead".into(), json!({"score": c.lead.score}));
    o.insert("lifecycle".into(), json!({"stage": c.lead.stage, "since": c.lead.stage_at.map(|t| t.to_string())}));
    Value::Object(o)
}

/// Rendering for one workspace: where it reads, the workspace's settings, the link key and the caches.
pub(crate) struct Render<'a> {
    pub(crate) src: &'a mut dyn RenderReads,
    /// The workspace's effective settings.
    pub(crate) settings: &'a Settings,
    pub(crate) links: &'a LinkConfig,
    pub(crate) templates: &'a mut TemplateCache,
    pub(crate) recs: &'a RecCache,
}

impl Render<'_> {
    /// A renderer with the workspace's partials and layouts; `replace` stands in for one of them (being saved).
    pub(crate) fn build_renderer(
        &mut self,
        ws: WorkspaceId,
        replace: Option<(&str, &str, &str)>,
    ) -> Result<Renderer, kairos_template::TemplateError> {
        let mut b = Renderer::builder();
        for kind in ["partial", "layout"] {
            let rows = self.src.templates_of_channel(ws, kind).unwrap_or_default();
            for (id, data) in rows {
                if replace.is_some_and(|(rid, _, _)| rid == id) {
                    continue;
                }
                let v: Value = serde_json::from_str(&data).unwrap_or_default();
                let source = v["html"].as_str().or(v["body"].as_str()).unwrap_or_default();
                b = if kind == "partial" { b.partial(&id, source) } else { b.layout(&id, source) };
            }
        }
        if let Some((id, kind, source)) = replace {
            b = if kind == "partial" { b.partial(id, source) } else { b.layout(id, source) };
        }
        b.build()
    }

    pub(crate) fn renderer(&mut self, ws: WorkspaceId) -> Result<Arc<Renderer>, EngineError> {
        if let Some(r) = self.templates.renderers.get(&ws) {
            return Ok(r.clone());
        }
        let r = Arc::new(self.build_renderer(ws, None).map_err(invalid)?);
        self.templates.renderers.insert(ws, r.clone());
        Ok(r)
    }

    /// The current version of template `id`, compiled (None when there is no such template).
    pub(crate) fn compiled(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Compiled>, EngineError> {
        // Every save goes through `State::template_saved`, which drops the entry: a hit is the current version.
        if let Some(c) = self.templates.compiled.get(&(ws, id.to_string())) {
            return Ok(Some(c.clone()));
        }
        let Some((version, data)) = self.src.template_data(ws, id)? else { return Ok(None) };
        let parts: TemplateParts = serde_json::from_str(&data).unwrap_or_default();
        let template = Arc::new(self.renderer(ws)?.compile(&parts).map_err(invalid)?);
        // Partials and layouts could read them too: look at every source of the workspace's renderer as well.
        let partials: String = ["partial", "layout"]
            .iter()
            .flat_map(|k| self.src.templates_of_channel(ws, k).unwrap_or_default())
            .map(|(_, d)| d)
            .collect();
        let c = Compiled {
            version,
            template,
            uses_recommendations: data.contains("recommendations") || partials.contains("recommendations"),
            uses_products: data.contains("products") || partials.contains("products"),
            uses_cart: data.contains("cart.") || partials.contains("cart."),
            reads: ReadsVars::of(&[&data, &partials]),
            collections: collections_read(&parts, &partials),
            winner: winner_of(&data),
        };
        self.templates.compiled.insert((ws, id.to_string()), c.clone());
        Ok(Some(c))
    }

    /// Unsaved template parts (the editor's live preview), compiled as version 0.
    pub(crate) fn compile_draft(&mut self, ws: WorkspaceId, parts: &TemplateParts) -> Result<Compiled, EngineError> {
        let source = liquid_sources(parts);
        Ok(Compiled {
            version: 0,
            template: Arc::new(self.renderer(ws)?.compile(parts).map_err(invalid)?),
            uses_recommendations: source.contains("recommendations"),
            uses_products: source.contains("products"),
            uses_cart: source.contains("cart."),
            // A draft may use partials and layouts as they are saved: every variable, as a send of it would.
            reads: ReadsVars::ALL,
            collections: kairos_template::blocks::collection_names(&source),
            winner: None,
        })
    }

    /// Renders a compiled template for contact `c` as message `message_id` (`track`: signed links and pixel),
    /// with the subject line `pick` says.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render_compiled(
        &mut self,
        ws: WorkspaceId,
        template: &str,
        compiled: &Compiled,
        c: &Contact,
        trigger: &JsonMap,
        message_id: &str,
        now: Timestamp,
        track: bool,
        pick: Pick,
    ) -> Result<Composed, EngineError> {
        let (version, t) = (compiled.version, compiled.template.clone());
        let count = t.variant_count();
        let variant = match pick {
            Pick::Send(Some(v)) if v < count => v,
            Pick::Send(_) => compiled
                .winner
                .filter(|w| *w < count)
                .unwrap_or_else(|| kairos_template::pick_variant(c.id.0, template, count)),
            Pick::Exactly(v) => {
                if v < count {
                    v
                } else {
                    0
                }
            }
        };
        let mut extra = Vec::new();
        if compiled.uses_recommendations {
            extra.push(("recommendations", self.recommendations(ws, c.id, trigger, now)?));
        }
        if compiled.uses_products {
            extra.push(("products", self.trigger_products(ws, trigger)?));
        }
        if !compiled.collections.is_empty() {
            extra.push(("collections", self.collections(ws, &compiled.collections, now)?));
        }
        let about = if compiled.uses_cart { About::Cart } else { About::TriggerProduct };
        let globals = match self.globals(ws, c, trigger, message_id, now, extra, (about, compiled.reads))? {
            Ok(g) => g,
            Err(reason) => return Ok(Composed::Skip { version, reason: reason.into() }),
        };
        let mut parts = match t.render_variant(&globals, variant) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(template, message = message_id, "render failed: {e}");
                return Ok(Composed::Skip { version, reason: format!("render_error: {e}") });
            }
        };
        let (mut links, mut warnings) = (Vec::new(), Vec::new());
        if let Some(html) = &parts.html {
            // A preview applies the same rules without signing anything, so the editor shows the warnings.
            let key = track.then_some(&self.links.key);
            let domains = self.settings.tracked_domains();
            let t = track_html(html, key, &self.links.public_url, message_id, &domains);
            for w in &t.warnings {
                tracing::warn!(template, message = message_id, "{w}");
            }
            (parts.html, links, warnings) = (Some(t.html), t.links, t.warnings);
        }
        let variant = (count > 1).then_some(variant);
        Ok(Composed::Ready { version, parts, links, warnings, variant })
    }

    /// Renders a short text (a task message, a webhook body string) for contact `c`; on an error the source is
    /// kept as it is (these texts were validated with their flow).
    pub(crate) fn render_text(
        &mut self,
        ws: WorkspaceId,
        source: &str,
        c: &Contact,
        trigger: &JsonMap,
        now: Timestamp,
    ) -> Result<String, EngineError> {
        let renderer = self.renderer(ws)?;
        let Ok(globals) = self.globals(ws, c, trigger, "task", now, Vec::new(), (About::Cart, ReadsVars::ALL))? else {
            return Ok(source.to_string());
        };
        Ok(renderer
            .compile(&TemplateParts::message(source))
            .and_then(|t| t.render(&globals))
            .ok()
            .and_then(|r| r.body)
            .unwrap_or_else(|| source.to_string()))
    }

    /// The variables of one message. Product lists of the trigger event and the cart keep only items in stock;
    /// `Err(reason)` when a non-empty list has nothing promotable left.
    #[allow(clippy::too_many_arguments)] // the parts of one message; a struct would only rename them
    pub(crate) fn globals(
        &mut self,
        ws: WorkspaceId,
        c: &Contact,
        trigger: &JsonMap,
        message_id: &str,
        now: Timestamp,
        extra: Vec<(&str, Value)>,
        (about, reads): (About, ReadsVars),
    ) -> Result<Result<Globals, &'static str>, EngineError> {
        let mut event = trigger.clone();
        if about == About::TriggerProduct
            && let Err(reason) = self.current_product(ws, &mut event)?
        {
            return Ok(Err(reason));
        }
        let settings = self.settings;
        // Every product the lists mention, read once from the catalog (the cart's only when it is shown: its
        // sold-out items are left out of what the template sees, they decide nothing).
        let mut catalog: HashMap<String, Option<Product>> = HashMap::new();
        let event_ids = ["items", "products"]
            .iter()
            .filter_map(|k| event.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(|item| item.as_object().and_then(kairos_domain::contact::product_id));
        let cart_items = if reads.cart { c.computed.cart.items.as_slice() } else { &[] };
        let ids: Vec<String> = event_ids.chain(cart_items.iter().map(|i| i.product_id.clone())).collect();
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(e) = catalog.entry(id) {
                let p = self.src.product(ws, e.key())?;
                e.insert(p);
            }
        }
        let in_stock = |id: &str| catalog.get(id).and_then(Option::as_ref).map(Product::in_stock);
        for k in ["items", "products"] {
            if let Some(list) = event.get(k).and_then(Value::as_array) {
                match kairos_template::promotable_or_skip(list, in_stock) {
                    Ok(kept) => {
                        event.insert(k.into(), Value::Array(kept));
                    }
                    Err(reason) => return Ok(Err(reason)),
                }
            }
        }
        let now_jiff = jiff::Timestamp::from_microsecond(now.as_micros()).unwrap_or_default();
        let tz = c.timezone.as_deref().unwrap_or(&settings.timezone);
        let mut g = Globals::builder(now_jiff).timezone(Some(tz)).locale(c.locale.as_deref());
        if reads.contact {
            g = g.contact(contact_json(c));
        }
        if reads.event {
            g = g.event(Value::Object(event));
        }
        if reads.cart {
            g = g.cart(current_cart(c, &catalog, settings.store.free_shipping_threshold));
        }
        g = if reads.store {
            let store = json!({
                "name": settings.store.name, "currency": settings.store.currency, "url": settings.store.url,
                "free_shipping_threshold": settings.store.free_shipping_threshold,
                "logo_url": settings.store.logo_url, "color": settings.store.color, "address": settings.store.address,
            });
            g.store(&store)
        } else {
            g.store_currency(&settings.store.currency)
        };
        if reads.unsubscribe_url {
            g = g.unsubscribe_url(&self.links.unsubscribe_url(message_id, now));
        }
        if reads.preferences_url {
            g = g.preferences_url(&self.links.url(Link::Preferences { message: message_id.into() }));
        }
        if reads.coupon
            && let Some(coupon) = trigger.get(crate::coupons::RUN_COUPON_KEY).filter(|c| c.is_object())
        {
            g = g.coupon(coupon.clone());
        }
        for (name, v) in extra {
            g = g.var(name, v);
        }
        Ok(Ok(g.build()))
    }
}

/// The `cart` variable: the cart as it is now, sold-out items left out, prices as the catalog has them (when in
/// the cart's currency), and its value from those.
fn current_cart(c: &Contact, catalog: &HashMap<String, Option<Product>>, free_shipping: Option<f64>) -> Value {
    let mut current = c.computed.cart.clone();
    let product = |id: &str| catalog.get(id).and_then(Option::as_ref);
    current.items.retain(|i| product(&i.product_id).map(Product::in_stock) != Some(false));
    for item in &mut current.items {
        let same_currency = |p: &&Product| p.currency.is_none() || p.currency == current.currency;
        if let Some(price) = product(&item.product_id).filter(same_currency).and_then(|p| p.price) {
            item.price = price;
        }
    }
    kairos_template::cart_json(&current, free_shipping)
}

/// What a message is about, for the freshness of its trigger's product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum About {
    /// The one product its trigger event names (browse abandonment, back in stock, price drop): promoted only
    /// while in stock, at its current price.
    TriggerProduct,
    /// The cart (or a text): the cart's own items are filtered, the trigger's product alone decides nothing.
    Cart,
}

impl Render<'_> {
    /// Brings a single-product trigger event up to date at send time (SPEC 17 "freshness"): the product as the
    /// catalog has it now. `Err(sold_out)` when it can no longer be bought; `Err(price_changed)` when the event
    /// announced a drop (`previous_price`) that no longer holds; otherwise `price` is the current one.
    fn current_product(
        &mut self,
        ws: WorkspaceId,
        event: &mut JsonMap,
    ) -> Result<Result<(), &'static str>, EngineError> {
        if event.contains_key("items") || event.contains_key("products") {
            return Ok(Ok(())); // a list: its sold-out items are dropped with the others
        }
        let Some(id) = kairos_domain::contact::product_id(event) else { return Ok(Ok(())) };
        let Some(p) = self.src.product(ws, &id)? else { return Ok(Ok(())) };
        if !(p.available && p.inventory_quantity.is_none_or(|q| q > 0)) {
            return Ok(Err(SkipReason::SoldOut.as_str()));
        }
        if let Some(price) = p.price {
            let now = price.as_major();
            // A price drop announces the fall from `previous_price`: gone when the price is back.
            let drop = event.get("alert").and_then(Value::as_str) == Some("price_drop");
            let before = event.get("previous_price").and_then(Value::as_f64).filter(|_| drop);
            if before.is_some_and(|b| now >= b) {
                return Ok(Err(SkipReason::PriceChanged.as_str()));
            }
            event.insert("price".into(), json!(now));
            if let Some(currency) = &p.currency {
                event.insert("currency".into(), json!(currency)); // the catalog's price is in the catalog's currency
            }
        }
        Ok(Ok(()))
    }
}

/// A rendered message, or why it cannot be sent.
pub(crate) enum Composed {
    /// `links`: the click-tracked destinations by index; `warnings`: links left untracked or dropped;
    /// `variant`: the subject line used (0 is A), when the template has subject variants.
    Ready {
        version: i64,
        parts: kairos_template::Rendered,
        links: Vec<String>,
        warnings: Vec<String>,
        variant: Option<usize>,
    },
    Skip {
        version: i64,
        reason: String,
    },
}

/// The subject variant a stored template's marketer picked as the winner (`"winner": "B"`), if any.
fn winner_of(data: &str) -> Option<usize> {
    if !data.contains("\"winner\"") {
        return None;
    }
    let v: Value = serde_json::from_str(data).ok()?;
    v["winner"].as_str().and_then(kairos_template::variant_index)
}
