//! `events` (PostgreSQL).
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

impl EventReads for PgReader<'_> {
    fn contact_events(&self, contact: ContactId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        Err(not_yet())
    }
    fn workspace_events(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<StoredEvent>> {
        Err(not_yet())
    }
    fn events_since(&self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        Err(not_yet())
    }
    fn events_named(&self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        Err(not_yet())
    }
    fn has_event_named(&self, ws: WorkspaceId, name: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn last_event_seq(&self) -> Result<i64> {
        Err(not_yet())
    }
    fn events_by_time(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StoredEvent>> {
        Err(not_yet())
    }
    fn newest_events_cursor(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        until_seq: i64,
        n: usize,
    ) -> Result<Option<String>> {
        Err(not_yet())
    }
}

impl EventWrites for PgWriter {
    fn max_event_seq(&mut self) -> Result<i64> {
        Err(not_yet())
    }
    fn recent_message_ids(&mut self, since: Timestamp, f: &mut dyn FnMut(WorkspaceId, &str, Timestamp)) -> Result<()> {
        Err(not_yet())
    }
    fn insert_event(&mut self, ws: WorkspaceId, contact: ContactId, seq: i64, event: &Event, data: &str) -> Result<()> {
        Err(not_yet())
    }
    fn contact_events_ordered(&mut self, contact: ContactId) -> Result<Vec<Event>> {
        Err(not_yet())
    }
    fn reassign_events(&mut self, from: ContactId, to: ContactId) -> Result<()> {
        Err(not_yet())
    }
    fn events_named(&mut self, ws: WorkspaceId, name: &str, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        Err(not_yet())
    }
    fn events_since(&mut self, ws: WorkspaceId, since: Timestamp, f: &mut dyn FnMut(ContactId, &str)) -> Result<()> {
        Err(not_yet())
    }
    fn has_event_named(&mut self, ws: WorkspaceId, name: &str) -> Result<bool> {
        Err(not_yet())
    }
}
