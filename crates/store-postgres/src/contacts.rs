//! `contacts` (PostgreSQL).
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

impl ContactReads for PgReader<'_> {
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        Err(not_yet())
    }
    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        Err(not_yet())
    }
    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>> {
        Err(not_yet())
    }
    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>> {
        Err(not_yet())
    }
}

impl ContactWrites for PgWriter {
    fn max_contact_id(&mut self) -> Result<i64> {
        Err(not_yet())
    }
    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>> {
        Err(not_yet())
    }
    fn upsert_contact(&mut self, contact: &Contact) -> Result<()> {
        Err(not_yet())
    }
    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()> {
        Err(not_yet())
    }
    fn all_contacts(&mut self, f: &mut dyn FnMut(Contact)) -> Result<()> {
        Err(not_yet())
    }
    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()> {
        Err(not_yet())
    }
    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>> {
        Err(not_yet())
    }
    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()> {
        Err(not_yet())
    }
    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()> {
        Err(not_yet())
    }
}
