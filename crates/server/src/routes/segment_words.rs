//! Segment definitions and flow conditions said in words (`kairos_segment::words`): the `description` of every
//! segment answered, and `POST /api/v1/segments/describe` for the UI's flow pages, whose entry filters, checks
//! and exit conditions are written in the same language.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use kairos_domain::WorkspaceId;
use kairos_engine::{SegmentCmd, SegmentInfo, SegmentReply};
use kairos_segment::Expr;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{json_body, lenient, present};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::wire::Reply;

/// Most definitions described in one call (a flow's conditions fit many times over).
pub const DESCRIBE_DEFINITIONS_MAX: usize = 200;

/// Segment ids to names, to say `in segment "seg_…"` as the segment's name.
pub(crate) struct SegmentNames(HashMap<String, String>);

impl SegmentNames {
    pub(crate) fn of(items: &[SegmentInfo]) -> Self {
        Self(items.iter().map(|s| (s.id.clone(), s.name.clone())).collect())
    }

    /// The workspace's segment names, read only when one of `exprs` refers to another segment.
    pub(crate) async fn for_exprs<'a>(
        app: &AppState,
        ws: WorkspaceId,
        mut exprs: impl Iterator<Item = &'a Expr>,
    ) -> Result<Self, ApiError> {
        if !exprs.any(|e| !e.segment_refs().is_empty()) {
            return Ok(Self(HashMap::new()));
        }
        match app.engine.segment(ws, SegmentCmd::List).await? {
            SegmentReply::List(items) => Ok(Self::of(&items)),
            _ => Err(ApiError::internal("unexpected engine reply")),
        }
    }

    pub(crate) fn describe(&self, e: &Expr) -> String {
        kairos_segment::words::describe(e, &|r| self.0.get(r).cloned())
    }
}

/// `POST /api/v1/segments/describe`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"definitions": ["orders.count >= 2 and subscribed email"]}))]
pub struct DescribeRequest {
    /// Definitions as text or canonical JSON, at most 200.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<Object>)]
    pub definitions: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Described {
    /// The definition's canonical text.
    pub text: String,
    /// The definition as a sentence ("People whose number of orders is at least 2 and who are subscribed to email").
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DescribeReply {
    /// One per definition, in the order given.
    pub items: Vec<Described>,
}

/// Says definitions in words without evaluating them (cheap: nothing is read but segment names).
#[utoipa::path(
    post,
    path = "/api/v1/segments/describe",
    operation_id = "segments_describe",
    tag = "segments",
    request_body = DescribeRequest,
    responses(
        (status = 200, description = "Each definition in words", body = DescribeReply),
        (status = 400, description = "A definition that does not parse (the field names which: definitions[2])", body = ErrorBody)
    )
)]
pub async fn describe(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<DescribeReply>, ApiError> {
    let req: DescribeRequest = lenient(json_body(&headers, body).await?)?;
    let list = match req.definitions {
        Some(Value::Array(list)) if list.len() <= DESCRIBE_DEFINITIONS_MAX => list,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_value(
                "definitions",
                format!("definitions takes at most {DESCRIBE_DEFINITIONS_MAX} items"),
            ));
        }
        Some(_) => return Err(ApiError::invalid_type("definitions", "definitions must be a list")),
        None => return Err(ApiError::missing_field("definitions", "definitions is required")),
    };
    let exprs = list.iter().enumerate().map(|(i, v)| parse_item(i, v)).collect::<Result<Vec<_>, _>>()?;
    let names = SegmentNames::for_exprs(&app, ws, exprs.iter()).await?;
    let items = exprs
        .iter()
        .map(|e| Described { text: kairos_segment::print::to_text(e), description: names.describe(e) })
        .collect();
    Ok(Reply(DescribeReply { items }))
}

fn parse_item(i: usize, v: &Value) -> Result<Expr, ApiError> {
    let field = format!("definitions[{i}]");
    match v {
        Value::String(text) => kairos_segment::parse::parse(text)
            .map_err(|e| ApiError::field(ErrorCode::InvalidDefinition, &field, e.to_string())),
        Value::Object(_) => kairos_segment::json::from_json(v).map_err(|e| {
            let at = e.path.as_deref().map_or(field.clone(), |p| format!("{field}.{p}"));
            ApiError::field(ErrorCode::InvalidDefinition, &at, e.message.clone())
        }),
        _ => Err(ApiError::invalid_type(&field, format!("{field} must be text or a JSON object"))),
    }
}
