//! `secrets` (PostgreSQL).
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

impl SecretReads for PgReader<'_> {
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Err(not_yet())
    }
    fn secret_names(&self) -> Result<Vec<String>> {
        Err(not_yet())
    }
}

impl SecretWrites for PgWriter {
    fn secret(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        Err(not_yet())
    }
    fn insert_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<Vec<u8>> {
        Err(not_yet())
    }
    fn put_secret(&mut self, name: &str, sealed: &[u8], at: Timestamp) -> Result<()> {
        Err(not_yet())
    }
    fn delete_secret(&mut self, name: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn secret_names(&mut self) -> Result<Vec<String>> {
        Err(not_yet())
    }
}
