//! `products` (PostgreSQL).
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

impl ProductReads for PgReader<'_> {
    fn product(&self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        Err(not_yet())
    }
    fn products(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Product>> {
        Err(not_yet())
    }
}

impl ProductWrites for PgWriter {
    fn load_product(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<Product>> {
        Err(not_yet())
    }
    fn upsert_product(&mut self, ws: WorkspaceId, product: &Product) -> Result<()> {
        Err(not_yet())
    }
    fn product_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        Err(not_yet())
    }
}
