//! The marketer web UI (SPEC 13), served by the binary: login, sessions and the pages.

use axum::Router;

use crate::AppState;

/// Routes of the UI (mounted at the root, beside `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
