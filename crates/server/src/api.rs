//! Helpers shared by the admin API's handlers (`routes/`): reads on the read pool, paging, JSON bodies, contact
//! references.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use kairos_domain::json::REQUEST_JSON_DEPTH_MAX;
use kairos_domain::{ContactId, Email, Phone};
use kairos_engine::ContactRef;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Default and largest page sizes of list endpoints.
const PAGE_DEFAULT: usize = 50;
const PAGE_MAX: usize = 1_000;
/// Largest admin request body (a bulk product upsert).
pub(crate) const ADMIN_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// `limit` and `cursor` of a list (SPEC 16 "Lists").
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A query string read into its parameter type (`ContactQuery`, `PageQuery`, ...), the last of a repeated parameter
/// winning, as the handlers read queries before they were typed.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let map: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map(QueryParams)
            .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the query string does not fit: {e}")))
    }
}

/// The page size a list was asked for: `limit` from 1 to 1000, 50 when absent.
pub(crate) fn limit(raw: &Option<String>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(PAGE_DEFAULT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_value("limit", format!("limit must be a number from 1 to {PAGE_MAX}"))),
        },
    }
}

/// Runs a read on the pool off the async threads, once every acknowledged change to contacts is readable
/// (`Engine::settle`: contact rows the committer left for a later commit are written first). For reads of
/// many contacts' rows or timelines; [`read_contact`] for one contact, [`read_log`] for the rest.
pub(crate) async fn read<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&dyn kairos_store::Reads) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    app.engine.settle().await?;
    read_log(app, f).await
}

/// [`read`] of one contact's row or timeline: only its row is written first, when it waits.
pub(crate) async fn read_contact<T: Send + 'static>(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    contact: kairos_domain::ContactId,
    f: impl FnOnce(&dyn kairos_store::Reads) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    app.engine.settle_contact(ws, contact).await?;
    read_log(app, f).await
}

/// [`read_contact`] of the contact an identity names (the identities table is never left waiting: found first,
/// then its row written when it waits and `f` run).
pub(crate) async fn read_identified<T: Send + 'static>(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    kind: kairos_store::IdentityKind,
    value: String,
    f: impl FnOnce(&dyn kairos_store::Reads) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    if let Some(c) = read_log(app, move |r| r.contact_by_identity(ws, kind, &value)).await? {
        app.engine.settle_contact(ws, c.id).await?;
    }
    read_log(app, f).await
}

/// [`read`] of a page of contacts (a listing, a segment's members): the page is read, the rows of its contacts
/// written when they wait, and the page read again. Which contacts a page holds does not depend on rows that
/// wait (ids, memberships), only what their rows say.
pub(crate) async fn read_contact_page(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    f: impl Fn(&dyn kairos_store::Reads) -> kairos_store::Result<kairos_store::Page<kairos_domain::Contact>>
    + Send
    + Sync
    + 'static,
) -> Result<kairos_store::Page<kairos_domain::Contact>, ApiError> {
    let f = std::sync::Arc::new(f);
    let first = f.clone();
    let page = read_log(app, move |r| first(r)).await?;
    if !app.engine.settle_contacts(ws, page.items.iter().map(|c| c.id).collect()).await? {
        return Ok(page);
    }
    read_log(app, move |r| f(r)).await
}

/// Runs a read on the pool off the async threads as committed: for reads of no contact row or timeline (the
/// event log, messages, flows, templates, products, settings; and contacts found by identity or consent, which
/// never wait; not a profile's identity fields or first order, which may).
pub(crate) async fn read_log<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&dyn kairos_store::Reads) -> kairos_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || engine.read(f))
        .await
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "read task failed"))?
        .map_err(ApiError::from)
}

/// A JSON object body read into its request type, which names every field the endpoint reads (and describes
/// it in the OpenAPI document); the handler checks the values and names the field at fault. Anything but an
/// object is `invalid_type` at `body`.
pub(crate) async fn object_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    request(json_body(headers, body).await?)
}

/// [`object_body`] for a body already read.
pub(crate) fn request<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    if !v.is_object() {
        return Err(ApiError::invalid_type("body", "the body must be a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| ApiError::invalid_value("body", e.to_string()))
}

/// [`request`] for endpoints that read a body that is not an object as an empty one (their errors then name
/// the first required field, as they always did).
pub(crate) fn lenient<T: DeserializeOwned + Default>(v: Value) -> Result<T, ApiError> {
    if v.is_object() { request(v) } else { Ok(T::default()) }
}

/// For `Option<Value>` request fields: keeps an explicit `null` (`Some(Value::Null)`) apart from an absent field
/// (`None`), as the handlers' checks distinguish them. Use with `#[serde(default, deserialize_with = ...)]`.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

pub(crate) async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(headers, body, ADMIN_BODY_BYTES_MAX).await?;
    json_from_bytes(&bytes)
}

/// An admin API body already read: JSON of at most [`REQUEST_JSON_DEPTH_MAX`] levels.
pub(crate) fn json_from_bytes(bytes: &[u8]) -> Result<Value, ApiError> {
    let depth = kairos_domain::json::text_depth(bytes);
    if depth > REQUEST_JSON_DEPTH_MAX {
        return Err(ApiError::field(
            ErrorCode::TooDeep,
            "body",
            format!("the body nests {depth} levels deep; at most {REQUEST_JSON_DEPTH_MAX} are accepted"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_json(&e))
}

/// How a request body names a contact: the first of `contact_id`, `email`, `phone` and `user_id` given.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ContactSelector {
    /// A contact's id (a number, or its text).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub contact_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Option<Value>,
    /// E.164 or a number the store's country reads.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<Value>,
}

impl ContactSelector {
    pub fn is_given(&self) -> bool {
        self.contact_id.is_some() || self.email.is_some() || self.phone.is_some() || self.user_id.is_some()
    }

    /// The contact named, checked.
    pub fn contact(&self) -> Result<ContactRef, ApiError> {
        contact_ref(self)
    }
}

fn contact_ref(o: &ContactSelector) -> Result<ContactRef, ApiError> {
    Ok(if let Some(id) = &o.contact_id {
        let id = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
        ContactRef::Id(ContactId(
            id.ok_or_else(|| ApiError::invalid_type("contact_id", "contact_id must be a contact id"))?,
        ))
    } else if let Some(e) = &o.email {
        ContactRef::Email(
            e.as_str()
                .and_then(Email::parse)
                .ok_or_else(|| ApiError::invalid_value("email", "email is not a valid address"))?,
        )
    } else if let Some(p) = &o.phone {
        ContactRef::Phone(
            p.as_str()
                .and_then(Phone::parse)
                .ok_or_else(|| ApiError::invalid_value("phone", "phone is not a valid number"))?,
        )
    } else if let Some(u) = &o.user_id {
        let u = u.as_str().filter(|s| !s.trim().is_empty());
        ContactRef::UserId(
            u.ok_or_else(|| ApiError::invalid_type("user_id", "user_id must be a non-empty string"))?
                .trim()
                .to_string(),
        )
    } else {
        return Err(ApiError::missing_field("email", "one of email, phone, user_id or contact_id is required"));
    })
}

/// Reads the body, answering 413 past `limit` bytes (checked on Content-Length first, then while reading).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit, None));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::too_large(limit, None))
}
