//! `templates` (PostgreSQL).
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

impl TemplateReads for PgReader<'_> {
    fn template(&self, ws: WorkspaceId, id: &str) -> Result<Option<StoredTemplate>> {
        Err(not_yet())
    }
    fn templates(&self, ws: WorkspaceId) -> Result<Vec<StoredTemplate>> {
        Err(not_yet())
    }
    fn template_data(&self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        Err(not_yet())
    }
    fn templates_of_channel(&self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        Err(not_yet())
    }
}

impl TemplateWrites for PgWriter {
    fn save_template(&mut self, ws: WorkspaceId, id: &str, channel: &str, data: &str, at: Timestamp) -> Result<i64> {
        Err(not_yet())
    }
    fn template_exists(&mut self, ws: WorkspaceId, id: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn template_data(&mut self, ws: WorkspaceId, id: &str) -> Result<Option<(i64, String)>> {
        Err(not_yet())
    }
    fn templates_of_channel(&mut self, ws: WorkspaceId, channel: &str) -> Result<Vec<(String, String)>> {
        Err(not_yet())
    }
}
