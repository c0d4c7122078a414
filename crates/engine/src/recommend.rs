//! Product recommendations for templates (SPEC 9): `recommendations.trending`, `.recently_viewed`,
//! `.also_bought`, `.also_viewed`, `.based_on_history`, and `products` (the catalog entries of the trigger
//! event's items). Workspace statistics (trending, co-purchases, co-views over 30 days) are computed from the
//! event log at most once an hour per workspace and only for templates that use them; only products in stock
//! are ever offered, and every list but `recently_viewed` leaves out the products the trigger event is about and
//! those the contact already bought.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kairos_domain::{ContactId, Duration, Event, JsonMap, Product, Timestamp, WorkspaceId};
use serde_json::{Value, json};

use crate::EngineError;
use crate::rec_cache::WsStats;
use crate::render::Render;

const WINDOW: Duration = Duration::from_secs(30 * 86_400);
const TRENDING_WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// Items per recommendation list.
const LIST_MAX: usize = 6;
/// Viewed products per contact considered for co-views (bounds the pair count).
const VIEWED_MAX: usize = 20;

pub(crate) fn products_of(props: &JsonMap) -> Vec<String> {
    if let Some(id) = kairos_domain::contact::product_id(props) {
        return vec![id];
    }
    ["products", "items"]
        .iter()
        .filter_map(|k| props.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.as_object().and_then(kairos_domain::contact::product_id))
        .collect()
}

fn top(counts: HashMap<String, f64>, n: usize) -> Vec<String> {
    let mut v: Vec<(String, f64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
    v.into_iter().take(n).map(|(k, _)| k).collect()
}

fn pairs(groups: &[Vec<String>]) -> HashMap<String, Vec<String>> {
    let mut co: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for g in groups {
        for a in g {
            for b in g {
                if a != b {
                    *co.entry(a.clone()).or_default().entry(b.clone()).or_default() += 1.0;
                }
            }
        }
    }
    co.into_iter().map(|(k, counts)| (k, top(counts, 10))).collect()
}

/// A product as templates see it (amounts in major units).
pub(crate) fn product_json(p: &Product) -> Value {
    json!({
        "product_id": p.id, "id": p.id, "name": p.title, "title": p.title, "url": p.url, "image_url": p.image_url,
        "price": p.price.map(|m| m.as_major()), "compare_at_price": p.compare_at_price.map(|m| m.as_major()),
        "categories": p.categories, "sku": p.sku, "currency": p.currency,
    })
}

fn in_stock(p: &Product) -> bool {
    p.in_stock()
}

impl Render<'_> {
    fn ws_stats(&mut self, ws: WorkspaceId, now: Timestamp) -> Result<Arc<WsStats>, EngineError> {
        // Computed without the lock held: two computing at once only repeat the work.
        if let Some(s) = self.recs.fresh(ws, now) {
            return Ok(s);
        }
        let mut views: HashMap<String, f64> = HashMap::new();
        let mut baskets: Vec<Vec<String>> = Vec::new();
        let mut viewed: HashMap<ContactId, Vec<String>> = HashMap::new();
        let trending_since = now.saturating_sub(TRENDING_WINDOW);
        self.src.events_since(ws, now.saturating_sub(WINDOW), &mut |contact, data| {
            let Ok(ev) = serde_json::from_str::<Event>(data) else { return };
            let recent = ev.timestamp >= trending_since;
            match ev.name.as_deref() {
                Some("Product Viewed" | "Product Added") => {
                    for id in products_of(&ev.properties) {
                        if recent {
                            *views.entry(id.clone()).or_default() += 1.0;
                        }
                        let list = viewed.entry(contact).or_default();
                        if !list.contains(&id) && list.len() < VIEWED_MAX {
                            list.push(id);
                        }
                    }
                }
                Some("Order Completed") => {
                    let items = products_of(&ev.properties);
                    if recent {
                        for id in &items {
                            *views.entry(id.clone()).or_default() += 3.0;
                        }
                    }
                    baskets.push(items);
                }
                _ => {}
            }
        })?;
        let viewed: Vec<Vec<String>> = viewed.into_values().collect();
        let stats =
            Arc::new(WsStats { trending: top(views, 50), also_bought: pairs(&baskets), also_viewed: pairs(&viewed) });
        self.recs.put(ws, now, stats.clone());
        Ok(stats)
    }

    /// The catalog entries of `ids` that are in stock, in order, without `exclude`, at most `LIST_MAX`.
    pub(crate) fn promotable(
        &mut self,
        ws: WorkspaceId,
        ids: impl IntoIterator<Item = String>,
        exclude: &HashSet<String>,
    ) -> Result<Vec<Value>, EngineError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if out.len() >= LIST_MAX {
                break;
            }
            if exclude.contains(&id) || !seen.insert(id.clone()) {
                continue;
            }
            if let Some(p) = self.src.product(ws, &id)?
                && in_stock(&p)
            {
                out.push(product_json(&p));
            }
        }
        Ok(out)
    }

    /// The `recommendations` variable for a contact.
    pub(crate) fn recommendations(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        trigger: &JsonMap,
        now: Timestamp,
    ) -> Result<Value, EngineError> {
        let stats = self.ws_stats(ws, now)?;
        let mut recently_viewed: Vec<String> = Vec::new();
        let mut purchased: HashSet<String> = HashSet::new();
        for ev in self.src.contact_history(contact)?.iter().rev() {
            match ev.name.as_deref() {
                Some("Product Viewed") => {
                    for id in products_of(&ev.properties) {
                        if !recently_viewed.contains(&id) {
                            recently_viewed.push(id);
                        }
                    }
                }
                Some("Order Completed") => purchased.extend(products_of(&ev.properties)),
                _ => {}
            }
        }
        // Seeds: the trigger's products, else what the contact looked at last.
        let mut seeds = products_of(trigger);
        if seeds.is_empty() {
            seeds = recently_viewed.iter().take(3).cloned().collect();
        }
        let mut exclude: HashSet<String> = purchased.clone();
        exclude.extend(seeds.iter().cloned());
        let also = |m: &HashMap<String, Vec<String>>| -> Vec<String> {
            seeds.iter().filter_map(|s| m.get(s)).flatten().cloned().collect()
        };
        let also_bought = also(&stats.also_bought);
        let also_viewed = also(&stats.also_viewed);
        // Based on history: trending products in the categories the contact viewed or bought.
        let mut categories: HashSet<String> = HashSet::new();
        for id in recently_viewed.iter().take(10).chain(purchased.iter()) {
            if let Some(p) = self.src.product(ws, id)? {
                categories.extend(p.categories);
            }
        }
        let mut history = Vec::new();
        for id in &stats.trending {
            if history.len() >= LIST_MAX * 3 {
                break;
            }
            if let Some(p) = self.src.product(ws, id)?
                && p.categories.iter().any(|c| categories.contains(c))
            {
                history.push(id.clone());
            }
        }
        let none = HashSet::new();
        // Trending, besides what the message is about (a browse reminder's alternatives are other products).
        let mut not_trending = purchased.clone();
        not_trending.extend(products_of(trigger));
        Ok(json!({
            "trending": self.promotable(ws, stats.trending.clone(), &not_trending)?,
            "recently_viewed": self.promotable(ws, recently_viewed, &none)?,
            "also_bought": self.promotable(ws, also_bought, &exclude)?,
            "also_viewed": self.promotable(ws, also_viewed, &exclude)?,
            "based_on_history": self.promotable(ws, history, &exclude)?,
        }))
    }

    /// The `products` variable: catalog entries of the trigger event's products that are in stock.
    pub(crate) fn trigger_products(&mut self, ws: WorkspaceId, trigger: &JsonMap) -> Result<Value, EngineError> {
        let ids = products_of(trigger);
        Ok(Value::Array(self.promotable(ws, ids, &HashSet::new())?))
    }
}
