//! Queries answered on read views of committed data, never inside the committer (issue 11): flow simulation
//! (`crate::simulate`), campaign reports (`crate::campaigns`), coupon pools and checks (`crate::coupons`),
//! template previews, settings, unsubscribe-link checks and segment listings. A read never waits for the
//! committer, and ingestion never waits for a read.
//!
//! What the committer keeps in memory only to go faster (settings per workspace, compiled templates, coupon
//! pools) is rebuilt here from the store for each query; see ARCHITECTURE.md, "Decisions".

use std::sync::Arc;

use kairos_domain::{ContactId, JsonMap, Timestamp, WorkspaceId};
use kairos_store::{IdentityKind, Reads, SecretBox, Store, StoredSegment};
use serde_json::Value;

use crate::messages::{Composed, DRAFT_NAME, LinkConfig, LinkOutcome, Preview};
use crate::rec_cache::RecCache;
use crate::render::{Render, TemplateCache, ViewReads};
use crate::settings::{Settings, SettingsView};
use crate::{ContactRef, EngineError, SegmentInfo};

/// What queries need besides a read view: the store, and the committer's configuration.
pub(crate) struct ReadSide {
    pub(crate) store: Arc<dyn Store>,
    /// The server-wide settings (`kairos.toml`) a workspace's stored overrides apply to.
    pub(crate) defaults: Settings,
    pub(crate) links: LinkConfig,
    pub(crate) secrets: SecretBox,
    /// Recommendation statistics, shared with the committer.
    pub(crate) recs: Arc<RecCache>,
}

impl ReadSide {
    /// Runs `f` on a read view (blocking).
    pub(crate) fn run<T>(&self, f: impl FnOnce(&dyn Reads) -> Result<T, EngineError>) -> Result<T, EngineError> {
        let r = self.store.reader()?;
        f(&*r)
    }

    /// A workspace's effective settings: its committed overrides over the defaults.
    pub(crate) fn settings(&self, r: &dyn Reads, ws: WorkspaceId) -> Result<Settings, EngineError> {
        Ok(match r.settings_of(ws)? {
            // The committer warned about a refused key when it loaded them.
            Some(stored) => crate::settings::effective(&self.defaults, &stored, &mut |_| {}).1,
            None => self.defaults.clone(),
        })
    }

    /// The effective settings of a workspace with its webhook secret.
    pub(crate) fn settings_view(&self, r: &dyn Reads, ws: WorkspaceId) -> Result<SettingsView, EngineError> {
        let webhook_secret = crate::secrets::webhook_secret_committed(r, &self.secrets, ws)?;
        Ok(SettingsView { settings: self.settings(r, ws)?, webhook_secret })
    }

    /// Renders template `template` for a contact (nothing is stored); `event` stands in for the trigger event.
    #[allow(clippy::too_many_arguments)] // the render_preview arguments, named
    pub(crate) fn preview(
        &self,
        r: &dyn Reads,
        ws: WorkspaceId,
        template: &str,
        contact: ContactId,
        event: JsonMap,
        variant: usize,
        now: Timestamp,
    ) -> Result<Preview, EngineError> {
        self.render_preview(r, ws, PreviewOf::Saved(template), contact, &event, variant, now)
    }

    /// Renders unsaved template parts for a contact (the editor's live preview); nothing is stored.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn preview_draft(
        &self,
        r: &dyn Reads,
        ws: WorkspaceId,
        draft: &kairos_template::TemplateParts,
        contact: ContactId,
        event: JsonMap,
        variant: usize,
        now: Timestamp,
    ) -> Result<Preview, EngineError> {
        self.render_preview(r, ws, PreviewOf::Draft(draft), contact, &event, variant, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn render_preview(
        &self,
        r: &dyn Reads,
        ws: WorkspaceId,
        of: PreviewOf<'_>,
        contact: ContactId,
        event: &JsonMap,
        variant: usize,
        now: Timestamp,
    ) -> Result<Preview, EngineError> {
        let c = r.contact(ws, contact)?.ok_or_else(|| not_found(contact))?;
        let settings = self.settings(r, ws)?;
        let (mut src, mut templates) = (ViewReads(r), TemplateCache::default());
        let mut render = self.render(&mut src, &settings, &mut templates);
        let (name, compiled) = match of {
            PreviewOf::Saved(template) => match render.compiled(ws, template)? {
                Some(compiled) => (Some(template), compiled),
                None => return Err(EngineError::NotFound(format!("template {template:?} not found"))),
            },
            PreviewOf::Draft(draft) => (None, render.compile_draft(ws, draft)?),
        };
        let name_or_draft = name.unwrap_or(DRAFT_NAME);
        let pick = crate::render::Pick::Exactly(variant);
        let composed: Composed =
            render.render_compiled(ws, name_or_draft, &compiled, &c, event, "preview", now, false, pick)?;
        Ok(Preview::of(name, c.id, composed))
    }

    fn render<'a>(
        &'a self,
        src: &'a mut ViewReads<'_>,
        settings: &'a Settings,
        templates: &'a mut TemplateCache,
    ) -> Render<'a> {
        Render { src, settings, links: &self.links, templates, recs: &self.recs }
    }
}

fn not_found(contact: ContactId) -> EngineError {
    EngineError::NotFound(format!("contact {contact} not found"))
}

/// The live contact a reference names in workspace `ws` (following merges), or not found.
pub(crate) fn resolve(r: &dyn Reads, ws: WorkspaceId, who: ContactRef) -> Result<ContactId, EngineError> {
    let (kind, value) = match who {
        ContactRef::Id(id) => return r.contact(ws, id)?.map(|c| c.id).ok_or_else(|| not_found(id)),
        ContactRef::UserId(u) => (IdentityKind::UserId, u),
        ContactRef::Email(e) => (IdentityKind::Email, e.as_str().to_string()),
        ContactRef::Phone(p) => (IdentityKind::Phone, p.as_str().to_string()),
    };
    r.contact_by_identity(ws, kind, &value)?
        .map(|c| c.id)
        .ok_or_else(|| EngineError::NotFound("no such contact".into()))
}

/// What `GET /u/{token}` shows: the confirmation button (`Confirm`), or that the link is stale or unknown.
pub(crate) fn unsubscribe_check(r: &dyn Reads, message: &str, issued: Option<i64>) -> Result<LinkOutcome, EngineError> {
    let Some(m) = r.message(message)? else { return Ok(LinkOutcome::Gone) };
    let contact = r.contact(m.workspace, m.contact)?;
    Ok(if crate::messages::unsubscribe_stale(&m, contact.as_ref(), issued) {
        LinkOutcome::Expired
    } else {
        LinkOutcome::Confirm
    })
}

/// A stored segment as the API shows it; None when its definition no longer reads (the committer skips those).
fn segment_info_of(s: StoredSegment, size: u64) -> Option<SegmentInfo> {
    let v: Value = serde_json::from_str(&s.definition).ok()?;
    let expr = kairos_segment::json::from_json(&v).ok()?;
    Some(SegmentInfo {
        id: s.public_id,
        name: s.name,
        expr,
        size,
        created_at: s.created_at,
        updated_at: s.updated_at,
        warnings: Vec::new(),
    })
}

/// The workspace's segments with their committed sizes, oldest first.
pub(crate) fn segment_list(r: &dyn Reads, ws: WorkspaceId) -> Result<Vec<SegmentInfo>, EngineError> {
    let mut out: Vec<SegmentInfo> =
        r.segments(ws)?.into_iter().filter_map(|(s, size)| segment_info_of(s, size)).collect();
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// One segment of the workspace with its committed size.
pub(crate) fn segment_info(r: &dyn Reads, ws: WorkspaceId, id: &str) -> Result<SegmentInfo, EngineError> {
    r.segment(ws, id)?
        .and_then(|(s, size)| segment_info_of(s, size))
        .ok_or_else(|| EngineError::NotFound(format!("segment {id:?} not found")))
}

/// What a preview renders: a saved template by id, or unsaved parts.
enum PreviewOf<'a> {
    Saved(&'a str),
    Draft(&'a kairos_template::TemplateParts),
}
