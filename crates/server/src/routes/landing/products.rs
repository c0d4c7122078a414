//! What a page shows beyond its document, per visitor: the products of its `products` blocks (in stock only) and
//! the fields of its embedded forms.
//!
//! A block's products come from a catalog category, from the category of the first segment rule the visitor's
//! contact belongs to (else the block's own category), or from the visitor's recommendations (what is trending
//! for someone unknown), topped up from the catalog. A category's product ids are read from the catalog at most
//! every 15 s per workspace and category ([`CATEGORY_CACHE`]); stock is read at every view.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kairos_domain::vocab::SiteKind;
use kairos_domain::{ContactId, Money, Product, WorkspaceId};
use kairos_store::{IdentityKind, Reads};
use serde_json::Value;

use super::render::{Card, View};
use crate::AppState;
use crate::ttl_cache::TtlCache;

/// How long a category's product ids are kept (a product added to the catalog shows within this).
const CATEGORY_CACHE: Duration = Duration::from_secs(15);
/// Most catalog entries read to list a category.
const CATALOG_SCAN_PRODUCTS_MAX: usize = 5_000;
/// Most products read per block to find enough in stock.
const STOCK_READS_MAX: usize = 48;
/// Catalog page size while listing a category.
const CATALOG_PAGE: usize = 1_000;

/// What a block's products come from, once the visitor is known.
enum Pick {
    /// Products of a category ("" for the whole catalog).
    Category(String),
    Recommended,
}

type Listing = Arc<Vec<String>>;
/// Most (workspace, category) listings a node keeps.
const CATEGORY_CACHE_LISTINGS_MAX: usize = 10_000;
/// A category's product ids by (workspace, lower-case category).
static CATEGORIES: TtlCache<(WorkspaceId, String), Listing> =
    TtlCache::new(CATEGORY_CACHE, CATEGORY_CACHE_LISTINGS_MAX);
/// The visitor's contact, each `products` block's (index, pick, count), and the forms by block index.
type Picks = (Option<ContactId>, Vec<(usize, Pick, usize)>, HashMap<usize, Value>);

fn in_stock(p: &Product) -> bool {
    p.available && p.inventory_quantity.is_none_or(|q| q > 0)
}

/// Whether `contact` is a member of the segment `segment` (a point read: the member list from just below it).
fn member(r: &dyn Reads, ws: WorkspaceId, segment: &str, contact: ContactId) -> kairos_store::Result<bool> {
    let Some(row) = r.segment_row(ws, segment)? else { return Ok(false) };
    let below = (contact.0 - 1).to_string();
    Ok(r.segment_member_page(row, Some(&below), 1)?.items.first().is_some_and(|c| c.id == contact))
}

/// What each `products` block of `page` shows this visitor, and the page's forms.
fn picks(r: &dyn Reads, ws: WorkspaceId, page: &Value, visitor: Option<&str>) -> kairos_store::Result<Picks> {
    let contact = match visitor {
        Some(aid) => r.contact_by_identity(ws, IdentityKind::AnonymousId, aid)?.map(|c| c.id),
        None => None,
    };
    let (mut picks, mut forms) = (Vec::new(), HashMap::new());
    for (i, b) in page["blocks"].as_array().into_iter().flatten().enumerate() {
        match b["type"].as_str() {
            Some("products") => {
                let count = b["count"].as_u64().unwrap_or(4) as usize;
                let category = b["category"].as_str().unwrap_or_default().to_string();
                let pick = match b["source"].as_str() {
                    Some("recommended") => Pick::Recommended,
                    Some("segment") => {
                        let mut chosen = None;
                        if let Some(c) = contact {
                            for rule in b["segments"].as_array().into_iter().flatten() {
                                if member(r, ws, rule["segment"].as_str().unwrap_or_default(), c)? {
                                    chosen = rule["category"].as_str().map(str::to_string);
                                    break;
                                }
                            }
                        }
                        Pick::Category(chosen.unwrap_or(category))
                    }
                    _ => Pick::Category(category),
                };
                picks.push((i, pick, count));
            }
            Some("form") => {
                // A form of this workspace only (an id freed by a deletion may belong to another one later).
                if let Some((owner, data)) = r.site_item(SiteKind::Form, b["form"].as_str().unwrap_or_default())?
                    && owner == ws
                    && let Ok(form) = serde_json::from_str::<Value>(&data)
                {
                    forms.insert(i, form);
                }
            }
            _ => {}
        }
    }
    Ok((contact, picks, forms))
}

/// Ids of the catalog's products in `category` (case-insensitive; "" for all), by id.
async fn category_ids(app: &AppState, ws: WorkspaceId, category: &str) -> Listing {
    let key = (ws, category.to_lowercase());
    if let Some(ids) = CATEGORIES.fresh(&key) {
        return ids;
    }
    let wanted = key.1.clone();
    let scanned = crate::api::read_log(app, move |r| {
        let (mut out, mut cursor, mut read) = (Vec::new(), None::<String>, 0);
        loop {
            let page = r.products(ws, cursor.as_deref(), CATALOG_PAGE)?;
            read += page.items.len();
            out.extend(
                page.items
                    .into_iter()
                    .filter(|p| wanted.is_empty() || p.categories.iter().any(|c| c.to_lowercase() == wanted))
                    .map(|p| p.id),
            );
            match page.next_cursor {
                Some(c) if read < CATALOG_SCAN_PRODUCTS_MAX => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    })
    .await;
    match scanned {
        Ok(ids) => {
            let ids = Arc::new(ids);
            CATEGORIES.keep(key, ids.clone());
            ids
        }
        // Not kept: the next view reads again.
        Err(_) => Arc::default(),
    }
}

/// A price as visitors read it.
fn price(m: Money, currency: &str) -> String {
    let x = m.as_major();
    match currency {
        "USD" => format!("${x:.2}"),
        "EUR" => format!("€{x:.2}"),
        "GBP" => format!("£{x:.2}"),
        "" => format!("{x:.2}"),
        c => format!("{x:.2} {c}"),
    }
}

fn card(p: Product, currency: &str) -> Card {
    let http = |u: Option<String>| u.filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let cur = p.currency.clone().unwrap_or_else(|| currency.to_string());
    Card {
        title: p.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| p.id.clone()),
        url: http(p.url),
        image_url: http(p.image_url),
        price: p.price.map(|m| price(m, &cur)),
    }
}

/// The page's view for a visitor (`visitor`: their anonymous id; None for a preview).
pub async fn view_of(app: &AppState, ws: WorkspaceId, page: &Value, visitor: Option<&str>, page_url: String) -> View {
    let (p, v) = (page.clone(), visitor.map(str::to_string));
    // The visitor's own history (recently viewed) as acknowledged: their row first, when it waits.
    let read = move |r: &dyn Reads| picks(r, ws, &p, v.as_deref());
    let found = match visitor {
        Some(aid) => crate::api::read_identified(app, ws, IdentityKind::AnonymousId, aid.to_string(), read).await,
        None => crate::api::read_log(app, read).await,
    };
    let (contact, picks, forms) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e.body(), "a landing page's products could not be read");
            (None, Vec::new(), HashMap::new())
        }
    };
    let mut view = View { forms, page_url, anonymous_id: visitor.map(str::to_string), ..View::default() };
    if picks.is_empty() {
        return view;
    }
    let currency = app.engine.settings(ws).await.map(|s| s.settings.store.currency).unwrap_or_default();
    let mut wanted: Vec<(usize, Vec<String>, usize)> = Vec::new();
    for (i, pick, count) in picks {
        let recommended = matches!(pick, Pick::Recommended);
        let mut ids: Vec<String> = match pick {
            Pick::Category(c) => category_ids(app, ws, &c).await.to_vec(),
            Pick::Recommended => app.engine.recommended_products(ws, contact).await.unwrap_or_default(),
        };
        if recommended && ids.len() < STOCK_READS_MAX {
            // Too little history to recommend from: the catalog fills the block.
            for id in category_ids(app, ws, "").await.iter().take(STOCK_READS_MAX) {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        wanted.push((i, ids, count));
    }
    let stocked = crate::api::read_log(app, move |r| {
        let mut out = HashMap::new();
        for (i, ids, count) in wanted {
            let mut cards = Vec::new();
            for id in ids.iter().take(STOCK_READS_MAX) {
                if cards.len() >= count {
                    break;
                }
                if let Some(p) = r.product(ws, id)?
                    && in_stock(&p)
                {
                    cards.push(card(p, &currency));
                }
            }
            out.insert(i, cards);
        }
        Ok(out)
    })
    .await;
    view.products = stocked.unwrap_or_default();
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_like_money() {
        assert_eq!(price(Money(49_900), "USD"), "$499.00");
        assert_eq!(price(Money(1_250), "SEK"), "12.50 SEK");
    }
}
