//! `/api/v1/templates`: validated, versioned message templates, and their previews for a contact.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kairos_domain::ContactId;
use kairos_engine::templates::{TemplateKind, TemplateSource};
use kairos_store::StoredTemplate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::template_blocks;
use super::template_variants::{self, SubjectVariantBody};
use crate::AppState;
use crate::api::{QueryParams, json_body, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::{Page, Reply, created};

const ID_CHARS_MAX: usize = 64;
const TEMPLATE_PART_BYTES_MAX: usize = 256 * 1024;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= ID_CHARS_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The parts of a template (SPEC 16 "Templates"): Liquid in `subject`, `html`, `text` and `body` (SMS, chat,
/// webhook and partials), each at most 256 KB. An email needs `subject` and `html` or `text` (or `blocks`); SMS,
/// chat and webhook templates need `body`; a layout's `html` holds `{{ content }}`; `layout` names the layout to
/// wrap an email in. A block email has `blocks` (1 to 40 sections) and its `html` is always their rendering: any
/// `html` sent with them is replaced. An email may have a `preview_text` (the inbox's line after the subject,
/// placed hidden at the top of the html) and up to 4 subject-line `variants` tested against its own subject:
/// each recipient gets one of them (A is the template's own subject and preview text, B the first variant, ...),
/// the same one every time; `winner` (a letter) sends one to everyone.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TemplateParts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `email`, `sms`, `chat`, `webhook`, `partial` or `layout`.
    #[serde(default)]
    #[schema(example = "email")]
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// An email's preview text (Liquid, plain text).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Your cart is saved for 7 days")]
    pub preview_text: Option<String>,
    /// Subject lines B, C, … tested against `subject` (at most 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<SubjectVariantBody>>,
    /// The subject line everyone gets once picked (`"A"`, `"B"`, …); without it recipients are split evenly.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "B")]
    pub winner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// An email built from blocks (the block editor's); `html` is rendered from them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<kairos_template::blocks::Block>>)]
    pub blocks: Option<Value>,
}

/// `POST /api/v1/templates` (`id` optional: generated) and `PUT /api/v1/templates/{id}` (a body `id` must be
/// the path's). Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"id": "abandoned-cart-1", "name": "Cart reminder", "channel": "email",
                         "subject": "You left {{ event.products[0].name }}",
                         "html": "<p>Hi {{ contact.first_name }}</p>"}))]
pub struct TemplateRequest {
    /// 1 to 64 letters, digits, `_` or `-`.
    pub id: Option<String>,
    #[serde(flatten)]
    pub parts: TemplateParts,
}

/// A saved template and its version (every save makes a new one; flows keep the version they sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateBody {
    pub id: String,
    pub version: i64,
    #[serde(flatten)]
    pub parts: TemplateParts,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Validates a template body into its parts (the stored JSON, without id and version).
fn template_body(v: &Value) -> Result<TemplateParts, ApiError> {
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let known = [
        "id",
        "name",
        "channel",
        "subject",
        "html",
        "text",
        "body",
        "layout",
        "blocks",
        "preview_text",
        "variants",
        "winner",
    ];
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::field(ErrorCode::UnknownField, k, format!("unknown field {k:?}")));
    }
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            // Liquid syntax, filters, partials and layouts are checked by the engine against the workspace.
            Some(Value::String(s)) if s.len() <= TEMPLATE_PART_BYTES_MAX => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(ApiError::field(ErrorCode::TooLong, k, format!("{k} is larger than 256 KB"))),
            Some(_) => Err(ApiError::invalid_type(k, format!("{k} must be a string"))),
        }
    };
    let channel = match text("channel")?.as_deref() {
        Some(c @ ("email" | "sms" | "chat" | "webhook" | "partial" | "layout")) => c.to_string(),
        _ => {
            return Err(ApiError::invalid_value(
                "channel",
                "channel must be email, sms, chat, webhook, partial or layout",
            ));
        }
    };
    let mut out = TemplateParts {
        name: text("name")?,
        channel,
        subject: text("subject")?,
        html: text("html")?,
        text: text("text")?,
        body: text("body")?,
        layout: text("layout")?,
        ..TemplateParts::default()
    };
    template_variants::check(o, &mut out)?;
    if let Some((blocks, html)) = template_blocks::checked(o.get("blocks"))? {
        template_blocks::check_place(&out.channel, out.layout.as_deref())?;
        template_variants::check_blocks(&blocks, &out)?;
        (out.blocks, out.html) = (Some(blocks), Some(html));
    }
    match out.channel.as_str() {
        "email" if out.subject.is_none() => {
            return Err(ApiError::missing_field("subject", "an email template needs a subject"));
        }
        "email" if out.html.is_none() && out.text.is_none() => {
            return Err(ApiError::missing_field("html", "an email template needs html or text"));
        }
        "sms" | "chat" | "webhook" if out.body.is_none() => {
            return Err(ApiError::missing_field("body", format!("a {} template needs a body", out.channel)));
        }
        "layout" if !out.html.as_deref().is_some_and(|h| h.contains("content")) => {
            return Err(ApiError::missing_field(
                "html",
                "a layout needs html with {{ content }} where the message goes",
            ));
        }
        "partial" if out.html.is_none() && out.body.is_none() => {
            return Err(ApiError::missing_field("html", "a partial needs html (or body)"));
        }
        _ => {}
    }
    Ok(out)
}

impl From<&StoredTemplate> for TemplateBody {
    fn from(t: &StoredTemplate) -> Self {
        TemplateBody {
            id: t.id.clone(),
            version: t.version,
            parts: serde_json::from_str(&t.data).unwrap_or_default(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

pub(crate) async fn save_template(
    app: &AppState,
    ws: kairos_domain::WorkspaceId,
    id: String,
    parts: TemplateParts,
) -> Result<TemplateBody, ApiError> {
    let kind = TemplateKind::parse(&parts.channel).ok_or_else(|| {
        ApiError::invalid_value("channel", "channel must be email, sms, chat, webhook, partial or layout")
    })?;
    let liquid = kairos_template::TemplateParts {
        subject: parts.subject,
        preview_text: parts.preview_text,
        variants: parts.variants.iter().flatten().map(kairos_template::SubjectVariant::from).collect(),
        html: parts.html,
        text: parts.text,
        body: parts.body,
        layout: parts.layout,
    };
    // Checked against the variants by `template_variants::check`; a stored one is kept as it is.
    let winner = parts.winner.as_deref().and_then(kairos_template::variant_index);
    let source = TemplateSource { name: parts.name, kind, parts: liquid, blocks: parts.blocks, winner };
    app.engine.save_template(ws, id.clone(), source).await?;
    let t =
        read_log(app, move |r| r.template(ws, &id)).await?.ok_or_else(|| ApiError::not_found("template vanished"))?;
    Ok(TemplateBody::from(&t))
}

#[utoipa::path(
    post,
    path = "/api/v1/templates",
    operation_id = "templates_create",
    tag = "templates",
    request_body = TemplateRequest,
    responses(
        (status = 201, description = "The template, version 1", body = TemplateBody),
        (status = 400, description = "A missing or bad part (Liquid errors name the part)", body = ErrorBody),
        (status = 409, description = "A template with this id exists (PUT updates it)", body = ErrorBody)
    )
)]
pub async fn create(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Reply<TemplateBody>), ApiError> {
    let v = json_body(&headers, body).await?;
    let data = template_body(&v)?;
    let id = match v.get("id") {
        None | Some(Value::Null) => kairos_store::keys::random_token("tpl_", 6),
        Some(Value::String(s)) if valid_id(s) => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid_value("id", "id is 1 to 64 letters, digits, '_' or '-'"));
        }
    };
    let key = id.clone();
    if read_log(&app, move |r| r.template(ws, &key)).await?.is_some() {
        return Err(ApiError::conflict(format!("template {id:?} exists; PUT /api/v1/templates/{id} updates it")));
    }
    Ok(created(save_template(&app, ws, id, data).await?))
}

/// Creates or replaces the template (a new version).
#[utoipa::path(
    put,
    path = "/api/v1/templates/{id}",
    operation_id = "templates_put",
    tag = "templates",
    request_body = TemplateRequest,
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "The template's new version", body = TemplateBody),
        (status = 400, description = "A missing or bad part", body = ErrorBody)
    )
)]
pub async fn put(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Reply<TemplateBody>, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::invalid_value("id", "id is 1 to 64 letters, digits, '_' or '-'"));
    }
    let v = json_body(&headers, body).await?;
    if v.get("id").is_some_and(|b| b.as_str() != Some(id.as_str())) {
        return Err(ApiError::invalid_value("id", "id in the body differs from the id in the URL"));
    }
    let data = template_body(&v)?;
    Ok(Reply(save_template(&app, ws, id, data).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/templates/{id}",
    operation_id = "templates_get",
    tag = "templates",
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "The template's current version", body = TemplateBody),
        (status = 404, description = "No such template in the workspace", body = ErrorBody)
    )
)]
pub async fn get(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply<TemplateBody>, ApiError> {
    let key = id.clone();
    let t = read_log(&app, move |r| r.template(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("template {id:?} not found")))?;
    Ok(Reply(TemplateBody::from(&t)))
}

#[utoipa::path(
    get,
    path = "/api/v1/templates",
    operation_id = "templates_list",
    tag = "templates",
    responses(
        (status = 200, description = "Every template, by id (one page)", body = Page<TemplateBody>)
    )
)]
pub async fn list(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
) -> Result<Reply<Page<TemplateBody>>, ApiError> {
    let items = read_log(&app, move |r| r.templates(ws)).await?;
    Ok(Reply(Page::whole(items.iter().map(TemplateBody::from).collect())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The contact to render for (required).
    #[param(value_type = i64)]
    pub contact_id: Option<String>,
}

impl PreviewQuery {
    fn contact(&self) -> Result<ContactId, ApiError> {
        self.contact_id
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .map(ContactId)
            .ok_or_else(|| ApiError::missing_field("contact_id", "contact_id (a contact's id) is required"))
    }
}

/// `event` stands in for the trigger event (`{{ event.* }}`); `variant` is the subject line to show (`"A"`, the
/// template's own, by default).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PreviewRequest {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<String>, example = "B")]
    pub variant: Option<Value>,
}

/// An unsaved template's parts, a stand-in trigger event and the subject line to show.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DraftPreviewRequest {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = TemplateParts)]
    pub template: Option<Value>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<String>, example = "B")]
    pub variant: Option<Value>,
}

/// The subject line a preview asks for (A when absent).
fn variant_of(v: Option<Value>) -> Result<usize, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => kairos_template::variant_index(&s)
            .ok_or_else(|| ApiError::invalid_value("variant", "variant is a subject line's letter: A, B, C, D or E")),
        Some(_) => Err(ApiError::invalid_type("variant", "variant must be a letter like \"B\"")),
    }
}

/// A template rendered for a contact (nothing is stored or sent). `skipped` names why nothing would be sent
/// (`nothing_promotable`: every product of the event is out of stock), and then the parts are absent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// For a saved template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i64>,
    pub contact_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Option<String>>,
    /// The preview text as rendered (also placed, hidden, at the top of `html`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub preview_text: Option<Option<String>>,
    /// The subject line shown (`"A"`, `"B"`, …) when the template has variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "B")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub html: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub text: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub body: Option<Option<String>>,
    #[schema(value_type = Option<String>)]
    pub skipped: Option<String>,
    /// Links left untracked, with their host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

impl From<kairos_engine::messages::Preview> for Preview {
    fn from(p: kairos_engine::messages::Preview) -> Self {
        let (template_id, template_version) = p.template.map_or((None, None), |(id, v)| (Some(id), Some(v)));
        let mut out = Preview {
            template_id,
            template_version,
            contact_id: p.contact.0,
            subject: None,
            preview_text: None,
            variant: None,
            html: None,
            text: None,
            body: None,
            skipped: None,
            warnings: None,
        };
        match p.outcome {
            Ok(r) => {
                (out.subject, out.html, out.text, out.body) =
                    (Some(r.subject), Some(r.html), Some(r.text), Some(r.body));
                out.preview_text = r.preview_text.map(Some);
                out.variant = r.variant.map(kairos_template::variant_letter);
                out.warnings = Some(r.warnings);
            }
            Err(reason) => out.skipped = Some(reason),
        }
        out
    }
}

fn event_of(v: Option<Value>) -> Result<Map<String, Value>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(ApiError::invalid_type("event", "event must be an object")),
    }
}

/// Renders a saved template for a contact; the body is optional.
#[utoipa::path(
    post,
    path = "/api/v1/templates/{id}/preview",
    operation_id = "templates_preview",
    tag = "templates",
    request_body = PreviewRequest,
    params(("id" = String, Path, description = "The template's id"), PreviewQuery),
    responses(
        (status = 200, description = "The rendered parts", body = Preview),
        (status = 400, description = "No contact_id, or a bad event", body = ErrorBody),
        (status = 404, description = "No such template or contact in the workspace", body = ErrorBody)
    )
)]
pub async fn preview(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PreviewQuery>,
    body: Body,
) -> Result<Reply<Preview>, ApiError> {
    let contact = q.contact()?;
    // The body is optional: anything unreadable counts as none.
    let v = json_body(&headers, body).await.unwrap_or(Value::Null);
    let req: PreviewRequest = crate::api::lenient(v).unwrap_or_default();
    let event = event_of(req.event)?;
    let variant = variant_of(req.variant)?;
    Ok(Reply(Preview::from(app.engine.preview_template(ws, id, contact, event, variant).await?)))
}

/// Renders unsaved template parts for a contact (the editor's live preview).
#[utoipa::path(
    post,
    path = "/api/v1/templates/preview",
    operation_id = "templates_preview_draft",
    tag = "templates",
    request_body = DraftPreviewRequest,
    params(PreviewQuery),
    responses(
        (status = 200, description = "The rendered parts", body = Preview),
        (status = 400, description = "No contact_id, no template, or a part that does not compile", body = ErrorBody),
        (status = 404, description = "No such contact in the workspace", body = ErrorBody)
    )
)]
pub async fn preview_draft(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<PreviewQuery>,
    body: Body,
) -> Result<Reply<Preview>, ApiError> {
    let contact = q.contact()?;
    let req: DraftPreviewRequest = crate::api::lenient(json_body(&headers, body).await?)?;
    let draft: kairos_template::TemplateParts = match req.template {
        Some(Value::Object(mut t)) => {
            // A block draft previews as it would be saved: the html rendered from its blocks.
            if let Some((_, html)) = template_blocks::checked(t.get("blocks"))? {
                t.insert("html".into(), Value::String(html));
                t.remove("layout");
            }
            draft_parts(Value::Object(t))?
        }
        _ => {
            return Err(ApiError::missing_field("template", "template must be an object with its parts"));
        }
    };
    let event = event_of(req.event)?;
    let variant = variant_of(req.variant)?;
    Ok(Reply(Preview::from(app.engine.preview_draft(ws, draft, contact, event, variant).await?)))
}

fn draft_parts(t: Value) -> Result<kairos_template::TemplateParts, ApiError> {
    serde_json::from_value(t).map_err(|e| {
        ApiError::from(kairos_engine::EngineError::Invalid {
            message: format!("template: {e}"),
            field: Some("template".into()),
        })
    })
}
