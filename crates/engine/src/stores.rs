//! The committer's write transaction, handed to each subsystem as the one storage trait it owns (segments see
//! `SegmentWrites`, campaigns `CampaignWrites`, ...), never as the whole writer. Only `state.rs` (the event log,
//! identity and the group commit) takes the whole writer ([`Stores::writer`]); `crates/kairos/tests/layers.rs`
//! checks that in CI.

use kairos_store::Writer;
use kairos_store::write::{
    CampaignWrites, CouponWrites, EventWrites, FlowWrites, MessageWrites, ProductWrites, SecretWrites, SegmentWrites,
    SettingsWrites, TemplateWrites,
};

pub struct Stores(Box<dyn Writer>);

impl Stores {
    pub(crate) fn new(w: Box<dyn Writer>) -> Stores {
        Stores(w)
    }

    /// The whole writer: the group commit, the event log and identity (`state.rs` only).
    pub(crate) fn writer(&mut self) -> &mut dyn Writer {
        &mut *self.0
    }

    pub(crate) fn into_writer(self) -> Box<dyn Writer> {
        self.0
    }

    pub(crate) fn event_tx(&mut self) -> &mut dyn EventWrites {
        &mut *self.0
    }
    pub(crate) fn segment_tx(&mut self) -> &mut dyn SegmentWrites {
        &mut *self.0
    }
    pub(crate) fn template_tx(&mut self) -> &mut dyn TemplateWrites {
        &mut *self.0
    }
    pub(crate) fn flow_tx(&mut self) -> &mut dyn FlowWrites {
        &mut *self.0
    }
    pub(crate) fn message_tx(&mut self) -> &mut dyn MessageWrites {
        &mut *self.0
    }
    pub(crate) fn campaign_tx(&mut self) -> &mut dyn CampaignWrites {
        &mut *self.0
    }
    pub(crate) fn coupon_tx(&mut self) -> &mut dyn CouponWrites {
        &mut *self.0
    }
    pub(crate) fn settings_tx(&mut self) -> &mut dyn SettingsWrites {
        &mut *self.0
    }
    pub(crate) fn secret_tx(&mut self) -> &mut dyn SecretWrites {
        &mut *self.0
    }
    pub(crate) fn product_tx(&mut self) -> &mut dyn ProductWrites {
        &mut *self.0
    }
    pub(crate) fn erasure_tx(&mut self) -> &mut dyn kairos_store::erasure::ErasureWrites {
        &mut *self.0
    }
    pub(crate) fn sync_tx(&mut self) -> &mut dyn kairos_store::sync::SyncWrites {
        &mut *self.0
    }
    pub(crate) fn site_tx(&mut self) -> &mut dyn kairos_store::forms::SiteWrites {
        &mut *self.0
    }
}
