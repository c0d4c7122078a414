//! `/api/v1/coupons` (SPEC 9): coupon pools, and `POST /api/v1/coupons/validate` for the store's checkout.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_engine::coupons::{CouponCheck, PoolInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{ContactSelector, json_body, present, request};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Page, Reply, created};

/// Longest coupon code checked, in bytes.
const CODE_BYTES_MAX: usize = 100;

/// A coupon pool, validated by the engine (errors name the field). A `shared` pool gives everyone its `code`;
/// a `unique` pool makes one code per contact from `pattern` (`{CODE}` stands for `length` random characters).
#[derive(Debug, ToSchema)]
#[schema(example = json!({"id": "welcome10", "type": "unique", "pattern": "WELCOME-{CODE}", "length": 8,
                         "value_type": "percent", "value": 10, "valid_for": "30d"}))]
pub struct CouponPool {
    pub id: String,
    pub name: Option<String>,
    /// `shared` or `unique`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `shared`: the code.
    pub code: Option<String>,
    /// `unique`: the code's pattern and the random part's length.
    pub pattern: Option<String>,
    pub length: Option<u32>,
    /// `percent`, `fixed` or `free_shipping`.
    pub value_type: String,
    pub value: Option<f64>,
    /// No code is valid after this instant.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Each code is valid for this long after it is issued (`30d`).
    pub valid_for: Option<String>,
    /// Most codes the pool gives.
    pub max_codes: Option<u64>,
    /// `unique` only: `shopify` or `woocommerce` creates each code in the shop (so its checkout accepts it).
    pub platform: Option<String>,
    /// `platform: shopify`: the price rule (discount) the codes are created under.
    pub price_rule_id: Option<String>,
}

/// A pool as it was given, with how many codes it gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponPoolBody {
    #[serde(flatten)]
    #[schema(value_type = CouponPool)]
    pub pool: Map<String, Value>,
    pub issued: u64,
    /// Not expired and not exhausted (and, for a pool whose codes the shop creates, with codes in stock).
    pub active: bool,
    /// A pool whose codes the shop creates (`platform`): codes created there and not handed out yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<usize>,
}

impl From<PoolInfo> for CouponPoolBody {
    fn from(p: PoolInfo) -> Self {
        CouponPoolBody {
            pool: p.pool.document().as_object().cloned().unwrap_or_default(),
            issued: p.issued,
            active: p.active,
            stock: p.stock,
        }
    }
}

/// Creates (or replaces) a pool.
#[utoipa::path(
    post,
    path = "/api/v1/coupons",
    operation_id = "coupons_save",
    tag = "coupons",
    request_body = CouponPool,
    responses(
        (status = 201, description = "The pool", body = CouponPoolBody),
        (status = 400, description = "A bad field", body = ErrorBody)
    )
)]
pub async fn save(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<CouponPoolBody>), ApiError> {
    let v = json_body(&headers, body).await?;
    let pool = kairos_engine::coupons::parse_pool(&v)?;
    let saved = app.engine.save_coupon_pool(ws, pool).await?;
    if saved.pool.backing().is_some() {
        // Its codes are created in the shop now, not at the next round (`crate::coupon_stock`).
        crate::coupon_stock::spawn(app.engine.clone(), app.platforms.clone(), ws, saved.pool.id().to_string());
    }
    Ok(created(CouponPoolBody::from(saved)))
}

/// The pools with how many codes each issued.
#[utoipa::path(
    get,
    path = "/api/v1/coupons",
    operation_id = "coupons_list",
    tag = "coupons",
    responses(
        (status = 200, description = "Every pool, by id (one page)", body = Page<CouponPoolBody>)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<CouponPoolBody>>, ApiError> {
    let pools = app.engine.coupon_pools(ws, None).await?;
    Ok(Reply(Page::new(pools.into_iter().map(CouponPoolBody::from).collect(), None)))
}

#[utoipa::path(
    get,
    path = "/api/v1/coupons/{id}",
    operation_id = "coupons_get",
    tag = "coupons",
    params(("id" = String, Path, description = "The pool's id")),
    responses(
        (status = 200, description = "The pool", body = CouponPoolBody),
        (status = 404, description = "No such pool in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<CouponPoolBody>, ApiError> {
    let pool = app.engine.coupon_pools(ws, Some(id)).await?.into_iter().next();
    Ok(Reply(CouponPoolBody::from(pool.ok_or_else(|| ApiError::not_found("no such coupon pool"))?)))
}

/// A code to check, and optionally the contact using it (like [`ContactSelector`]).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"code": "WELCOME-7KQ2MZ4X", "email": "ann@example.com"}))]
pub struct ValidateRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String)]
    pub code: Option<Value>,
    #[serde(flatten)]
    pub who: ContactSelector,
}

/// Whether the code can be used now: `reason` is `unknown_code`, `expired`, `already_redeemed` or
/// `not_issued_to_contact` when it cannot.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponValidity {
    pub code: String,
    pub valid: bool,
    pub reason: Option<String>,
    /// The coupon, when the code exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon: Option<CouponBody>,
}

/// A coupon code with its pool and value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponBody {
    pub code: String,
    pub pool: String,
    /// `percent`, `fixed` or `free_shipping`.
    pub value_type: String,
    pub value: f64,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

impl From<CouponCheck> for CouponValidity {
    fn from(c: CouponCheck) -> Self {
        CouponValidity {
            code: c.code,
            valid: c.invalid.is_none(),
            reason: c.invalid.map(|r| r.as_str().to_string()),
            coupon: c.coupon.map(|c| CouponBody {
                code: c.code,
                pool: c.pool,
                value_type: c.value_type,
                value: c.value,
                expires_at: c.expires_at.map(|t| t.to_string()),
            }),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/coupons/validate",
    operation_id = "coupons_validate",
    tag = "coupons",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "Whether the code is valid", body = CouponValidity),
        (status = 400, description = "No code, or a bad contact", body = ErrorBody),
        (status = 404, description = "The contact named does not exist", body = ErrorBody)
    )
)]
pub async fn validate(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<CouponValidity>, ApiError> {
    let req: ValidateRequest = request(json_body(&headers, body).await?)?;
    let code = match req.code.as_ref().and_then(Value::as_str) {
        Some(c) if !c.trim().is_empty() && c.len() <= CODE_BYTES_MAX => c.trim().to_string(),
        _ => return Err(ApiError::missing_field("code", "code is required")),
    };
    let who = if req.who.is_given() { Some(req.who.contact()?) } else { None };
    Ok(Reply(CouponValidity::from(app.engine.validate_coupon(ws, code, who).await?)))
}
