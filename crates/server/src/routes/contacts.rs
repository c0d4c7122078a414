//! `/api/v1/contacts`: profiles, their timelines, and consent (SPEC 16).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use kairos_domain::{Channel, ConsentStatus, ContactId, Email, Phone};
use kairos_store::IdentityKind;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{
    ContactSelector, PageQuery, QueryParams, limit, object_body, present, read, read_contact, read_contact_page,
    read_identified,
};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::{self, ContactBody, EventBody, Page, Reply};

/// Longest `q` search text, in bytes.
const SEARCH_BYTES_MAX: usize = 200;

pub(crate) fn contact_id(raw: &str) -> Result<ContactId, ApiError> {
    raw.parse::<i64>().map(ContactId).map_err(|_| ApiError::not_found(format!("contact {raw:?} not found")))
}

/// Either one identity to look up (`email`, `user_id`, `phone` or `anonymous_id`: the contacts holding it,
/// one page), a search (`q` in email, phone, user id and names), or every contact page by page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub phone: Option<String>,
    pub anonymous_id: Option<String>,
    /// Text to search for (at most 200 bytes).
    pub q: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    operation_id = "contacts_list",
    tag = "contacts",
    params(ContactQuery),
    responses(
        (status = 200, description = "Contacts, by id", body = Page<ContactBody>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ContactQuery>,
) -> Result<Reply<Page<ContactBody>>, ApiError> {
    let lookup = [
        ("email", IdentityKind::Email, &q.email),
        ("user_id", IdentityKind::UserId, &q.user_id),
        ("phone", IdentityKind::Phone, &q.phone),
        ("anonymous_id", IdentityKind::AnonymousId, &q.anonymous_id),
    ]
    .into_iter()
    .find_map(|(key, kind, v)| v.clone().map(|v| (key, kind, v)));
    if let Some((key, kind, value)) = lookup {
        let value = match kind {
            IdentityKind::Email => Email::parse(&value)
                .ok_or_else(|| ApiError::invalid_value(key, "email is not a valid address"))?
                .as_str()
                .to_string(),
            IdentityKind::Phone => Phone::parse(&value)
                .ok_or_else(|| ApiError::invalid_value(key, "phone is not a valid number"))?
                .as_str()
                .to_string(),
            _ => value,
        };
        let key = value.clone();
        let found = read_identified(&app, ws, kind, key, move |r| r.contact_by_identity(ws, kind, &value)).await?;
        return Ok(Reply(Page::whole(wire::contacts(found.as_slice()))));
    }
    let n = limit(&q.limit)?;
    if let Some(needle) = q.q.filter(|s| !s.trim().is_empty()) {
        if needle.len() > SEARCH_BYTES_MAX {
            return Err(ApiError::invalid_value("q", "q must be at most 200 characters"));
        }
        let found = read(&app, move |r| r.search_contacts(ws, &needle, n)).await?;
        return Ok(Reply(Page::whole(wire::contacts(&found))));
    }
    let cursor = q.cursor;
    let p = read_contact_page(&app, ws, move |r| r.contacts(ws, cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(wire::contacts(&p.items), p.next_cursor)))
}

/// A merged contact's id answers the contact it was merged into.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}",
    operation_id = "contacts_get",
    tag = "contacts",
    params(("id" = i64, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The contact", body = ContactBody),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<ContactBody>, ApiError> {
    let cid = contact_id(&id)?;
    let c = read_contact(&app, ws, cid, move |r| r.contact(ws, cid))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(Reply(ContactBody::from(&c)))
}

/// The contact's timeline, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/events",
    operation_id = "contacts_events",
    tag = "contacts",
    params(("id" = i64, Path, description = "The contact's id"), PageQuery),
    responses(
        (status = 200, description = "Events, newest first", body = Page<EventBody>),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn events(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Reply<Page<EventBody>>, ApiError> {
    let cid = contact_id(&id)?;
    let n = limit(&q.limit)?;
    let cursor = q.cursor;
    let p = read_contact(&app, ws, cid, move |r| {
        // Events of a merged contact live under the survivor: resolve first, then list.
        match r.contact(ws, cid)? {
            Some(c) => r.contact_events(c.id, cursor.as_deref(), n).map(Some),
            None => Ok(None),
        }
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("contact {id} not found")))?;
    Ok(Reply(Page::new(wire::events(&p.items), p.next_cursor)))
}

/// `POST /api/v1/contacts/consent` (SPEC 16): names the contact like [`ContactSelector`] (created when unknown).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ann@example.com", "channel": "email", "status": "subscribed",
                         "source": "checkout"}))]
pub struct ConsentRequest {
    #[serde(flatten)]
    pub who: ContactSelector,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = wire::ChannelName)]
    pub channel: Option<Value>,
    /// `subscribed` or `unsubscribed`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, example = "subscribed")]
    pub status: Option<Value>,
    /// Where the consent was given, 1 to 100 characters (default `api`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/api/v1/contacts/consent",
    operation_id = "contacts_set_consent",
    tag = "contacts",
    request_body = ConsentRequest,
    responses(
        (status = 200, description = "The contact with its new consent", body = ContactBody),
        (status = 400, description = "A bad field", body = ErrorBody)
    )
)]
pub async fn set_consent(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<ContactBody>, ApiError> {
    let req: ConsentRequest = object_body(&headers, body).await?;
    let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_string);
    let who = req.who.contact()?;
    let channel = match text(&req.channel).as_deref().and_then(Channel::parse) {
        Some(c @ (Channel::Email | Channel::Sms)) => c,
        _ => return Err(ApiError::invalid_value("channel", "channel must be \"email\" or \"sms\"")),
    };
    let status = match text(&req.status).as_deref().and_then(ConsentStatus::parse) {
        Some(s @ (ConsentStatus::Subscribed | ConsentStatus::Unsubscribed)) => s,
        _ => {
            return Err(ApiError::invalid_value("status", "status must be \"subscribed\" or \"unsubscribed\""));
        }
    };
    let source = match req.source {
        None | Some(Value::Null) => "api".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => s,
        Some(_) => {
            return Err(ApiError::invalid_value("source", "source must be a string of 1 to 100 characters"));
        }
    };
    let contact = app.engine.set_consent(ws, who, channel, status, source).await?;
    Ok(Reply(ContactBody::from(&contact)))
}

/// `POST /api/v1/contacts/preferences`: names the contact like [`ContactSelector`] (which must exist).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ann@example.com", "topics_out": ["offers"], "frequency": "weekly"}))]
pub struct PreferencesRequest {
    #[serde(flatten)]
    pub who: ContactSelector,
    /// The topics (ids from `settings.topics`) the person opted out of; replaces the list.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub topics_out: Option<Value>,
    /// `all`, `twice_weekly` or `weekly`: at most that many marketing emails in any 7 days.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "weekly")]
    pub frequency: Option<Value>,
}

/// Sets what a contact chose in the preference centre on their behalf: topics opted out of and how often.
#[utoipa::path(
    post,
    path = "/api/v1/contacts/preferences",
    operation_id = "contacts_set_preferences",
    tag = "contacts",
    request_body = PreferencesRequest,
    responses(
        (status = 200, description = "The contact with its new preferences", body = ContactBody),
        (status = 400, description = "A bad field", body = ErrorBody),
        (status = 404, description = "No such contact", body = ErrorBody)
    )
)]
pub async fn set_preferences(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<ContactBody>, ApiError> {
    let req: PreferencesRequest = object_body(&headers, body).await?;
    let who = req.who.contact()?;
    let topics_out = match req.topics_out {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) if list.len() <= kairos_engine::topics::TOPICS_MAX => Some(
            list.iter()
                .enumerate()
                .map(|(i, t)| {
                    t.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ApiError::invalid_value(&format!("topics_out[{i}]"), "a topic's id"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(ApiError::invalid_value("topics_out", "topics_out is a list of topic ids")),
    };
    let frequency = match req.frequency {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) if kairos_domain::vocab::EmailFrequency::parse(&f).is_some() => {
            kairos_domain::vocab::EmailFrequency::parse(&f)
        }
        Some(_) => {
            return Err(ApiError::invalid_value("frequency", "frequency must be all, twice_weekly or weekly"));
        }
    };
    let contact = app.engine.set_preferences(ws, who, topics_out, frequency).await?;
    Ok(Reply(ContactBody::from(&contact)))
}
