//! `flows` (PostgreSQL).
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

impl FlowReads for PgReader<'_> {
    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>> {
        Err(not_yet())
    }
    fn flow(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        Err(not_yet())
    }
    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats> {
        Err(not_yet())
    }
    fn tasks(&self, ws: WorkspaceId, status: Option<&str>) -> Result<Vec<Task>> {
        Err(not_yet())
    }
}

impl FlowWrites for PgWriter {
    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64> {
        Err(not_yet())
    }
    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        Err(not_yet())
    }
    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>> {
        Err(not_yet())
    }
    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>> {
        Err(not_yet())
    }
    fn active_flows(&mut self) -> Result<Vec<StoredFlow>> {
        Err(not_yet())
    }
    fn save_run(&mut self, r: &StoredRun) -> Result<i64> {
        Err(not_yet())
    }
    fn active_runs(&mut self, f: &mut dyn FnMut(StoredRun)) -> Result<()> {
        Err(not_yet())
    }
    fn last_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<Option<Timestamp>> {
        Err(not_yet())
    }
    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()> {
        Err(not_yet())
    }
    fn insert_task(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        flow_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<()> {
        Err(not_yet())
    }
}
