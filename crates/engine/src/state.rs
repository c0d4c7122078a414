//! What the committer thread owns: the writer, id counters, caches of contacts, identities and known
//! products, and the de-duplication window. Only the committer thread touches it, so no locks.

use std::collections::{HashMap, HashSet};

use kairos_domain::event::EventKind;
use kairos_domain::{
    Channel, Computed, ConsentStatus, Contact, ContactId, Email, Event, Phone, Product, Timestamp, WorkspaceId,
};
use kairos_store::{IdentityKind, StoreError, Writer};
use serde_json::Value;

use crate::dedupe::{Dedupe, digest};
use crate::segments::Segments;
use crate::{ContactRef, DEDUPE_WINDOW, EngineError, IngestOutcome};

/// Cached identity and product keys are dropped once there are more than this many.
const KEY_CACHE_MAX: usize = 1_000_000;
/// Anonymous ids listed on a profile; more are still resolvable, just not listed.
const ANONYMOUS_IDS_LISTED_MAX: usize = 50;

type IdentKey = (WorkspaceId, IdentityKind, Box<str>);

pub struct State {
    pub(crate) w: Box<dyn Writer>,
    next_contact: i64,
    pub(crate) next_seq: i64,
    /// Every live contact: segments evaluate against them in memory.
    pub(crate) contacts: HashMap<ContactId, Contact>,
    identities: HashMap<IdentKey, ContactId>,
    redirects: HashMap<ContactId, ContactId>,
    products: HashSet<(WorkspaceId, Box<str>)>,
    dedupe: Dedupe,
    pub(crate) dirty: Vec<ContactId>,
    pub(crate) segments: Segments,
    pub(crate) flows: crate::flow_runtime::Flows,
    pub(crate) triggers: crate::flow_triggers::Triggers,
    /// Membership changes announced in the current transaction, published after it commits.
    pub(crate) emitted: Vec<(WorkspaceId, crate::segments::Change)>,
    pub(crate) settings: crate::settings::WorkspaceSettings,
    pub(crate) dispatch: crate::dispatch::Dispatch,
    pub(crate) templates: crate::render::TemplateCache,
    pub(crate) links: crate::messages::LinkConfig,
    /// Opens the secrets the committer reads from the store (webhook secrets).
    pub(crate) secrets: kairos_store::SecretBox,
    pub(crate) campaigns: crate::campaigns::Campaigns,
    /// Recommendation statistics, shared with the read side (previews).
    pub(crate) recs: std::sync::Arc<crate::recommend::RecCache>,
    pub(crate) coupons: crate::coupons::Coupons,
    /// Suppressions added since start: a change tells the committer to check messages in flight again.
    pub(crate) suppressions: u64,
}

/// One identity an event claims for its contact.
struct Claim {
    kind: IdentityKind,
    value: String,
    found: Option<ContactId>,
    /// `alias` merges even two known users: that is what it is for.
    force: bool,
}

impl State {
    pub fn load(
        w: Box<dyn Writer>,
        now: Timestamp,
        defaults: crate::settings::Settings,
        links: crate::messages::LinkConfig,
        secrets: kairos_store::SecretBox,
    ) -> Result<State, EngineError> {
        Self::load_with(w, now, defaults, links, secrets, crate::dispatch::Dispatch::default())
    }

    fn load_with(
        mut w: Box<dyn Writer>,
        now: Timestamp,
        defaults: crate::settings::Settings,
        links: crate::messages::LinkConfig,
        secrets: kairos_store::SecretBox,
        dispatch: crate::dispatch::Dispatch,
    ) -> Result<State, EngineError> {
        let (max_contact, max_seq) = (w.max_contact_id()?, w.max_event_seq()?);
        let mut recent = Vec::new();
        w.recent_message_ids(now.saturating_sub(DEDUPE_WINDOW), &mut |ws, id, at| recent.push((digest(ws, id), at)))?;
        let mut dedupe = Dedupe::default();
        for (key, at) in recent.into_iter().rev() {
            dedupe.insert(key, at);
        }
        let mut contacts = HashMap::new();
        w.all_contacts(&mut |c| {
            contacts.insert(c.id, c);
        })?;
        let mut redirects = HashMap::new();
        w.merged_contacts(&mut |loser, survivor| {
            redirects.insert(loser, survivor);
        })?;
        tracing::info!(
            contacts.live = contacts.len(),
            contacts.max_id = max_contact,
            events.max_seq = max_seq,
            dedupe.ids = dedupe.len(),
            "state loaded"
        );
        let mut state = State {
            w,
            next_contact: max_contact + 1,
            next_seq: max_seq + 1,
            contacts,
            identities: HashMap::new(),
            redirects,
            products: HashSet::new(),
            dedupe,
            dirty: Vec::new(),
            segments: Segments::default(),
            flows: Default::default(),
            triggers: Default::default(),
            emitted: Vec::new(),
            settings: crate::settings::WorkspaceSettings { defaults, overrides: HashMap::new() },
            dispatch,
            templates: Default::default(),
            links,
            secrets,
            campaigns: Default::default(),
            recs: Default::default(),
            coupons: Default::default(),
            suppressions: 0,
        };
        state.load_settings()?;
        state.load_coupons()?;
        state.begin()?;
        state.load_segments(now)?;
        state.load_flows(now)?;
        state.load_sends(now)?;
        state.load_campaigns(now)?;
        state.commit(now)?;
        Ok(state)
    }

    /// After a failed transaction the caches may hold uncommitted changes: start again from the store.
    pub fn reload(self, now: Timestamp) -> Result<State, EngineError> {
        let mut w = self.w;
        w.rollback()?;
        let mut dispatch = crate::dispatch::Dispatch::default();
        let mut old = self.dispatch;
        dispatch.carry_over(&mut old);
        let recs = self.recs;
        let mut state = State::load_with(w, now, self.settings.defaults, self.links, self.secrets, dispatch)?;
        state.recs = recs; // still the read side's
        Ok(state)
    }

    pub fn begin(&mut self) -> Result<(), EngineError> {
        self.w.begin()?;
        Ok(())
    }

    pub fn commit(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        let dirty = self.dirty.len();
        for id in std::mem::take(&mut self.dirty) {
            if let Some(c) = self.contacts.get(&id) {
                self.w.upsert_contact(c)?;
            }
        }
        let upserted = started.elapsed();
        self.persist_sizes(now)?;
        self.w.commit()?;
        tracing::trace!(
            contacts = dirty,
            upsert_us = upserted.as_micros() as u64,
            commit_us = (started.elapsed() - upserted).as_micros() as u64,
            "commit"
        );
        self.dedupe.expire(now, DEDUPE_WINDOW);
        if self.identities.len() > KEY_CACHE_MAX {
            self.identities.clear();
        }
        if self.products.len() > KEY_CACHE_MAX {
            self.products.clear();
        }
        Ok(())
    }

    pub fn ingest(
        &mut self,
        ws: WorkspaceId,
        trusted: bool,
        events: Vec<crate::Prepared>,
        now: Timestamp,
    ) -> Result<IngestOutcome, EngineError> {
        let mut out = IngestOutcome::default();
        for p in events {
            if self.ingest_event(ws, trusted, &p.event, &p.data, now)? {
                out.stored += 1;
            } else {
                out.duplicates += 1;
            }
        }
        Ok(out)
    }

    fn ingest_event(
        &mut self,
        ws: WorkspaceId,
        trusted: bool,
        ev: &Event,
        data: &str,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        if !self.dedupe.insert(digest(ws, ev.message_id.as_str()), ev.received_at) {
            return Ok(false);
        }
        let id = self.resolve(ws, ev, now)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.w.insert_event(ws, id, seq, ev, data)?;
        self.learn_products(ws, ev, now)?;
        let contact = self.contact_mut(id)?;
        contact.apply_profile(ev, trusted);
        contact.updated_at = now;
        if contact.computed.is_late(ev) {
            // A cart event older than the cart's state: fold the whole history again, in timestamp order.
            let history = self.w.contact_events_ordered(id)?;
            self.contact_mut(id)?.computed = Computed::recompute(&history);
        } else {
            contact.computed.apply(ev);
        }
        self.mark_dirty(id);
        self.segments.record(ws, id, ev, now);
        self.evaluate_contact(ws, id, now)?;
        self.redeem_from_order(ws, id, ev, now)?;
        self.flows_on_event(ws, id, ev, now)?;
        self.note_interest(ws, id, ev);
        if ev.kind == EventKind::Identify {
            self.schedule_dates(ws, id, now);
        }
        Ok(true)
    }

    pub(crate) fn mark_dirty(&mut self, id: ContactId) {
        if !self.dirty.contains(&id) {
            self.dirty.push(id);
        }
    }

    pub(crate) fn follow(&self, mut id: ContactId) -> ContactId {
        for _ in 0..64 {
            match self.redirects.get(&id) {
                Some(&next) => id = next,
                None => break,
            }
        }
        id
    }

    pub(crate) fn contact_mut(&mut self, id: ContactId) -> Result<&mut Contact, EngineError> {
        let id = self.follow(id);
        if !self.contacts.contains_key(&id) {
            let c = self
                .w
                .load_contact(id)?
                .ok_or_else(|| StoreError::Corrupt(format!("contact {id} is referenced but missing")))?;
            self.contacts.insert(id, c);
        }
        Ok(self.contacts.get_mut(&id).expect("inserted above"))
    }

    pub(crate) fn lookup(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<ContactId>, EngineError> {
        let key: IdentKey = (ws, kind, value.into());
        if let Some(&id) = self.identities.get(&key) {
            return Ok(Some(self.follow(id)));
        }
        let found = self.w.lookup_identity(ws, kind, value)?;
        if let Some(id) = found {
            self.identities.insert(key, id);
        }
        Ok(found.map(|id| self.follow(id)))
    }

    fn bind(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, id: ContactId) -> Result<(), EngineError> {
        self.w.set_identity(ws, kind, value, id)?;
        self.identities.insert((ws, kind, value.into()), id);
        Ok(())
    }

    fn create_contact(&mut self, ws: WorkspaceId, now: Timestamp) -> ContactId {
        let id = ContactId(self.next_contact);
        self.next_contact += 1;
        self.contacts.insert(id, Contact::new(id, ws, now));
        self.mark_dirty(id);
        id
    }

    /// Finds (or creates) the contact an event belongs to, merging contacts the event proves are one person.
    fn resolve(&mut self, ws: WorkspaceId, ev: &Event, now: Timestamp) -> Result<ContactId, EngineError> {
        let mut claims: Vec<Claim> = Vec::with_capacity(4);
        let mut claim =
            |kind, value: &str, force| claims.push(Claim { kind, value: value.to_string(), found: None, force });
        if let Some(u) = &ev.user_id {
            claim(IdentityKind::UserId, u, false);
        }
        if ev.kind == EventKind::Alias
            && let Some(prev) = &ev.previous_id
        {
            claim(IdentityKind::UserId, prev, true);
            claim(IdentityKind::AnonymousId, prev, true);
        }
        if let Some(a) = &ev.anonymous_id {
            claim(IdentityKind::AnonymousId, a, false);
        }
        if ev.kind == EventKind::Identify {
            let traits = &ev.traits;
            if let Some(e) = traits.get("email").and_then(Value::as_str).and_then(Email::parse) {
                claim(IdentityKind::Email, e.as_str(), false);
            }
            if let Some(p) = traits.get("phone").and_then(Value::as_str).and_then(Phone::parse) {
                claim(IdentityKind::Phone, p.as_str(), false);
            }
        }
        for c in &mut claims {
            c.found = self.lookup(ws, c.kind, &c.value)?;
        }
        // An alias's previous id is a user id or an anonymous id, not both: keep the one that exists.
        if ev.kind == EventKind::Alias {
            let prev_user_found = claims.iter().any(|c| c.force && c.kind == IdentityKind::UserId && c.found.is_some());
            // Keep the previous-id claim of the kind that exists (user id if found, else anonymous id).
            claims.retain(|c| !c.force || (c.kind == IdentityKind::UserId) == prev_user_found);
        }

        let user = ev.user_id.as_deref();
        let mut primary = claims.iter().find(|c| c.kind == IdentityKind::UserId && !c.force).and_then(|c| c.found);
        if primary.is_none() {
            for c in &claims {
                if let Some(id) = c.found
                    && (c.force || self.user_compatible(id, user)?)
                {
                    primary = Some(id);
                    break;
                }
            }
        }
        let primary = match primary {
            Some(p) => p,
            None => self.create_contact(ws, now),
        };

        for claim in &claims {
            let Some(other) = claim.found.map(|id| self.follow(id)) else { continue };
            if other == primary {
                continue;
            }
            // Merge only when the two people cannot be different customers: their user ids (the primary's,
            // or the one this event is about to give it) must not differ.
            let their_user = self.contact_mut(other)?.user_id.clone();
            let our_user = self.contact_mut(primary)?.user_id.clone().or_else(|| ev.user_id.clone());
            let compatible = match (&our_user, &their_user) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if claim.force || compatible {
                self.merge(other, primary, now)?;
            }
        }

        for c in &claims {
            let owner = c.found.map(|id| self.follow(id));
            if owner.is_some_and(|o| o != primary) {
                continue; // belongs to someone this event could not merge with
            }
            self.attach(ws, primary, c, owner.is_none())?;
        }
        Ok(primary)
    }

    /// Whether contact `id` may take user id `user` (it has none, or the same one).
    fn user_compatible(&mut self, id: ContactId, user: Option<&str>) -> Result<bool, EngineError> {
        let Some(user) = user else { return Ok(true) };
        Ok(self.contact_mut(id)?.user_id.as_deref().is_none_or(|u| u == user))
    }

    fn attach(&mut self, ws: WorkspaceId, id: ContactId, c: &Claim, unbound: bool) -> Result<(), EngineError> {
        let contact = self.contact_mut(id)?;
        let mut bind = unbound;
        let mut unbind: Option<(IdentityKind, String)> = None;
        match c.kind {
            IdentityKind::UserId if c.force => {
                // alias: the previous user id keeps resolving here through the merge.
            }
            IdentityKind::UserId => {
                if contact.user_id.is_none() {
                    contact.user_id = Some(c.value.clone());
                } else if contact.user_id.as_deref() != Some(c.value.as_str()) {
                    bind = false;
                }
            }
            IdentityKind::AnonymousId => {
                if !contact.anonymous_ids.contains(&c.value) && contact.anonymous_ids.len() < ANONYMOUS_IDS_LISTED_MAX {
                    contact.anonymous_ids.push(c.value.clone());
                }
            }
            IdentityKind::Email => {
                if contact.email.as_ref().is_some_and(|e| e.as_str() != c.value) {
                    unbind = contact.email.as_ref().map(|e| (IdentityKind::Email, e.as_str().to_string()));
                }
                contact.email = Email::parse(&c.value);
                bind = true;
            }
            IdentityKind::Phone => {
                if contact.phone.as_ref().is_some_and(|p| p.as_str() != c.value) {
                    unbind = contact.phone.as_ref().map(|p| (IdentityKind::Phone, p.as_str().to_string()));
                }
                contact.phone = Phone::parse(&c.value);
                bind = true;
            }
        }
        self.mark_dirty(id);
        if let Some((kind, old)) = unbind {
            // The address changed: the old one no longer finds this contact.
            self.w.remove_identity(ws, kind, &old)?;
            self.identities.remove(&(ws, kind, old.into_boxed_str()));
        }
        if bind {
            self.bind(ws, c.kind, &c.value, id)?;
        }
        Ok(())
    }

    /// Folds `loser` into `survivor`: profile, identities (through the merge pointer) and the whole event
    /// history, then recomputes the survivor's aggregates from the combined history.
    fn merge(&mut self, loser: ContactId, survivor: ContactId, now: Timestamp) -> Result<(), EngineError> {
        let lost = self.contact_mut(loser)?.clone();
        self.contacts.remove(&loser);
        self.w.upsert_contact(&lost)?; // the row may not exist yet if created in this transaction
        self.w.mark_merged(loser, survivor, now)?;
        self.w.reassign_events(loser, survivor)?;
        self.dirty.retain(|d| *d != loser);
        self.redirects.insert(loser, survivor);
        tracing::debug!(contact.loser = loser.0, contact.survivor = survivor.0, "contacts merged");
        let history = self.w.contact_events_ordered(survivor)?;
        let s = self.contact_mut(survivor)?;
        s.absorb(lost);
        s.computed = Computed::recompute(&history);
        s.updated_at = now;
        let ws = s.workspace;
        self.mark_dirty(survivor);
        self.merge_segments(ws, loser, survivor, &history, now)?;
        Ok(())
    }

    /// Events that mention products create catalog entries the catalog does not have yet.
    fn learn_products(&mut self, ws: WorkspaceId, ev: &Event, now: Timestamp) -> Result<(), EngineError> {
        if ev.kind != EventKind::Track {
            return Ok(());
        }
        let p = &ev.properties;
        if ev.name.as_deref().is_some_and(|n| n.starts_with("Product ")) && !p.contains_key("products") {
            self.learn_product(ws, p, now)?;
        }
        if let Some(Value::Array(items)) = p.get("products") {
            for item in items.iter().filter_map(Value::as_object) {
                self.learn_product(ws, item, now)?;
            }
        }
        Ok(())
    }

    fn learn_product(
        &mut self,
        ws: WorkspaceId,
        props: &kairos_domain::JsonMap,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(id) = kairos_domain::contact::product_id(props) else { return Ok(()) };
        let key = (ws, id.into_boxed_str());
        if self.products.contains(&key) {
            return Ok(());
        }
        if !self.w.product_exists(ws, &key.1)?
            && let Some(product) = Product::from_event_properties(props, now)
        {
            self.w.upsert_product(ws, &product)?;
        }
        self.products.insert(key);
        Ok(())
    }

    pub fn upsert_products(
        &mut self,
        ws: WorkspaceId,
        products: Vec<Product>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        for p in products {
            let before = self.w.load_product(ws, &p.id)?;
            self.w.upsert_product(ws, &p)?;
            self.products.insert((ws, p.id.as_str().into()));
            if let Some(before) = before {
                self.flows_on_catalog(ws, &before, &p, now)?;
            }
        }
        Ok(())
    }

    /// The stored product `id` with `patch` merged in, upserted (flows see the change like any upsert).
    pub fn patch_product(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        patch: &kairos_domain::ProductFields,
        now: Timestamp,
    ) -> Result<Product, EngineError> {
        let before =
            self.w.load_product(ws, id)?.ok_or_else(|| EngineError::NotFound(format!("product {id:?} not found")))?;
        let after = before.patched(patch, now);
        self.upsert_products(ws, vec![after.clone()], now)?;
        Ok(after)
    }

    pub fn set_consent(
        &mut self,
        ws: WorkspaceId,
        who: ContactRef,
        channel: Channel,
        status: ConsentStatus,
        source: &str,
        now: Timestamp,
    ) -> Result<Contact, EngineError> {
        let id = self.resolve_ref(ws, who, now)?;
        self.change_consent(id, channel, status, source, now)
    }

    /// The contact a request names: by id (must exist in the workspace), or by user id, email or phone
    /// (created when unknown, as Klaviyo does for subscribe calls).
    pub(crate) fn resolve_ref(
        &mut self,
        ws: WorkspaceId,
        who: ContactRef,
        now: Timestamp,
    ) -> Result<ContactId, EngineError> {
        let (kind, value) = match who {
            ContactRef::Id(_) => return self.resolve_existing(ws, who),
            ContactRef::UserId(u) => (IdentityKind::UserId, u),
            ContactRef::Email(e) => (IdentityKind::Email, e.as_str().to_string()),
            ContactRef::Phone(p) => (IdentityKind::Phone, p.as_str().to_string()),
        };
        Ok(match self.lookup(ws, kind, &value)? {
            Some(id) => id,
            None => {
                let id = self.create_contact(ws, now);
                self.attach(ws, id, &Claim { kind, value, found: None, force: false }, true)?;
                id
            }
        })
    }

    /// The existing contact a request names (never created), or not found.
    pub(crate) fn resolve_existing(&mut self, ws: WorkspaceId, who: ContactRef) -> Result<ContactId, EngineError> {
        let (kind, value) = match who {
            ContactRef::Id(id) => {
                let id = self.follow(id);
                return match self.contacts.get(&id) {
                    Some(c) if c.workspace == ws => Ok(id),
                    _ => Err(EngineError::NotFound(format!("contact {id} not found"))),
                };
            }
            ContactRef::UserId(u) => (IdentityKind::UserId, u),
            ContactRef::Email(e) => (IdentityKind::Email, e.as_str().to_string()),
            ContactRef::Phone(p) => (IdentityKind::Phone, p.as_str().to_string()),
        };
        self.lookup(ws, kind, &value)?.ok_or_else(|| EngineError::NotFound("no such contact".into()))
    }

    pub(crate) fn change_consent(
        &mut self,
        id: ContactId,
        channel: Channel,
        status: ConsentStatus,
        source: &str,
        now: Timestamp,
    ) -> Result<Contact, EngineError> {
        let c = self.contact_mut(id)?;
        c.set_consent(channel.as_str(), status, now, source);
        c.updated_at = now;
        let ws = c.workspace;
        self.mark_dirty(id);
        self.evaluate_contact(ws, id, now)?;
        Ok(self.contact_mut(id)?.clone())
    }
}
