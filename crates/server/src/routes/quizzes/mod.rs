//! Quiz funnels (issue 14): `POST/GET /api/v1/quizzes`, `GET/DELETE /api/v1/quizzes/{id}` define them (site items
//! of kind `quiz`, checked by `kairos_domain::quiz`), `POST /api/v1/quizzes/preview` renders a draft's page for
//! the UI, `GET /api/v1/reports/quizzes/{id}` counts completion and drop-off per question; the visitor's side is
//! `GET/POST /q/{id}` ([`hosted`]), with the result's products chosen by [`picks`].

pub mod hosted;
mod html;
pub mod picks;
mod report;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::quiz::{Next, Quiz};
use kairos_domain::vocab::SiteKind;
use kairos_domain::{Timestamp, WorkspaceId};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::json_body;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};

/// Most warnings a save answers with.
const WARNINGS_MAX: usize = 20;

fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("quiz_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The id of a body: the one given (letters, digits, `-`, `_`), or a new one.
fn id_of(v: &Value) -> Result<String, ApiError> {
    match v.get("id") {
        None | Some(Value::Null) => Ok(new_id()),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(s.clone())
        }
        Some(_) => Err(ApiError::invalid_value("id", "id is 1 to 64 letters, digits, - or _")),
    }
}

fn answered(app: &AppState, quiz: &Quiz) -> Value {
    let mut v = serde_json::to_value(quiz).unwrap_or_default();
    v["url"] = json!(format!("{}/q/{}", app.public_url, quiz.id));
    v
}

/// A quiz of the workspace, as stored.
async fn owned(app: &AppState, ws: WorkspaceId, id: &str) -> Result<Quiz, ApiError> {
    let v = super::site_items::owned(app, ws, SiteKind::Quiz, id).await?;
    serde_json::from_value(v).map_err(|_| ApiError::internal(format!("quiz {id} could not be read")))
}

/// What a saved quiz points at that the catalog does not hold (yet): product ids and categories no product has.
fn warnings(
    r: &dyn kairos_store::Reads,
    ws: WorkspaceId,
    quiz: &Quiz,
    now: Timestamp,
) -> kairos_store::Result<Vec<String>> {
    let mut out = Vec::new();
    let known = picks::categories(r, ws, now)?;
    for (i, q) in quiz.questions.iter().enumerate() {
        for (j, c) in q.options.iter().enumerate() {
            for (k, p) in c.products.iter().enumerate() {
                if out.len() < WARNINGS_MAX && r.product(ws, p)?.is_none() {
                    out.push(format!("questions[{i}].options[{j}].products[{k}]: the catalog has no product {p}"));
                }
            }
            for (k, cat) in c.categories.iter().enumerate() {
                if out.len() < WARNINGS_MAX && !known.contains(&cat.trim().to_lowercase()) {
                    out.push(format!("questions[{i}].options[{j}].categories[{k}]: no product is in {cat}"));
                }
            }
        }
    }
    Ok(out)
}

/// Creates (or, with the `id` of one of the workspace's quizzes, replaces) a quiz.
#[utoipa::path(
    post,
    path = "/api/v1/quizzes",
    operation_id = "quizzes_save",
    tag = "quizzes",
    request_body = Object,
    responses(
        (status = 201, description = "The quiz with its `id`, hosted `url` and `warnings` (products or categories \
                                      the catalog does not hold)", body = Object),
        (status = 400, description = "A bad field, named (`questions[1].options[0].next`)", body = ErrorBody),
        (status = 409, description = "Another workspace's quiz (or another kind of site item) has that id", body = ErrorBody)
    )
)]
pub async fn save(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = json_body(&headers, body).await?;
    let quiz = Quiz::from_api(&v, id_of(&v)?)?;
    let stored = serde_json::to_value(&quiz).map_err(|e| ApiError::internal(e.to_string()))?;
    if !app.engine.save_site_item(ws, SiteKind::Quiz, quiz.id.clone(), stored).await? {
        return Err(ApiError::conflict("that id is taken"));
    }
    let (checked, now) = (quiz.clone(), app.engine.clock().now());
    let warnings = crate::api::read_log(&app, move |r| warnings(r, ws, &checked, now)).await?;
    let mut out = answered(&app, &quiz);
    out["warnings"] = json!(warnings);
    Ok((StatusCode::CREATED, Json(out)))
}

/// The workspace's quizzes.
#[utoipa::path(get, path = "/api/v1/quizzes", operation_id = "quizzes_list", tag = "quizzes",
    responses((status = 200, description = "`{\"items\": [quiz], \"next_cursor\": null}`", body = Object)))]
pub async fn list(SecretWorkspace(ws): SecretWorkspace, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = app
        .engine
        .site_items(ws, SiteKind::Quiz)
        .await?
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Quiz>(v).ok())
        .map(|q| answered(&app, &q))
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// One quiz of the workspace.
#[utoipa::path(get, path = "/api/v1/quizzes/{id}", operation_id = "quizzes_get", tag = "quizzes",
    params(("id" = String, Path, description = "The quiz's id")),
    responses((status = 200, description = "The quiz", body = Object), (status = 404, description = "No such quiz", body = ErrorBody)))]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(answered(&app, &owned(&app, ws, &id).await?)))
}

/// Deletes a quiz: its hosted page answers 404 from now on; what visitors answered stays on their profiles.
#[utoipa::path(delete, path = "/api/v1/quizzes/{id}", operation_id = "quizzes_delete", tag = "quizzes",
    params(("id" = String, Path, description = "The quiz's id")),
    responses((status = 200, description = "`{\"id\", \"deleted\": true}`", body = Object),
        (status = 404, description = "No such quiz", body = ErrorBody)))]
pub async fn delete(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    super::site_items::delete(&app, ws, SiteKind::Quiz, id).await
}

/// Completion and drop-off per question, from the quiz's events.
#[utoipa::path(get, path = "/api/v1/reports/quizzes/{id}", operation_id = "reports_quiz", tag = "reports",
    params(("id" = String, Path, description = "The quiz's id")),
    responses((status = 200, description = "`{\"started\", \"completed\", \"completion_rate\", \"emails\", \
        \"questions\": [{\"id\", \"text\", \"reached\", \"answered\", \"dropped\", \"drop_off_rate\", \"answers\": \
        [{\"value\", \"label\", \"count\"}]}], \"email_step\"}`", body = Object),
        (status = 404, description = "No such quiz", body = ErrorBody)))]
pub async fn quiz_report(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let quiz = owned(&app, ws, &id).await?;
    Ok(Json(crate::api::read_log(&app, move |r| report::report(r, ws, &quiz)).await?))
}

/// `{"quiz": draft, "step": "intro" | question id | "email" | "result"}` → `{"html"}`: a draft's page as a
/// visitor would see it (the result with the products its first answers would get), for the UI's live preview.
#[utoipa::path(post, path = "/api/v1/quizzes/preview", operation_id = "quizzes_preview", tag = "quizzes",
    request_body = Object,
    responses((status = 200, description = "`{\"html\"}`", body = Object),
        (status = 400, description = "A bad field of the draft, named `quiz.…`", body = ErrorBody)))]
pub async fn preview(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = json_body(&headers, body).await?;
    let draft = v.get("quiz").ok_or_else(|| ApiError::missing_field("quiz", "quiz is the draft to preview"))?;
    let quiz = Quiz::from_api(draft, id_of(draft).unwrap_or_else(|_| "preview".into()))
        .map_err(|e| ApiError::from(e.within("quiz")))?;
    let step = v.get("step").and_then(Value::as_str).unwrap_or("intro");
    // The hidden fields of a visit are left out: the preview is shown inert.
    let html = match (step, &quiz.email) {
        ("intro", _) => html::intro(&quiz, ""),
        ("email", Some(e)) => html::email(&quiz, e, "", None, ""),
        ("result", _) => {
            let answers = first_answers(&quiz);
            let now = app.engine.clock().now();
            let (products, fallback) = hosted::result_products(&app, ws, &quiz, &answers, now).await?;
            html::result(&quiz, &products, fallback)
        }
        (id, _) => match quiz.question(id) {
            // Numbered by its place in the list (a visitor's number depends on the branch taken).
            Some(q) => {
                let place = quiz.questions.iter().position(|x| x.id == q.id).unwrap_or(0);
                html::question(&quiz, q, "", place)
            }
            None => return Err(ApiError::invalid_value("step", "step is intro, email, result or a question's id")),
        },
    };
    Ok(Json(json!({ "html": html })))
}

/// The answers of a visitor who always picks the first answer.
fn first_answers(quiz: &Quiz) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut q = Some(quiz.first());
    while let Some(question) = q.take() {
        let Some(c) = question.options.first() else { break };
        out.push((question.id.clone(), c.value.clone()));
        if let Some((_, _, Next::Question(n))) = quiz.next_after(&question.id, &c.value)
            && out.len() < quiz.questions.len()
        {
            q = Some(n);
        }
    }
    out
}
