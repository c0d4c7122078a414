//! Templates and flow definitions: validated and versioned through the committer (the single writer).
//! Running flows (triggers, steps, timers) builds on these definitions.

use std::collections::HashSet;

use kairos_domain::{FlowStatus, Timestamp, WorkspaceId};
use kairos_flow::{Catalog, FlowDef, FlowDocument, StepKind};
use kairos_store::StoredFlow;
use kairos_template::TemplateParts;
use serde_json::Value;

use crate::EngineError;
use crate::state::State;

struct Known<'a> {
    templates: HashSet<String>,
    state: &'a State,
    ws: WorkspaceId,
}

impl Catalog for Known<'_> {
    fn template_exists(&self, id: &str) -> bool {
        self.templates.contains(id)
    }
    fn segment_exists(&self, reference: &str) -> bool {
        self.state.segments.lookup(self.ws, reference).is_some()
    }
    fn coupon_pool_exists(&self, pool: &str) -> bool {
        self.state.coupons.exists(self.ws, pool)
    }
}

fn flow_error(e: kairos_flow::FlowError) -> EngineError {
    EngineError::Invalid { message: e.message, field: Some(e.field) }
}

impl State {
    pub(crate) fn save_template(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        data: &Value,
        now: Timestamp,
    ) -> Result<i64, EngineError> {
        self.check_template(ws, id, data)?;
        let channel = data["channel"].as_str().unwrap_or_default();
        let version = self.w.template_tx().save_template(ws, id, channel, &data.to_string(), now)?;
        self.template_saved(ws, id, data);
        Ok(version)
    }

    /// Validates a definition against this workspace's templates and segments.
    fn check_flow(&mut self, ws: WorkspaceId, def: &FlowDef) -> Result<(), EngineError> {
        let mut templates = HashSet::new();
        for s in &def.steps {
            if let StepKind::Send { template, .. } = &s.kind
                && self.w.template_tx().template_exists(ws, template)?
            {
                templates.insert(template.clone());
            }
        }
        kairos_flow::validate(def, &Known { templates, state: self, ws }).map_err(flow_error)?;
        if let Some(t) = &def.topic {
            self.settings.of(ws).topic_known(t)?;
        }
        // Webhooks to an internal address written as such are refused now; names are checked at each call.
        for (i, s) in def.steps.iter().enumerate() {
            if let StepKind::Webhook { url, .. } = &s.kind
                && let Err(refused) = self.dispatch.outbound.check_url(url)
            {
                return Err(EngineError::Invalid { message: refused.0, field: Some(format!("steps[{i}].url")) });
            }
        }
        self.check_step_liquid(ws, def)?;
        Ok(())
    }

    /// Liquid in task messages and webhook bodies is checked as a template's is (syntax, filters, nesting and
    /// expression limits), with the error at its path (`steps[2].body.note`): at send time a text that does not
    /// compile is kept as written, so its error would otherwise go unnoticed.
    fn check_step_liquid(&mut self, ws: WorkspaceId, def: &FlowDef) -> Result<(), EngineError> {
        let renderer = self.renderer(ws)?;
        let check = |field: String, text: &str| -> Result<(), EngineError> {
            if !text.contains("{{") && !text.contains("{%") {
                return Ok(());
            }
            renderer.validate(&TemplateParts::message(text)).map_err(|e| {
                let full = e.to_string();
                let detail = full.strip_prefix(e.field()).unwrap_or(&full);
                EngineError::Invalid { message: format!("Liquid{detail}"), field: Some(field) }
            })
        };
        for (i, step) in def.steps.iter().enumerate() {
            match &step.kind {
                StepKind::Task { message, .. } => check(format!("steps[{i}].message"), message)?,
                StepKind::Webhook { body: Some(body), .. } => {
                    // An explicit stack: the body is any JSON the definition holds.
                    let mut todo = vec![(format!("steps[{i}].body"), body)];
                    while let Some((path, v)) = todo.pop() {
                        match v {
                            Value::String(text) => check(path, text)?,
                            Value::Array(items) => {
                                todo.extend(items.iter().enumerate().map(|(j, x)| (format!("{path}[{j}]"), x)))
                            }
                            Value::Object(map) => todo.extend(map.iter().map(|(k, x)| (format!("{path}.{k}"), x))),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(crate) fn create_flow(
        &mut self,
        ws: WorkspaceId,
        doc: &FlowDocument,
        now: Timestamp,
    ) -> Result<StoredFlow, EngineError> {
        self.check_flow(ws, doc.def())?;
        let mut f = StoredFlow {
            row: 0,
            public_id: kairos_store::keys::random_token("flow_", 8),
            workspace: ws,
            name: doc.def().name.clone(),
            status: FlowStatus::Draft,
            version: 1,
            definition: doc.source().to_string(),
            created_at: now,
            updated_at: now,
        };
        f.row = self.w.flow_tx().save_flow(&f)?;
        self.refresh_flow(&f, now)?;
        Ok(f)
    }

    fn existing_flow(&mut self, ws: WorkspaceId, id: &str) -> Result<StoredFlow, EngineError> {
        self.w.flow_tx().flow(ws, id)?.ok_or_else(|| EngineError::NotFound(format!("flow {id:?} not found")))
    }

    /// A new version of the definition; runs in progress keep the version they started on.
    pub(crate) fn update_flow(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        doc: &FlowDocument,
        now: Timestamp,
    ) -> Result<StoredFlow, EngineError> {
        let mut f = self.existing_flow(ws, id)?;
        self.check_flow(ws, doc.def())?;
        f.name = doc.def().name.clone();
        f.version += 1;
        f.definition = doc.source().to_string();
        f.updated_at = now;
        self.w.flow_tx().save_flow(&f)?;
        self.refresh_flow(&f, now)?;
        Ok(f)
    }

    /// Installs a library flow as a draft, with the templates and segments it needs (existing ones are kept).
    pub(crate) fn install_library_flow(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        now: Timestamp,
    ) -> Result<StoredFlow, EngineError> {
        let lib =
            kairos_flow::library::find(key).ok_or_else(|| EngineError::NotFound(format!("no library flow {key:?}")))?;
        for t in (lib.templates)() {
            let id = t["id"].as_str().unwrap_or_default().to_string();
            if !self.w.template_tx().template_exists(ws, &id)? {
                let mut data = t.clone();
                if let Some(o) = data.as_object_mut() {
                    o.remove("id");
                }
                let channel = data["channel"].as_str().unwrap_or_default();
                self.w.template_tx().save_template(ws, &id, channel, &data.to_string(), now)?;
                self.template_saved(ws, &id, &data);
            }
        }
        for (name, definition) in lib.segments {
            if self.segments.lookup(ws, name).is_none() {
                let expr = kairos_segment::parse::parse(definition)
                    .map_err(|e| EngineError::Invalid { message: e.to_string(), field: None })?;
                self.create_segment(ws, name.to_string(), expr, now)?;
            }
        }
        for body in (lib.pools)() {
            let id = body["id"].as_str().unwrap_or_default().to_string();
            if !self.coupons.pools.contains_key(&(ws, id)) {
                let pool = crate::coupons::parse_pool(&body)?;
                self.save_pool(ws, pool, now)?;
            }
        }
        // The workspace's `high_value_cart` at install time goes into the routing condition (editable after).
        let high_value_cart = self.settings.of(ws).high_value_cart;
        let doc = FlowDocument::parse((lib.flow)(high_value_cart)).map_err(flow_error)?;
        self.create_flow(ws, &doc, now)
    }

    pub(crate) fn set_flow_status(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        status: FlowStatus,
        now: Timestamp,
    ) -> Result<StoredFlow, EngineError> {
        let mut f = self.existing_flow(ws, id)?;
        if status == FlowStatus::Active {
            // Templates or segments may have been deleted since the last save: check again.
            let v: Value = serde_json::from_str(&f.definition)
                .map_err(|e| kairos_store::StoreError::Corrupt(format!("flow {id}: {e}")))?;
            let def = kairos_flow::parse_flow(&v).map_err(flow_error)?;
            self.check_flow(ws, &def)?;
        }
        f.status = status;
        f.updated_at = now;
        self.w.flow_tx().save_flow(&f)?;
        self.refresh_flow(&f, now)?;
        Ok(f)
    }
}
