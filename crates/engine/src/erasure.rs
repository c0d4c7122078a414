//! Erasure (SPEC 16 "Data rights") and the guard that keeps an erased person from coming back through a
//! platform webhook, a backfill or a CSV import.
//!
//! Erasing a contact, in one committer transaction: its runs end (`erased`), its waiting and queued messages
//! are skipped, its profile keeps only the computed aggregates and loses every identity, its events, messages,
//! run triggers and tasks are rewritten without personal data, its addresses leave the suppression list, and a
//! keyed hash (HMAC-SHA256 under a sealed key of the store) of each identity it had is remembered. Records from
//! platforms and imports naming one of those hashes are left out unless they carry consent given after the
//! erasure, which also forgets the hash. Messages already in a transport conversation finish; the erasure's
//! answer waits until they are settled (the consent it withdraws is what `crate::handoff` watches).

use hmac::{Hmac, Mac};
use kairos_domain::{
    Channel, ConsentStatus, ContactId, Email, Event, MessageData, Phone, RunEnd, SkipReason, Timestamp, WorkspaceId,
};
use kairos_store::erasure::{AuditEntry, PersonalRows};
use kairos_store::secrets::names;
use kairos_store::{IdentityKind, StoreError};
use sha2::Sha256;

use crate::command::Command;
use crate::state::State;
use crate::{ContactRef, Engine, EngineError, Erasure, Imported, Prepared};

/// Bytes of the key erased identities are hashed with.
const ERASURE_KEY_BYTES: usize = 32;
/// Most identities one erasure remembers hashes of (a contact with more anonymous ids than this keeps the
/// first ones: the email, phone and user id come first).
const ERASED_IDENTITIES_MAX: usize = 1_000;
/// The text an erased team task keeps.
const ERASED_TASK_TEXT: &str = "(erased person)";

/// What to do with an imported record.
enum Verdict {
    Keep,
    /// It names an erased person and carries no newer consent.
    Erased,
    /// It names an erased person who consented again since: kept, and these hashes forgotten.
    Consented(Vec<Vec<u8>>),
}

fn key_error(e: kairos_store::SecretError) -> EngineError {
    EngineError::Store(StoreError::from(e))
}

/// The keyed hash of an identity in a workspace.
fn identity_hash(key: &[u8], ws: WorkspaceId, kind: IdentityKind, value: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&ws.0.to_le_bytes());
    mac.update(&kind.code().to_le_bytes());
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The identities an event claims, normalised as the identity table stores them.
fn claimed_identities(e: &Event) -> Vec<(IdentityKind, String)> {
    let mut out = Vec::new();
    let traits = e.identify_traits();
    let text = |k: &str| traits.get(k).and_then(serde_json::Value::as_str);
    if let Some(email) = text("email").and_then(Email::parse) {
        out.push((IdentityKind::Email, email.as_str().to_string()));
    }
    if let Some(phone) = text("phone").and_then(Phone::parse) {
        out.push((IdentityKind::Phone, phone.as_str().to_string()));
    }
    if let Some(u) = e.user_id.as_deref().filter(|u| !u.is_empty()) {
        out.push((IdentityKind::UserId, u.to_string()));
    }
    if let Some(a) = e.anonymous_id.as_deref().filter(|a| !a.is_empty()) {
        out.push((IdentityKind::AnonymousId, a.to_string()));
    }
    out
}

fn erase_event_text(text: &str) -> String {
    match serde_json::from_str::<Event>(text) {
        Ok(e) => serde_json::to_string(&e.erased()).unwrap_or_else(|_| "{}".into()),
        Err(_) => "{}".into(), // unreadable rows are skipped by every reader; nothing of it is kept
    }
}

fn erase_message_text(text: &str) -> String {
    MessageData::parse(text).map(|d| d.erased().to_json()).unwrap_or_else(|| "{}".into())
}

impl State {
    /// The erasure key: created at the first erasure; None while nothing was ever erased.
    fn erasure_key(&mut self, create: bool, now: Timestamp) -> Result<Option<Vec<u8>>, EngineError> {
        // Read once per committer state: every platform webhook and import batch asks, and only this
        // committer's erasure creates the key (a rolled-back one rebuilds the state, cache included).
        match &self.erasure_key {
            Some(Some(k)) => return Ok(Some(k.clone())),
            Some(None) if !create => return Ok(None),
            _ => {}
        }
        let key = if create {
            let generate = || {
                use rand::RngExt as _;
                let k: [u8; ERASURE_KEY_BYTES] = rand::rng().random();
                k.to_vec()
            };
            Some(self.secrets.get_or_insert_with(self.w.secret_tx(), names::ERASURE_KEY, now, generate))
                .transpose()
                .map_err(key_error)?
        } else {
            self.secrets.get(self.w.secret_tx(), names::ERASURE_KEY).map_err(key_error)?
        };
        self.erasure_key = Some(key.clone());
        Ok(key)
    }

    /// Erases a contact of the workspace (see the module's documentation).
    pub(crate) fn erase_contact(
        &mut self,
        ws: WorkspaceId,
        id: ContactId,
        actor: &str,
        now: Timestamp,
    ) -> Result<Erasure, EngineError> {
        let id = self.resolve_existing(ws, ContactRef::Id(id))?;
        let mut people = vec![id];
        people.extend(self.w.erasure_tx().merged_into(id)?);
        let flow_runs = self.end_runs_of(&people, now)?;
        self.skip_messages_of(&people, now)?;
        let c = self.contact_mut(id)?;
        let addresses: Vec<(Channel, String)> = [
            c.email.as_ref().map(|e| (Channel::Email, e.as_str().to_string())),
            c.phone.as_ref().map(|p| (Channel::Sms, p.as_str().to_string())),
        ]
        .into_iter()
        .flatten()
        .collect();
        c.erase(now);
        self.mark_dirty(id);
        self.evaluate_contact(ws, id, now)?;
        let mut identities = self.w.erasure_tx().remove_identities_of(ws, &people)?;
        self.identity.forget_identities_of(&people);
        for (channel, address) in &addresses {
            self.w.message_tx().unsuppress(ws, *channel, address)?;
            let kind = if *channel == Channel::Email { IdentityKind::Email } else { IdentityKind::Phone };
            identities.push((kind, address.clone()));
        }
        // Addresses first: they are what an import or a backfill names.
        identities.sort_by_key(|(k, _)| match k {
            IdentityKind::Email => 0,
            IdentityKind::Phone => 1,
            IdentityKind::UserId => 2,
            IdentityKind::AnonymousId => 3,
        });
        identities.dedup();
        let key = self.erasure_key(true, now)?.expect("created when missing");
        for (kind, value) in identities.iter().take(ERASED_IDENTITIES_MAX) {
            self.w.erasure_tx().record_erasure(ws, &identity_hash(&key, ws, *kind, value), now)?;
        }
        let w = self.w.erasure_tx();
        let events = w.rewrite_personal(PersonalRows::Events, &people, &mut erase_event_text)?;
        let messages = w.rewrite_personal(PersonalRows::Messages, &people, &mut erase_message_text)?;
        w.rewrite_personal(PersonalRows::RunTriggers, &people, &mut |_| "{}".into())?;
        w.rewrite_personal(PersonalRows::Tasks, &people, &mut |_| ERASED_TASK_TEXT.into())?;
        self.audit(AuditEntry {
            workspace: ws,
            at: now,
            actor: actor.to_string(),
            action: "contact.erase".into(),
            subject: format!("contact:{}", id.0),
            detail: format!("Erased: {events} events and {messages} messages rewritten, {flow_runs} flow runs ended"),
        })?;
        tracing::info!(workspace = ws.0, contact = id.0, events, messages, "contact erased");
        Ok(Erasure { contact: id, events, messages, flow_runs })
    }

    /// Ends the active runs of `people` (reason `erased`); answers how many.
    fn end_runs_of(&mut self, people: &[ContactId], now: Timestamp) -> Result<u64, EngineError> {
        let mut n = 0;
        for p in people {
            n += self.end_contact_runs(*p, RunEnd::Erased, now)?;
        }
        Ok(n)
    }

    /// Skips the messages of `people` waiting for their time or for a transport.
    fn skip_messages_of(&mut self, people: &[ContactId], now: Timestamp) -> Result<(), EngineError> {
        let waiting: Vec<String> = self
            .flows
            .pending
            .iter()
            .filter(|(_, (_, p))| people.contains(&p.contact))
            .map(|(id, _)| id.clone())
            .collect();
        for id in waiting {
            self.flows.pending.remove(&id);
            self.skip_waiting(&id, now)?;
        }
        for o in self.dispatch.pending.take_where(|o| people.contains(&o.contact)) {
            self.skip_at_handoff(&o.message_id, SkipReason::NoContact.as_str(), now)?;
        }
        Ok(())
    }

    /// A deferred message (waiting for its time) recorded as skipped: its contact was erased.
    fn skip_waiting(&mut self, id: &str, now: Timestamp) -> Result<(), EngineError> {
        let Some(m) = self.w.message_tx().message(id)? else { return Ok(()) };
        let mut data = crate::dispatch::message_data(&m);
        let reason = SkipReason::NoContact.as_str();
        data.pending = None;
        data.deliver_at = None;
        data.reason = Some(reason.into());
        data.push_history(kairos_domain::MessageStatus::Skipped, now, Some(reason));
        self.w.message_tx().update_message(id, kairos_domain::MessageStatus::Skipped, &data.to_json())?;
        Ok(())
    }

    pub(crate) fn audit(&mut self, entry: AuditEntry) -> Result<(), EngineError> {
        self.w.erasure_tx().record_audit(&entry)?;
        Ok(())
    }

    /// Whether a record names an erased person, and whether they consented again since.
    fn verdict(&mut self, ws: WorkspaceId, key: &[u8], record: &[Prepared]) -> Result<Verdict, EngineError> {
        let mut erased: Vec<(Vec<u8>, Timestamp)> = Vec::new();
        for p in record {
            for (kind, value) in claimed_identities(&p.event) {
                let hash = identity_hash(key, ws, kind, &value);
                if erased.iter().any(|(h, _)| *h == hash) {
                    continue;
                }
                if let Some(at) = self.w.erasure_tx().erasure_time(ws, &hash)? {
                    erased.push((hash, at));
                }
            }
        }
        let Some(latest) = erased.iter().map(|(_, at)| *at).max() else { return Ok(Verdict::Keep) };
        // Only a consent that says when it was given counts: a row or a record without that time (an old
        // export imported today) is dated by its arrival, which says nothing about the person's choice.
        let consented = record.iter().any(|p| {
            p.event.consent_claims().iter().any(|(channel, status, at)| {
                *status == ConsentStatus::Subscribed
                    && *at > latest
                    && p.event.traits.contains_key(&format!("{channel}_consent_at"))
            })
        });
        Ok(if consented { Verdict::Consented(erased.into_iter().map(|(h, _)| h).collect()) } else { Verdict::Erased })
    }

    /// Ingests records from a platform or an import (trusted), leaving out those that name an erased person.
    pub(crate) fn ingest_records(
        &mut self,
        ws: WorkspaceId,
        records: Vec<Vec<Prepared>>,
        now: Timestamp,
    ) -> Result<Imported, EngineError> {
        let key = self.erasure_key(false, now)?;
        let mut out = Imported::default();
        for (i, record) in records.into_iter().enumerate() {
            if let Some(key) = &key {
                match self.verdict(ws, key, &record)? {
                    Verdict::Keep => {}
                    Verdict::Erased => {
                        out.erased += 1;
                        out.erased_records.push(i);
                        continue;
                    }
                    Verdict::Consented(hashes) => {
                        for h in hashes {
                            self.w.erasure_tx().forget_erasure(ws, &h)?;
                        }
                    }
                }
            }
            let o = self.ingest(ws, true, record, now)?;
            out.stored += o.stored;
            out.duplicates += o.duplicates;
        }
        Ok(out)
    }
}

impl Engine {
    /// Ingests records from a store platform or an import, trusted like a secret key (they may set consent). A
    /// record is the events about one person from one source row (a webhook, a backfilled order, a CSV line);
    /// a record naming an erased email, phone, user id or anonymous id is left out whole unless it carries
    /// consent given after the erasure.
    pub async fn ingest_records(&self, ws: WorkspaceId, records: Vec<Vec<Event>>) -> Result<Imported, EngineError> {
        let records: Vec<Vec<Prepared>> = records.into_iter().map(crate::prepare).collect();
        self.command(|reply| Command::IngestRecords { ws, records, reply }).await
    }

    /// [`Engine::ingest_records`] for callers outside an async runtime (the `kairos import` commands).
    pub fn ingest_records_blocking(&self, ws: WorkspaceId, records: Vec<Vec<Event>>) -> Result<Imported, EngineError> {
        let records: Vec<Vec<Prepared>> = records.into_iter().map(crate::prepare).collect();
        self.command_blocking(|reply| Command::IngestRecords { ws, records, reply })
    }

    /// Erases a contact (SPEC 16 "Data rights"); `actor` says who asked, for the audit log.
    pub async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        actor: String,
    ) -> Result<Erasure, EngineError> {
        self.command(|reply| Command::Erase { ws, contact, actor, reply }).await
    }

    /// Adds a line to the audit log.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), EngineError> {
        self.command(|reply| Command::Audit { entry: Box::new(entry), reply }).await
    }

    /// The workspace's audit log, newest first.
    pub async fn audit_log(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<AuditEntry>, EngineError> {
        self.query(move |_, r, _| Ok(r.audit_log(ws, limit)?)).await
    }
}
