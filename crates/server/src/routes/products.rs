//! `/api/v1/products`: the catalog (SPEC 16 "Products").

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use kairos_domain::{Product, ProductFields};
use kairos_store::Reader;
use serde_json::{Value, json};

use crate::api::{Params, json_body, limit, page, read};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, wire};

/// Most products in one bulk upsert.
const BULK_PRODUCTS_MAX: usize = 5_000;

pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let n = limit(&q)?;
    let cursor = q.get("cursor").cloned();
    let p = read(&app, move |r| r.products(ws, cursor.as_deref(), n)).await?;
    Ok(page(p.items.iter().map(wire::product).collect(), p.next_cursor))
}

pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = id.clone();
    let p = read(&app, move |r| r.product(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("product {id:?} not found")))?;
    Ok(Json(wire::product(&p)))
}

pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let product = Product::replacement_from_api(&v, &id, app.engine.clock().now())?;
    app.engine.upsert_products(ws, vec![product.clone()]).await?;
    Ok(Json(wire::product(&product)))
}

/// `PATCH /api/v1/products/{id}`: merges the fields given into the stored product (404 when there is none).
pub async fn patch(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let fields = ProductFields::from_api(&v)?.checked_patch(&id)?;
    let product = app.engine.patch_product(ws, id, fields).await?;
    Ok(Json(wire::product(&product)))
}

pub async fn bulk(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let items = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("items") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::missing_field("items", "items must be an array of products")),
        },
        _ => return Err(ApiError::invalid_type("items", "send {\"items\": [product, ...]}")),
    };
    if items.len() > BULK_PRODUCTS_MAX {
        return Err(ApiError::field(
            ErrorCode::TooLong,
            "items",
            format!("at most {BULK_PRODUCTS_MAX} products per request"),
        ));
    }
    let now = app.engine.clock().now();
    let products = items
        .iter()
        .enumerate()
        .map(|(i, p)| Product::from_api(p, None, now).map_err(|e| ApiError::from(e.within(&format!("items[{i}]")))))
        .collect::<Result<Vec<_>, _>>()?;
    let count = products.len();
    app.engine.upsert_products(ws, products).await?;
    Ok(Json(json!({"upserted": count})))
}
