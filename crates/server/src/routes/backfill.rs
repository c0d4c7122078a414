//! `/api/v1/integrations/{platform}/backfill`: start (or continue) reading a connected store's products,
//! customers and orders through its API, and watch the progress (`crate::backfill`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::SecretWorkspace;
use crate::backfill::{self, BackfillError, Progress};
use crate::error::{ApiError, ErrorBody};
use crate::routes::integrations::platform;

/// The progress as the API and the UI show it.
pub(crate) fn view(p: Option<&Progress>, running_here: bool) -> Value {
    let Some(p) = p else { return json!({ "status": "never" }) };
    let (imported, total) = p.totals();
    json!({
        "status": p.status,
        "running": p.is_running() && running_here,
        "resource": p.resource,
        "counts": p.counts,
        "imported": imported,
        "total": total,
        "erased": p.erased,
        "known": p.known,
        "rejected": p.rejected,
        "first_rejection": p.first_rejection,
        "started_at": crate::wire::ts(p.started_at),
        "updated_at": crate::wire::ts(p.updated_at),
        "error": p.error,
    })
}

fn refused(e: BackfillError) -> ApiError {
    match e {
        BackfillError::NotConnected(_) => ApiError::not_found(e.to_string()),
        BackfillError::Running(_) => ApiError::conflict(e.to_string()),
        BackfillError::Engine(e) => e.into(),
        e => ApiError::invalid_value("platform", e.to_string()),
    }
}

/// Starts the backfill (or continues an interrupted one) in the background; answers at once with 202.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{platform}/backfill",
    operation_id = "integrations_backfill_start",
    tag = "integrations",
    params(("platform" = String, Path, description = "shopify, woocommerce or magento")),
    responses(
        (status = 202, description = "Started: the progress so far (`status`, `counts`, `imported`, `total`...)", body = Object),
        (status = 404, description = "An unknown platform, or none connected", body = ErrorBody),
        (status = 409, description = "A backfill of this platform is already running", body = ErrorBody)
    )
)]
pub async fn start(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = platform(&name)?;
    if app.engine.integration(ws, p).await?.is_none() {
        return Err(ApiError::not_found(format!("no {p} connection")));
    }
    if backfill::is_running_here(ws, p) {
        return Err(refused(BackfillError::Running(p)));
    }
    let http = app.platforms.clone();
    let engine = app.engine.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let tx = std::sync::Mutex::new(Some(tx));
        // The first progress (or the refusal) is the answer; the rest goes on in the background.
        let first = |p: &Progress| {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(Ok(p.clone()));
            }
        };
        let outcome = backfill::run(&engine, &http, ws, p, &first).await;
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(outcome);
        } else if let Err(e) = outcome {
            tracing::warn!(%p, error = %e, "backfill stopped");
        }
    });
    match rx.await {
        Ok(Ok(progress)) => Ok((StatusCode::ACCEPTED, Json(view(Some(&progress), true)))),
        // A backfill that fails at once (a refused token) is answered with its progress and the error.
        Ok(Err(BackfillError::NotConnected(_) | BackfillError::Running(_))) | Err(_) => {
            Err(ApiError::conflict(format!("the {p} backfill could not start")))
        }
        Ok(Err(e @ BackfillError::Engine(_))) => Err(refused(e)),
        Ok(Err(_)) => {
            let stored = backfill::progress(&app.engine, ws, p).await.map_err(refused)?;
            Ok((StatusCode::ACCEPTED, Json(view(stored.as_ref(), false))))
        }
    }
}

/// The backfill's progress (`{"status": "never"}` before the first).
#[utoipa::path(
    get,
    path = "/api/v1/integrations/{platform}/backfill",
    operation_id = "integrations_backfill_progress",
    tag = "integrations",
    params(("platform" = String, Path, description = "shopify, woocommerce or magento")),
    responses(
        (status = 200, description = "`{\"status\": \"never|running|done|failed\", \"counts\", \"imported\", \"total\", \"erased\", \"rejected\", \"error\"...}`", body = Object),
        (status = 404, description = "An unknown platform", body = ErrorBody)
    )
)]
pub async fn progress(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = platform(&name)?;
    let stored = backfill::progress(&app.engine, ws, p).await.map_err(refused)?;
    Ok(Json(view(stored.as_ref(), backfill::is_running_here(ws, p))))
}
