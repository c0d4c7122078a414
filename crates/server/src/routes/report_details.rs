//! Reports a marketer reads beside the content: one campaign with its numbers over time, and every template's
//! numbers (what each piece of content earned, whichever flows or campaigns sent it).

use std::collections::HashMap;

use axum::extract::{Path, State};
use kairos_store::reports::Cohort;
use serde::Serialize;
use utoipa::ToSchema;

use super::reports::{
    ActivityNumbers, CampaignNumbers, Ctx, Numbers, Range, ReportPage, ReportQuery, context, outcomes,
};
use crate::AppState;
use crate::api::{QueryParams, read};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::wire::Reply;

/// One campaign's numbers (a `/reports/campaigns` item) with the range, and per day what its messages earned.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReportBody {
    #[serde(flatten)]
    pub range: Range,
    #[serde(flatten)]
    pub campaign: CampaignNumbers,
    /// Per day of the range: first opens and clicks, and attributed orders, of the campaign's messages.
    pub series: Vec<ActivityNumbers>,
}

/// One campaign, for messages sent in the range (default: the last 30 days).
#[utoipa::path(
    get,
    path = "/api/v1/reports/campaigns/{id}",
    operation_id = "reports_campaign",
    tag = "reports",
    params(("id" = String, Path, description = "The campaign's id"), ReportQuery),
    responses(
        (status = 200, description = "The campaign's numbers over time", body = CampaignReportBody),
        (status = 400, description = "A bad range", body = ErrorBody),
        (status = 404, description = "No such campaign in the workspace", body = ErrorBody)
    )
)]
pub async fn campaign(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<CampaignReportBody>, ApiError> {
    let Ctx { from, to, windows, timezone, .. } = context(&app, ws, &q).await?;
    let key = id.clone();
    let found = read(&app, move |r| {
        let Some(c) = r.campaign(ws, &key)? else { return Ok(None) };
        let mut rows = r.message_rows(ws, from, to, &Cohort::Campaigns)?;
        rows.retain(|m| m.campaign_id.as_deref() == Some(key.as_str()));
        let o = outcomes(r, ws, from, &rows, windows)?;
        let facts = kairos_analytics::message_facts(&rows, &o.reactions, &o.attributed);
        let names = HashMap::from([(c.public_id.clone(), c.name.clone())]);
        let report = kairos_analytics::campaign_reports(&rows, &facts, &names).into_iter().next();
        let report = report.unwrap_or(kairos_analytics::CampaignReport {
            campaign_id: c.public_id,
            name: Some(c.name),
            totals: Default::default(),
            variants: Default::default(),
        });
        let series = kairos_analytics::activity_series(&rows, &o.reactions, &o.attributed, from, to, &timezone);
        Ok(Some((report, series)))
    })
    .await?;
    let (c, series) = found.ok_or_else(|| ApiError::not_found(format!("campaign {id:?} not found")))?;
    let series = series.iter().map(ActivityNumbers::from).collect();
    Ok(Reply(CampaignReportBody { range: Range::new(from, to), campaign: CampaignNumbers::from(&c), series }))
}

/// A template's numbers: the messages rendered from it, by whichever flows and campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateNumbers {
    pub template_id: String,
    /// The template's name (null once it is gone).
    pub name: Option<String>,
    #[serde(flatten)]
    pub totals: Numbers,
}

/// Every template with messages sent in the range, most revenue first. A flow message counts for its step's
/// template in the flow's current definition; a campaign message for the campaign's (or its A/B variant's).
#[utoipa::path(
    get,
    path = "/api/v1/reports/templates",
    operation_id = "reports_templates",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "Every template's numbers", body = ReportPage<TemplateNumbers>),
        (status = 400, description = "A bad range", body = ErrorBody)
    )
)]
pub async fn templates(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Reply<ReportPage<TemplateNumbers>>, ApiError> {
    let Ctx { from, to, windows, .. } = context(&app, ws, &q).await?;
    let (numbers, names) = read(&app, move |r| {
        let mut rows = r.message_rows(ws, from, to, &Cohort::Flows(None))?;
        rows.extend(r.message_rows(ws, from, to, &Cohort::Campaigns)?);
        let o = outcomes(r, ws, from, &rows, windows)?;
        let facts = kairos_analytics::message_facts(&rows, &o.reactions, &o.attributed);
        let numbers = kairos_analytics::template_reports(&rows, &facts, &r.flows(ws)?, &r.campaigns(ws)?);
        let mut names = HashMap::new();
        for id in numbers.keys() {
            if let Some((_, data)) = r.template_data(ws, id)? {
                let v: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                let name = v["name"].as_str().or(v["subject"].as_str()).unwrap_or(id).to_string();
                names.insert(id.clone(), name);
            }
        }
        Ok((numbers, names))
    })
    .await?;
    let mut items: Vec<TemplateNumbers> = numbers
        .iter()
        .map(|(id, n)| TemplateNumbers {
            template_id: id.clone(),
            name: names.get(id).cloned(),
            totals: Numbers::from(n),
        })
        .collect();
    items.sort_by(|a, b| b.totals.revenue.total_cmp(&a.totals.revenue).then_with(|| a.template_id.cmp(&b.template_id)));
    Ok(Reply(ReportPage { range: Range::new(from, to), items, next_cursor: None }))
}
