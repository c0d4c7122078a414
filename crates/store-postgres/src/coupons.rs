//! `coupons` (PostgreSQL).
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

impl CouponReads for PgReader<'_> {
    fn coupon_code(&self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        Err(not_yet())
    }
    fn pool_issued(&self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        Err(not_yet())
    }
    fn coupon_pools(&self, ws: WorkspaceId) -> Result<Vec<(String, String)>> {
        Err(not_yet())
    }
}

impl CouponWrites for PgWriter {
    fn save_pool(&mut self, ws: WorkspaceId, id: &str, data: &str, at: Timestamp) -> Result<()> {
        Err(not_yet())
    }
    fn pools(&mut self, f: &mut dyn FnMut(WorkspaceId, String, String)) -> Result<()> {
        Err(not_yet())
    }
    fn issue_code(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        code: &str,
        contact: ContactId,
        at: Timestamp,
    ) -> Result<bool> {
        Err(not_yet())
    }
    fn issued_code(&mut self, ws: WorkspaceId, pool: &str, contact: ContactId) -> Result<Option<(String, Timestamp)>> {
        Err(not_yet())
    }
    fn code_used(&mut self, ws: WorkspaceId, code: &str) -> Result<bool> {
        Err(not_yet())
    }
    fn pool_issued(&mut self, ws: WorkspaceId, pool: &str) -> Result<u64> {
        Err(not_yet())
    }
    fn coupon_code(&mut self, ws: WorkspaceId, code: &str, contact: Option<ContactId>) -> Result<Option<IssuedCode>> {
        Err(not_yet())
    }
    fn redeem_code(
        &mut self,
        ws: WorkspaceId,
        code: &str,
        contact: ContactId,
        order: &str,
        at: Timestamp,
    ) -> Result<bool> {
        Err(not_yet())
    }
}
