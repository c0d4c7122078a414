//! `/api/v1/products`: the catalog (SPEC 16 "Products").

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use kairos_domain::{Product, ProductFields};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{PageQuery, QueryParams, json_body, limit, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::{Page, ProductBody, Reply};

/// Most products in one bulk upsert.
const BULK_PRODUCTS_MAX: usize = 5_000;

/// A product as the API takes it, read and checked by `kairos_domain::ProductFields` (each field named in its
/// error). A `PUT` needs `title` and `price` (the id comes from the path; a body `id` must equal it); a `PATCH`
/// changes the fields given (`null` removes an optional one); a bulk item needs only `id`.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"id": "bike-1", "title": "Gravel Bike", "price": 499.5, "currency": "EUR",
                         "categories": ["bicycles"], "inventory_quantity": 3, "url": "https://shop.example/bike-1"}))]
pub struct ProductRequest {
    /// Up to 256 characters; numbers are read as text in bulk items.
    pub id: Option<String>,
    pub sku: Option<String>,
    /// Non-empty; required by `PUT`.
    pub title: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    /// Major units, non-negative (a number or numeric text); required by `PUT`.
    pub price: Option<f64>,
    pub compare_at_price: Option<f64>,
    /// ISO 4217 code, any case.
    pub currency: Option<String>,
    /// At most 50.
    pub categories: Option<Vec<String>>,
    pub inventory_quantity: Option<i64>,
    /// Default: false when `inventory_quantity` is 0, else true.
    pub available: Option<bool>,
}

/// `POST /api/v1/products/bulk`: `{"items": [...]}` (or the bare array); all or nothing.
#[derive(Debug, ToSchema)]
pub struct BulkProducts {
    /// At most 5000; each needs an `id`.
    pub items: Vec<ProductRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Upserted {
    pub upserted: usize,
}

#[utoipa::path(
    get,
    path = "/api/v1/products",
    operation_id = "products_list",
    tag = "products",
    params(PageQuery),
    responses(
        (status = 200, description = "Products, by id", body = Page<ProductBody>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Reply<Page<ProductBody>>, ApiError> {
    let n = limit(&q.limit)?;
    let cursor = q.cursor;
    let p = read_log(&app, move |r| r.products(ws, cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(p.items.iter().map(ProductBody::from).collect(), p.next_cursor)))
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    operation_id = "products_get",
    tag = "products",
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = ProductBody),
        (status = 404, description = "No such product in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<ProductBody>, ApiError> {
    let key = id.clone();
    let p = read_log(&app, move |r| r.product(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("product {id:?} not found")))?;
    Ok(Reply(ProductBody::from(&p)))
}

/// Creates or replaces the product: fields not sent are cleared; `title` and `price` are required.
#[utoipa::path(
    put,
    path = "/api/v1/products/{id}",
    operation_id = "products_put",
    tag = "products",
    request_body = ProductRequest,
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product as stored", body = ProductBody),
        (status = 400, description = "A missing or bad field", body = ErrorBody)
    )
)]
pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<ProductBody>, ApiError> {
    let v = json_body(&headers, body).await?;
    let product = Product::replacement_from_api(&v, &id, app.engine.clock().now())?;
    app.engine.upsert_products(ws, vec![product.clone()]).await?;
    Ok(Reply(ProductBody::from(&product)))
}

/// Merges the fields given into the stored product. Without `available`, a new `inventory_quantity` decides
/// availability; a restock or price drop starts back-in-stock and price-drop flows as a `PUT` does.
#[utoipa::path(
    patch,
    path = "/api/v1/products/{id}",
    operation_id = "products_patch",
    tag = "products",
    request_body = ProductRequest,
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The merged product", body = ProductBody),
        (status = 400, description = "A bad field, or `title`/`price` set to null", body = ErrorBody),
        (status = 404, description = "No such product in the workspace", body = ErrorBody)
    )
)]
pub async fn patch(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<ProductBody>, ApiError> {
    let v = json_body(&headers, body).await?;
    let fields = ProductFields::from_api(&v)?.checked_patch(&id)?;
    let product = app.engine.patch_product(ws, id, fields).await?;
    Ok(Reply(ProductBody::from(&product)))
}

/// Creates or replaces many products at once; one bad item stores none (its error names `items[i].field`).
#[utoipa::path(
    post,
    path = "/api/v1/products/bulk",
    operation_id = "products_bulk",
    tag = "products",
    request_body = BulkProducts,
    responses(
        (status = 200, description = "How many were upserted", body = Upserted),
        (status = 400, description = "A bad item", body = ErrorBody)
    )
)]
pub async fn bulk(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<Upserted>, ApiError> {
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
    let upserted = products.len();
    app.engine.upsert_products(ws, products).await?;
    Ok(Reply(Upserted { upserted }))
}
