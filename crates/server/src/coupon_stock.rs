//! Coupons the shop's checkout accepts: a unique pool backed by Shopify (a price rule) or WooCommerce has its
//! codes created in the shop ahead of need, in batches, and kept as the pool's stock
//! (`kairos_engine::coupons`). A pool is topped up to [`COUPON_STOCK_TARGET`] codes when it is saved and then
//! every [`COUPON_STOCK_INTERVAL`]. A code the shop refuses is never handed out; with the stock empty (the
//! token was refused, the price rule is gone) the flow's `issue_coupon` step takes its fallback branch.

use std::sync::Arc;
use std::time::Duration;

use kairos_channels::HttpClient;
use kairos_domain::WorkspaceId;
use kairos_engine::coupons::Pool;
use kairos_engine::integrations::Platform;
use kairos_engine::{Engine, EngineError};
use serde_json::{Value, json};

use crate::backfill::sources::{SHOPIFY_API_VERSION, Source};

/// Codes a backed pool keeps ready.
pub const COUPON_STOCK_TARGET: usize = 20;
/// How often every backed pool is topped up.
pub const COUPON_STOCK_INTERVAL: Duration = Duration::from_secs(60);
/// Most coupons one WooCommerce batch call creates (the REST API's batch limit).
const WOOCOMMERCE_BATCH_MAX: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error("this workspace has no {0} connection")]
    NotConnected(Platform),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One POST of JSON to the shop: (status, JSON answer).
async fn post(http: &HttpClient, source: &Source, url: &str, body: &Value) -> Result<(u16, Value), StockError> {
    let (name, value) = source.auth();
    let request = axum::http::Request::post(url)
        .header(name, value)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
        .map_err(|e| StockError::Refused(format!("the connection's address is not usable: {e}")))?;
    let shown = url.split('?').next().unwrap_or_default().to_string();
    let r = http.send(request).await.map_err(|e| StockError::Refused(format!("could not call {shown}: {e}")))?;
    if r.status == 401 || r.status == 403 {
        return Err(StockError::Refused(format!("the shop refused the credentials (HTTP {}) at {shown}", r.status)));
    }
    Ok((r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null)))
}

/// WooCommerce: the codes as coupons of the pool's value, one use each, in batches; answers those created.
async fn woocommerce(
    http: &HttpClient,
    source: &Source,
    pool: &Pool,
    codes: Vec<String>,
) -> Result<Vec<String>, StockError> {
    let (kind, value) = pool.value();
    let mut created = Vec::new();
    for batch in codes.chunks(WOOCOMMERCE_BATCH_MAX) {
        let coupons: Vec<Value> = batch
            .iter()
            .map(|code| {
                let mut c = json!({
                    "code": code,
                    "discount_type": if kind == "percent" { "percent" } else { "fixed_cart" },
                    "amount": format!("{:.2}", if kind == "free_shipping" { 0.0 } else { value }),
                    "free_shipping": kind == "free_shipping",
                    "individual_use": true,
                    "usage_limit": 1,
                    "usage_limit_per_user": 1,
                });
                if let Some(t) = pool.expires_at() {
                    c["date_expires_gmt"] = json!(t.to_jiff().strftime("%Y-%m-%dT%H:%M:%S").to_string());
                }
                c
            })
            .collect();
        let url = format!("{}/wp-json/wc/v3/coupons/batch", source.base());
        let (status, answer) = post(http, source, &url, &json!({ "create": coupons })).await?;
        if !(200..300).contains(&status) {
            return Err(StockError::Refused(format!("WooCommerce answered HTTP {status} creating coupons")));
        }
        for c in answer["create"].as_array().into_iter().flatten() {
            // A refused item comes back with `id` 0 and an `error`.
            if c["id"].as_u64().is_some_and(|id| id > 0)
                && let Some(code) = c["code"].as_str()
                && let Some(ours) = batch.iter().find(|b| b.eq_ignore_ascii_case(code))
            {
                created.push(ours.clone());
            }
        }
    }
    Ok(created)
}

/// Shopify: each code under the pool's price rule; answers those created (a code Shopify already has, 422,
/// is left out).
async fn shopify(
    http: &HttpClient,
    source: &Source,
    rule: &str,
    codes: Vec<String>,
) -> Result<Vec<String>, StockError> {
    let url = format!("{}/admin/api/{SHOPIFY_API_VERSION}/price_rules/{rule}/discount_codes.json", source.base());
    let mut created = Vec::new();
    for code in codes {
        match post(http, source, &url, &json!({"discount_code": {"code": code}})).await? {
            (200..=299, _) => created.push(code),
            (422, _) => {}
            (status, answer) => {
                let why = answer["errors"].to_string();
                return Err(StockError::Refused(format!(
                    "Shopify answered HTTP {status} creating a discount code: {why}"
                )));
            }
        }
    }
    Ok(created)
}

/// Tops a backed pool's stock up to [`COUPON_STOCK_TARGET`]; answers the stock's size.
pub async fn replenish(
    engine: &Engine,
    http: &HttpClient,
    ws: WorkspaceId,
    pool_id: &str,
) -> Result<usize, StockError> {
    let Some(info) = engine.coupon_pools(ws, Some(pool_id.to_string())).await?.pop() else { return Ok(0) };
    let (Some(backing), Some(have)) = (info.pool.backing().cloned(), info.stock) else { return Ok(0) };
    let now = engine.clock().now();
    if have >= COUPON_STOCK_TARGET || info.pool.expires_at().is_some_and(|t| t <= now) {
        return Ok(have);
    }
    let Some(Value::Object(config)) = engine.integration(ws, backing.platform).await? else {
        return Err(StockError::NotConnected(backing.platform));
    };
    let source = Source::of(backing.platform, &config).map_err(|e| StockError::Refused(e.to_string()))?;
    let mut codes = info.pool.new_codes(COUPON_STOCK_TARGET - have);
    let created = match backing.platform {
        Platform::Woocommerce => {
            // WooCommerce keeps codes in lower case: the code handed out is the one its orders will name.
            codes.iter_mut().for_each(|c| *c = c.to_lowercase());
            woocommerce(http, &source, &info.pool, codes).await?
        }
        Platform::Shopify => {
            shopify(http, &source, backing.price_rule_id.as_deref().unwrap_or_default(), codes).await?
        }
        Platform::Magento => return Ok(have),
    };
    Ok(engine.stock_coupons(ws, pool_id.to_string(), created).await?)
}

/// Tops up one pool in the background (after it is saved).
pub fn spawn(engine: Arc<Engine>, http: HttpClient, ws: WorkspaceId, pool: String) {
    tokio::spawn(async move {
        if let Err(e) = replenish(&engine, &http, ws, &pool).await {
            tracing::warn!(pool = %pool, error = %e, "the coupon pool's codes could not be created in the shop");
        }
    });
}

/// Every [`COUPON_STOCK_INTERVAL`]: tops up every backed pool of every workspace.
pub async fn stock_forever(engine: Arc<Engine>, http: HttpClient) {
    loop {
        tokio::time::sleep(COUPON_STOCK_INTERVAL).await;
        let store = engine.store().clone();
        let Ok(Ok(workspaces)) = tokio::task::spawn_blocking(move || store.workspaces()).await else { continue };
        for (ws, ..) in workspaces {
            let Ok(pools) = engine.coupon_pools(ws, None).await else { continue };
            for p in pools.into_iter().filter(|p| p.pool.backing().is_some()) {
                if let Err(e) = replenish(&engine, &http, ws, p.pool.id()).await {
                    tracing::warn!(pool = %p.pool.id(), error = %e, "the coupon pool's codes could not be created in the shop");
                }
            }
        }
    }
}
