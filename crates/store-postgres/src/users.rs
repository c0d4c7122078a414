//! `users` (PostgreSQL).
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

impl UserReads for PgReader<'_> {
    fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>> {
        Err(not_yet())
    }
}

impl Users for PgStore {
    fn insert_user(
        &self,
        workspace: &str,
        email: &Email,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<User, UserError> {
        Err(not_yet())
    }
    fn update_password(&self, workspace: &str, email: &Email, password_hash: &str) -> Result<User, UserError> {
        Err(not_yet())
    }
    fn password_hashes(&self, email: &Email) -> Result<Vec<(User, String)>, StoreError> {
        Err(not_yet())
    }
    fn insert_session(&self, s: &StoredSession) -> Result<(), StoreError> {
        Err(not_yet())
    }
    fn delete_session_hash(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        Err(not_yet())
    }
}
