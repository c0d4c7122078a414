//! What the committer thread owns: the writer and each subsystem's state (identity, segments, flows, messaging,
//! campaigns, coupons, settings), plus the event log's counter, the catalog keys seen and the de-duplication
//! window. Only the committer thread touches it, so no locks.

use std::collections::{HashMap, HashSet};

use kairos_domain::event::EventKind;
use kairos_domain::{Channel, ConsentStatus, Contact, ContactId, Event, Product, Timestamp, WorkspaceId};
use kairos_store::{IdentityKind, Writer};
use serde_json::Value;

use crate::dedupe::{Dedupe, digest};
use crate::identity::Identity;
use crate::segments::Segments;
use crate::{ContactRef, DEDUPE_WINDOW, EngineError, IngestOutcome};

/// Cached product keys are dropped once there are more than this many.
const KEY_CACHE_MAX: usize = 1_000_000;
/// Events of the log a start's replay reads at a time (`State::replay_unwritten`): some 10 MB of them.
const REPLAY_PAGE_EVENTS: usize = 10_000;

pub struct State {
    /// The write transaction, handed out per aggregate (`crate::stores`).
    pub(crate) w: crate::stores::Stores,
    pub(crate) next_seq: i64,
    /// Contacts and the identities they are found by.
    pub(crate) identity: Identity,
    products: HashSet<(WorkspaceId, Box<str>)>,
    dedupe: Dedupe,
    pub(crate) segments: Segments,
    pub(crate) flows: crate::flows::Flows,
    pub(crate) triggers: crate::flows::Triggers,
    /// Membership changes announced in the current transaction, published after it commits.
    pub(crate) emitted: Vec<(WorkspaceId, crate::segments::Change)>,
    /// Events waiting to reach profiles, segments and flows (`crate::work`).
    pub(crate) work: crate::work::WorkQueue,
    pub(crate) settings: crate::settings::WorkspaceSettings,
    pub(crate) dispatch: crate::dispatch::Dispatch,
    pub(crate) templates: crate::render::TemplateCache,
    pub(crate) links: crate::messages::LinkConfig,
    /// Opens the secrets the committer reads from the store (webhook secrets).
    pub(crate) secrets: kairos_store::SecretBox,
    pub(crate) campaigns: crate::campaigns::Campaigns,
    /// Recommendation statistics, shared with the read side (previews).
    pub(crate) recs: std::sync::Arc<crate::rec_cache::RecCache>,
    pub(crate) coupons: crate::coupons::Coupons,
    /// Suppressions added since start: a change tells the committer to check messages in flight again.
    pub(crate) suppressions: u64,
    /// The key erased identities are hashed with, once read (`Some(None)`: none exists yet) or created
    /// (`crate::erasure`).
    pub(crate) erasure_key: Option<Option<Vec<u8>>>,
    /// When each contact's lead score or lifecycle stage next changes by time alone (`crate::lead_ops`).
    pub(crate) lead: crate::lead::LeadTimers,
    /// How many contact rows wait after the last commit (`crate::row_wait`), read by `Engine::settle`.
    pub(crate) rows_waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What the committer's state is built from: the writer and the configuration. Kept when a load fails (the
/// database is away), so the committer can try again without losing the writer.
pub struct Seed {
    w: Box<dyn Writer>,
    defaults: crate::settings::Settings,
    links: crate::messages::LinkConfig,
    secrets: kairos_store::SecretBox,
    dispatch: crate::dispatch::Dispatch,
    /// Recommendation statistics, shared with the read side.
    recs: std::sync::Arc<crate::rec_cache::RecCache>,
    rows_waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Seed {
    /// Loads the state from the store; on failure, the error and this seed to try again with.
    pub fn load(self: Box<Self>, now: Timestamp) -> Result<State, (EngineError, Box<Seed>)> {
        let Seed { mut w, defaults, links, secrets, dispatch, recs, rows_waiting } = *self;
        let read = (|| -> Result<_, EngineError> {
            let started = std::time::Instant::now();
            let max_seq = w.max_event_seq()?;
            let mut recent = Vec::new();
            w.recent_message_ids(now.saturating_sub(DEDUPE_WINDOW), &mut |ws, id, at| recent.push(digest(ws, id, at)))?;
            // The window is built, and the list read freed (16 bytes an id), before the profiles load, so their
            // allocations can reuse its memory.
            let mut dedupe = Dedupe::with_capacity(recent.len());
            for seen in recent {
                dedupe.insert(seen);
            }
            let window_read = started.elapsed();
            let identity = Identity::load(&mut *w)?;
            Ok((max_seq, dedupe, identity, [window_read, started.elapsed() - window_read]))
        })();
        let (max_seq, dedupe, identity, took) = match read {
            Ok(r) => r,
            Err(e) => {
                let _ = w.rollback();
                return Err((e, Box::new(Seed { w, defaults, links, secrets, dispatch, recs, rows_waiting })));
            }
        };
        tracing::info!(
            contacts.live = identity.contacts.len(),
            contacts.packed_mb = identity.contacts.packed_bytes() / 1_000_000,
            events.max_seq = max_seq,
            dedupe.ids = dedupe.len(),
            dedupe.read_ms = took[0].as_millis() as u64,
            contacts.read_ms = took[1].as_millis() as u64,
            "state loaded"
        );
        let mut state = State {
            w: crate::stores::Stores::new(w),
            next_seq: max_seq + 1,
            identity,
            products: HashSet::new(),
            dedupe,
            segments: Segments::default(),
            flows: Default::default(),
            triggers: Default::default(),
            emitted: Vec::new(),
            work: Default::default(),
            settings: crate::settings::WorkspaceSettings { defaults, overrides: HashMap::new() },
            dispatch,
            templates: Default::default(),
            links,
            secrets,
            campaigns: Default::default(),
            recs,
            coupons: Default::default(),
            suppressions: 0,
            erasure_key: None,
            lead: Default::default(),
            rows_waiting,
        };
        match state.load_rest(now) {
            Ok(()) => Ok(state),
            Err(e) => Err((e, state.into_seed())),
        }
    }
}

impl State {
    pub fn load(
        w: Box<dyn Writer>,
        now: Timestamp,
        defaults: crate::settings::Settings,
        links: crate::messages::LinkConfig,
        secrets: kairos_store::SecretBox,
    ) -> Result<State, EngineError> {
        let seed = Box::new(Seed {
            w,
            defaults,
            links,
            secrets,
            dispatch: Default::default(),
            recs: Default::default(),
            rows_waiting: Default::default(),
        });
        seed.load(now).map_err(|(e, _)| e)
    }

    /// After a failed transaction the caches may hold uncommitted changes: what to start again from the store
    /// with (the open transaction rolled back; the dispatcher's connection and recommendations kept).
    pub fn into_seed(self) -> Box<Seed> {
        let mut w = self.w.into_writer();
        if let Err(e) = w.rollback() {
            // A lost connection has nothing left to roll back; the next `begin` reconnects.
            tracing::warn!(error = %e, "rolling back the failed transaction failed");
        }
        let mut dispatch = crate::dispatch::Dispatch::default();
        let mut old = self.dispatch;
        dispatch.carry_over(&mut old);
        Box::new(Seed {
            w,
            defaults: self.settings.defaults,
            links: self.links,
            secrets: self.secrets,
            dispatch,
            recs: self.recs,
            rows_waiting: self.rows_waiting,
        })
    }

    /// Loads everything but identity and the event log (which `Seed::load` reads before the state exists).
    fn load_rest(&mut self, now: Timestamp) -> Result<(), EngineError> {
        self.load_settings()?;
        self.load_coupons()?;
        self.begin()?;
        self.replay_unwritten(now)?;
        self.load_segments(now)?;
        self.load_flows(now)?;
        self.load_sends(now)?;
        self.load_campaigns(now)?;
        self.commit(now)
    }

    /// The customer events a stop left out of their contacts' rows (`crate::row_wait`), folded into the
    /// profiles again in log order with the identities they gave them, and written by the load's commit. None
    /// were trusted consent claims (those are written at once), so they are folded as untrusted.
    ///
    /// Read a page at a time ([`REPLAY_PAGE_EVENTS`]): a wait of [`crate::row_wait::ROW_WAIT_MAX`] at full load
    /// leaves a million and more events to replay, which held at once would take gigabytes.
    fn replay_unwritten(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let (mut after, mut replayed) = (None, 0usize);
        loop {
            let page = self.w.writer().unwritten_events(after, REPLAY_PAGE_EVENTS)?;
            for u in &page.events {
                let (id, ev) = (self.follow(u.contact), &u.event);
                let Some(ws) = self.identity.contacts.workspace_of(&id) else { continue };
                if u.listed {
                    // Its row took it; only the identity bindings it made may have been lost.
                    self.identity.rebind(self.w.writer(), ws, id, ev)?;
                    continue;
                }
                self.w.writer().relist_event(u.contact, u.seq)?;
                self.identity.reattach(self.w.writer(), ws, id, ev)?;
                self.update_profile(id, ev, false, now)?;
                self.score_event(ws, id, ev, now)?;
                self.mark_dirty(id);
                replayed += 1;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if replayed > 0 {
            tracing::info!(events = replayed, "replayed the events whose contact rows were not written");
        }
        // The bindings the replay made again are written by the load's commit.
        self.identity.settle();
        Ok(())
    }

    pub fn begin(&mut self) -> Result<(), EngineError> {
        self.w.begin()?;
        Ok(())
    }

    pub fn commit(&mut self, now: Timestamp) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        self.flush_step_counts()?;
        // Segment columns take every contact changed in the transaction once (`Segments::refresh`).
        self.segments.refresh(&self.identity.dirty, &self.identity.contacts);
        let dirty = self.identity.flush(self.w.writer(), now)?;
        self.identity.write_bindings(self.w.writer(), now)?;
        let upserted = started.elapsed();
        self.persist_sizes(now)?;
        self.w.writer().commit()?;
        // After the commit: a reader told none wait must find every row written (`Engine::settle`).
        self.rows_waiting.store(self.identity.waiting.len(), std::sync::atomic::Ordering::SeqCst);
        tracing::trace!(
            contacts = dirty,
            upsert_us = upserted.as_micros() as u64,
            commit_us = (started.elapsed() - upserted).as_micros() as u64,
            "commit"
        );
        self.dedupe.expire(now, DEDUPE_WINDOW);
        self.identity.trim();
        if self.products.len() > KEY_CACHE_MAX {
            self.products.clear();
        }
        Ok(())
    }

    /// Asks the store to commit ahead of its flush (`crate::durability`).
    pub(crate) fn durable_later(&mut self) -> kairos_store::Result<Option<Box<dyn kairos_store::DurableSync>>> {
        self.w.writer().durable_later()
    }

    pub fn ingest(
        &mut self,
        ws: WorkspaceId,
        trusted: bool,
        events: Vec<crate::Prepared>,
        now: Timestamp,
    ) -> Result<IngestOutcome, EngineError> {
        let mut out = IngestOutcome::default();
        // The group's identities in one look-up per kind (a server database: one round trip, not one per event).
        if self.w.writer().batches_identity_lookups() {
            self.identity.prefetch(self.w.writer(), ws, events.iter().map(|p| &p.event))?;
        }
        for p in events {
            if self.dedupe.insert(digest(ws, p.event.message_id.as_str(), p.event.received_at)) {
                self.ingest_one(ws, trusted, p.event, p.data, now)?;
                out.stored += 1;
            } else {
                out.duplicates += 1;
            }
        }
        Ok(out)
    }

    /// The contact an ingested event is about (created, or merged as its identities prove); a merge rebuilds
    /// the survivor's segment state from its combined history.
    pub(crate) fn resolve_event(
        &mut self,
        ws: WorkspaceId,
        ev: &Event,
        now: Timestamp,
    ) -> Result<ContactId, EngineError> {
        let mut merged = Vec::new();
        let id = self.identity.resolve(self.w.writer(), ws, ev, now, &mut merged)?;
        for m in merged {
            self.merge_segments(m.ws, m.loser, m.survivor, &m.history, now)?;
        }
        Ok(id)
    }

    /// Where a (possibly merged-away) contact lives now.
    pub(crate) fn follow(&self, id: ContactId) -> ContactId {
        self.identity.follow(id)
    }

    pub(crate) fn contact_mut(&mut self, id: ContactId) -> Result<&mut Contact, EngineError> {
        self.identity.contact_mut(self.w.writer(), id)
    }

    pub(crate) fn mark_dirty(&mut self, id: ContactId) {
        self.identity.mark_dirty(id)
    }

    pub(crate) fn lookup(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<ContactId>, EngineError> {
        self.identity.lookup(self.w.writer(), ws, kind, value)
    }

    /// Appends an event to the contact's timeline.
    pub(crate) fn store_event(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        ev: &Event,
        data: &str,
    ) -> Result<(), EngineError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.w.writer().insert_event(ws, id, seq, ev, data)?;
        Ok(())
    }

    /// The profile's traits (from a trusted source or the contact's own) and its e-commerce aggregates.
    pub(crate) fn update_profile(
        &mut self,
        id: ContactId,
        ev: &Event,
        trusted: bool,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if ev.is_system() {
            // Kairos's own events (Message Sent, Segment Entered, ...) say nothing of the person: they carry no
            // traits, consent or zone (`apply_profile` finds nothing) and the aggregates skip them
            // (`Computed::fold`). The profile, its `updated_at` and its row stay as they are: a send no longer
            // rewrites its contact's row.
            return Ok(());
        }
        let contact = self.contact_mut(id)?;
        let before = contact.consent.statuses();
        // A consent claim is applied only when trusted, which a start's replay of a waiting row's events does
        // not know: a profile it changes is written at once (`crate::row_wait`).
        let claims_consent = trusted && ev.kind == EventKind::Identify && !ev.consent_claims().is_empty();
        contact.apply_profile(ev, trusted);
        contact.updated_at = now;
        let ws = contact.workspace;
        self.announce_subscriptions(ws, id, before, now);
        let op = kairos_domain::CartOp::of(ev);
        let contact = self.contact_mut(id)?;
        let ts = ev.timestamp;
        if contact.computed.is_late(ev)
            && let Some(op) = op
        {
            // A cart event older than the cart's state and newer than its last order: the totals take it as it
            // is, the cart is folded again from its own events since that order: kept in memory
            // (`crate::cart_log`), else read from the store (this one included) and kept from then on.
            contact.computed.apply_except_cart(ev);
            let since = contact.computed.cart_since();
            match self.identity.carts.late(id, ts, op, since) {
                Some(cart) => self.contact_mut(id)?.computed.cart = cart,
                None => {
                    let cart_events = self.w.writer().contact_cart_events(id, since)?;
                    self.contact_mut(id)?.computed.rebuild_cart(&cart_events);
                    self.identity.carts.seed(id, &cart_events);
                }
            }
        } else {
            contact.computed.apply_op(ev, op.as_ref());
            let since = contact.computed.cart_since();
            if let Some(op) = op {
                self.identity.carts.applied(id, ts, op, since);
            }
        }
        if claims_consent {
            self.mark_dirty(id);
        } else {
            self.identity.mark_folded(id);
        }
        Ok(())
    }

    /// Events that mention products create catalog entries the catalog does not have yet.
    pub(crate) fn learn_products(&mut self, ws: WorkspaceId, ev: &Event, now: Timestamp) -> Result<(), EngineError> {
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
        if !self.w.product_tx().product_exists(ws, &key.1)?
            && let Some(product) = Product::from_event_properties(props, now)
        {
            self.w.product_tx().upsert_product(ws, &product)?;
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
        self.upsert_products_from(ws, products, false, now)
    }

    /// Upserts products; with `newer_only`, one older than the stored copy (`updated_at`) is skipped.
    pub fn upsert_products_from(
        &mut self,
        ws: WorkspaceId,
        products: Vec<Product>,
        newer_only: bool,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        for p in products {
            let before = self.w.product_tx().load_product(ws, &p.id)?;
            if newer_only && before.as_ref().is_some_and(|b| b.updated_at > p.updated_at) {
                continue;
            }
            self.w.product_tx().upsert_product(ws, &p)?;
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
        let before = self
            .w
            .product_tx()
            .load_product(ws, id)?
            .ok_or_else(|| EngineError::NotFound(format!("product {id:?} not found")))?;
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
            None => self.identity.create_with(self.w.writer(), ws, kind, value, now)?,
        })
    }

    /// The existing contact a request names (never created), or not found.
    pub(crate) fn resolve_existing(&mut self, ws: WorkspaceId, who: ContactRef) -> Result<ContactId, EngineError> {
        let (kind, value) = match who {
            ContactRef::Id(id) => {
                let id = self.follow(id);
                return match self.identity.contacts.get(&id) {
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
        let before = c.consent.statuses();
        c.set_consent(channel.as_str(), status, now, source);
        c.updated_at = now;
        let ws = c.workspace;
        self.mark_dirty(id);
        self.announce_subscriptions(ws, id, before, now);
        self.evaluate_contact(ws, id, now)?;
        Ok(self.contact_mut(id)?.clone())
    }
}
