//! Shopify inventory levels (`inventory_levels/update`): a level names an inventory item (one variant) at one
//! location, not a product. Product webhooks tell which product each item belongs to (kept in the sync state
//! `shopify/inventory_item/{id}`). An item available again makes its product available (a back-in-stock
//! trigger); an item sold out makes its product unavailable only when it is the product's only item (with
//! several variants, `products/update`, which Shopify sends with the level, carries the whole picture). The
//! product keeps the level's `updated_at`, so a later product webhook still wins and an older one does not.

use kairos_domain::WorkspaceId;
use kairos_integrations::InventoryLevel;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::read_log;
use crate::error::ApiError;

fn item_state(item: &str) -> String {
    format!("shopify/inventory_item/{item}")
}

/// Remembers which product each inventory item belongs to.
pub(crate) async fn remember_items(
    engine: &kairos_engine::Engine,
    ws: WorkspaceId,
    items: Vec<(String, String, usize)>,
) -> Result<(), kairos_engine::EngineError> {
    // One commit for all of them: a backfill page names hundreds of variants.
    let entries = items
        .into_iter()
        .map(|(item, product, count)| {
            (item_state(&item), Some(json!({"product": product, "items": count}).to_string()))
        })
        .collect();
    engine.set_sync_states(ws, entries).await
}

/// Applies inventory levels to the products their items belong to.
pub(crate) async fn apply_levels(app: &AppState, ws: WorkspaceId, levels: Vec<InventoryLevel>) -> Result<(), ApiError> {
    for level in levels {
        let Some(known) = app.engine.sync_state(ws, &item_state(&level.item)).await? else {
            tracing::debug!(item = %level.item, "an inventory level for an item no product webhook named");
            continue;
        };
        let known: Value = serde_json::from_str(&known).unwrap_or_default();
        let (Some(product), items) = (known["product"].as_str().map(str::to_string), known["items"].as_u64()) else {
            continue;
        };
        let Some(available) = level.available else { continue };
        let id = product.clone();
        let Some(mut p) = read_log(app, move |r| r.product(ws, &id)).await? else { continue };
        let now_available = if available > 0 {
            true
        } else if items == Some(1) {
            false
        } else {
            continue;
        };
        if p.available == now_available || p.updated_at > level.updated_at {
            continue;
        }
        p.available = now_available;
        if items == Some(1) {
            p.inventory_quantity = Some(available.max(0));
        }
        p.updated_at = level.updated_at;
        app.engine.upsert_platform_products(ws, vec![p]).await?;
    }
    Ok(())
}
