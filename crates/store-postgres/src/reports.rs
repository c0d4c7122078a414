//! `reports` (PostgreSQL).
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

impl ReportReads for PgReader<'_> {
    fn order_rows(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<OrderRow>> {
        Err(not_yet())
    }
    fn message_event_rows(
        &self,
        ws: WorkspaceId,
        event: SystemEvent,
        from: Timestamp,
        to: Timestamp,
        sms_only: bool,
    ) -> Result<Vec<MessageEventRow>> {
        Err(not_yet())
    }
    fn event_times(
        &self,
        ws: WorkspaceId,
        name: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(ContactId, Timestamp)>> {
        Err(not_yet())
    }
    fn active_contacts(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ContactId>> {
        Err(not_yet())
    }
    fn consent_changes(&self, ws: WorkspaceId, from: Timestamp, to: Timestamp) -> Result<Vec<ConsentChange>> {
        Err(not_yet())
    }
    fn first_orders(&self, contacts: &[ContactId]) -> Result<Vec<(ContactId, Option<Timestamp>)>> {
        Err(not_yet())
    }
    fn message_rows(
        &self,
        ws: WorkspaceId,
        from: Timestamp,
        to: Timestamp,
        cohort: &Cohort,
    ) -> Result<Vec<MessageRow>> {
        Err(not_yet())
    }
}
