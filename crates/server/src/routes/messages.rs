//! Messages: `GET /api/v1/messages`, the capture outbox, the suppression list and bounce reports.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use kairos_channels::BounceKind;
use kairos_domain::{Channel, ContactId};
use kairos_store::{MessageFilter, StoredMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{QueryParams, json_body, limit, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::{ChannelName, Page, Reply, created};

/// Most suppressions listed.
const SUPPRESSIONS_LISTED_MAX: usize = 1000;
/// Largest raw bounce report read (a DSN or ARF message with the original attached).
const BOUNCE_REPORT_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A message as the API shows it, its rendered parts and status history included.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub id: String,
    /// `email`, `sms`, `chat` or `webhook`.
    pub channel: String,
    pub to: Option<String>,
    pub contact_id: i64,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub step_id: Option<String>,
    /// `queued`, `sent`, `delivered`, `opened`, `clicked`, `deferred`, `retrying`, `skipped`, `failed`,
    /// `bounced`, `unsubscribed`, `complained`.
    pub status: String,
    /// Why it was skipped, deferred or failed.
    #[schema(value_type = Option<String>)]
    pub reason: Value,
    #[schema(value_type = Option<String>)]
    pub subject: Value,
    /// An email's preview text as rendered (also hidden at the top of `html`).
    #[schema(value_type = Option<String>)]
    pub preview_text: Value,
    /// The subject line it was given (`"A"` is the template's own subject, `"B"` its first variant, …) when its
    /// template tests subject lines; null otherwise.
    #[schema(example = "B")]
    pub variant: Option<String>,
    #[schema(value_type = Option<String>)]
    pub html: Value,
    #[schema(value_type = Option<String>)]
    pub text: Value,
    #[schema(value_type = Option<String>)]
    pub body: Value,
    #[schema(value_type = Option<String>)]
    pub template_id: Value,
    #[schema(value_type = Option<i64>)]
    pub template_version: Value,
    pub attempts: u64,
    /// Its flow's or campaign's priority (0..100) when it was decided.
    #[schema(value_type = Option<u8>)]
    pub priority: Value,
    /// Each status change: `{"status", "at", "reason"}`, and `behind` (the message it waited for) when smart
    /// sending or a cap deferred it.
    #[schema(value_type = Option<Vec<Object>>)]
    pub history: Value,
    /// Links left untracked and similar notes.
    #[schema(value_type = Vec<String>)]
    pub warnings: Vec<Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&StoredMessage> for MessageBody {
    fn from(m: &StoredMessage) -> Self {
        let d: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
        MessageBody {
            id: m.id.clone(),
            channel: m.channel.as_str().to_string(),
            to: m.to.clone(),
            contact_id: m.contact.0,
            flow_id: m.flow_id.clone(),
            campaign_id: m.campaign_id.clone(),
            step_id: m.step_id.clone(),
            status: m.status.as_str().to_string(),
            reason: d["reason"].clone(),
            subject: d["subject"].clone(),
            preview_text: d["preview_text"].clone(),
            variant: subject_variant(&d),
            html: d["html"].clone(),
            text: d["text"].clone(),
            body: d["body"].clone(),
            template_id: d["template_id"].clone(),
            template_version: d["template_version"].clone(),
            attempts: d["attempts"].as_u64().unwrap_or(0),
            priority: d["priority"].clone(),
            history: d["history"].clone(),
            warnings: d["warnings"].as_array().cloned().unwrap_or_default(),
            created_at: m.created_at.to_string(),
        }
    }
}

/// The letter of the subject line a message's data records (`subject_variant`: 0 is A).
fn subject_variant(d: &Value) -> Option<String> {
    d["subject_variant"].as_u64().map(|i| kairos_template::variant_letter(i as usize))
}

/// Filters of `GET /api/v1/messages` (SPEC 8), all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    #[param(value_type = Option<i64>)]
    pub contact_id: Option<String>,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub status: Option<String>,
    /// The recipient's address.
    pub to: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/messages",
    operation_id = "messages_list",
    tag = "messages",
    params(MessageQuery),
    responses(
        (status = 200, description = "Messages, newest first", body = Page<MessageBody>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<MessageQuery>,
) -> Result<Reply<Page<MessageBody>>, ApiError> {
    let n = limit(&q.limit)?;
    let contact = match &q.contact_id {
        None => None,
        Some(s) => Some(ContactId(
            s.parse()
                .map_err(|_| ApiError::invalid_value("contact_id", "contact_id must be a contact's numeric id"))?,
        )),
    };
    let filter = MessageFilter { to: q.to, contact, flow_id: q.flow_id, campaign_id: q.campaign_id, status: q.status };
    let cursor = q.cursor;
    let page = read_log(&app, move |r| r.messages(ws, &filter, cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(page.items.iter().map(MessageBody::from).collect(), page.next_cursor)))
}

#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    operation_id = "messages_get",
    tag = "messages",
    params(("id" = String, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The message with its status history", body = MessageBody),
        (status = 404, description = "No such message in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<MessageBody>, ApiError> {
    let m =
        read_log(&app, move |r| r.message_of(ws, &id)).await?.ok_or_else(|| ApiError::not_found("no such message"))?;
    Ok(Reply(MessageBody::from(&m)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// The recipient's address.
    pub to: Option<String>,
    pub flow_id: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A message captured instead of sent (SPEC 16 "Outbox").
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    pub id: String,
    pub channel: String,
    pub to: Option<String>,
    #[schema(value_type = Option<String>)]
    pub subject: Value,
    #[schema(value_type = Option<String>)]
    pub html: Value,
    #[schema(value_type = Option<String>)]
    pub text: Value,
    #[schema(value_type = Option<String>)]
    pub body: Value,
    pub flow_id: Option<String>,
    pub campaign_id: Option<String>,
    pub step_id: Option<String>,
    pub contact_id: i64,
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub reason: Value,
    #[schema(value_type = Option<String>)]
    pub template_id: Value,
    #[schema(value_type = Option<i64>)]
    pub template_version: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&StoredMessage> for OutboxItem {
    fn from(m: &StoredMessage) -> Self {
        let d: Value = serde_json::from_str(&m.data).unwrap_or(Value::Null);
        OutboxItem {
            id: m.id.clone(),
            channel: m.channel.as_str().to_string(),
            to: m.to.clone(),
            subject: d["subject"].clone(),
            html: d["html"].clone(),
            text: d["text"].clone(),
            body: d["body"].clone(),
            flow_id: m.flow_id.clone(),
            campaign_id: m.campaign_id.clone(),
            step_id: m.step_id.clone(),
            contact_id: m.contact.0,
            status: m.status.as_str().to_string(),
            reason: d["reason"].clone(),
            template_id: d["template_id"].clone(),
            template_version: d["template_version"].clone(),
            created_at: m.created_at.to_string(),
        }
    }
}

/// Messages of captured channels (the `capture` transport), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/outbox",
    operation_id = "messages_outbox",
    tag = "messages",
    params(OutboxQuery),
    responses(
        (status = 200, description = "Captured messages", body = Page<OutboxItem>),
        (status = 400, description = "A bad parameter", body = ErrorBody)
    )
)]
pub async fn outbox(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> Result<Reply<Page<OutboxItem>>, ApiError> {
    let n = limit(&q.limit)?;
    let (to, flow, cursor) = (q.to, q.flow_id, q.cursor);
    let page = read_log(&app, move |r| r.outbox(ws, to.as_deref(), flow.as_deref(), cursor.as_deref(), n)).await?;
    Ok(Reply(Page::new(page.items.iter().map(OutboxItem::from).collect(), page.next_cursor)))
}

fn channel_param(v: Option<&str>) -> Result<Channel, ApiError> {
    match v.and_then(Channel::parse) {
        Some(c @ (Channel::Email | Channel::Sms)) => Ok(c),
        _ => Err(ApiError::invalid_value("channel", "channel must be \"email\" or \"sms\"")),
    }
}

/// An address never sent to again on its channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suppression {
    pub channel: String,
    pub address: String,
    /// `hard_bounce`, `complaint` or `manual`.
    pub reason: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// Hard bounces, complaints and manual entries, newest first (at most 1000).
#[utoipa::path(
    get,
    path = "/api/v1/suppressions",
    operation_id = "messages_suppressions",
    tag = "messages",
    responses(
        (status = 200, description = "Suppressed addresses", body = Page<Suppression>)
    )
)]
pub async fn suppressions(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<Suppression>>, ApiError> {
    let rows = read_log(&app, move |r| r.suppressions(ws, SUPPRESSIONS_LISTED_MAX)).await?;
    let items = rows
        .into_iter()
        .map(|(channel, address, reason, at)| Suppression { channel, address, reason, created_at: at.to_string() })
        .collect();
    Ok(Reply(Page::whole(items)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"channel": "email", "address": "ann@example.com"}))]
pub struct SuppressRequest {
    #[serde(default)]
    #[schema(value_type = ChannelName)]
    pub channel: Value,
    /// An email address or a phone number.
    #[serde(default)]
    #[schema(value_type = String)]
    pub address: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suppressed {
    pub channel: String,
    /// Normalised (lower-case email, E.164 phone).
    pub address: String,
    pub reason: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/suppressions",
    operation_id = "messages_suppress",
    tag = "messages",
    request_body = SuppressRequest,
    responses(
        (status = 201, description = "Suppressed", body = Suppressed),
        (status = 400, description = "A bad channel or address", body = ErrorBody)
    )
)]
pub async fn suppress(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<Suppressed>), ApiError> {
    let req: SuppressRequest = crate::api::lenient(json_body(&headers, body).await?)?;
    let channel = channel_param(req.channel.as_str())?;
    let address = normalise(channel, req.address.as_str())?;
    app.engine.set_suppressed(ws, channel, address.clone(), true).await?;
    Ok(created(Suppressed { channel: channel.as_str().to_string(), address, reason: "manual" }))
}

/// Lifts a suppression (the address may be sent to again, consent permitting).
#[utoipa::path(
    delete,
    path = "/api/v1/suppressions/{channel}/{address}",
    operation_id = "messages_unsuppress",
    tag = "messages",
    params(
        ("channel" = ChannelName, Path, description = "`email` or `sms`"),
        ("address" = String, Path, description = "The address, URL-encoded")
    ),
    responses(
        (status = 204, description = "Lifted"),
        (status = 400, description = "A bad channel or address", body = ErrorBody),
        (status = 404, description = "The address is not suppressed", body = ErrorBody)
    )
)]
pub async fn unsuppress(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path((channel, address)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let channel = channel_param(Some(&channel))?;
    let address = normalise(channel, Some(&address))?;
    if app.engine.set_suppressed(ws, channel, address, false).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("that address is not suppressed"))
    }
}

fn normalise(channel: Channel, address: Option<&str>) -> Result<String, ApiError> {
    let a = address.unwrap_or_default();
    let parsed = if channel == Channel::Email {
        kairos_domain::Email::parse(a).map(|e| e.as_str().to_string())
    } else {
        kairos_domain::Phone::parse(a).map(|p| p.as_str().to_string())
    };
    parsed.ok_or_else(|| ApiError::invalid_value("address", format!("not a valid {channel} address")))
}

/// One bounce or complaint, as email providers' webhooks send them (`address` may stand for `email`).
#[derive(Debug, ToSchema)]
pub struct BounceReport {
    #[schema(format = Email)]
    pub email: String,
    /// `hard` (also `bounce`, `hard_bounce`), `soft` (`soft_bounce`, `deferred`) or `complaint` (`spam`,
    /// `spamreport`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The id of the message it is about (ignored unless it is this workspace's email to that address).
    pub message_id: Option<String>,
}

/// Several reports at once; errors name `events[i].field`.
#[derive(Debug, ToSchema)]
pub struct BounceBatch {
    pub events: Vec<BounceReport>,
}

/// What a report changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BounceOutcome {
    pub address: String,
    pub kind: String,
    /// The message marked, or null.
    pub message_id: Option<String>,
}

/// A provider's JSON: one report or a batch.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum BounceJson {
    One(BounceReport),
    Many(BounceBatch),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BounceResults {
    pub items: Vec<BounceOutcome>,
}

/// A provider's JSON report sent with another content type than `application/json` (`curl -d` sends
/// `application/x-www-form-urlencoded`, and some providers send `text/plain`): a body that is a JSON object of
/// the documented shape (`events`, or `email` / `address`) is read as JSON. A body declared a message or a
/// multipart report, and anything else, is a raw report (a DSN or an ARF report never starts with `{`).
fn sniffed_json(ctype: &str, raw: &[u8]) -> Option<Value> {
    if ctype.starts_with("message/") || ctype.starts_with("multipart/") || raw.trim_ascii_start().first() != Some(&b'{')
    {
        return None;
    }
    let v = crate::api::json_from_bytes(raw).ok()?;
    let o = v.as_object()?;
    let shaped = o.get("events").is_some_and(Value::is_array) || o.contains_key("email") || o.contains_key("address");
    shaped.then_some(v)
}

/// `POST /api/v1/bounces`: a provider webhook (`{"email", "type": "hard"|"soft"|"complaint", "message_id"}` or
/// `{"events": [...]}`; `application/json`, or any type but a report's when the body is such an object) or a raw
/// report (`Content-Type: message/rfc822` / `multipart/report`: RFC 3464 DSN or an
/// RFC 5965 complaint). Hard bounces and complaints suppress the address; soft bounces are recorded. A message
/// id marks that message only when it is the caller's workspace's (anything else is ignored).
#[utoipa::path(
    post,
    path = "/api/v1/bounces",
    operation_id = "messages_bounces",
    tag = "messages",
    request_body(
        description = "A provider's JSON report(s), or a raw RFC 3464 / RFC 5965 report",
        content((BounceJson = "application/json"), (String = "message/rfc822"), (String = "multipart/report"))
    ),
    responses(
        (status = 200, description = "What each report changed", body = BounceResults),
        (status = 400, description = "A bad report", body = ErrorBody)
    )
)]
pub async fn bounces(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<BounceResults>, ApiError> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut reports: Vec<(String, BounceKind, Option<String>)> = Vec::new();
    let json = if ctype.starts_with("application/json") {
        Some(json_body(&headers, body).await?)
    } else {
        let raw = crate::api::read_body(&headers, body, BOUNCE_REPORT_BYTES_MAX).await?;
        match sniffed_json(&ctype, &raw) {
            Some(v) => Some(v),
            None => {
                for b in kairos_channels::parse_dsn(&raw) {
                    let kind = b.kind;
                    // The original's `Message-ID: <id@domain>` leads back to the send.
                    let message = b.message_id.as_deref().and_then(|m| m.trim_matches(['<', '>']).split('@').next());
                    reports.push((b.recipient.to_ascii_lowercase(), kind, message.map(str::to_string)));
                }
                if reports.is_empty() {
                    return Err(ApiError::field(
                        ErrorCode::InvalidReport,
                        "body",
                        "no delivery status or complaint report found in the message",
                    ));
                }
                None
            }
        }
    };
    if let Some(v) = json {
        let list = match v.get("events").and_then(Value::as_array) {
            Some(l) => l.clone(),
            None => vec![v],
        };
        for (i, e) in list.iter().enumerate() {
            let at = |f: &str| if list.len() > 1 || e != &list[0] { format!("events[{i}].{f}") } else { f.to_string() };
            let address = e["email"].as_str().or(e["address"].as_str()).and_then(kairos_domain::Email::parse);
            let Some(address) = address else {
                return Err(ApiError::invalid_value(&at("email"), "email must be an email address"));
            };
            let kind = match e["type"].as_str() {
                Some("hard" | "bounce" | "hard_bounce") => BounceKind::Hard,
                Some("soft" | "soft_bounce" | "deferred") => BounceKind::Soft,
                Some("complaint" | "spam" | "spamreport") => BounceKind::Complaint,
                _ => {
                    return Err(ApiError::invalid_value(
                        &at("type"),
                        "type must be \"hard\", \"soft\" or \"complaint\"",
                    ));
                }
            };
            reports.push((address.as_str().to_string(), kind, e["message_id"].as_str().map(str::to_string)));
        }
    }
    let mut out = Vec::new();
    for (address, kind, message) in reports {
        let b = app.engine.bounce(ws, address, kind, message).await?;
        out.push(BounceOutcome { address: b.address, kind: b.kind.as_str().to_string(), message_id: b.message_id });
    }
    Ok(Reply(BounceResults { items: out }))
}
