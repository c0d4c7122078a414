//! Identity: who an event is about. It owns the live contacts (segments evaluate against them in memory), the
//! identities they are found by (user id, anonymous ids, email, phone), the merge pointers, and the contacts
//! changed in the current transaction; it reads and writes through the contact and event traits only.
//!
//! A merge is returned to the caller ([`Merged`]) rather than followed here: segments and flows re-read the
//! survivor's history (`State::resolve_event`).

use std::borrow::Cow;
use std::collections::HashMap;

use kairos_domain::event::EventKind;
use kairos_domain::{Computed, Contact, ContactId, Email, Event, Phone, Timestamp, WorkspaceId};
use kairos_store::write::{ContactWrites, EventWrites};
use kairos_store::{IdentityKind, StoreError};
use serde_json::Value;

use crate::EngineError;
use crate::sharded::{ShardedMap, ShardedSet};

/// Cached identity keys are dropped once there are more than this many.
const KEY_CACHE_MAX: usize = 1_000_000;
/// Anonymous ids listed on a profile; more are still resolvable, just not listed.
const ANONYMOUS_IDS_LISTED_MAX: usize = 50;
/// How long the identity bindings events make may wait for a commit that writes them all, sorted
/// (`kairos_store_sqlite`'s `bindings`): one page of `identities` then takes many. Measured on the anchor's
/// first minutes (100 000 shoppers arriving): 2 s lifts them ~1.1×; 5 s no more, with 100 000 bindings written
/// in one commit (a 190 ms batch).
const BINDINGS_WAIT_MAX: kairos_domain::Duration = kairos_domain::Duration::from_secs(2);
/// Bindings kept at most before they are written whatever their wait (~100 bytes each in the store's map).
const BINDINGS_WAITING_MAX: usize = 200_000;
/// Merge pointers followed before giving up (a chain this long is a bug, not a customer).
const REDIRECT_HOPS_MAX: usize = 64;

/// A cached identity: the keyed 128-bit digest of (workspace, kind, value), 16 bytes held inline. Boxed values
/// cost the committer ~5 % on the anchor workload (an allocation to build each key looked up, a cache miss to
/// compare each one found). The keys are random per process, so nobody outside can choose values that collide;
/// two of 10 M identities share a digest with a probability of ~2^-83.
#[derive(Clone, Copy, PartialEq, Eq)]
struct IdentKey(u128);

impl std::hash::Hash for IdentKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // A keyed digest already: its own high bits place it (`dedupe::HighBits`).
        state.write_u64((self.0 >> 64) as u64);
    }
}

impl IdentKey {
    fn of(ws: WorkspaceId, kind: IdentityKind, value: &str) -> IdentKey {
        use siphasher::sip128::Hasher128 as _;
        use std::hash::Hasher as _;
        let mut h = crate::dedupe::keyed_hasher();
        // Workspace and kind are fixed-width, so no two triples run into each other.
        h.write_i64(ws.0);
        h.write_i64(kind.code());
        h.write(value.as_bytes());
        IdentKey(h.finish128().as_u128())
    }
}

/// How the identity cache places its digests.
type ByHighBits = std::hash::BuildHasherDefault<crate::dedupe::HighBits>;

/// The storage identity needs: contacts and identities, and the event log a merge moves.
pub(crate) trait IdentityStore: ContactWrites + EventWrites {}
impl<T: ContactWrites + EventWrites + ?Sized> IdentityStore for T {}

/// A merge `resolve` made: `loser` was folded into `survivor`, whose whole history is `history`.
pub(crate) struct Merged {
    pub ws: WorkspaceId,
    pub loser: ContactId,
    pub survivor: ContactId,
    pub history: Vec<Event>,
}

/// One identity an event claims for its contact.
struct Claim<'a> {
    kind: IdentityKind,
    /// Borrowed from the event, unless normalised (an email or a phone number).
    value: Cow<'a, str>,
    found: Option<ContactId>,
    /// `alias` merges even two known users: that is what it is for.
    force: bool,
}

/// What taking one claimed identity did to a profile ([`take_claim`]).
struct Taken {
    /// Its identity fields changed.
    changed: bool,
    /// The identity may be bound to it (not when it already has another user id).
    bind: bool,
    /// The address it had before, which no longer finds it.
    unbind: Option<(IdentityKind, String)>,
}

/// Gives `contact` the identity (`kind`, `value`) an event claims for it: a user id when it has none, one more
/// listed anonymous id, its email or phone (replacing the one it had).
fn take_claim(contact: &mut Contact, kind: IdentityKind, value: &str, force: bool) -> Taken {
    let mut took = Taken { changed: false, bind: true, unbind: None };
    match kind {
        IdentityKind::UserId if force => {
            // alias: the previous user id keeps resolving here through the merge.
        }
        IdentityKind::UserId => {
            if contact.user_id.is_none() {
                contact.user_id = Some(value.to_string());
                took.changed = true;
            } else if contact.user_id.as_deref() != Some(value) {
                took.bind = false;
            }
        }
        IdentityKind::AnonymousId => {
            // A full list takes no more (a shopper of many sessions: no 50 comparisons per event); the newest
            // first, as the current session's id is most often the last one listed.
            if contact.anonymous_ids.len() < ANONYMOUS_IDS_LISTED_MAX
                && !contact.anonymous_ids.iter().rev().any(|a| a == value)
            {
                contact.anonymous_ids.push(value.to_string());
                took.changed = true;
            }
        }
        IdentityKind::Email => {
            if contact.email.as_ref().is_some_and(|e| e.as_str() != value) {
                took.unbind = contact.email.as_ref().map(|e| (IdentityKind::Email, e.as_str().to_string()));
            }
            took.changed = contact.email.as_ref().map(Email::as_str) != Some(value);
            contact.email = Email::parse(value);
        }
        IdentityKind::Phone => {
            if contact.phone.as_ref().is_some_and(|p| p.as_str() != value) {
                took.unbind = contact.phone.as_ref().map(|p| (IdentityKind::Phone, p.as_str().to_string()));
            }
            took.changed = contact.phone.as_ref().map(Phone::as_str) != Some(value);
            contact.phone = Phone::parse(value);
        }
    }
    took
}

/// How [`Identity::attach`] binds a claim.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bind {
    /// The store binds it to this contact already: nothing to write.
    Bound,
    /// Unbound, claimed by an ingested event logged in this transaction: the store may keep the binding for a
    /// later commit (a replay binds it again from the log).
    Logged,
    /// Unbound, and no event tells it again: written at once.
    Now,
}

/// Values of one kind looked up in one statement at most (a group's identities, [`Identity::prefetch`]).
const PREFETCH_VALUES_MAX: usize = 1_000;

/// The identities an event claims: (kind, value, whether it merges even two known users), in the order
/// [`Identity::resolve`] weighs them.
fn claims_of(ev: &Event) -> Vec<(IdentityKind, Cow<'_, str>, bool)> {
    let mut claims = Vec::with_capacity(4);
    if let Some(u) = &ev.user_id {
        claims.push((IdentityKind::UserId, Cow::Borrowed(u.as_str()), false));
    }
    if ev.kind == EventKind::Alias
        && let Some(prev) = &ev.previous_id
    {
        claims.push((IdentityKind::UserId, Cow::Borrowed(prev.as_str()), true));
        claims.push((IdentityKind::AnonymousId, Cow::Borrowed(prev.as_str()), true));
    }
    if let Some(a) = &ev.anonymous_id {
        claims.push((IdentityKind::AnonymousId, Cow::Borrowed(a.as_str()), false));
    }
    if ev.kind == EventKind::Identify {
        let traits = &ev.traits;
        if let Some(e) = traits.get("email").and_then(Value::as_str).and_then(Email::parse) {
            claims.push((IdentityKind::Email, Cow::Owned(e.as_str().to_string()), false));
        }
        if let Some(p) = traits.get("phone").and_then(Value::as_str).and_then(Phone::parse) {
            claims.push((IdentityKind::Phone, Cow::Owned(p.as_str().to_string()), false));
        }
    }
    claims
}

fn claimed(ev: &Event) -> impl Iterator<Item = (IdentityKind, Cow<'_, str>)> {
    claims_of(ev).into_iter().map(|(kind, value, _)| (kind, value))
}

/// Contacts the load sizes the map for at most (beyond it, the map grows as usual).
const CONTACTS_PRESIZE_MAX: usize = 50_000_000;

/// The identity subsystem's state.
pub(crate) struct Identity {
    next_contact: i64,
    /// Every live contact.
    pub(crate) contacts: crate::profiles::ProfileMap,
    /// In shards, so the cache grows without a pause (`crate::sharded`).
    identities: ShardedMap<IdentKey, ContactId, ByHighBits>,
    /// Identities the store did not have when this transaction looked a group's identities up at once
    /// ([`Identity::prefetch`]): a later look-up in the transaction needs no round trip. Only this committer
    /// binds identities, and a bound one is found in `identities` first; cleared at every commit.
    absent: ShardedSet<IdentKey, ByHighBits>,
    redirects: HashMap<ContactId, ContactId>,
    /// Contacts changed in the current transaction, written at commit.
    pub(crate) dirty: Vec<ContactId>,
    /// The same, to check membership in constant time (a settings change can touch every contact of a workspace).
    dirty_set: std::collections::HashSet<ContactId>,
    /// Those of `dirty` changed other than by folding their own events ([`Identity::mark_dirty`]): their rows
    /// are written at this commit; the others' may wait (`crate::row_wait`).
    through: std::collections::HashSet<ContactId>,
    /// Contacts whose rows wait for a later commit.
    pub(crate) waiting: crate::row_wait::WaitingRows,
    /// When the commit that first found identity bindings kept by the store ran (None: none kept).
    bindings_since: Option<Timestamp>,
    /// Every kept binding is written by the next commit (a stop, a reader settling).
    bindings_due: bool,
    /// Contacts' cart events since their last order, so a late cart event needs no read of the store.
    pub(crate) carts: crate::cart_log::CartLogs,
    /// Contacts the load read from their JSON (no verified packed form: a store written before the packed column,
    /// or by another format), written again a few at a time ([`Identity::repack_some`]) so the next start reads
    /// them packed.
    repack: Vec<ContactId>,
}

/// Contacts [`Identity::repack_some`] writes again per tick: at ~15 µs a row, ~75 ms of the committer a second,
/// so a million contacts of an older store are rewritten in under 4 minutes without holding up ingestion.
const REPACK_PER_TICK: usize = 5_000;

impl Identity {
    /// Loads every live contact and the merge pointers.
    pub(crate) fn load<W: IdentityStore + ?Sized>(w: &mut W) -> Result<Identity, EngineError> {
        let next_contact = w.max_contact_id()? + 1;
        // Room for every id given out so far (live contacts are most of them), so the map is not grown and
        // copied step by step while a large store loads.
        let mut contacts = crate::profiles::ProfileMap::with_capacity(
            usize::try_from(next_contact).unwrap_or(0).min(CONTACTS_PRESIZE_MAX),
        );
        let mut repack = Vec::new();
        w.all_contacts(&mut |c| {
            if !c.is_packed() {
                repack.push(c.id());
            }
            contacts.insert_loaded(c)
        })?;
        // Popped from the end: the lowest ids (the oldest contacts) first.
        repack.reverse();
        let mut redirects = HashMap::new();
        w.merged_contacts(&mut |loser, survivor| {
            redirects.insert(loser, survivor);
        })?;
        Ok(Identity {
            next_contact,
            contacts,
            identities: ShardedMap::default(),
            absent: Default::default(),
            redirects,
            dirty: Vec::new(),
            dirty_set: Default::default(),
            through: Default::default(),
            waiting: Default::default(),
            bindings_since: None,
            bindings_due: false,
            carts: Default::default(),
            repack,
        })
    }

    /// Marks up to [`REPACK_PER_TICK`] contacts the load read from their JSON dirty, so this transaction writes
    /// them again with their packed form.
    pub(crate) fn repack_some(&mut self) {
        for _ in 0..REPACK_PER_TICK {
            let Some(id) = self.repack.pop() else {
                // Drained: its room (8 bytes a contact of an older store) is not kept for nothing.
                self.repack = Vec::new();
                return;
            };
            if self.contacts.contains_key(&id) {
                self.mark_dirty(id);
            }
        }
    }

    /// Forgets the cached identities of `ids` (erased: the store no longer has them).
    pub(crate) fn forget_identities_of(&mut self, ids: &[ContactId]) {
        self.identities.retain(|_, c| !ids.contains(c));
        for id in ids {
            self.carts.forget(*id);
        }
    }

    /// Every waiting row and kept identity binding is to be written (a stop, a reader that settles).
    pub(crate) fn settle(&mut self) {
        self.waiting.settle();
        self.bindings_due = true;
    }

    /// Before a commit: writes the identity bindings the store kept once the first has waited
    /// [`BINDINGS_WAIT_MAX`], there are [`BINDINGS_WAITING_MAX`], or a settle asks.
    pub(crate) fn write_bindings<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let kept = w.identities_waiting();
        if kept == 0 {
            self.bindings_since = None;
            self.bindings_due = false;
            return Ok(());
        }
        let since = *self.bindings_since.get_or_insert(now);
        if std::mem::take(&mut self.bindings_due)
            || kept >= BINDINGS_WAITING_MAX
            || now.saturating_sub(BINDINGS_WAIT_MAX) >= since
        {
            w.write_identities()?;
            self.bindings_since = None;
        }
        Ok(())
    }

    /// Writes the contacts changed in this transaction, except those changed only by folding their own events
    /// when the store can write them later: their rows wait (`crate::row_wait`), and those whose wait is over
    /// are written now. Returns how many rows were written.
    pub(crate) fn flush<W: IdentityStore + ?Sized>(&mut self, w: &mut W, now: Timestamp) -> Result<usize, EngineError> {
        let dirty = std::mem::take(&mut self.dirty);
        self.dirty_set.clear();
        let later = w.writes_contacts_later();
        let mut write = Vec::with_capacity(dirty.len());
        let mut wait = Vec::new();
        for id in dirty {
            if !self.contacts.contains_key(&id) {
                self.waiting.written(&id);
            } else if later && !self.through.contains(&id) {
                self.waiting.wait(id, now);
                wait.push(id);
            } else {
                self.waiting.written(&id);
                write.push(id);
            }
        }
        // Cleared, not taken: its room is reused by the next transaction.
        self.through.clear();
        self.waiting.take_due(now, &mut write);
        wait.retain(|id| self.waiting.is_waiting(id));
        if !wait.is_empty() {
            w.write_later(&wait)?;
        }
        let changed: Vec<std::borrow::Cow<'_, Contact>> = write.iter().filter_map(|id| self.contacts.get(id)).collect();
        let changed: Vec<&Contact> = changed.iter().map(|c| &**c).collect();
        w.upsert_contacts(&changed)?;
        Ok(changed.len())
    }

    /// A new contact found by one identity (a subscribe call naming someone unknown).
    pub(crate) fn create_with<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: String,
        now: Timestamp,
    ) -> Result<ContactId, EngineError> {
        let id = self.create_contact(ws, now);
        // No event tells this binding again after a crash: written at once.
        self.attach(w, ws, id, &Claim { kind, value: Cow::Owned(value), found: None, force: false }, Bind::Now)?;
        Ok(id)
    }

    /// Looks up at once, one statement per kind, the identities `events` claim that are not cached, so that
    /// resolving them one by one finds each in memory (found) or in `absent` (not in the store).
    pub(crate) fn prefetch<'a, W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        events: impl Iterator<Item = &'a Event>,
    ) -> Result<(), EngineError> {
        let mut wanted: HashMap<IdentityKind, Vec<String>> = HashMap::new();
        for ev in events {
            for (kind, value) in claimed(ev) {
                let key = IdentKey::of(ws, kind, &value);
                if !self.identities.contains_key(&key) && !self.absent.contains(&key) {
                    wanted.entry(kind).or_default().push(value.into_owned());
                }
            }
        }
        for (kind, mut values) in wanted {
            values.sort_unstable();
            values.dedup();
            for chunk in values.chunks(PREFETCH_VALUES_MAX) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                let found = w.lookup_identities(ws, kind, &refs)?;
                for v in chunk {
                    self.absent.insert(IdentKey::of(ws, kind, v));
                }
                for (v, id) in found {
                    let key = IdentKey::of(ws, kind, &v);
                    self.absent.remove(&key);
                    self.identities.insert(key, id);
                }
            }
        }
        Ok(())
    }

    /// After a commit: bounds the identity cache and packs profiles no longer in use.
    pub(crate) fn trim(&mut self) {
        self.contacts.turn();
        self.absent.clear();
        if self.identities.len() > KEY_CACHE_MAX {
            self.identities.clear();
        }
    }

    /// `id` changed: its row is written by this commit.
    pub(crate) fn mark_dirty(&mut self, id: ContactId) {
        self.mark_folded(id);
        self.through.insert(id);
    }

    /// `id` changed only by folding one of its own stored customer events into its profile (what a load's
    /// replay does again): its row may wait for a later commit (`crate::row_wait`).
    pub(crate) fn mark_folded(&mut self, id: ContactId) {
        if self.dirty_set.insert(id) {
            self.dirty.push(id);
        }
    }

    pub(crate) fn follow(&self, mut id: ContactId) -> ContactId {
        for _ in 0..REDIRECT_HOPS_MAX {
            match self.redirects.get(&id) {
                Some(&next) => id = next,
                None => break,
            }
        }
        id
    }

    pub(crate) fn contact_mut<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        id: ContactId,
    ) -> Result<&mut Contact, EngineError> {
        let id = self.follow(id);
        if !self.contacts.contains_key(&id) {
            let c = w
                .load_contact(id)?
                .ok_or_else(|| StoreError::Corrupt(format!("contact {id} is referenced but missing")))?;
            self.contacts.insert(c);
        }
        Ok(self.contacts.get_mut(&id).expect("held: inserted above"))
    }

    pub(crate) fn lookup<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<ContactId>, EngineError> {
        let key = IdentKey::of(ws, kind, value);
        if let Some(&id) = self.identities.get(&key) {
            return Ok(Some(self.follow(id)));
        }
        if self.absent.contains(&key) {
            return Ok(None);
        }
        let found = w.lookup_identity(ws, kind, value)?;
        if let Some(id) = found {
            self.identities.insert(key, id);
        }
        Ok(found.map(|id| self.follow(id)))
    }

    fn bind<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
        id: ContactId,
        how: Bind,
    ) -> Result<(), EngineError> {
        if how == Bind::Logged && w.writes_contacts_later() {
            w.bind_identity_later(ws, kind, value, id)?;
        } else {
            w.set_identity(ws, kind, value, id)?;
        }
        let key = IdentKey::of(ws, kind, value);
        self.absent.remove(&key);
        self.identities.insert(key, id);
        Ok(())
    }

    fn create_contact(&mut self, ws: WorkspaceId, now: Timestamp) -> ContactId {
        let id = ContactId(self.next_contact);
        self.next_contact += 1;
        self.contacts.insert(Contact::new(id, ws, now));
        self.carts.start(id);
        self.mark_dirty(id);
        id
    }

    /// Finds (or creates) the contact an event belongs to, merging contacts the event proves are one person.
    pub(crate) fn resolve<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        ev: &Event,
        now: Timestamp,
        merged: &mut Vec<Merged>,
    ) -> Result<ContactId, EngineError> {
        let mut claims: Vec<Claim> =
            claims_of(ev).into_iter().map(|(kind, value, force)| Claim { kind, value, found: None, force }).collect();
        for c in &mut claims {
            c.found = self.lookup(w, ws, c.kind, &c.value)?;
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
                    && (c.force || self.user_compatible(w, id, user)?)
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
            let their_user = self.contact_mut(w, other)?.user_id.clone();
            let our_user = self.contact_mut(w, primary)?.user_id.clone().or_else(|| ev.user_id.clone());
            let compatible = match (&our_user, &their_user) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if claim.force || compatible {
                merged.push(self.merge(w, other, primary, now)?);
            }
        }

        for c in &claims {
            let owner = c.found.map(|id| self.follow(id));
            if owner.is_some_and(|o| o != primary) {
                continue; // belongs to someone this event could not merge with
            }
            let how = if owner.is_none() { Bind::Logged } else { Bind::Bound };
            self.attach(w, ws, primary, c, how)?;
        }
        Ok(primary)
    }

    /// Whether contact `id` may take user id `user` (it has none, or the same one).
    fn user_compatible<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        id: ContactId,
        user: Option<&str>,
    ) -> Result<bool, EngineError> {
        let Some(user) = user else { return Ok(true) };
        Ok(self.contact_mut(w, id)?.user_id.as_deref().is_none_or(|u| u == user))
    }

    /// Gives contact `id` the identity claim `c` names, binding it as `how` says.
    fn attach<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        id: ContactId,
        c: &Claim,
        how: Bind,
    ) -> Result<(), EngineError> {
        let took = take_claim(self.contact_mut(w, id)?, c.kind, &c.value, c.force);
        if took.changed {
            // Its row may wait like a fold's: a start's replay gives the profile the identities of the events it
            // replays again ([`Identity::reattach`]).
            self.mark_folded(id);
        }
        if let Some((kind, old)) = took.unbind {
            // The address changed: the old one no longer finds this contact.
            w.remove_identity(ws, kind, &old)?;
            self.identities.remove(&IdentKey::of(ws, kind, &old));
        }
        // An identity already found resolving to this contact is left as stored: rewriting its row on every
        // identify that repeats an address dirtied a random page of `identities` per event (issue 17).
        if how != Bind::Bound && took.bind {
            self.bind(w, ws, c.kind, &c.value, id, how)?;
        }
        Ok(())
    }

    /// A start's replay of a stored event its contact's row did not take (`crate::row_wait`): the identity fields
    /// [`Identity::attach`] gave the profile, for each claim the store binds to this contact or to nobody (a
    /// binding kept for later that a stop lost, bound again). A claim bound to someone else is not this
    /// profile's to take. Bindings are removed at once (an address replaced), so one unbound since is never
    /// bound again by an event before the one that replaced it: that one is replayed after it and unbinds it.
    pub(crate) fn reattach<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        id: ContactId,
        ev: &Event,
    ) -> Result<(), EngineError> {
        for (kind, value, force) in self.replayed_claims(w, ws, ev)? {
            let owner = self.lookup(w, ws, kind, &value)?;
            if owner.is_none() || owner == Some(id) {
                let how = if owner.is_none() { Bind::Logged } else { Bind::Bound };
                self.attach(w, ws, id, &Claim { kind, value, found: owner, force }, how)?;
            }
        }
        Ok(())
    }

    /// The claims of a replayed event as [`Identity::resolve`] weighed them: an alias's previous id as a user id
    /// when one is bound, else as an anonymous id.
    fn replayed_claims<'e, W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        ev: &'e Event,
    ) -> Result<Vec<(IdentityKind, Cow<'e, str>, bool)>, EngineError> {
        let mut claims = claims_of(ev);
        if ev.kind == EventKind::Alias
            && let Some(prev) = &ev.previous_id
        {
            let user = self.lookup(w, ws, IdentityKind::UserId, prev)?.is_some();
            claims.retain(|(kind, _, force)| !force || (*kind == IdentityKind::UserId) == user);
        }
        Ok(claims)
    }

    /// A start's replay of a stored event its contact's row lists (its profile took it): a claim of it bound to
    /// nobody is a binding kept for later that a stop lost, bound again when the profile still holds it (an
    /// address the profile replaced since is not).
    pub(crate) fn rebind<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        ws: WorkspaceId,
        id: ContactId,
        ev: &Event,
    ) -> Result<(), EngineError> {
        for (kind, value, force) in self.replayed_claims(w, ws, ev)? {
            if self.lookup(w, ws, kind, &value)?.is_some() {
                continue;
            }
            let c = self.contact_mut(w, id)?;
            let holds = match kind {
                // An alias's previous user id is kept only when bound (above).
                IdentityKind::UserId => !force && c.user_id.as_deref() == Some(&*value),
                IdentityKind::AnonymousId => true,
                IdentityKind::Email => c.email.as_ref().map(Email::as_str) == Some(&*value),
                IdentityKind::Phone => c.phone.as_ref().map(Phone::as_str) == Some(&*value),
            };
            if holds {
                self.bind(w, ws, kind, &value, id, Bind::Logged)?;
            }
        }
        Ok(())
    }

    /// Folds `loser` into `survivor`: profile, identities (through the merge pointer) and the whole event
    /// history, then recomputes the survivor's aggregates from the combined history.
    fn merge<W: IdentityStore + ?Sized>(
        &mut self,
        w: &mut W,
        loser: ContactId,
        survivor: ContactId,
        now: Timestamp,
    ) -> Result<Merged, EngineError> {
        let lost = self.contact_mut(w, loser)?.clone();
        self.contacts.remove(&loser);
        w.upsert_contact(&lost)?; // the row may not exist yet if created in this transaction
        w.mark_merged(loser, survivor, now)?;
        w.reassign_events(loser, survivor)?;
        self.dirty.retain(|d| *d != loser);
        self.dirty_set.remove(&loser);
        self.through.remove(&loser);
        self.waiting.written(&loser);
        self.redirects.insert(loser, survivor);
        tracing::debug!(contact.loser = loser.0, contact.survivor = survivor.0, "contacts merged");
        let history = w.contact_events_ordered(survivor)?;
        let s = self.contact_mut(w, survivor)?;
        s.absorb(lost);
        s.computed = Computed::recompute(&history);
        s.updated_at = now;
        let ws = s.workspace;
        let since = s.computed.cart_since();
        self.carts.forget(loser);
        self.carts.reset(survivor, &history, since);
        self.mark_dirty(survivor);
        Ok(Merged { ws, loser, survivor, history })
    }
}
