//! Mapping result rows to the stored types, and the SELECT lists they expect.

use kairos_domain::{
    CampaignStatus, Channel, ContactId, FlowStatus, MessageStatus, RunEnd, RunStatus, Timestamp, WorkspaceId,
};
use kairos_store::{StoredCampaign, StoredFlow, StoredMessage, StoredRun, StoredSegment, StoredTemplate};
use rusqlite::Row;

pub(crate) use kairos_store::codec::EventRow;

pub(crate) fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// Column `i` read as one of the domain's closed values (a status, a channel): stored as its wire name.
pub(crate) fn wire<T>(r: &Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("unknown value {s:?}").into())
    })
}

pub(crate) use kairos_store::codec::readable_event;

pub(crate) const SEGMENT_COLUMNS: &str = "id, public_id, workspace_id, name, definition, created_at, updated_at";

pub(crate) fn segment_row(r: &Row<'_>) -> rusqlite::Result<StoredSegment> {
    Ok(StoredSegment {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        definition: r.get(4)?,
        created_at: Timestamp::from_micros(r.get(5)?),
        updated_at: Timestamp::from_micros(r.get(6)?),
    })
}

pub(crate) fn template_row(r: &Row<'_>) -> rusqlite::Result<StoredTemplate> {
    Ok(StoredTemplate {
        id: r.get(0)?,
        version: r.get(1)?,
        data: r.get(2)?,
        created_at: Timestamp::from_micros(r.get(3)?),
        updated_at: Timestamp::from_micros(r.get(4)?),
    })
}

pub(crate) const CAMPAIGN_SELECT: &str =
    "SELECT id, public_id, workspace_id, name, status, definition, state, created_at, updated_at FROM campaigns";

pub(crate) fn campaign_row(r: &Row<'_>) -> rusqlite::Result<StoredCampaign> {
    Ok(StoredCampaign {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        status: wire(r, 4, CampaignStatus::parse)?,
        definition: r.get(5)?,
        state: r.get(6)?,
        created_at: Timestamp::from_micros(r.get(7)?),
        updated_at: Timestamp::from_micros(r.get(8)?),
    })
}

/// Columns 0..=12 of a messages row, as [`message_row`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, \
     status, data, created_at, variant, subject_variant";

pub(crate) fn message_row(r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: r.get(0)?,
        workspace: WorkspaceId(r.get(1)?),
        contact: ContactId(r.get(2)?),
        channel: wire(r, 3, Channel::parse)?,
        to: r.get(4)?,
        flow_id: r.get(5)?,
        campaign_id: r.get(6)?,
        step_id: r.get(7)?,
        status: wire(r, 8, MessageStatus::parse)?,
        data: r.get(9)?,
        created_at: Timestamp::from_micros(r.get(10)?),
        variant: r.get(11)?,
        subject_variant: r.get(12)?,
    })
}

pub(crate) const RUN_COLUMNS: &str = "id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status, \
     end_reason, entered_at, updated_at, trigger, listening";

pub(crate) fn run_row(r: &Row<'_>) -> rusqlite::Result<StoredRun> {
    Ok(StoredRun {
        id: r.get(0)?,
        flow_row: r.get(1)?,
        version: r.get(2)?,
        workspace: WorkspaceId(r.get(3)?),
        contact: ContactId(r.get(4)?),
        key: r.get(5)?,
        step: r.get(6)?,
        due_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_micros),
        status: wire(r, 8, RunStatus::parse)?,
        end_reason: r.get::<_, Option<String>>(9)?.as_deref().and_then(RunEnd::parse),
        entered_at: Timestamp::from_micros(r.get(10)?),
        updated_at: Timestamp::from_micros(r.get(11)?),
        trigger: r.get(12)?,
        listening: r.get(13)?,
    })
}

pub(crate) const FLOW_COLUMNS: &str =
    "id, public_id, workspace_id, name, status, version, definition, created_at, updated_at";

pub(crate) fn flow_row(r: &Row<'_>) -> rusqlite::Result<StoredFlow> {
    Ok(StoredFlow {
        row: r.get(0)?,
        public_id: r.get(1)?,
        workspace: WorkspaceId(r.get(2)?),
        name: r.get(3)?,
        status: wire(r, 4, FlowStatus::parse)?,
        version: r.get(5)?,
        definition: r.get(6)?,
        created_at: Timestamp::from_micros(r.get(7)?),
        updated_at: Timestamp::from_micros(r.get(8)?),
    })
}
