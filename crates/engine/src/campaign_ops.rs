//! Campaigns as the committer runs them: creating, scheduling (the audience taken at once), sending in waves under throttles and the sending discipline, A/B tests picking their winner.

use crate::EngineError;
use crate::campaigns::*;
use crate::flows::PendingSend;
use crate::state::State;
use kairos_domain::{CampaignStatus, ContactId, JsonMap, Timestamp, WorkspaceId};
use kairos_store::{Recipient, StoredCampaign};
use serde_json::{Value, json};

impl State {
    pub(crate) fn check_campaign_refs(&mut self, ws: WorkspaceId, def: &CampaignDef) -> Result<(), EngineError> {
        let mut templates: Vec<(String, String)> = Vec::new();
        if let Some(t) = &def.template {
            templates.push(("template".into(), t.clone()));
        }
        if let Some(ab) = &def.ab {
            for (i, t) in ab.variants.iter().enumerate() {
                templates.push((format!("ab.variants[{i}].template"), t.clone()));
            }
        }
        for (field, t) in templates {
            let Some((_, data)) = self.w.template_tx().template_data(ws, &t)? else {
                return Err(invalid(field, format!("no template {t:?} in this workspace")));
            };
            let channel =
                serde_json::from_str::<Value>(&data).ok().and_then(|v| v["channel"].as_str().map(str::to_string));
            if channel.as_deref() != Some(def.channel.as_str()) {
                return Err(invalid(field, format!("template {t:?} is not a {} template", def.channel)));
            }
        }
        if let Some(t) = &def.topic {
            self.settings.of(ws).topic_known(t).map_err(crate::EngineError::from)?;
        }
        for (field, list) in [("segments", &def.segments), ("exclude_segments", &def.exclude)] {
            for (i, s) in list.iter().enumerate() {
                if self.segments.lookup(ws, s).is_none() {
                    return Err(invalid(format!("{field}[{i}]"), format!("no segment {s:?} in this workspace")));
                }
            }
        }
        Ok(())
    }

    /// `POST /api/v1/campaigns`: validates and stores a draft.
    pub(crate) fn create_campaign(
        &mut self,
        ws: WorkspaceId,
        doc: &CampaignDocument,
        now: Timestamp,
    ) -> Result<StoredCampaign, EngineError> {
        let def = &doc.def;
        self.check_campaign_refs(ws, def)?;
        self.check_schedule(ws, def, now)?;
        let mut c = StoredCampaign {
            row: 0,
            public_id: kairos_store::keys::random_token("cmp_", 8),
            workspace: ws,
            name: def.name.clone(),
            status: CampaignStatus::Draft,
            definition: doc.source.to_string(),
            state: CampaignState::default().to_json(),
            created_at: now,
            updated_at: now,
        };
        c.row = self.w.campaign_tx().save_campaign(&c)?;
        Ok(c)
    }

    /// `POST /api/v1/campaigns/{id}/schedule`: snapshots the audience with each contact's due time and variant.
    pub(crate) fn schedule_campaign(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        now: Timestamp,
    ) -> Result<StoredCampaign, EngineError> {
        let mut c = self
            .w
            .campaign_tx()
            .campaign_by_id(ws, id)?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign {id:?}")))?;
        if c.status != CampaignStatus::Draft {
            return Err(EngineError::Conflict(format!("the campaign is already {}", c.status)));
        }
        let v: Value = serde_json::from_str(&c.definition).unwrap_or_default();
        let def = parse(&v)?;
        self.check_campaign_refs(ws, &def)?;
        self.check_schedule(ws, &def, now)?;
        let audience = self.audience_of(ws, &def);
        let settings = self.settings.of(ws).clone();
        let mut recipients = Vec::with_capacity(audience.len());
        let mut test_start: Option<Timestamp> = None;
        for contact in audience {
            let Some(ct) = self.identity.contacts.get(&contact) else { continue };
            let tz = ct.timezone.clone().unwrap_or_else(|| settings.timezone.clone());
            let local = |date: jiff::civil::Date, minutes: u32| -> Timestamp {
                let zone = jiff::tz::db().get(&tz).unwrap_or(jiff::tz::TimeZone::UTC);
                let at = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
                zone.to_ambiguous_timestamp(at)
                    .compatible()
                    .map(|t| Timestamp::from_micros(t.as_microsecond()))
                    .unwrap_or(now)
            };
            let due = match &def.schedule {
                Schedule::Now => now,
                Schedule::At(t) => *t,
                Schedule::LocalTime { date, minutes } => local(*date, *minutes),
                Schedule::BestHour { date } => {
                    let hour = ct
                        .traits
                        .get("best_send_hour")
                        .and_then(Value::as_u64)
                        .filter(|h| *h < 24)
                        .map_or(u32::from(settings.default_send_hour), |h| h as u32);
                    local(*date, hour * 60)
                }
            };
            // A time already passed (a local time east of here) sends at once.
            let due = due.max(now);
            let variant = match &def.ab {
                Some(ab) if hash01(c.row, contact, 0) < ab.test_share => {
                    test_start = Some(test_start.map_or(due, |t| t.min(due)));
                    ((hash01(c.row, contact, 1) * ab.variants.len() as f64) as i64).min(ab.variants.len() as i64 - 1)
                }
                Some(_) => -1,
                None => 0,
            };
            recipients.push(Recipient { contact, due_at: due, variant });
        }
        self.w.campaign_tx().insert_recipients(c.row, &recipients)?;
        let mut state = CampaignState {
            scheduled_at: Some(now),
            recipients: Some(recipients.len() as u64),
            ..CampaignState::default()
        };
        if let Some(ab) = &def.ab {
            state.test_ends_at = Some(test_start.unwrap_or(now).saturating_add(ab.wait));
            if test_start.is_none() {
                // Nobody drawn for the test: the first variant goes to everyone.
                self.w.campaign_tx().assign_winner(c.row, 0, now)?;
                state.winner = Some(0);
            }
        }
        c.status = CampaignStatus::Scheduled;
        c.state = state.to_json();
        c.updated_at = now;
        self.w.campaign_tx().save_campaign(&c)?;
        self.track_campaign(&c, def, now);
        Ok(c)
    }

    /// The members of a campaign's segments, less those of its excluded ones, by id.
    pub(crate) fn audience_of(&self, ws: WorkspaceId, def: &CampaignDef) -> Vec<ContactId> {
        let include: Vec<_> = def.segments.iter().filter_map(|s| self.segments.lookup(ws, s)).collect();
        let exclude: Vec<_> = def.exclude.iter().filter_map(|s| self.segments.lookup(ws, s)).collect();
        let mut audience: Vec<ContactId> = self
            .identity
            .contacts
            .ids_in(ws)
            .into_iter()
            .filter(|id| {
                let seg = self.segments.contact_state(*id);
                let member = |i: &kairos_segment::eval::SegIdx| seg.is_some_and(|s| s.is_member(*i));
                include.iter().any(member) && !exclude.iter().any(member)
            })
            .collect();
        audience.sort_by_key(|c| c.0);
        audience
    }

    pub(crate) fn track_campaign(&mut self, c: &StoredCampaign, def: CampaignDef, now: Timestamp) {
        let tokens = def.throttle_per_minute.map_or(0.0, |_| 1.0);
        self.campaigns
            .running
            .insert(c.row, Running { ws: c.workspace, public_id: c.public_id.clone(), def, tokens, refilled: now });
    }

    /// Campaigns being sent (at start).
    pub(crate) fn load_campaigns(&mut self, now: Timestamp) -> Result<(), EngineError> {
        for c in self.w.campaign_tx().running_campaigns()? {
            let v: Value = serde_json::from_str(&c.definition).unwrap_or_default();
            if let Ok(def) = parse(&v) {
                self.track_campaign(&c, def, now);
            }
        }
        Ok(())
    }

    /// Queues the next wave of campaigns held by a full wave once half of it went out (at the end of every
    /// transaction, so waves follow deliveries without waiting for the ticker). Returns whether more are due.
    pub(crate) fn campaign_waves(&mut self, now: Timestamp) -> Result<bool, EngineError> {
        if !self.campaigns.held || self.dispatch.backlog() > CAMPAIGN_WAVE_RECIPIENTS_MAX / 2 {
            return Ok(false);
        }
        self.campaigns.held = false;
        self.campaigns_tick(now)
    }

    /// Sends due recipients of every running campaign (within throttles and waves), decides A/B winners,
    /// finishes campaigns with nobody left. Returns whether more are due now.
    pub(crate) fn campaigns_tick(&mut self, now: Timestamp) -> Result<bool, EngineError> {
        let mut more = false;
        let rows: Vec<i64> = self.campaigns.running.keys().copied().collect();
        for row in rows {
            self.decide_winner(row, now)?;
            let Some(r) = self.campaigns.running.get_mut(&row) else { continue };
            let allowance = match r.def.throttle_per_minute {
                Some(rate) => {
                    let secs = (now.as_micros() - r.refilled.as_micros()).max(0) as f64 / 1e6;
                    r.tokens = (r.tokens + rate * secs / 60.0).min(rate.max(1.0));
                    r.refilled = now;
                    (r.tokens.floor() as usize).min(TICK_BATCH)
                }
                None => TICK_BATCH,
            };
            let (ws, public_id, def) = (r.ws, r.public_id.clone(), r.def.clone());
            // Messages for a transport go in waves; captured ones are stored at once.
            let room = if self.dispatch.real.has(def.channel) {
                CAMPAIGN_WAVE_RECIPIENTS_MAX.saturating_sub(self.dispatch.backlog())
            } else {
                TICK_BATCH
            };
            let limit = allowance.min(room);
            let due = if limit == 0 { Vec::new() } else { self.w.campaign_tx().due_recipients(row, now, limit)? };
            more |= due.len() == TICK_BATCH;
            if room < allowance && due.len() == limit {
                self.campaigns.held = true;
            }
            for rec in &due {
                let template = match (&def.ab, rec.variant) {
                    (Some(ab), v) if v >= 0 => ab.variants.get(v as usize).cloned(),
                    _ => def.template.clone(),
                };
                let Some(template) = template.or_else(|| def.template.clone()) else { continue };
                let mut trigger = JsonMap::new();
                trigger.insert("campaign_id".into(), json!(public_id));
                trigger.insert("campaign_name".into(), json!(def.name));
                let p = PendingSend {
                    message_id: self.campaign_message_id(row, rec.contact),
                    workspace: ws,
                    contact: rec.contact,
                    flow_row: 0,
                    flow_id: String::new(),
                    run_id: 0,
                    step: String::new(),
                    channel: def.channel,
                    template,
                    transactional: false,
                    skip_when_blocked: false,
                    smart_sending: if def.smart_sending { None } else { Some(None) },
                    best_hour: false,
                    trigger,
                    campaign_id: Some(public_id.clone()),
                    variant: def.ab.as_ref().map(|_| rec.variant),
                    consent_request: None,
                    topic: def.topic.clone(),
                    priority: def.priority,
                };
                self.deliver(p, true, now)?;
                self.w.campaign_tx().recipient_done(row, rec.contact)?;
            }
            if let Some(r) = self.campaigns.running.get_mut(&row)
                && r.def.throttle_per_minute.is_some()
            {
                r.tokens -= due.len() as f64;
            }
            // Counting is a scan of the campaign's recipients: only when this tick may have reached the end.
            let (pending, waiting) = if due.len() < limit {
                let (pending, waiting, _) = self.w.campaign_tx().recipient_counts(row)?;
                (pending, waiting)
            } else {
                (1, 0)
            };
            if !due.is_empty() || (pending == 0 && waiting == 0) {
                if let Some(mut c) = self.w.campaign_tx().campaign_by_id(ws, &public_id)? {
                    let status =
                        if pending == 0 && waiting == 0 { CampaignStatus::Sent } else { CampaignStatus::Sending };
                    if c.status != status {
                        c.status = status;
                        c.updated_at = now;
                        if status == CampaignStatus::Sent {
                            let mut state = CampaignState::parse(&c.state);
                            state.finished_at = Some(now);
                            c.state = state.to_json();
                        }
                        self.w.campaign_tx().save_campaign(&c)?;
                    }
                }
                if pending == 0 && waiting == 0 {
                    self.campaigns.running.remove(&row);
                }
            }
        }
        Ok(more)
    }

    /// After the test wait, the variant with the best metric goes to everyone left.
    fn decide_winner(&mut self, row: i64, now: Timestamp) -> Result<(), EngineError> {
        let Some(r) = self.campaigns.running.get(&row) else { return Ok(()) };
        let Some(ab) = r.def.ab.clone() else { return Ok(()) };
        let (ws, public_id) = (r.ws, r.public_id.clone());
        let Some(mut c) = self.w.campaign_tx().campaign_by_id(ws, &public_id)? else { return Ok(()) };
        let mut state = CampaignState::parse(&c.state);
        if state.winner.is_some() {
            return Ok(());
        }
        let ends = state.test_ends_at.unwrap_or(now);
        if now < ends {
            return Ok(());
        }
        let results = self.ab_results(&public_id, &ab)?;
        let best = results
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.1.partial_cmp(&b.1.1).unwrap_or(std::cmp::Ordering::Equal).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        self.w.campaign_tx().assign_winner(row, best as i64, now)?;
        state.winner = Some(best as i64);
        state.winner_decided_at = Some(now);
        state.ab_results = Some(results.iter().map(|(n, score, _)| AbScore { sent: *n, score: *score }).collect());
        c.state = state.to_json();
        c.updated_at = now;
        self.w.campaign_tx().save_campaign(&c)?;
        Ok(())
    }

    /// Per variant: (recipients sent, metric value, successes for rate metrics).
    fn ab_results(&mut self, public_id: &str, ab: &Ab) -> Result<Vec<(u64, f64, u64)>, EngineError> {
        let rows = self.w.campaign_tx().variant_results(public_id)?;
        let revenue =
            if ab.metric == Metric::Revenue { self.w.campaign_tx().campaign_revenue(public_id)? } else { Vec::new() };
        Ok(ab_scores(ab, rows, revenue))
    }
}
