//! HTTP server: Segment-compatible ingestion under `/v1`, the admin API under `/api/v1`, health.

pub mod api;
pub mod auth;
pub mod backfill;
pub mod cluster;
pub mod coupon_stock;
pub mod csv_import;
pub mod error;
pub mod listener;
pub mod openapi;
pub mod routes;
mod site_rate;
pub mod ttl_cache;
pub mod ui;
pub mod wire;

/// Former module paths, kept for callers outside the crate (tests, fuzz targets).
pub use routes::ingest;
pub mod messages {
    pub use crate::routes::links::form_fields;
}

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kairos_engine::{DevClock, Engine};

use crate::error::{ApiError, ErrorCode};

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub keys: Arc<auth::KeyCache>,
    /// Present only with `serve --dev-clock`.
    pub dev_clock: Option<Arc<DevClock>>,
    /// Base URL recipients reach (links, Twilio signature checks).
    pub public_url: String,
    /// The SMS provider's credentials, to verify its webhooks.
    pub sms: Option<Arc<SmsHooks>>,
    /// Failed UI logins, per account and client address.
    pub login_throttle: Arc<ui::LoginThrottle>,
    /// Calls to store platforms' APIs (connection tests): only where `[network] outbound_allow` lets
    /// workspace-chosen addresses go (public ones by default).
    pub platforms: kairos_channels::HttpClient,
    /// Each workspace's on-site forms as the tracker asks for them on every page view (`routes::onsite`).
    pub site_forms: Arc<routes::onsite::SiteFormsCache>,
}

/// How long a call to a store platform's API may take.
pub const PLATFORM_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What the SMS webhooks need to verify Twilio's signature.
#[derive(Debug, Clone)]
pub struct SmsHooks {
    pub auth_token: String,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, dev_clock: Option<Arc<DevClock>>) -> Self {
        AppState {
            engine,
            keys: Arc::default(),
            dev_clock,
            public_url: String::new(),
            sms: None,
            login_throttle: Arc::default(),
            site_forms: Arc::default(),
            platforms: kairos_channels::HttpClient::guarded(
                PLATFORM_CALL_TIMEOUT,
                Arc::new(kairos_channels::OutboundPolicy::new::<&str>(&[]).expect("no exceptions is a valid policy")),
            ),
        }
    }
}

/// Browsers send analytics events cross-origin (analytics.js on the storefront): `/v1` answers CORS preflights and
/// allows any origin. The admin API gets no CORS headers, so browsers cannot call it from other sites.
async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{HeaderValue, Method, StatusCode, header};
    // On-site forms post to `/f/{id}` from the store's pages too.
    if !req.uri().path().starts_with("/v1/") && !req.uri().path().starts_with("/f/") {
        return next.run(req).await;
    }
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    resp
}

/// Longest request target (path and query) accepted, in bytes. Nothing Kairos serves needs more; hyper itself
/// refuses past 64 KB.
pub const URI_BYTES_MAX: usize = 16 * 1024;
/// Most of a framework rejection's text kept as the JSON error's message, in bytes.
const REJECTION_TEXT_BYTES_MAX: usize = 1024;

/// Every error answers the JSON error shape (SPEC 16), including the framework's own rejections (a path that is
/// not UTF-8, a bad query string), which axum answers in plain text. HTML pages meant for people (unsubscribe,
/// preferences, the UI) and provider answers (TwiML) keep their type.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    let target_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target_len > URI_BYTES_MAX {
        return ApiError::new(
            ErrorCode::UriTooLong,
            format!("the request's URI is longer than {} KB", URI_BYTES_MAX / 1024),
        )
        .into_response();
    }
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ["application/json", "text/html", "application/xml"].iter().any(|t| ctype.starts_with(t)) {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), REJECTION_TEXT_BYTES_MAX).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidRequest,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::InvalidRequest,
    };
    ApiError::new(code, message).with_status(status).into_response()
}

/// 200 when the node takes requests; 503 (with `Retry-After`) while its database is away, so a load balancer
/// routes around it.
async fn healthz(State(app): State<AppState>) -> Response {
    if app.engine.is_healthy() {
        axum::Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        let body = serde_json::json!({"status": "unavailable", "reason": "the database cannot be reached"});
        let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        resp
    }
}

pub fn router(state: AppState) -> Router {
    let dev_clock = state.dev_clock.is_some();
    let api = routes::router(routes::API, |r| dev_clock || r.path != "/dev/clock");
    let ingest = routes::router(routes::INGEST, |_| true);
    Router::new()
        .route("/healthz", get(healthz))
        .merge(routes::public())
        .nest("/v1", ingest)
        .nest("/api/v1", api)
        .merge(ui::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(axum::middleware::from_fn(cors))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then waits for in-flight requests (each answered only once its data is
/// committed) and stops the engine, which commits anything still queued.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let engine = state.engine.clone();
    let app = router(state).into_make_service_with_connect_info::<listener::PeerAddr>();
    axum::serve(listener::KairosListener(listener), app).with_graceful_shutdown(shutdown).await?;
    tokio::task::spawn_blocking(move || engine.shutdown()).await.ok();
    Ok(())
}
