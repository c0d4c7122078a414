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
use crate::api::{QueryParams, read_log};
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
    let found = read_log(&app, move |r| {
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

/// A template's numbers: the messages rendered from it, by whichever flows and campaigns. A template that tests
/// subject lines also has each line's numbers and the lead on open rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateNumbers {
    pub template_id: String,
    /// The template's name (null once it is gone).
    pub name: Option<String>,
    #[serde(flatten)]
    pub totals: Numbers,
    /// Each subject line (A is the template's own), when the template has variants or its messages in the range
    /// were sent with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantNumbers>>,
    /// The subject line leading on open rate and how sure that is; null until two lines have delivered emails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<Option<VariantLead>>,
    /// The subject line picked for everyone, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "B")]
    pub winner: Option<String>,
}

/// One subject line of a template's test and what its messages did.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantNumbers {
    /// `"A"` (the template's own subject), `"B"`, …
    #[schema(example = "B")]
    pub variant: String,
    /// Its subject (Liquid) as the template has it now; null for a line the template no longer has.
    pub subject: Option<String>,
    /// Its preview text (Liquid): its own, else the template's.
    pub preview_text: Option<String>,
    #[serde(flatten)]
    pub numbers: Numbers,
}

/// The subject line ahead on open rate (human opens / delivered). `confidence` is a one-sided two-proportion
/// z-test of the leader against its closest rival (the same test a campaign's A/B uses); `enough_data` once every
/// line has 100 delivered emails; `decided` with enough data and at least 95 % confidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantLead {
    /// Always `open_rate`: what a subject line and preview text change.
    #[schema(example = "open_rate")]
    pub metric: &'static str,
    #[schema(example = "B")]
    pub variant: String,
    #[schema(example = 0.92)]
    pub confidence: f64,
    pub enough_data: bool,
    pub decided: bool,
}

/// A subject line as the template has it: (subject, preview text).
type Line = (Option<String>, Option<String>);

/// The subject lines a stored template tests (A, B, …) and the picked winner.
fn subject_lines(data: &serde_json::Value) -> (Vec<Line>, Option<String>) {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let variants = data["variants"].as_array().cloned().unwrap_or_default();
    if variants.is_empty() {
        return (Vec::new(), None);
    }
    let own_preview = text(&data["preview_text"]);
    let mut lines = vec![(text(&data["subject"]), own_preview.clone())];
    lines.extend(variants.iter().map(|v| (text(&v["subject"]), text(&v["preview_text"]).or(own_preview.clone()))));
    (lines, text(&data["winner"]))
}

/// The per subject line part of a template's numbers: every line the template has, and any its messages carry.
fn with_variants(
    item: &mut TemplateNumbers,
    report: &kairos_analytics::TemplateReport,
    lines: &[Line],
    winner: Option<String>,
) {
    let mut indexes: Vec<i64> = (0..lines.len() as i64).collect();
    indexes.extend(report.variants.keys().filter(|v| **v >= lines.len() as i64));
    if indexes.len() < 2 && report.variants.is_empty() {
        return;
    }
    let numbers = |v: i64| report.variants.get(&v).cloned().unwrap_or_default();
    let letter = |v: i64| kairos_template::variant_letter(usize::try_from(v).unwrap_or_default());
    let compared: Vec<(i64, u64, u64)> = indexes
        .iter()
        .map(|v| {
            let n = numbers(*v);
            (*v, n.opened, n.delivered)
        })
        .collect();
    item.lead = Some(kairos_analytics::subject_lead(&compared).map(|l| VariantLead {
        metric: "open_rate",
        variant: letter(l.variant),
        confidence: super::reports::rate(l.confidence),
        enough_data: l.enough_data,
        decided: l.decided,
    }));
    item.variants = Some(
        indexes
            .iter()
            .map(|v| {
                let (subject, preview_text) = usize::try_from(*v).ok().and_then(|i| lines.get(i)).cloned().unzip();
                VariantNumbers {
                    variant: letter(*v),
                    subject: subject.flatten(),
                    preview_text: preview_text.flatten(),
                    numbers: Numbers::from(&numbers(*v)),
                }
            })
            .collect(),
    );
    item.winner = winner;
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
    let (numbers, names, mut tests) = read_log(&app, move |r| {
        let mut rows = r.message_rows(ws, from, to, &Cohort::Flows(None))?;
        rows.extend(r.message_rows(ws, from, to, &Cohort::Campaigns)?);
        let o = outcomes(r, ws, from, &rows, windows)?;
        let facts = kairos_analytics::message_facts(&rows, &o.reactions, &o.attributed);
        let numbers = kairos_analytics::template_reports(&rows, &facts, &r.flows(ws)?, &r.campaigns(ws)?);
        let (mut names, mut tests) = (HashMap::new(), HashMap::new());
        for id in numbers.keys() {
            if let Some((_, data)) = r.template_data(ws, id)? {
                let v: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                let name = v["name"].as_str().or(v["subject"].as_str()).unwrap_or(id).to_string();
                names.insert(id.clone(), name);
                tests.insert(id.clone(), subject_lines(&v));
            }
        }
        Ok((numbers, names, tests))
    })
    .await?;
    let mut items: Vec<TemplateNumbers> = numbers
        .iter()
        .map(|(id, n)| {
            let mut item = TemplateNumbers {
                template_id: id.clone(),
                name: names.get(id).cloned(),
                totals: Numbers::from(&n.totals),
                variants: None,
                lead: None,
                winner: None,
            };
            let (lines, winner) = tests.remove(id).unwrap_or_default();
            with_variants(&mut item, n, &lines, winner);
            item
        })
        .collect();
    items.sort_by(|a, b| b.totals.revenue.total_cmp(&a.totals.revenue).then_with(|| a.template_id.cmp(&b.template_id)));
    Ok(Reply(ReportPage { range: Range::new(from, to), items, next_cursor: None }))
}
