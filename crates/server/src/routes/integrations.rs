//! `/api/v1/integrations`: a workspace's connections to store platforms (stored sealed; tokens and secrets are
//! never answered back), and `/hooks/{platform}/{workspace_id}`: the platforms' webhooks, verified on the raw
//! body before anything is read from it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kairos_domain::WorkspaceId;
use kairos_engine::integrations::Platform;
use kairos_integrations::{Mapped, shopify, signature, woocommerce};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{json_body, read_body};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};

/// Longest token, secret or address accepted in a connection, in bytes.
const CONNECTION_FIELD_BYTES_MAX: usize = 2048;
/// Unknown webhook topics remembered (each is logged once).
const UNKNOWN_TOPICS_LOGGED_MAX: usize = 256;

/// What a connection field holds.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A Shopify shop's own domain (`velo.myshopify.com`).
    ShopDomain,
    /// An `http(s)://` address.
    Url,
    /// A token or secret (stored sealed, never answered).
    Secret,
}

/// The fields of each platform's connection: (name, kind, required).
fn fields(platform: Platform) -> &'static [(&'static str, Kind, bool)] {
    match platform {
        Platform::Shopify => &[
            ("shop_domain", Kind::ShopDomain, true),
            ("access_token", Kind::Secret, true),
            ("webhook_secret", Kind::Secret, true),
            ("api_url", Kind::Url, false),
        ],
        Platform::Woocommerce => &[
            ("site_url", Kind::Url, true),
            ("consumer_key", Kind::Secret, true),
            ("consumer_secret", Kind::Secret, true),
            ("webhook_secret", Kind::Secret, true),
        ],
        Platform::Magento => &[("base_url", Kind::Url, true), ("access_token", Kind::Secret, true)],
    }
}

pub(crate) fn platform(name: &str) -> Result<Platform, ApiError> {
    Platform::parse(name).ok_or_else(|| {
        ApiError::not_found(format!("no platform {name:?}: Kairos connects shopify, woocommerce and magento"))
    })
}

/// Checks a connection body field by field (the first bad one is the error, naming it); answers what to store.
fn check(platform: Platform, body: &Value) -> Result<Value, ApiError> {
    let obj = body.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let known = fields(platform);
    if let Some(k) = obj.keys().find(|k| !known.iter().any(|(f, _, _)| f == k)) {
        let names: Vec<&str> = known.iter().map(|(f, _, _)| *f).collect();
        return Err(ApiError::invalid_value(
            k,
            format!("unknown field {k:?}; a {platform} connection takes {}", names.join(", ")),
        ));
    }
    let mut out = Map::new();
    for (name, kind, required) in known {
        let v = match obj.get(*name) {
            None | Some(Value::Null) if *required => {
                return Err(ApiError::missing_field(name, format!("{name} is required")));
            }
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.trim(),
            Some(_) => return Err(ApiError::invalid_type(name, format!("{name} must be a string"))),
        };
        if v.is_empty() {
            return Err(ApiError::invalid_value(name, format!("{name} must not be empty")));
        }
        if v.len() > CONNECTION_FIELD_BYTES_MAX {
            return Err(ApiError::invalid_value(
                name,
                format!("{name} is longer than {CONNECTION_FIELD_BYTES_MAX} bytes"),
            ));
        }
        let value = match kind {
            Kind::ShopDomain => shop_domain(name, v)?,
            Kind::Url => url(name, v)?,
            Kind::Secret => v.to_string(),
        };
        out.insert((*name).to_string(), Value::String(value));
    }
    Ok(Value::Object(out))
}

/// Shopify's shop domain: `{shop}.myshopify.com`, as the Admin API and the `X-Shopify-Shop-Domain` header name it.
fn shop_domain(name: &str, v: &str) -> Result<String, ApiError> {
    let d = v.trim_start_matches("https://").trim_end_matches('/').to_ascii_lowercase();
    let shop = d.strip_suffix(".myshopify.com").unwrap_or("");
    let ok = !shop.is_empty()
        && shop.len() <= 60
        && shop.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !shop.starts_with('-');
    if !ok {
        return Err(ApiError::invalid_value(
            name,
            format!("{name} must be the shop's myshopify.com domain (velo.myshopify.com)"),
        ));
    }
    Ok(d)
}

fn url(name: &str, v: &str) -> Result<String, ApiError> {
    let parsed = url::Url::parse(v).map_err(|e| ApiError::invalid_value(name, format!("{name} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid_value(name, format!("{name} must be an http(s) address with a host")));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// A workspace's public id (what webhook URLs name).
async fn public_id(app: &AppState, ws: WorkspaceId) -> Result<String, ApiError> {
    let store = app.engine.store().clone();
    let all = tokio::task::spawn_blocking(move || store.workspaces())
        .await
        .map_err(|_| ApiError::internal("listing workspaces failed"))?
        .map_err(|e| ApiError::from(kairos_engine::EngineError::Store(e)))?;
    all.into_iter()
        .find(|(id, _, _)| *id == ws)
        .map(|(_, public, _)| public)
        .ok_or_else(|| ApiError::not_found("no such workspace"))
}

/// The workspace a webhook URL names. Public ids never change, so a found one is remembered: a webhook does
/// not list every workspace. Only ids found in the store are kept (an attacker's guesses are not).
async fn workspace_named(app: &AppState, public: String) -> Option<WorkspaceId> {
    static KNOWN: OnceLock<Mutex<HashMap<String, WorkspaceId>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(ws) = known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&public) {
        return Some(*ws);
    }
    let store = app.engine.store().clone();
    let all = tokio::task::spawn_blocking(move || store.workspaces()).await.ok()?.ok()?;
    let ws = all.into_iter().find(|(_, p, _)| *p == public).map(|(id, _, _)| id)?;
    known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(public, ws);
    Some(ws)
}

/// A connection as answered: what is not secret, where the platform posts webhooks, and their health.
async fn view(app: &AppState, ws: WorkspaceId, public: &str, p: Platform) -> Result<Value, ApiError> {
    let stored = app.engine.integration(ws, p).await?;
    let mut out = Map::new();
    out.insert("platform".into(), json!(p.as_str()));
    out.insert("connected".into(), json!(stored.is_some()));
    if let Some(Value::Object(c)) = &stored {
        for (name, kind, _) in fields(p) {
            match (kind, c.get(*name)) {
                (Kind::Secret, v) => out.insert(format!("{name}_set"), json!(v.is_some())),
                (_, Some(v)) => out.insert((*name).to_string(), v.clone()),
                (_, None) => None,
            };
        }
    }
    if p != Platform::Magento {
        out.insert("webhook_url".into(), json!(format!("{}/hooks/{}/{public}", app.public_url, p.as_str())));
    }
    let w = app.engine.webhook_health(ws, p);
    let ts = crate::wire::ts;
    out.insert(
        "webhooks".into(),
        json!({
            "last_received_at": ts(w.last_received_at), "received": w.received, "rejected": w.rejected,
            "last_error": w.last_error, "last_error_at": ts(w.last_error_at),
            "tested_at": ts(w.tested_at), "test_error": w.test_error,
        }),
    );
    let backfill = crate::backfill::progress(&app.engine, ws, p).await.ok().flatten();
    let running = crate::backfill::is_running_here(ws, p);
    out.insert("backfill".into(), crate::routes::backfill::view(backfill.as_ref(), running));
    Ok(Value::Object(out))
}

/// Every platform's connection of the workspace (connected or not).
#[utoipa::path(
    get,
    path = "/api/v1/integrations",
    operation_id = "integrations_list",
    tag = "integrations",
    responses((status = 200, description = "`{\"items\": [connection]}`, one per platform", body = Object))
)]
pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let public = public_id(&app, ws).await?;
    let mut items = Vec::new();
    for p in Platform::ALL {
        items.push(view(&app, ws, &public, *p).await?);
    }
    Ok(Json(json!({ "items": items })))
}

/// Connects (or reconnects) a platform: Shopify `{"shop_domain", "access_token", "webhook_secret", "api_url"?}`,
/// WooCommerce `{"site_url", "consumer_key", "consumer_secret", "webhook_secret"}`, Magento
/// `{"base_url", "access_token"}`. Stored encrypted; answers the connection without its secrets. A secret left
/// out of a later `PUT` keeps the one stored.
#[utoipa::path(
    put,
    path = "/api/v1/integrations/{platform}",
    operation_id = "integrations_put",
    tag = "integrations",
    params(("platform" = String, Path, description = "shopify, woocommerce or magento")),
    request_body = Object,
    responses(
        (status = 200, description = "The connection (secrets shown only as `*_set`)", body = Object),
        (status = 400, description = "A missing, unknown or bad field, named", body = ErrorBody),
        (status = 404, description = "An unknown platform", body = ErrorBody)
    )
)]
pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let p = platform(&name)?;
    let mut body = json_body(&headers, body).await?;
    // A secret left out keeps the one stored (the API never answers secrets, so a form cannot resend them).
    if let (Some(Value::Object(stored)), Some(given)) = (app.engine.integration(ws, p).await?, body.as_object_mut()) {
        for (field, kind, _) in fields(p) {
            if *kind == Kind::Secret
                && !given.contains_key(*field)
                && let Some(v) = stored.get(*field)
            {
                given.insert((*field).to_string(), v.clone());
            }
        }
    }
    let config = check(p, &body)?;
    app.engine.set_integration(ws, p, Some(config)).await?;
    let public = public_id(&app, ws).await?;
    Ok(Json(view(&app, ws, &public, p).await?))
}

/// Disconnects a platform (its webhooks are refused from then on).
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/{platform}",
    operation_id = "integrations_delete",
    tag = "integrations",
    params(("platform" = String, Path, description = "shopify, woocommerce or magento")),
    responses(
        (status = 200, description = "`{\"deleted\": true}`", body = Object),
        (status = 404, description = "An unknown platform, or none connected", body = ErrorBody)
    )
)]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = platform(&name)?;
    if app.engine.integration(ws, p).await?.is_none() {
        return Err(ApiError::not_found(format!("no {p} connection")));
    }
    app.engine.set_integration(ws, p, None).await?;
    Ok(Json(json!({ "deleted": true })))
}

/// Logs an unknown topic the first time it is seen (a platform may send many; the log stays readable).
fn log_unknown_topic(platform: Platform, topic: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = format!("{platform}:{topic}");
    if seen.len() < UNKNOWN_TOPICS_LOGGED_MAX && seen.insert(key) {
        tracing::info!(%platform, topic, "webhook topic acknowledged and ignored");
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// A refused webhook: recorded in the connection's health, answered with its error.
fn refuse(app: &AppState, ws: WorkspaceId, p: Platform, e: ApiError) -> Response {
    app.engine.record_webhook(ws, p, Err(e.message.clone()));
    e.into_response()
}

/// `POST /hooks/shopify/{workspace_id}`: a Shopify webhook. The `X-Shopify-Hmac-Sha256` header must be the
/// base64 HMAC-SHA256 of the raw body under the connection's webhook secret (401 otherwise, nothing read);
/// the topic (`X-Shopify-Topic`) is mapped onto events, profiles and the catalog and committed before the 200.
/// Unknown topics are acknowledged and ignored.
pub async fn shopify_hook(
    State(app): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let hook = Hook { platform: Platform::Shopify, signature: "x-shopify-hmac-sha256", topic: "x-shopify-topic" };
    receive(&app, workspace, &headers, body, hook, |topic, payload, config, now| {
        let shop = config.get("shop_domain").and_then(Value::as_str).unwrap_or_default();
        shopify::map(topic, payload, &shopify::Context { store_url: &format!("https://{shop}"), now })
    })
    .await
}

/// `POST /hooks/woocommerce/{workspace_id}`: a WooCommerce webhook, signed the same way in
/// `X-WC-Webhook-Signature`, its topic in `X-WC-Webhook-Topic` (`order.updated`). The unsigned ping
/// WooCommerce sends when a webhook is saved (`webhook_id=<id>`) is acknowledged and stores nothing.
pub async fn woocommerce_hook(
    State(app): State<AppState>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let hook =
        Hook { platform: Platform::Woocommerce, signature: "x-wc-webhook-signature", topic: "x-wc-webhook-topic" };
    receive(&app, workspace, &headers, body, hook, |topic, payload, _, now| woocommerce::map(topic, payload, now)).await
}

/// A platform's webhook headers.
struct Hook {
    platform: Platform,
    /// The header with the base64 HMAC-SHA256 of the raw body.
    signature: &'static str,
    topic: &'static str,
}

/// What every platform's webhook goes through: the workspace and its connection, the raw body within
/// [`kairos_integrations::WEBHOOK_BYTES_MAX`], the signature (before anything is parsed), the topic, the
/// mapping, and the commit. Refusals are recorded in the connection's health.
async fn receive(
    app: &AppState,
    workspace: String,
    headers: &HeaderMap,
    body: Body,
    hook: Hook,
    map: impl FnOnce(
        &str,
        &Value,
        &Value,
        kairos_domain::Timestamp,
    ) -> Result<Option<Mapped>, kairos_integrations::MapError>,
) -> Response {
    let p = hook.platform;
    let Some(ws) = workspace_named(app, workspace).await else {
        return ApiError::not_found("no such workspace").into_response();
    };
    let config = match app.engine.integration(ws, p).await {
        Ok(Some(c)) => c,
        Ok(None) => return ApiError::not_found(format!("this workspace has no {p} connection")).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let raw = match read_body(headers, body, kairos_integrations::WEBHOOK_BYTES_MAX).await {
        Ok(raw) => raw,
        Err(e) => return refuse(app, ws, p, e),
    };
    let signature = header(headers, hook.signature);
    if p == Platform::Woocommerce && signature.is_none() && woocommerce::is_ping(&raw) {
        return Json(json!({ "ok": true, "ping": true })).into_response();
    }
    let secret = config.get("webhook_secret").and_then(Value::as_str).unwrap_or("");
    if !signature.is_some_and(|sig| signature::verify_hmac_sha256_base64(secret.as_bytes(), &raw, sig)) {
        return refuse(app, ws, p, ApiError::unauthorized(format!("invalid {}", canonical(hook.signature))));
    }
    let Some(topic) = header(headers, hook.topic) else {
        let name = canonical(hook.topic);
        return refuse(app, ws, p, ApiError::missing_field(&name, format!("the {name} header is required")));
    };
    let payload = match parse(&raw) {
        Ok(v) => v,
        Err(e) => return refuse(app, ws, p, e),
    };
    let mapped = match map(topic, &payload, &config, app.engine.clock().now()) {
        Ok(Some(m)) => m,
        Ok(None) => {
            log_unknown_topic(p, topic);
            app.engine.record_webhook(ws, p, Ok(()));
            return Json(json!({ "ok": true, "ignored": true })).into_response();
        }
        Err(e) => return refuse(app, ws, p, ApiError::invalid_value(&e.field, e.message)),
    };
    match apply(app, ws, p, mapped).await {
        Ok(events) => {
            app.engine.record_webhook(ws, p, Ok(()));
            Json(json!({ "ok": true, "events": events })).into_response()
        }
        Err(e) if e.status.is_client_error() => refuse(app, ws, p, e),
        Err(e) => e.into_response(),
    }
}

/// A header's name as the platform documents it (`X-WC-Webhook-Signature`).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|w| match w {
            "wc" => "WC".to_string(),
            "hmac" => "Hmac".to_string(),
            "sha256" => "Sha256".to_string(),
            _ => w[..1].to_uppercase() + &w[1..],
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The payload as JSON, within the nesting every stored value keeps.
fn parse(raw: &[u8]) -> Result<Value, ApiError> {
    let depth = kairos_domain::json::text_depth(raw);
    if depth > kairos_domain::json::REQUEST_JSON_DEPTH_MAX {
        return Err(ApiError::invalid_value("body", format!("the payload nests {depth} levels deep")));
    }
    serde_json::from_slice(raw).map_err(|e| ApiError::invalid_json(&e))
}

/// Commits what a webhook says: its events (validated as any ingested message), then its products. Answers
/// how many events it carried.
async fn apply(app: &AppState, ws: WorkspaceId, p: Platform, m: Mapped) -> Result<usize, ApiError> {
    let now = app.engine.clock().now();
    let events = crate::backfill::events_of(p, m.messages, now)
        .map_err(|(field, message)| ApiError::invalid_value(&field, message))?;
    let count = events.len();
    if !events.is_empty() {
        // A verified platform webhook is trusted like a secret key (it may set consent); its events are one
        // record, left out whole when it names an erased person who has not consented again.
        let done = app.engine.ingest_records(ws, vec![events]).await?;
        if done.erased > 0 {
            tracing::info!(%p, "a webhook about an erased person was left out");
        }
    }
    if !m.products.is_empty() {
        app.engine.upsert_platform_products(ws, m.products).await?;
    }
    for id in m.deleted_products {
        let gone = kairos_domain::ProductFields { available: Some(Some(false)), ..Default::default() };
        match app.engine.patch_product(ws, id, gone).await {
            Ok(_) | Err(kairos_engine::EngineError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !m.withdrawn_codes.is_empty() {
        app.engine.withdraw_coupons(ws, m.withdrawn_codes).await?;
    }
    crate::routes::inventory::remember_items(&app.engine, ws, m.inventory_items).await?;
    crate::routes::inventory::apply_levels(app, ws, m.inventory_levels).await?;
    if let Some(request) = m.privacy {
        crate::routes::privacy::handle(app, ws, p, request).await?;
    }
    Ok(count)
}

use crate::backfill::sources::SHOPIFY_API_VERSION;

/// The read-only call that proves a connection works: (URL, header name, header value).
fn probe(p: Platform, c: &serde_json::Map<String, Value>) -> (String, &'static str, String) {
    use base64::Engine as _;
    let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match p {
        Platform::Shopify => {
            let base = c.get("api_url").and_then(Value::as_str).map(str::to_string);
            let base = base.unwrap_or_else(|| format!("https://{}", get("shop_domain")));
            (format!("{base}/admin/api/{SHOPIFY_API_VERSION}/shop.json"), "x-shopify-access-token", get("access_token"))
        }
        Platform::Woocommerce => {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                get("consumer_key"),
                get("consumer_secret")
            ));
            (
                format!("{}/wp-json/wc/v3/products?per_page=1", get("site_url")),
                "authorization",
                format!("Basic {basic}"),
            )
        }
        Platform::Magento => (
            format!("{}/rest/V1/store/storeConfigs", get("base_url")),
            "authorization",
            format!("Bearer {}", get("access_token")),
        ),
    }
}

/// Tests a connection with one read-only call to the platform's API using the stored credentials; answers
/// `{"ok": true}` or `{"ok": false, "error": "..."}` in words (a refused token says so), and keeps the outcome
/// in the connection's health.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{platform}/test",
    operation_id = "integrations_test",
    tag = "integrations",
    params(("platform" = String, Path, description = "shopify, woocommerce or magento")),
    responses(
        (status = 200, description = "`{\"ok\": bool, \"error\": string|null}`", body = Object),
        (status = 404, description = "An unknown platform, or none connected", body = ErrorBody)
    )
)]
pub async fn test(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = platform(&name)?;
    let Some(Value::Object(c)) = app.engine.integration(ws, p).await? else {
        return Err(ApiError::not_found(format!("no {p} connection")));
    };
    let (url, header, value) = probe(p, &c);
    let request = axum::http::Request::get(&url)
        .header(header, value)
        .header("accept", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::new()));
    let shown = url.split('?').next().unwrap_or_default().to_string();
    let outcome = match request {
        Err(e) => Err(format!("the connection's address is not usable: {e}")),
        Ok(request) => match app.platforms.send(request).await {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) if r.status == 401 || r.status == 403 => {
                Err(format!("{p} refused the credentials (HTTP {}): check the access token or keys", r.status))
            }
            Ok(r) => Err(format!("{p} answered HTTP {} at {shown}", r.status)),
            Err(e) => Err(format!("could not reach {shown}: {e}")),
        },
    };
    app.engine.record_test(ws, p, outcome.clone());
    Ok(Json(json!({ "ok": outcome.is_ok(), "error": outcome.err(), "checked": shown })))
}
