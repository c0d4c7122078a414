//! HTTP server: Segment-compatible ingestion under `/v1`, the admin API under `/api/v1`, health.

pub mod api;
pub mod auth;
pub mod error;
pub mod ingest;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use kairos_engine::{DevClock, Engine};

use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub keys: Arc<auth::KeyCache>,
    /// Present only with `serve --dev-clock`.
    pub dev_clock: Option<Arc<DevClock>>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, dev_clock: Option<Arc<DevClock>>) -> Self {
        AppState { engine, keys: Arc::default(), dev_clock }
    }
}

pub fn router(state: AppState) -> Router {
    let mut api = Router::new()
        .route("/contacts", get(api::list_contacts))
        .route("/contacts/consent", post(api::set_consent))
        .route("/contacts/{id}", get(api::get_contact))
        .route("/contacts/{id}/events", get(api::contact_events))
        .route("/events", get(api::list_events))
        .route("/products", get(api::list_products))
        .route("/products/bulk", post(api::bulk_products))
        .route("/products/{id}", put(api::put_product).get(api::get_product));
    if state.dev_clock.is_some() {
        api = api.route("/dev/clock", post(api::dev_clock));
    }
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/v1/track", post(ingest::track))
        .route("/v1/identify", post(ingest::identify))
        .route("/v1/page", post(ingest::page))
        .route("/v1/screen", post(ingest::screen))
        .route("/v1/alias", post(ingest::alias))
        .route("/v1/group", post(ingest::group))
        .route("/v1/batch", post(ingest::batch))
        .route("/v1/import", post(ingest::batch))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
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
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    tokio::task::spawn_blocking(move || engine.shutdown()).await.ok();
    Ok(())
}
