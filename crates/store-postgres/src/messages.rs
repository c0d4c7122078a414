//! `messages` (PostgreSQL).
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

impl MessageReads for PgReader<'_> {
    fn messages(
        &self,
        ws: WorkspaceId,
        filter: &MessageFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredMessage>> {
        Err(not_yet())
    }
    fn message(&self, id: &str) -> Result<Option<StoredMessage>> {
        Err(not_yet())
    }
    fn message_of(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredMessage>> {
        Err(not_yet())
    }
    fn suppressions(&self, ws: WorkspaceId, limit: usize) -> Result<Vec<Suppression>> {
        Err(not_yet())
    }
}

impl MessageWrites for PgWriter {
    fn insert_message(&mut self, m: &StoredMessage) -> Result<bool> {
        Err(not_yet())
    }
    fn update_message(&mut self, id: &str, status: MessageStatus, data: &str) -> Result<()> {
        Err(not_yet())
    }
    fn count_reaction(&mut self, id: &str, reaction: Reaction) -> Result<()> {
        Err(not_yet())
    }
    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>> {
        Err(not_yet())
    }
    fn set_provider_id(&mut self, provider_id: &str, message: &str) -> Result<()> {
        Err(not_yet())
    }
    fn message_by_provider_id(&mut self, provider_id: &str) -> Result<Option<String>> {
        Err(not_yet())
    }
    fn pending_and_recent_messages(&mut self, since: Timestamp, f: &mut dyn FnMut(StoredMessage)) -> Result<()> {
        Err(not_yet())
    }
    fn suppress(
        &mut self,
        ws: WorkspaceId,
        channel: Channel,
        address: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<()> {
        Err(not_yet())
    }
    fn unsuppress(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn is_suppressed(&mut self, ws: WorkspaceId, channel: Channel, address: &str) -> Result<bool> {
        Err(not_yet())
    }
}
