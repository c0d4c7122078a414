//! What the committer can be asked to do: a closed set of commands, each carrying the channel of its typed
//! reply. The committer applies a command inside the current transaction and holds its reply ([`Pending`])
//! until the transaction commits; if it does not, the reply becomes `Unavailable` (nothing of it was stored).

use kairos_domain::{Contact, JsonMap, Product, ProductFields, Timestamp, WorkspaceId};
use kairos_flow::FlowDocument;
use kairos_store::{StoredCampaign, StoredFlow};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::dispatch::{Outbound, Report};
use crate::state::State;
use crate::{ContactRef, EngineError, IngestOutcome, Prepared, SegmentCmd, SegmentReply};
use crate::{coupons, links, messages};

/// The channel a command's answer goes back on.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// A command to the committer.
pub(crate) enum Command {
    Ingest {
        ws: WorkspaceId,
        trusted: bool,
        events: Vec<Prepared>,
        reply: Reply<IngestOutcome>,
    },
    /// Platform and import records, each left out whole when it names an erased person (`crate::erasure`).
    IngestRecords {
        ws: WorkspaceId,
        records: Vec<Vec<Prepared>>,
        reply: Reply<crate::Imported>,
    },
    Erase {
        ws: WorkspaceId,
        contact: kairos_domain::ContactId,
        /// Who asked (the audit log's actor).
        actor: String,
        reply: Reply<crate::Erasure>,
    },
    Audit {
        entry: Box<kairos_store::AuditEntry>,
        reply: Reply<()>,
    },
    Products {
        ws: WorkspaceId,
        products: Vec<Product>,
        /// A platform's copy (webhooks): kept only when newer than the stored product (`updated_at`), so an
        /// update delivered late never overwrites a later one.
        newer_only: bool,
        reply: Reply<()>,
    },
    /// Stores (or, with None, removes) a workspace's connection to a store platform, sealed.
    SetIntegration {
        ws: WorkspaceId,
        platform: kairos_domain::vocab::Platform,
        config: Option<String>,
        reply: Reply<()>,
    },
    /// Stores a signup form (its id unique across workspaces).
    /// A contact's topic opt-outs and chosen frequency.
    SetPreferences {
        ws: WorkspaceId,
        who: crate::ContactRef,
        topics_out: Option<Vec<String>>,
        frequency: Option<kairos_domain::vocab::EmailFrequency>,
        reply: Reply<kairos_domain::Contact>,
    },
    /// A double opt-in sign-up: sends its confirmation email.
    RequestConfirmation {
        ws: WorkspaceId,
        email: kairos_domain::Email,
        request: Box<kairos_domain::ConsentRequest>,
        template: Option<String>,
        reply: Reply<crate::messages::ConfirmationRequest>,
    },
    /// A confirmation link came back.
    ConfirmSubscription {
        message: String,
        ip: String,
        reply: Reply<crate::messages::Confirmation>,
    },
    /// Stores (`data`) or removes (None) a site item: a form, a quiz or a landing page.
    SaveSiteItem {
        ws: WorkspaceId,
        kind: kairos_domain::vocab::SiteKind,
        id: String,
        data: Option<String>,
        reply: Reply<bool>,
    },
    /// Assigns (`Some(None)`: unassigns) or closes / reopens a team task of the workspace.
    UpdateTask {
        ws: WorkspaceId,
        id: i64,
        assignee: Option<Option<String>>,
        done: Option<bool>,
        reply: Reply<bool>,
    },
    /// Stores (or, with None, removes) a workspace's sync state (`kairos_store::sync`).
    SyncState {
        ws: WorkspaceId,
        /// (name, value or None to remove), in one transaction.
        entries: Vec<(String, Option<String>)>,
        reply: Reply<()>,
    },
    PatchProduct {
        ws: WorkspaceId,
        id: String,
        patch: Box<ProductFields>,
        reply: Reply<Product>,
    },
    Consent(Box<ConsentChange>, Reply<Contact>),
    Segment {
        ws: WorkspaceId,
        cmd: SegmentCmd,
        reply: Reply<SegmentReply>,
    },
    SaveTemplate {
        ws: WorkspaceId,
        id: String,
        data: Value,
        reply: Reply<i64>,
    },
    CreateFlow {
        ws: WorkspaceId,
        definition: Box<FlowDocument>,
        reply: Reply<StoredFlow>,
    },
    UpdateFlow {
        ws: WorkspaceId,
        id: String,
        definition: Box<FlowDocument>,
        reply: Reply<StoredFlow>,
    },
    /// Installs a library flow as a draft, or (the demo) installs and activates it.
    InstallLibraryFlow {
        ws: WorkspaceId,
        key: String,
        activate: bool,
        reply: Reply<StoredFlow>,
    },
    SetFlowStatus {
        ws: WorkspaceId,
        id: String,
        status: kairos_domain::FlowStatus,
        reply: Reply<StoredFlow>,
    },
    TriggerFlow {
        ws: WorkspaceId,
        flow: String,
        who: ContactRef,
        properties: JsonMap,
        reply: Reply<bool>,
    },
    LinkFollowed {
        link: links::Link,
        user_agent: Option<String>,
        reply: Reply<messages::LinkOutcome>,
    },
    SavePreferences {
        message: String,
        choice: Box<messages::PreferenceChoice>,
        reply: Reply<bool>,
    },
    Bounce(Box<BounceReport>, Reply<messages::Bounced>),
    SmsInbound {
        to: String,
        from: String,
        body: String,
        reply: Reply<Option<kairos_channels::SmsKeyword>>,
    },
    SmsStatus {
        provider_id: String,
        status: String,
        reply: Reply<bool>,
    },
    SetSuppressed {
        ws: WorkspaceId,
        channel: kairos_domain::Channel,
        address: String,
        on: bool,
        reply: Reply<bool>,
    },
    CreateCampaign {
        ws: WorkspaceId,
        definition: Box<crate::campaigns::CampaignDocument>,
        reply: Reply<StoredCampaign>,
    },
    CampaignAction {
        ws: WorkspaceId,
        id: String,
        action: crate::campaign_life::CampaignAction,
        reply: Reply<Option<StoredCampaign>>,
    },
    CampaignAudience {
        ws: WorkspaceId,
        id: String,
        reply: Reply<crate::campaign_life::Audience>,
    },
    ScheduleCampaign {
        ws: WorkspaceId,
        id: String,
        reply: Reply<StoredCampaign>,
    },
    /// Codes a shop created for a backed pool, into its stock.
    StockCoupons {
        ws: WorkspaceId,
        pool: String,
        codes: Vec<String>,
        reply: Reply<usize>,
    },
    /// Codes the shop no longer accepts, out of every stock.
    WithdrawCoupons {
        ws: WorkspaceId,
        codes: Vec<String>,
        reply: Reply<usize>,
    },
    SaveCouponPool {
        ws: WorkspaceId,
        pool: Box<coupons::Pool>,
        reply: Reply<coupons::PoolInfo>,
    },
    /// Gives a contact (created when unknown) a code of a pool: a landing page's coupon block.
    IssueCoupon {
        ws: WorkspaceId,
        pool: String,
        who: ContactRef,
        reply: Reply<Option<coupons::Coupon>>,
    },
    UpdateSettings {
        ws: WorkspaceId,
        patch: Box<crate::settings::SettingsPatch>,
        reply: Reply<crate::settings::SettingsView>,
    },
    /// Connects the dispatcher (once, at start).
    ConnectDispatcher {
        real: crate::dispatch::Real,
        policy: std::sync::Arc<kairos_channels::OutboundPolicy>,
        reply: Reply<crate::dispatch::Connection>,
    },
    /// A bug (tests only): the committer must survive a panic.
    #[cfg(test)]
    Panic {
        reply: Reply<()>,
    },
    /// Holds the committer until `release` (tests only: queries must not wait for it).
    #[cfg(test)]
    Hold {
        started: oneshot::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
        reply: Reply<()>,
    },
    /// A claimed message's transport reached its point of no return: true (once committed) lets it go.
    Handing {
        message_id: String,
        reply: Reply<bool>,
    },
    /// A transport's outcome for a claimed message (no one waits for it).
    Delivered {
        outbound: Box<Outbound>,
        report: Report,
    },
}

/// `POST /api/v1/contacts/consent`.
pub(crate) struct ConsentChange {
    pub ws: WorkspaceId,
    pub who: ContactRef,
    pub channel: kairos_domain::Channel,
    pub status: kairos_domain::ConsentStatus,
    pub source: String,
}

/// A bounce or complaint report.
pub(crate) struct BounceReport {
    pub ws: WorkspaceId,
    pub address: String,
    pub kind: messages::BounceKind,
    pub message: Option<String>,
}

/// A reply computed in the transaction, sent once the transaction's fate is known.
pub(crate) struct Pending(Option<Box<dyn FnOnce(bool) + Send>>);

impl Pending {
    pub(crate) fn new<T: Send + 'static>(reply: Reply<T>, r: Result<T, EngineError>) -> Pending {
        // A requester that went away (client disconnected) is no error: its data is committed anyway.
        Pending(Some(Box::new(move |committed| {
            drop(reply.send(if committed { r } else { Err(EngineError::Unavailable) }))
        })))
    }

    pub(crate) fn none() -> Pending {
        Pending(None)
    }

    /// The transaction committed: the computed answer goes.
    pub(crate) fn send(self) {
        if let Some(f) = self.0 {
            f(true)
        }
    }

    /// The transaction failed: the requester learns that nothing was stored.
    pub(crate) fn fail(self) {
        if let Some(f) = self.0 {
            f(false)
        }
    }
}

/// The pending reply, and whether the failure (a storage error) dooms the whole transaction.
fn done<T: Send + 'static>(reply: Reply<T>, r: Result<T, EngineError>) -> (Pending, bool) {
    let fatal = matches!(r, Err(EngineError::Store(_)));
    (Pending::new(reply, r), fatal)
}

impl Command {
    /// How much of a group this command takes (events and products count one each).
    pub(crate) fn weight(&self) -> usize {
        match self {
            Command::Ingest { events, .. } => events.len().max(1),
            Command::IngestRecords { records, .. } => records.iter().map(Vec::len).sum::<usize>().max(1),
            Command::Products { products, .. } => products.len().max(1),
            _ => 1,
        }
    }

    /// Applies the command to the state inside the current transaction.
    pub(crate) fn apply(self, s: &mut State, now: Timestamp) -> (Pending, bool) {
        match self {
            Command::Ingest { ws, trusted, events, reply } => done(reply, s.ingest(ws, trusted, events, now)),
            Command::IngestRecords { ws, records, reply } => done(reply, s.ingest_records(ws, records, now)),
            Command::Erase { ws, contact, actor, reply } => done(reply, s.erase_contact(ws, contact, &actor, now)),
            Command::Audit { entry, reply } => done(reply, s.audit(*entry)),
            Command::Products { ws, products, newer_only, reply } => {
                let r = s.upsert_products_from(ws, products, newer_only, now);
                let fatal = r.is_err(); // validated before queueing: any error is the store's
                (Pending::new(reply, r), fatal)
            }
            Command::PatchProduct { ws, id, patch, reply } => done(reply, s.patch_product(ws, &id, &patch, now)),
            Command::Consent(c, reply) => {
                let ConsentChange { ws, who, channel, status, source } = *c;
                done(reply, s.set_consent(ws, who, channel, status, &source, now))
            }
            Command::Segment { ws, cmd, reply } => done(reply, segment_cmd(s, ws, cmd, now)),
            Command::SaveTemplate { ws, id, data, reply } => done(reply, s.save_template(ws, &id, &data, now)),
            Command::CreateFlow { ws, definition, reply } => done(reply, s.create_flow(ws, &definition, now)),
            Command::UpdateFlow { ws, id, definition, reply } => done(reply, s.update_flow(ws, &id, &definition, now)),
            Command::InstallLibraryFlow { ws, key, activate, reply } => {
                let r = s.install_library_flow(ws, &key, now).and_then(|f| match activate {
                    true => s.set_flow_status(ws, &f.public_id, kairos_domain::FlowStatus::Active, now),
                    false => Ok(f),
                });
                done(reply, r)
            }
            Command::SetFlowStatus { ws, id, status, reply } => done(reply, s.set_flow_status(ws, &id, status, now)),
            Command::TriggerFlow { ws, flow, who, properties, reply } => {
                done(reply, s.api_trigger(ws, &flow, who, properties, now))
            }
            Command::LinkFollowed { link, user_agent, reply } => {
                done(reply, s.link_followed(link, user_agent.as_deref(), now))
            }
            Command::SavePreferences { message, choice, reply } => {
                done(reply, s.save_preferences(&message, *choice, now))
            }
            Command::Bounce(b, reply) => done(reply, s.bounce(b.ws, &b.address, b.kind, b.message.as_deref(), now)),
            Command::SmsInbound { to, from, body, reply } => done(reply, s.sms_inbound(&to, &from, &body, now)),
            Command::SmsStatus { provider_id, status, reply } => done(reply, s.sms_status(&provider_id, &status, now)),
            Command::SetSuppressed { ws, channel, address, on, reply } => {
                let r = match on {
                    true => s.suppress(ws, channel, &address, "manual", now).map(|()| true),
                    false => s.w.message_tx().unsuppress(ws, channel, &address).map_err(EngineError::from),
                };
                done(reply, r)
            }
            Command::CreateCampaign { ws, definition, reply } => done(reply, s.create_campaign(ws, &definition, now)),
            Command::ScheduleCampaign { ws, id, reply } => done(reply, s.schedule_campaign(ws, &id, now)),
            Command::CampaignAction { ws, id, action, reply } => done(reply, s.campaign_action(ws, &id, action, now)),
            Command::CampaignAudience { ws, id, reply } => done(reply, s.campaign_audience(ws, &id, now)),
            Command::SaveCouponPool { ws, pool, reply } => done(reply, s.save_pool(ws, *pool, now)),
            Command::IssueCoupon { ws, pool, who, reply } => {
                let r = s.resolve_ref(ws, who, now).and_then(|c| s.issue_coupon(ws, &pool, c, now));
                done(reply, r)
            }
            Command::StockCoupons { ws, pool, codes, reply } => done(reply, s.stock_coupons(ws, &pool, codes, now)),
            Command::WithdrawCoupons { ws, codes, reply } => done(reply, s.withdraw_coupons(ws, &codes, now)),
            Command::UpdateSettings { ws, patch, reply } => done(reply, s.update_settings(ws, &patch, now)),
            Command::SyncState { ws, entries, reply } => done(reply, s.set_sync_state(ws, entries, now)),
            Command::SetPreferences { ws, who, topics_out, frequency, reply } => {
                done(reply, s.set_contact_preferences(ws, who, topics_out, frequency, now))
            }
            Command::RequestConfirmation { ws, email, request, template, reply } => {
                done(reply, s.request_confirmation(ws, &email, *request, template, now))
            }
            Command::ConfirmSubscription { message, ip, reply } => {
                done(reply, s.confirm_subscription(&message, &ip, now))
            }
            Command::SaveSiteItem { ws, kind, id, data, reply } => {
                let tx = s.w.site_tx();
                let saved = match data {
                    Some(data) => tx.save_site_item(ws, kind, &id, &data, now),
                    None => tx.delete_site_item(ws, kind, &id),
                };
                done(reply, saved.map_err(EngineError::from))
            }
            Command::UpdateTask { ws, id, assignee, done: close, reply } => {
                let changed = s.w.flow_tx().update_task(ws, id, assignee.as_ref().map(Option::as_deref), close, now);
                done(reply, changed.map_err(EngineError::from))
            }
            Command::SetIntegration { ws, platform, config, reply } => {
                done(reply, s.set_integration(ws, platform, config.as_deref(), now))
            }
            Command::ConnectDispatcher { real, policy, reply } => {
                done(reply, Ok(crate::dispatch::connect(&mut s.dispatch, real, policy)))
            }
            #[cfg(test)]
            Command::Hold { started, release, reply } => {
                let _ = started.send(());
                let _ = release.recv();
                done(reply, Ok(()))
            }
            #[cfg(test)]
            Command::Panic { reply } => {
                drop(reply);
                panic!("a bug")
            }
            Command::Handing { message_id, reply } => done(reply, s.mark_handed(&message_id, now)),
            Command::Delivered { outbound, report } => {
                let r = s.record_delivery(*outbound, report, now);
                let fatal = matches!(r, Err(EngineError::Store(_)));
                if let Err(e) = &r
                    && !fatal
                {
                    tracing::warn!(error = %e, "a delivery outcome could not be recorded");
                }
                (Pending::none(), fatal)
            }
        }
    }
}

fn segment_cmd(s: &mut State, ws: WorkspaceId, cmd: SegmentCmd, now: Timestamp) -> Result<SegmentReply, EngineError> {
    Ok(match cmd {
        SegmentCmd::Create { name, expr } => SegmentReply::Info(s.create_segment(ws, name, expr, now)?),
        SegmentCmd::Update { id, name, expr } => SegmentReply::Info(s.update_segment(ws, &id, name, expr, now)?),
        SegmentCmd::Delete { id } => {
            s.delete_segment(ws, &id)?;
            SegmentReply::Deleted
        }
        // Answered on read views (`Engine::segment`), never here.
        SegmentCmd::Get { .. } | SegmentCmd::List | SegmentCmd::Preview { .. } => {
            return Err(EngineError::Invalid { message: "segments are read from a read view".into(), field: None });
        }
    })
}
