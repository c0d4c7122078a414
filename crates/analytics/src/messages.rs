//! Message numbers of flows, steps and campaigns (SPEC 10), for messages created in a range. Reactions and
//! orders are counted whenever they happened: a message sent on the range's last day keeps earning its opens,
//! clicks and conversions.

use std::collections::{BTreeMap, HashMap, HashSet};

use kairos_domain::{ContactId, MessageStatus, Money, SystemEvent};
use kairos_store::StoredFlow;
use kairos_store::reports::{MessageEventRow, MessageRow};

use crate::{Attributed, average, ratio};

/// Message numbers of a flow, a step or a campaign (SPEC 10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageNumbers {
    /// Distinct contacts with at least one sent message.
    pub recipients: u64,
    /// Messages handed to a transport (or captured): status history reached `sent`, or a bounce.
    pub sent: u64,
    /// Sent messages that did not bounce or fail afterwards.
    pub delivered: u64,
    /// Messages with at least one human open or click (a click proves the open; machine opens never count).
    pub opened: u64,
    /// Messages with at least one human click.
    pub clicked: u64,
    /// Messages whose recipient unsubscribed through them.
    pub unsubscribed: u64,
    /// Messages that bounced (hard or soft).
    pub bounced: u64,
    /// Messages marked as spam.
    pub complained: u64,
    /// Orders attributed to these messages (last touch, within the window).
    pub conversions: u64,
    /// Sum of the attributed orders.
    pub revenue: Money,
}

impl MessageNumbers {
    /// Opened / delivered (0 without deliveries).
    pub fn open_rate(&self) -> f64 {
        ratio(self.opened, self.delivered)
    }
    /// Clicked / delivered (0 without deliveries).
    pub fn click_rate(&self) -> f64 {
        ratio(self.clicked, self.delivered)
    }
    /// Revenue / recipients, rounded to the cent (0 without recipients).
    pub fn revenue_per_recipient(&self) -> Money {
        average(self.revenue, self.recipients)
    }
}

/// Numbers of one flow and of each of its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowReport {
    pub flow_id: String,
    /// None for a flow id that messages carry but the flows table does not know.
    pub name: Option<String>,
    pub totals: MessageNumbers,
    /// By step id: every send step of the current definition, and any step that has messages.
    pub steps: BTreeMap<String, MessageNumbers>,
}

/// Numbers of one campaign and of each A/B variant (when its messages carry one).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    pub campaign_id: String,
    /// The campaign's name when known.
    pub name: Option<String>,
    pub totals: MessageNumbers,
    pub variants: BTreeMap<String, MessageNumbers>,
}

/// What happened to one message.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Facts {
    sent: bool,
    delivered: bool,
    opened: bool,
    clicked: bool,
    unsubscribed: bool,
    bounced: bool,
    complained: bool,
}

/// Statuses that prove a message went out.
const SENT_STATUSES: [MessageStatus; 9] = [
    MessageStatus::Sent,
    MessageStatus::Delivered,
    MessageStatus::Opened,
    MessageStatus::Clicked,
    MessageStatus::Converted,
    MessageStatus::Unsubscribed,
    MessageStatus::Complained,
    MessageStatus::Bounced,
    MessageStatus::SoftBounced,
];

/// What happened to each message of a cohort, and the orders its touches earned: message id -> (facts,
/// conversions, revenue).
#[derive(Debug, Default)]
pub struct MessageFacts(HashMap<String, (Facts, u64, Money)>);

/// The facts of `rows` from their statuses, the reaction events ([`crate::REACTION_EVENTS`]) recorded about them,
/// and the attributed orders (credited to the message of their touch).
pub fn message_facts(rows: &[MessageRow], reactions: &[MessageEventRow], attributed: &[Attributed]) -> MessageFacts {
    let mut out: HashMap<String, (Facts, u64, Money)> = HashMap::with_capacity(rows.len());
    for m in rows {
        let has = |s: MessageStatus| m.status == s.as_str() || m.statuses.iter().any(|x| x == s.as_str());
        let sent = SENT_STATUSES.iter().any(|s| has(*s));
        let bounced = has(MessageStatus::Bounced) || has(MessageStatus::SoftBounced);
        let facts = Facts {
            sent,
            delivered: sent && !bounced && m.status != MessageStatus::Failed.as_str(),
            unsubscribed: has(MessageStatus::Unsubscribed),
            bounced,
            complained: has(MessageStatus::Complained),
            ..Facts::default()
        };
        out.insert(m.id.clone(), (facts, 0, Money::ZERO));
    }
    for r in reactions {
        let Some((f, _, _)) = r.message.message_id.as_ref().and_then(|id| out.get_mut(id)) else { continue };
        let machine = r.message.machine;
        match SystemEvent::parse(&r.name) {
            Some(SystemEvent::EmailOpened) if !machine => f.opened = true,
            Some(SystemEvent::EmailClicked) if !machine => {
                f.clicked = true;
                f.opened = true; // a click proves the open (images off, privacy proxies)
            }
            Some(SystemEvent::Unsubscribed) => f.unsubscribed = true,
            Some(SystemEvent::EmailBounced) => f.bounced = true,
            Some(SystemEvent::EmailMarkedAsSpam) => f.complained = true,
            _ => {}
        }
    }
    for a in attributed {
        if let Some((_, n, revenue)) = a.touch.message_id.as_ref().and_then(|id| out.get_mut(id)) {
            *n += 1;
            *revenue = revenue.saturating_add(a.order.amount);
        }
    }
    MessageFacts(out)
}

/// Sums of message facts; recipients are counted once per contact.
#[derive(Default)]
struct Acc {
    recipients: HashSet<ContactId>,
    n: MessageNumbers,
}

impl Acc {
    fn add(&mut self, contact: ContactId, (f, conversions, revenue): &(Facts, u64, Money)) {
        let n = &mut self.n;
        if f.sent {
            self.recipients.insert(contact);
            n.sent += 1;
        }
        n.delivered += u64::from(f.delivered);
        n.opened += u64::from(f.opened);
        n.clicked += u64::from(f.clicked);
        n.unsubscribed += u64::from(f.unsubscribed);
        n.bounced += u64::from(f.bounced);
        n.complained += u64::from(f.complained);
        n.conversions += conversions;
        n.revenue = n.revenue.saturating_add(*revenue);
    }
    fn finish(self) -> MessageNumbers {
        MessageNumbers { recipients: self.recipients.len() as u64, ..self.n }
    }
}

fn finish_all(accs: BTreeMap<String, Acc>) -> BTreeMap<String, MessageNumbers> {
    accs.into_iter().map(|(k, a)| (k, a.finish())).collect()
}

/// Numbers per flow and step of the messages `rows` (all flows of the workspace, or only `flow`), flows in the
/// order of `flows` (creation order), then flows the list does not know by id.
pub fn flow_reports(
    flows: &[StoredFlow],
    rows: &[MessageRow],
    facts: &MessageFacts,
    flow: Option<&str>,
) -> Vec<FlowReport> {
    let mut totals: HashMap<String, Acc> = HashMap::new();
    let mut steps: HashMap<String, BTreeMap<String, Acc>> = HashMap::new();
    for m in rows {
        let (Some(flow_id), Some(f)) = (&m.flow_id, facts.0.get(&m.id)) else { continue };
        totals.entry(flow_id.clone()).or_default().add(m.contact, f);
        if let Some(step) = &m.step_id {
            steps.entry(flow_id.clone()).or_default().entry(step.clone()).or_default().add(m.contact, f);
        }
    }
    let mut out = Vec::new();
    let mut known = HashSet::new();
    for f in flows.iter().filter(|f| flow.is_none_or(|id| id == f.public_id)) {
        known.insert(f.public_id.clone());
        let mut by_step = finish_all(steps.remove(&f.public_id).unwrap_or_default());
        for step in send_steps(&f.definition) {
            by_step.entry(step).or_default();
        }
        out.push(FlowReport {
            flow_id: f.public_id.clone(),
            name: Some(f.name.clone()),
            totals: totals.remove(&f.public_id).map(Acc::finish).unwrap_or_default(),
            steps: by_step,
        });
    }
    // Messages of flows the list does not hold (none today: flows are never deleted).
    let mut rest: Vec<(String, Acc)> = totals.into_iter().filter(|(id, _)| !known.contains(id)).collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, acc) in rest {
        let by_step = finish_all(steps.remove(&id).unwrap_or_default());
        out.push(FlowReport { flow_id: id, name: None, totals: acc.finish(), steps: by_step });
    }
    out
}

/// Numbers per campaign (and A/B variant) of the messages `rows`, by campaign id; `names` by campaign id.
pub fn campaign_reports(
    rows: &[MessageRow],
    facts: &MessageFacts,
    names: &HashMap<String, String>,
) -> Vec<CampaignReport> {
    let mut totals: BTreeMap<String, Acc> = BTreeMap::new();
    let mut variants: HashMap<String, BTreeMap<String, Acc>> = HashMap::new();
    for m in rows {
        let (Some(id), Some(f)) = (&m.campaign_id, facts.0.get(&m.id)) else { continue };
        totals.entry(id.clone()).or_default().add(m.contact, f);
        if let Some(v) = m.variant {
            variants.entry(id.clone()).or_default().entry(v.to_string()).or_default().add(m.contact, f);
        }
    }
    totals
        .into_iter()
        .map(|(id, acc)| CampaignReport {
            name: names.get(&id).cloned(),
            variants: finish_all(variants.remove(&id).unwrap_or_default()),
            totals: acc.finish(),
            campaign_id: id,
        })
        .collect()
}

/// Numbers of one template, and of each of its subject lines (by index, 0 is A) that messages were sent with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateReport {
    pub totals: MessageNumbers,
    pub variants: BTreeMap<i64, MessageNumbers>,
}

/// Numbers per template of the messages `rows`: a flow message's template is its step's in the flow's current
/// definition, a campaign message's the campaign's (or its A/B variant's). Messages whose template cannot be told
/// are left out. By template id, with per subject line numbers of the messages that record one.
pub fn template_reports(
    rows: &[MessageRow],
    facts: &MessageFacts,
    flows: &[StoredFlow],
    campaigns: &[kairos_store::StoredCampaign],
) -> BTreeMap<String, TemplateReport> {
    let parse = |d: &str| serde_json::from_str::<serde_json::Value>(d).unwrap_or_default();
    let mut step_template: HashMap<(&str, String), String> = HashMap::new();
    for f in flows {
        for s in parse(&f.definition)["steps"].as_array().into_iter().flatten() {
            if let (Some(id), Some(t)) = (s["id"].as_str(), s["template"].as_str()) {
                step_template.insert((f.public_id.as_str(), id.to_string()), t.to_string());
            }
        }
    }
    let campaign_def: HashMap<&str, serde_json::Value> =
        campaigns.iter().map(|c| (c.public_id.as_str(), parse(&c.definition))).collect();
    let template_of = |m: &MessageRow| -> Option<String> {
        if let (Some(flow), Some(step)) = (&m.flow_id, &m.step_id) {
            return step_template.get(&(flow.as_str(), step.clone())).cloned();
        }
        let def = campaign_def.get(m.campaign_id.as_deref()?)?;
        let variant =
            m.variant.filter(|v| *v >= 0).and_then(|v| def["ab"]["variants"][v as usize]["template"].as_str());
        variant.or(def["template"].as_str()).map(str::to_string)
    };
    let mut by: BTreeMap<String, (Acc, BTreeMap<i64, Acc>)> = BTreeMap::new();
    for m in rows {
        let (Some(t), Some(f)) = (template_of(m), facts.0.get(&m.id)) else { continue };
        let (totals, variants) = by.entry(t).or_default();
        totals.add(m.contact, f);
        if let Some(v) = m.subject_variant {
            variants.entry(v).or_default().add(m.contact, f);
        }
    }
    by.into_iter()
        .map(|(t, (totals, variants))| {
            let variants = variants.into_iter().map(|(v, a)| (v, a.finish())).collect();
            (t, TemplateReport { totals: totals.finish(), variants })
        })
        .collect()
}

/// People sent at least one of the messages `rows` (status history reached `sent`, or a bounce).
pub fn recipients(rows: &[MessageRow]) -> u64 {
    let sent = |m: &MessageRow| {
        SENT_STATUSES.iter().any(|s| m.status == s.as_str() || m.statuses.iter().any(|x| x == s.as_str()))
    };
    rows.iter().filter(|m| sent(m)).map(|m| m.contact).collect::<HashSet<_>>().len() as u64
}

/// Ids of the `send` steps of a flow definition (JSON text).
fn send_steps(definition: &str) -> Vec<String> {
    let def: serde_json::Value = serde_json::from_str(definition).unwrap_or_default();
    def["steps"]
        .as_array()
        .map(|steps| {
            steps.iter().filter(|s| s["type"] == "send").filter_map(|s| s["id"].as_str().map(str::to_string)).collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use kairos_domain::{Timestamp, WorkspaceId};
    use kairos_store::reports::MessageRef;

    use super::*;
    use crate::{Order, Touch, TouchKind};

    fn row(id: &str, contact: i64, status: &str, history: &[&str]) -> MessageRow {
        MessageRow {
            id: id.into(),
            contact: ContactId(contact),
            flow_id: Some("flow_a".into()),
            campaign_id: Some("cmp_a".into()),
            step_id: Some("s1".into()),
            variant: Some(contact % 2),
            subject_variant: None,
            status: status.into(),
            statuses: history.iter().map(|s| s.to_string()).chain([status.to_string()]).collect(),
        }
    }

    fn reaction(name: &str, message: &str, machine: bool) -> MessageEventRow {
        MessageEventRow {
            seq: 1,
            contact: ContactId(1),
            at: Timestamp(1),
            name: name.into(),
            message: MessageRef { message_id: Some(message.into()), machine, ..MessageRef::default() },
        }
    }

    fn numbers(n: &MessageNumbers) -> [u64; 9] {
        [n.recipients, n.sent, n.delivered, n.opened, n.clicked, n.unsubscribed, n.bounced, n.complained, n.conversions]
    }

    #[test]
    fn facts_come_from_statuses_reactions_and_orders() {
        let rows = vec![
            row("m1", 1, "opened", &["queued", "sent"]),
            row("m2", 2, "bounced", &["queued", "sent"]),
            row("m3", 3, "failed", &["queued", "sent"]),
            row("m4", 3, "skipped", &[]),
            row("m5", 5, "sent", &["queued"]),
        ];
        let reactions = vec![
            reaction("Email Opened", "m5", true), // a machine: nothing
            reaction("Email Clicked", "m5", false),
            reaction("Unsubscribed", "m1", false),
            reaction("Email Marked as Spam", "m2", false),
            reaction("Email Opened", "other", false),
        ];
        let order = Order { seq: 9, contact: ContactId(5), at: Timestamp(9), amount: Money(2_500), order_id: None };
        let touch = Touch {
            seq: 8,
            contact: ContactId(5),
            at: Timestamp(8),
            kind: TouchKind::Click,
            channel: "email".into(),
            message_id: Some("m5".into()),
            flow_id: None,
            step_id: None,
            campaign_id: None,
        };
        let facts = message_facts(&rows, &reactions, &[Attributed { order, touch }]);
        let flow =
            welcome(r#"{"steps":[{"id":"s1","type":"send"},{"id":"s2","type":"send"},{"id":"d","type":"delay"}]}"#);
        let report = flow_reports(std::slice::from_ref(&flow), &rows, &facts, None);
        assert_eq!(report.len(), 1);
        // Recipients 1, 2, 3, 5; sent m1 m2 m3 m5; delivered m1 m5 (m2 bounced, m3 failed); opened only by the
        // events (m5's click proves its open; m1's status alone does not count).
        assert_eq!(numbers(&report[0].totals), [4, 4, 2, 1, 1, 1, 1, 1, 1]);
        assert_eq!(report[0].totals.revenue, Money(2_500));
        assert_eq!(report[0].totals.open_rate(), 0.5);
        assert_eq!(report[0].totals.revenue_per_recipient(), Money(625));
        assert_eq!(report[0].steps.keys().collect::<Vec<_>>(), ["s1", "s2"], "every send step is listed");
        // One flow asked for: the rows are that flow's messages (none here) and only it is listed.
        assert_eq!(flow_reports(&[flow], &[], &facts, Some("flow_b")), vec![]);
        // Unknown flows come after, by id.
        assert_eq!(flow_reports(&[], &rows, &facts, None)[0].name, None);

        let names: HashMap<String, String> = [("cmp_a".to_string(), "Spring".to_string())].into();
        let c = campaign_reports(&rows, &facts, &names);
        assert_eq!((c[0].name.as_deref(), c[0].totals.sent), (Some("Spring"), 4));
        let by_variant: Vec<(&str, u64)> = c[0].variants.iter().map(|(k, n)| (k.as_str(), n.sent)).collect();
        assert_eq!(by_variant, vec![("0", 1), ("1", 3)]);
    }

    /// The flow "Welcome" (flow_a) with `definition`.
    fn welcome(definition: &str) -> StoredFlow {
        StoredFlow {
            row: 1,
            public_id: "flow_a".into(),
            workspace: WorkspaceId(1),
            name: "Welcome".into(),
            status: kairos_domain::FlowStatus::Active,
            version: 1,
            definition: definition.into(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn templates_split_by_subject_line() {
        let mut rows = Vec::new();
        for (id, contact, variant) in [("a1", 1, Some(0)), ("b1", 2, Some(1)), ("b2", 3, Some(1)), ("old", 4, None)] {
            let mut m = row(id, contact, "sent", &["queued"]);
            (m.campaign_id, m.subject_variant) = (None, variant);
            rows.push(m);
        }
        let facts = message_facts(&rows, &[reaction("Email Opened", "b2", false)], &[]);
        let flow = welcome(r#"{"steps":[{"id":"s1","type":"send","template":"tpl"}]}"#);
        let by = template_reports(&rows, &facts, &[flow], &[]);
        let t = &by["tpl"];
        assert_eq!((t.totals.sent, t.totals.opened), (4, 1), "every message counts for the template");
        let split: Vec<(i64, u64, u64)> = t.variants.iter().map(|(v, n)| (*v, n.sent, n.opened)).collect();
        assert_eq!(split, [(0, 1, 0), (1, 2, 1)], "a message from before the test counts for no subject line");
    }
}
