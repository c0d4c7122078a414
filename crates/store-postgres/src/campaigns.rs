//! `campaigns` (PostgreSQL).
#![allow(unused_variables)] // stubs (not implemented yet) until this aggregate is ported

#[allow(unused_imports)]
use kairos_domain::{
    Channel, Contact, ContactId, Email, Event, MessageStatus, Product, SystemEvent, Timestamp, WorkspaceId,
};
#[allow(unused_imports)]
use kairos_store::prelude::*;
#[allow(unused_imports)]
use kairos_store::reports::{Cohort, ConsentChange, MessageEventRow, MessageRow, OrderRow};
#[allow(unused_imports)]
use kairos_store::users::{Session, StoredSession, User, UserError};
#[allow(unused_imports)]
use kairos_store::*;

#[allow(unused_imports)]
use crate::{PgReader, PgStore, PgWriter, not_yet};

impl CampaignReads for PgReader<'_> {
    fn campaigns(&self, ws: WorkspaceId) -> Result<Vec<StoredCampaign>> {
        Err(not_yet())
    }
    fn campaign(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        Err(not_yet())
    }
    fn campaign_message_counts(&self, public_id: &str) -> Result<Vec<(MessageStatus, u64)>> {
        Err(not_yet())
    }
    fn recipient_counts(&self, campaign: i64) -> Result<(u64, u64, u64)> {
        Err(not_yet())
    }
    fn variant_results(&self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        Err(not_yet())
    }
    fn campaign_revenue(&self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        Err(not_yet())
    }
}

impl CampaignWrites for PgWriter {
    fn save_campaign(&mut self, c: &StoredCampaign) -> Result<i64> {
        Err(not_yet())
    }
    fn campaign_by_id(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredCampaign>> {
        Err(not_yet())
    }
    fn running_campaigns(&mut self) -> Result<Vec<StoredCampaign>> {
        Err(not_yet())
    }
    fn insert_recipients(&mut self, campaign: i64, list: &[Recipient]) -> Result<()> {
        Err(not_yet())
    }
    fn due_recipients(&mut self, campaign: i64, now: Timestamp, limit: usize) -> Result<Vec<Recipient>> {
        Err(not_yet())
    }
    fn recipient_done(&mut self, campaign: i64, contact: ContactId) -> Result<()> {
        Err(not_yet())
    }
    fn assign_winner(&mut self, campaign: i64, variant: i64, due: Timestamp) -> Result<u64> {
        Err(not_yet())
    }
    fn recipient_counts(&mut self, campaign: i64) -> Result<(u64, u64, u64)> {
        Err(not_yet())
    }
    fn variant_results(&mut self, campaign_public_id: &str) -> Result<Vec<VariantResult>> {
        Err(not_yet())
    }
    fn campaign_revenue(&mut self, campaign_public_id: &str) -> Result<Vec<(i64, f64)>> {
        Err(not_yet())
    }
}
