//! A quiz's result: products of the workspace's catalog that match the visitor's answers, in stock only.
//!
//! Each answer may name products (first, in the order of the answers) and categories (a product scores one point
//! per answer naming one of its categories, case-insensitively; the platforms' product types and tags are
//! categories in the catalog). Ties go to the best sellers of the last [`BEST_SELLERS_DAYS`] days. Nothing
//! matching in stock: the best sellers in stock, then any product in stock (`fallback`).
//!
//! Matching reads an index of the catalog (ids and categories) and the best sellers, built per workspace at most
//! every [`CATALOG_FRESH_SECS`] seconds, so a busy quiz does not read the whole catalog for every visitor; stock,
//! price, title and image are read fresh for the products shown, so a product out of stock since the index was
//! built is never offered.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kairos_domain::quiz::Choice;
use kairos_domain::{Duration, Product, Timestamp, WorkspaceId};
use kairos_store::Reads;
use serde_json::{Value, json};

/// Most catalog products a quiz matches against (the index holds at most these).
pub const QUIZ_CATALOG_PRODUCTS_MAX: usize = 20_000;
/// Most ranked products read to fill one result (the rest were out of stock or untitled).
const CANDIDATES_CHECKED_MAX: usize = 200;
/// How long a workspace's index stays in use, in seconds.
const CATALOG_FRESH_SECS: i64 = 60;
/// The window of orders best sellers are counted in, in days.
const BEST_SELLERS_DAYS: i64 = 30;
/// Products read per page while indexing.
const CATALOG_PAGE: usize = 1_000;

/// What matching needs of the catalog.
struct Index {
    built_at: Timestamp,
    /// (product id, its categories in lower case), by id.
    products: Vec<(String, Vec<String>)>,
    /// Product ids by units ordered in the window, most first.
    best_sellers: Vec<String>,
}

static INDEXES: Mutex<Option<HashMap<WorkspaceId, Arc<Index>>>> = Mutex::new(None);

fn index(r: &dyn Reads, ws: WorkspaceId, now: Timestamp) -> kairos_store::Result<Arc<Index>> {
    let fresh = Duration::from_secs(CATALOG_FRESH_SECS);
    if let Some(i) = INDEXES.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(HashMap::new).get(&ws)
        && now.saturating_sub(fresh) < i.built_at
        && i.built_at <= now
    {
        return Ok(i.clone());
    }
    let mut products = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = r.products(ws, cursor.as_deref(), CATALOG_PAGE)?;
        for p in page.items {
            let categories = p.categories.iter().map(|c| c.trim().to_lowercase()).collect();
            products.push((p.id, categories));
        }
        cursor = page.next_cursor;
        if cursor.is_none() || products.len() >= QUIZ_CATALOG_PRODUCTS_MAX {
            break;
        }
    }
    products.truncate(QUIZ_CATALOG_PRODUCTS_MAX);
    let mut units: HashMap<String, f64> = HashMap::new();
    let since = now.saturating_sub(Duration::from_secs(BEST_SELLERS_DAYS * 86_400));
    for order in r.order_rows(ws, since, now.saturating_add(Duration::from_secs(1)))? {
        for item in order.properties.get("products").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = item.as_object().and_then(kairos_domain::contact::product_id) {
                *units.entry(id).or_default() += item.get("quantity").and_then(Value::as_f64).unwrap_or(1.0).max(1.0);
            }
        }
    }
    let mut best: Vec<(String, f64)> = units.into_iter().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let index = Arc::new(Index { built_at: now, products, best_sellers: best.into_iter().map(|(id, _)| id).collect() });
    INDEXES.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(HashMap::new).insert(ws, index.clone());
    Ok(index)
}

/// Every category of the catalog, in lower case (from the index).
pub fn categories(r: &dyn Reads, ws: WorkspaceId, now: Timestamp) -> kairos_store::Result<HashSet<String>> {
    Ok(index(r, ws, now)?.products.iter().flat_map(|(_, c)| c.iter().cloned()).collect())
}

/// What the visitor is shown.
pub struct Picks {
    pub products: Vec<Product>,
    /// Nothing matched the answers: these are best sellers (or simply in stock).
    pub fallback: bool,
}

/// Up to `max` products in stock for the answers `chosen` (in the order they were given).
pub fn picks(
    r: &dyn Reads,
    ws: WorkspaceId,
    chosen: &[&Choice],
    max: usize,
    now: Timestamp,
) -> kairos_store::Result<Picks> {
    let index = index(r, ws, now)?;
    let rank: HashMap<&str, usize> = index.best_sellers.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let pinned: Vec<&str> = chosen.iter().flat_map(|c| c.products.iter().map(String::as_str)).collect();
    let wanted: Vec<HashSet<String>> =
        chosen.iter().map(|c| c.categories.iter().map(|x| x.trim().to_lowercase()).collect()).collect();
    let mut scored: Vec<(usize, &str)> = index
        .products
        .iter()
        .map(|(id, cats)| (wanted.iter().filter(|w| cats.iter().any(|c| w.contains(c))).count(), id.as_str()))
        .filter(|(score, _)| *score > 0)
        .collect();
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| rank.get(a.1).unwrap_or(&usize::MAX).cmp(rank.get(b.1).unwrap_or(&usize::MAX)))
            .then_with(|| a.1.cmp(b.1))
    });
    let matching = pinned.iter().copied().chain(scored.iter().map(|(_, id)| *id));
    let products = in_stock(r, ws, matching, max)?;
    if !products.is_empty() {
        return Ok(Picks { products, fallback: false });
    }
    let popular = index.best_sellers.iter().chain(index.products.iter().map(|(id, _)| id)).map(String::as_str);
    Ok(Picks { products: in_stock(r, ws, popular, max)?, fallback: true })
}

/// The first `max` of `ids` that are in stock and have a title, read fresh.
fn in_stock<'a>(
    r: &dyn Reads,
    ws: WorkspaceId,
    ids: impl Iterator<Item = &'a str>,
    max: usize,
) -> kairos_store::Result<Vec<Product>> {
    let mut out: Vec<Product> = Vec::new();
    let mut seen = HashSet::new();
    for id in ids.filter(|id| seen.insert(*id)).take(CANDIDATES_CHECKED_MAX) {
        if out.len() >= max {
            break;
        }
        if let Some(p) = r.product(ws, id)?
            && p.in_stock()
            && p.title.as_deref().is_some_and(|t| !t.trim().is_empty())
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// A product as the result shows it: name, price (and its text in the product's or the store's currency), image
/// and a link carrying the quiz as its UTM campaign. Only http(s) addresses are kept.
pub fn product_json(p: &Product, store_currency: &str, quiz_id: &str) -> Value {
    let currency = p.currency.as_deref().unwrap_or(store_currency);
    let web = |u: &Option<String>| {
        u.as_deref().and_then(|u| url::Url::parse(u).ok()).filter(|u| matches!(u.scheme(), "http" | "https"))
    };
    let link = web(&p.url).map(|mut u| {
        if !u.query_pairs().any(|(k, _)| k.starts_with("utm_")) {
            u.query_pairs_mut()
                .append_pair("utm_source", "kairos")
                .append_pair("utm_medium", "quiz")
                .append_pair("utm_campaign", quiz_id);
        }
        u.to_string()
    });
    json!({
        "id": p.id,
        "name": p.title,
        "price": p.price.map(|m| m.as_major()),
        "price_text": p.price.map(|m| kairos_template::money_text(m.as_major(), currency)),
        "currency": currency,
        "image_url": web(&p.image_url).map(|u| u.to_string()),
        "url": link,
    })
}
