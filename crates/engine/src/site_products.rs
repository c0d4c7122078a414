//! Products recommended to a visitor of the store's website (a landing page's "recommended" product block):
//! the same statistics templates use (`recommendations.*`, [`crate::recommend`]), answered on a read view.

use kairos_domain::{ContactId, JsonMap};
use serde_json::Value;

use crate::render::{Render, TemplateCache, ViewReads};
use crate::{Engine, EngineError};

/// The lists of `recommendations` a visitor's products come from, most personal first.
const LISTS: [&str; 5] = ["based_on_history", "also_viewed", "also_bought", "recently_viewed", "trending"];

impl Engine {
    /// Ids of products in stock recommended to `visitor` (None: someone unknown, who gets what is trending), best
    /// first, without repeats: products like those they looked at and bought, then what is trending in the store.
    pub async fn recommended_products(
        &self,
        ws: kairos_domain::WorkspaceId,
        visitor: Option<ContactId>,
    ) -> Result<Vec<String>, EngineError> {
        self.query(move |side, r, now| {
            let settings = side.settings(r, ws)?;
            let (mut src, mut templates) = (ViewReads(r), TemplateCache::default());
            let mut render = Render {
                src: &mut src,
                settings: &settings,
                links: &side.links,
                templates: &mut templates,
                recs: &side.recs,
            };
            // A contact id no contact has reads as an empty history: only the workspace's trends remain.
            let who = visitor.unwrap_or(ContactId(0));
            let recs = render.recommendations(ws, who, &JsonMap::new(), now)?;
            let mut out: Vec<String> = Vec::new();
            for list in LISTS {
                for p in recs.get(list).and_then(Value::as_array).into_iter().flatten() {
                    if let Some(id) = p.get("id").and_then(Value::as_str)
                        && !out.iter().any(|x| x == id)
                    {
                        out.push(id.to_string());
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}
