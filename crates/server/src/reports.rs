//! `/api/v1/reports/...`: attribution, per-flow/step/campaign numbers and store KPIs (SPEC 10).

use axum::Router;

use crate::AppState;

/// Report routes (mounted under `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
