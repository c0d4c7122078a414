//! Campaigns (SPEC 7, 16): one message to the members of segments (minus exclusions), now, at a time, at a
//! local time in each contact's zone or at each contact's best hour; throttled; smart sending optional; an A/B
//! test on a share of the audience with the winner picked automatically after a wait.
//!
//! Scheduling snapshots the audience into `campaign_recipients` (one row per contact with its due time and
//! variant). The committer's tick sends due recipients through the same path as flow sends, so consent,
//! suppression, the sending discipline and rendering are checked at send time, not at scheduling. Messages
//! for a transport are rendered and queued in waves of at most [`CAMPAIGN_WAVE_RECIPIENTS_MAX`], topped up as
//! they go out, and consent is read once more when each is handed to the transport (`crate::handoff`): an
//! address unsubscribed or suppressed after the campaign was scheduled is never sent to. Each message id is
//! `cmp_<campaign>_<contact>`, so a crash or retry never sends twice.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use kairos_domain::{Channel, ContactId, Duration, Timestamp, WorkspaceId};
use kairos_store::Reads;
use serde_json::{Value, json};

use crate::EngineError;

/// Most recipients one tick hands to the send path per campaign (ticks repeat while more are due).
pub(crate) const TICK_BATCH: usize = 2_000;
/// Most messages queued for transports and not yet settled when a campaign queues more (all campaigns and
/// flows together): campaigns are rendered and queued in waves, topped up when half of the room is free.
pub const CAMPAIGN_WAVE_RECIPIENTS_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Schedule {
    Now,
    At(Timestamp),
    LocalTime { date: jiff::civil::Date, minutes: u32 },
    BestHour { date: jiff::civil::Date },
}

/// What decides an A/B test's winner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Opens,
    Clicks,
    Revenue,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Opens => "opens",
            Metric::Clicks => "clicks",
            Metric::Revenue => "revenue",
        }
    }
}

pub(crate) fn is_none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

/// A campaign's progress, stored with it (`state`): when it was scheduled and finished, its audience, and the
/// A/B test's end and winner.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CampaignState {
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub scheduled_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_none")]
    pub recipients: Option<u64>,
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub test_ends_at: Option<Timestamp>,
    /// The winning variant, once decided.
    #[serde(default, skip_serializing_if = "is_none")]
    pub winner: Option<i64>,
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub winner_decided_at: Option<Timestamp>,
    /// Per variant when the winner was decided.
    #[serde(default, skip_serializing_if = "is_none")]
    pub ab_results: Option<Vec<AbScore>>,
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub cancelled_at: Option<Timestamp>,
    /// While paused: since when.
    #[serde(default, skip_serializing_if = "is_none", with = "kairos_domain::time::rfc3339_option")]
    pub paused_at: Option<Timestamp>,
}

impl CampaignState {
    /// Reads a stored state (an unreadable one reads as empty).
    pub fn parse(state: &str) -> CampaignState {
        serde_json::from_str(state).unwrap_or_default()
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// A variant's numbers when the winner was decided.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AbScore {
    pub sent: u64,
    pub score: f64,
}

/// A campaign's progress and A/B numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    /// Recipients not processed yet.
    pub pending: u64,
    /// Recipients held for the A/B winner.
    pub waiting_for_winner: u64,
    pub processed: u64,
    pub ab: Option<AbReport>,
}

/// An A/B test's variants against the leader.
#[derive(Debug, Clone, PartialEq)]
pub struct AbReport {
    pub metric: Metric,
    pub test_share: f64,
    pub variants: Vec<VariantReport>,
    pub winner: Option<i64>,
    pub test_ends_at: Option<Timestamp>,
}

/// One variant: recipients sent, its score (rate or revenue per recipient), and the confidence that the leader
/// beats it (None for the leader).
#[derive(Debug, Clone, PartialEq)]
pub struct VariantReport {
    pub template: String,
    pub sent: u64,
    pub score: f64,
    pub confidence_leader_better: Option<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Ab {
    pub(crate) variants: Vec<String>,
    pub(crate) test_share: f64,
    pub(crate) metric: Metric,
    pub(crate) wait: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct CampaignDef {
    pub(crate) name: String,
    pub(crate) channel: Channel,
    pub(crate) template: Option<String>,
    pub(crate) segments: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) schedule: Schedule,
    pub(crate) throttle_per_minute: Option<f64>,
    pub(crate) smart_sending: bool,
    pub(crate) ab: Option<Ab>,
    /// The topic (list) it is about: people who opted out of it are skipped.
    pub(crate) topic: Option<String>,
    /// `priority` 0..100 (SPEC 16), promotional by default.
    pub(crate) priority: u8,
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> EngineError {
    EngineError::Invalid { message: message.into(), field: Some(field.into()) }
}

pub(crate) fn strings(v: &Value, field: &str) -> Result<Vec<String>, EngineError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str().map(str::to_string).ok_or_else(|| invalid(format!("{field}[{i}]"), "expected a segment id"))
            })
            .collect(),
        _ => Err(invalid(field, "expected a list of segment ids")),
    }
}

/// A campaign definition as the API receives it: read and checked ([`CampaignDocument::parse`]), kept with the
/// document as written (stored verbatim). Whether its template and segments exist is checked by the engine.
#[derive(Debug, Clone)]
pub struct CampaignDocument {
    pub(crate) def: CampaignDef,
    pub(crate) source: Value,
}

impl CampaignDocument {
    /// Reads a definition; the error names the field.
    pub fn parse(source: Value) -> Result<CampaignDocument, EngineError> {
        Ok(CampaignDocument { def: parse(&source)?, source })
    }
}

/// Reads and checks a campaign definition (SPEC 16); references are checked by the caller.
pub(crate) fn parse(v: &Value) -> Result<CampaignDef, EngineError> {
    let o = v.as_object().ok_or_else(|| invalid("body", "the body must be a JSON object"))?;
    const KNOWN: [&str; 12] = [
        "priority",
        "topic",
        "name",
        "channel",
        "template",
        "segments",
        "exclude_segments",
        "schedule",
        "throttle_per_minute",
        "smart_sending",
        "ab",
        "id",
    ];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(invalid(k.as_str(), format!("unknown field {k:?}")));
    }
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() && n.len() <= 200 => n.trim().to_string(),
        _ => return Err(invalid("name", "name must be a non-empty string of at most 200 bytes")),
    };
    let channel = match o.get("channel").and_then(Value::as_str).and_then(Channel::parse) {
        Some(c @ (Channel::Email | Channel::Sms | Channel::Chat)) => c,
        _ => return Err(invalid("channel", "channel must be \"email\", \"sms\" or \"chat\"")),
    };
    let template = match o.get("template") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(invalid("template", "template must be a template id")),
    };
    let segments = strings(o.get("segments").unwrap_or(&Value::Null), "segments")?;
    if segments.is_empty() {
        return Err(invalid("segments", "a campaign needs at least one segment"));
    }
    let exclude = strings(o.get("exclude_segments").unwrap_or(&Value::Null), "exclude_segments")?;
    let s = o.get("schedule").cloned().unwrap_or(json!({"type": "now"}));
    let date = |f: &str| -> Result<jiff::civil::Date, EngineError> {
        s.get("date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
            .ok_or_else(|| invalid(format!("schedule.{f}"), "expected a date like 2026-12-01"))
    };
    let schedule = match s.get("type").and_then(Value::as_str) {
        Some("now") => Schedule::Now,
        Some("at") => Schedule::At(
            s.get("at")
                .and_then(Value::as_str)
                .and_then(Timestamp::parse)
                .ok_or_else(|| invalid("schedule.at", "expected an ISO-8601 time like 2026-12-01T10:00:00Z"))?,
        ),
        Some("local_time") => {
            let minutes = s
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| {
                    let (h, m) = t.split_once(':')?;
                    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
                    (h < 24 && m < 60).then_some(h * 60 + m)
                })
                .ok_or_else(|| invalid("schedule.time", "expected a local time like 10:00"))?;
            Schedule::LocalTime { date: date("date")?, minutes }
        }
        Some("best_hour") => Schedule::BestHour { date: date("date")? },
        _ => return Err(invalid("schedule.type", "schedule.type must be now, at, local_time or best_hour")),
    };
    let throttle_per_minute = match o.get("throttle_per_minute") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|n| *n >= 1.0 && *n <= 1e7)
                .ok_or_else(|| invalid("throttle_per_minute", "throttle_per_minute must be a number from 1"))?,
        ),
    };
    let smart_sending = match o.get("smart_sending") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("smart_sending", "smart_sending must be true or false")),
    };
    let ab = match o.get("ab") {
        None | Some(Value::Null) => None,
        Some(a) => {
            let variants: Vec<String> = match a.get("variants").and_then(Value::as_array) {
                Some(list) if (2..=4).contains(&list.len()) => list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.get("template")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .ok_or_else(|| invalid(format!("ab.variants[{i}].template"), "expected a template id"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(invalid("ab.variants", "an A/B test needs 2 to 4 variants")),
            };
            let test_share = a
                .get("test_share")
                .and_then(Value::as_f64)
                .filter(|x| *x > 0.0 && *x < 1.0)
                .ok_or_else(|| invalid("ab.test_share", "test_share must be a number between 0 and 1"))?;
            let metric = match a.get("metric").and_then(Value::as_str).unwrap_or("clicks") {
                "opens" => Metric::Opens,
                "clicks" => Metric::Clicks,
                "revenue" => Metric::Revenue,
                _ => return Err(invalid("ab.metric", "metric must be opens, clicks or revenue")),
            };
            let wait = a
                .get("wait")
                .and_then(Value::as_str)
                .and_then(Duration::parse)
                .ok_or_else(|| invalid("ab.wait", "wait must be a duration like 4h"))?;
            Some(Ab { variants, test_share, metric, wait })
        }
    };
    if template.is_none() && ab.is_none() {
        return Err(invalid("template", "a campaign needs a template (or A/B variants)"));
    }
    let topic = match o.get("topic") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if kairos_flow::is_topic_id(t) => Some(t.clone()),
        Some(_) => return Err(invalid("topic", "topic is a topic's id: lower-case letters, digits, - or _")),
    };
    let priority = kairos_domain::priority::parse(o.get("priority"))
        .map_err(|m| invalid("priority", m))?
        .unwrap_or(kairos_domain::priority::PRIORITY_CAMPAIGN);
    Ok(CampaignDef {
        priority,
        name,
        channel,
        template,
        segments,
        exclude,
        schedule,
        throttle_per_minute,
        smart_sending,
        ab,
        topic,
    })
}

/// A campaign being sent, in memory.
pub(crate) struct Running {
    pub(crate) ws: WorkspaceId,
    pub(crate) public_id: String,
    pub(crate) def: CampaignDef,
    pub(crate) tokens: f64,
    pub(crate) refilled: Timestamp,
}

#[derive(Default)]
pub(crate) struct Campaigns {
    pub(crate) running: HashMap<i64, Running>,
    /// A campaign stopped short of its due recipients because its wave was full.
    pub(crate) held: bool,
}

pub(crate) fn hash01(campaign: i64, contact: ContactId, salt: u8) -> f64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (campaign, contact.0, salt).hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Per variant: (recipients sent, metric value, successes for rate metrics), from what the variants' messages
/// did and (revenue metric) the revenue of each variant's recipients after their message.
pub(crate) fn ab_scores(
    ab: &Ab,
    rows: Vec<kairos_store::VariantResult>,
    revenue: Vec<(i64, f64)>,
) -> Vec<(u64, f64, u64)> {
    let mut out = vec![(0u64, 0.0f64, 0u64); ab.variants.len()];
    for kairos_store::VariantResult { variant, sent, opened, clicked } in rows {
        let Some(slot) = usize::try_from(variant).ok().and_then(|v| out.get_mut(v)) else { continue };
        let hits = match ab.metric {
            Metric::Opens => opened,
            _ => clicked,
        };
        *slot = (sent, if sent == 0 { 0.0 } else { hits as f64 / sent as f64 }, hits);
    }
    if ab.metric == Metric::Revenue {
        // Revenue per recipient: orders by the variant's recipients after their message.
        for (v, total) in revenue {
            if let Some(slot) = usize::try_from(v).ok().and_then(|v| out.get_mut(v)) {
                slot.1 = if slot.0 == 0 { 0.0 } else { total / slot.0 as f64 };
            }
        }
    }
    out
}

/// The numbers of a campaign, from a read view: recipients, progress, A/B variants with confidence.
pub(crate) fn campaign_report(r: &dyn Reads, ws: WorkspaceId, id: &str) -> Result<CampaignReport, EngineError> {
    let c = r.campaign(ws, id)?.ok_or_else(|| EngineError::NotFound(format!("no campaign {id:?}")))?;
    let (pending, waiting_for_winner, processed) = r.recipient_counts(c.row)?;
    let v: Value = serde_json::from_str(&c.definition).unwrap_or_default();
    let mut ab_report = None;
    if let Ok(def) = parse(&v)
        && let Some(ab) = &def.ab
    {
        let rows = r.variant_results(&c.public_id)?;
        let revenue = if ab.metric == Metric::Revenue { r.campaign_revenue(&c.public_id)? } else { Vec::new() };
        let results = ab_scores(ab, rows, revenue);
        let best = results.iter().map(|r| r.1).fold(f64::MIN, f64::max);
        let leader = results.iter().position(|r| r.1 == best).unwrap_or(0);
        let variants = results
            .iter()
            .enumerate()
            .map(|(i, (n, score, hits))| {
                // Confidence that the leader beats this variant (rate metrics).
                let (ln, lh) = (results[leader].0, results[leader].2);
                VariantReport {
                    template: ab.variants[i].clone(),
                    sent: *n,
                    score: *score,
                    confidence_leader_better: (i != leader).then(|| kairos_analytics::confidence(lh, ln, *hits, *n)),
                }
            })
            .collect();
        let state = CampaignState::parse(&c.state);
        ab_report = Some(AbReport {
            metric: ab.metric,
            test_share: ab.test_share,
            variants,
            winner: state.winner,
            test_ends_at: state.test_ends_at,
        });
    }
    Ok(CampaignReport { pending, waiting_for_winner, processed, ab: ab_report })
}
