//! `/api/v1/settings`: the workspace's settings over the defaults of `kairos.toml`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use kairos_engine::EngineError;
use kairos_engine::settings::SettingsPatch;

/// The effective settings (the engine writes them; every key is shown, defaults included). A `PUT` takes any
/// subset of the same keys (nested objects merge; `null` returns a key to its default).
#[derive(Debug, ToSchema)]
pub struct Settings {
    /// Minimum time between two marketing messages to a contact (`16h`), or null.
    pub smart_sending: Option<String>,
    /// Per channel (`email`, `sms`): `"21:00-09:00"` in the contact's zone, or null.
    pub quiet_hours: BTreeMap<String, Option<String>>,
    /// Per channel: most marketing messages a contact gets a day, or null.
    pub daily_cap: BTreeMap<String, Option<u32>>,
    pub weekly_cap: BTreeMap<String, Option<u32>>,
    /// `opt_in` (marketing needs `subscribed`) or `opt_out` (`never_subscribed` too).
    pub consent_mode: String,
    /// Carts above this (store currency) go to a task in the abandoned-cart flow.
    pub high_value_cart: f64,
    /// 0 to 23, local: when `best_hour` sends go without a `best_send_hour` trait.
    pub default_send_hour: u8,
    /// IANA zone of reports and schedules.
    pub timezone: String,
    /// Per channel: attribution window (`5d`).
    pub attribution_window: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub store: StoreSettings,
    /// Signs webhook steps' and task webhooks' calls (generated when first read or used; `null` in a `PUT` makes a
    /// new one).
    pub webhook_secret: Option<String>,
    /// `{"allowed_domains": [...]}`: hosts whose links are click-tracked besides the store's.
    #[schema(value_type = Object)]
    pub tracking: BTreeMap<String, Vec<String>>,
    /// `{"from": "+15005550006"}`: the number this workspace texts from.
    #[schema(value_type = Object)]
    pub sms: BTreeMap<String, Option<String>>,
    /// Lead scoring: `{"half_life": "30d" | "off", "events": [{"event", "where", "points", "max_times"}],
    /// "traits": [{"trait", "exists": true | "equals": value, "points"}]}` (README "Lead scoring and lifecycle
    /// stages").
    #[schema(value_type = Object)]
    pub lead_scoring: Value,
    /// Lifecycle stage thresholds: `{"lead_score": 50, "vip_lifetime_value": 1000, "vip_orders": 5 | "off",
    /// "at_risk_after": "90d", "lapsed_after": "180d"}`.
    #[schema(value_type = Object)]
    pub lifecycle: Value,
}

#[derive(Debug, ToSchema)]
pub struct StoreSettings {
    pub name: String,
    pub currency: String,
    pub url: String,
    pub free_shipping_threshold: Option<f64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/settings",
    operation_id = "settings_get",
    tag = "settings",
    responses(
        (status = 200, description = "The effective settings", body = Settings)
    )
)]
pub async fn get(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let view = app.engine.settings(ws).await?;
    if view.webhook_secret.is_some() {
        return Ok(Json(view.to_json()));
    }
    // No signing secret yet: the workspace's admin is shown one now, made by the committer (an empty update), so
    // concurrent first reads and the first webhook call all get the same one.
    let nothing = SettingsPatch::parse(Value::Object(Default::default())).map_err(EngineError::from)?;
    Ok(Json(app.engine.update_settings(ws, nothing).await?.to_json()))
}

/// A partial update (only the keys given change); answers the effective settings.
#[utoipa::path(
    put,
    path = "/api/v1/settings",
    operation_id = "settings_put",
    tag = "settings",
    request_body = Object,
    responses(
        (status = 200, description = "The effective settings", body = Settings),
        (status = 400, description = "An unknown key or a bad value, named", body = ErrorBody)
    )
)]
pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    if !v.is_object() {
        return Err(ApiError::invalid_type("body", "the body must be a JSON object"));
    }
    let patch = SettingsPatch::parse(v).map_err(|e| ApiError::from(EngineError::from(e)))?;
    Ok(Json(app.engine.update_settings(ws, patch).await?.to_json()))
}
