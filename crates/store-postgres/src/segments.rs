//! `segments` (PostgreSQL).
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

impl SegmentReads for PgReader<'_> {
    fn segments(&self, ws: WorkspaceId) -> Result<Vec<(StoredSegment, u64)>> {
        Err(not_yet())
    }
    fn segment(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<(StoredSegment, u64)>> {
        Err(not_yet())
    }
    fn segment_row(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<i64>> {
        Err(not_yet())
    }
    fn segment_member_page(&self, row: i64, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        Err(not_yet())
    }
    fn segment_sizes(&self, row: i64, since: Timestamp) -> Result<Vec<(Timestamp, u64)>> {
        Err(not_yet())
    }
}

impl SegmentWrites for PgWriter {
    fn segments(&mut self) -> Result<Vec<StoredSegment>> {
        Err(not_yet())
    }
    fn save_segment(&mut self, s: &StoredSegment) -> Result<i64> {
        Err(not_yet())
    }
    fn delete_segment(&mut self, row: i64) -> Result<()> {
        Err(not_yet())
    }
    fn segment_members(&mut self, row: i64, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        Err(not_yet())
    }
    fn set_member(&mut self, row: i64, contact: ContactId, member: bool, at: Timestamp) -> Result<()> {
        Err(not_yet())
    }
    fn record_size(&mut self, row: i64, bucket: Timestamp, size: u64) -> Result<()> {
        Err(not_yet())
    }
}
