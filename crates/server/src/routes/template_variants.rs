//! Preview text and subject-line variants of email templates (issue 16): `preview_text`, `variants` (A/B of
//! subject and preview text within one template) and `winner` in `/api/v1/templates`, checked field by field
//! here (their Liquid by the engine, with errors naming `variants[1].subject`), and
//! `POST /api/v1/templates/{id}/variants/{variant}/winner`, which keeps the winning subject line for everyone.

use axum::extract::{Path, State};
use kairos_template::{SUBJECT_VARIANTS_MAX, SubjectVariant, variant_index, variant_letter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::templates::{TemplateBody, TemplateParts, save_template};
use crate::AppState;
use crate::api::read_log;
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::Reply;

/// Longest subject or preview text of a variant, in bytes: a template part's limit.
const VARIANT_PART_BYTES_MAX: usize = kairos_template::SOURCE_BYTES_MAX;

/// One subject line tested against the template's own: `subject` (Liquid, required) and `preview_text` (Liquid;
/// without it the template's preview text is used).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"subject": "{{ contact.first_name }}, your cart misses you", "preview_text": "Free shipping ends tonight"}))]
pub struct SubjectVariantBody {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_text: Option<String>,
}

impl From<&SubjectVariantBody> for SubjectVariant {
    fn from(v: &SubjectVariantBody) -> Self {
        SubjectVariant { subject: v.subject.clone(), preview_text: v.preview_text.clone() }
    }
}

/// The checked `preview_text`, `variants` and `winner` of a template body, into `out`. Only an email has them.
pub(crate) fn check(o: &Map<String, Value>, out: &mut TemplateParts) -> Result<(), ApiError> {
    out.preview_text = text(o.get("preview_text"), "preview_text")?;
    out.variants = variants(o.get("variants"))?;
    out.winner = match o.get("winner") {
        None | Some(Value::Null) => None,
        Some(Value::String(w)) => {
            let count = 1 + out.variants.as_ref().map_or(0, Vec::len);
            match variant_index(w) {
                Some(i) if i < count => Some(w.clone()),
                _ => {
                    let last = variant_letter(count - 1);
                    return Err(ApiError::invalid_value(
                        "winner",
                        format!("winner must be one of the template's subject lines, A to {last}"),
                    ));
                }
            }
        }
        Some(_) => return Err(ApiError::invalid_type("winner", "winner must be a letter like \"B\"")),
    };
    if out.channel != "email" {
        for (k, set) in [
            ("preview_text", out.preview_text.is_some()),
            ("variants", out.variants.is_some()),
            ("winner", out.winner.is_some()),
        ] {
            if set {
                return Err(ApiError::invalid_value(k, format!("only an email template has {k}")));
            }
        }
    }
    Ok(())
}

/// A block email's header may carry its own preview text: one preview text per email, so not both.
pub(crate) fn check_blocks(blocks: &Value, out: &TemplateParts) -> Result<(), ApiError> {
    let in_header = blocks
        .as_array()
        .into_iter()
        .flatten()
        .any(|b| b["type"] == "header" && b["preheader"].as_str().is_some_and(|p| !p.trim().is_empty()));
    if !in_header {
        return Ok(());
    }
    let field = if out.preview_text.is_some() {
        Some("preview_text".to_string())
    } else {
        let variants = out.variants.iter().flatten().enumerate();
        variants.filter(|(_, v)| v.preview_text.is_some()).map(|(i, _)| format!("variants[{i}].preview_text")).next()
    };
    match field {
        Some(f) => Err(ApiError::invalid_value(
            &f,
            "the header block already sets this email's preview text: clear one of the two",
        )),
        None => Ok(()),
    }
}

fn text(v: Option<&Value>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= VARIANT_PART_BYTES_MAX => Ok(Some(s.clone())),
        Some(Value::String(_)) => {
            Err(ApiError::field(ErrorCode::TooLong, field, format!("{field} is larger than 256 KB")))
        }
        Some(_) => Err(ApiError::invalid_type(field, format!("{field} must be a string"))),
    }
}

fn variants(v: Option<&Value>) -> Result<Option<Vec<SubjectVariantBody>>, ApiError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ApiError::invalid_type("variants", "variants must be a list of subject lines")),
    };
    if list.len() > SUBJECT_VARIANTS_MAX {
        return Err(ApiError::invalid_value(
            "variants",
            format!("at most {SUBJECT_VARIANTS_MAX} variants besides the template's own subject"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let field = |k: &str| format!("variants[{i}].{k}");
        let o = item.as_object().ok_or_else(|| {
            ApiError::invalid_type(&format!("variants[{i}]"), "a variant is an object with subject and preview_text")
        })?;
        if let Some(k) = o.keys().find(|k| !["subject", "preview_text"].contains(&k.as_str())) {
            return Err(ApiError::field(ErrorCode::UnknownField, &field(k), format!("unknown field {k:?}")));
        }
        let subject = match text(o.get("subject"), &field("subject"))? {
            Some(s) if !s.trim().is_empty() => s,
            _ => return Err(ApiError::missing_field(&field("subject"), "each variant needs a subject")),
        };
        let preview_text = text(o.get("preview_text"), &field("preview_text"))?.filter(|p| !p.trim().is_empty());
        out.push(SubjectVariantBody { subject, preview_text });
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Keeps one subject line for everyone from now on: a new version of the template whose `winner` is `variant`
/// (its variants stay, so the test's numbers keep their names). Putting the template without `winner` tests
/// again.
#[utoipa::path(
    post,
    path = "/api/v1/templates/{id}/variants/{variant}/winner",
    operation_id = "templates_pick_winner",
    tag = "templates",
    params(
        ("id" = String, Path, description = "The template's id"),
        ("variant" = String, Path, description = "The winning subject line: A (the template's own), B, C, ...")
    ),
    responses(
        (status = 200, description = "The template's new version, with `winner`", body = TemplateBody),
        (status = 400, description = "Not one of the template's subject lines", body = ErrorBody),
        (status = 404, description = "No such template in the workspace", body = ErrorBody)
    )
)]
pub async fn pick_winner(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path((id, variant)): Path<(String, String)>,
) -> Result<Reply<TemplateBody>, ApiError> {
    let key = id.clone();
    let t = read_log(&app, move |r| r.template(ws, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("template {id:?} not found")))?;
    let mut parts: TemplateParts = serde_json::from_str(&t.data).unwrap_or_default();
    let count = 1 + parts.variants.as_ref().map_or(0, Vec::len);
    if count < 2 {
        return Err(ApiError::invalid_value("variant", "this template tests no subject lines: it has no variants"));
    }
    match variant_index(&variant) {
        Some(i) if i < count => parts.winner = Some(variant),
        _ => {
            let last = variant_letter(count - 1);
            return Err(ApiError::invalid_value("variant", format!("variant must be A to {last}")));
        }
    }
    Ok(Reply(save_template(&app, ws, id, parts).await?))
}
