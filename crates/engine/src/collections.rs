//! The `collections` variable of templates: the products of a catalog category, in stock, by name
//! (`{% for p in collections["Road bikes"] %}`; block emails' product grids of a collection). Only the names a
//! template spells out literally are read ([`kairos_template::blocks::collection_names`]). A category's product
//! ids come from a bounded scan of the catalog kept for [`crate::rec_cache::COLLECTION_REFRESH`] per workspace
//! and category; stock is read at every render, as for recommendations.

use std::collections::HashSet;
use std::sync::Arc;

use kairos_domain::{Timestamp, WorkspaceId};
use serde_json::{Map, Value};

use crate::EngineError;
use crate::render::Render;

/// Most catalog entries read to list a category.
const CATALOG_SCAN_PRODUCTS_MAX: usize = 5_000;
/// Catalog page size while listing a category.
const CATALOG_PAGE: usize = 500;
/// Product ids kept per category: the stock reads of one render stay bounded however many are sold out.
const COLLECTION_IDS_MAX: usize = 48;

impl Render<'_> {
    /// `{name: [product, ...]}` for each of `names` (matched to categories without regard to case).
    pub(crate) fn collections(
        &mut self,
        ws: WorkspaceId,
        names: &[String],
        now: Timestamp,
    ) -> Result<Value, EngineError> {
        let mut out = Map::new();
        for name in names {
            let ids = self.collection_ids(ws, name, now)?;
            let products = self.promotable(ws, ids.iter().cloned(), &HashSet::new())?;
            out.insert(name.clone(), Value::Array(products));
        }
        Ok(Value::Object(out))
    }

    fn collection_ids(&mut self, ws: WorkspaceId, name: &str, now: Timestamp) -> Result<Arc<Vec<String>>, EngineError> {
        let key = (ws, name.to_lowercase());
        if let Some(ids) = self.recs.collection(&key, now) {
            return Ok(ids);
        }
        let (mut ids, mut after, mut read) = (Vec::new(), None::<String>, 0);
        while read < CATALOG_SCAN_PRODUCTS_MAX && ids.len() < COLLECTION_IDS_MAX {
            let page = self.src.products_after(ws, after.as_deref(), CATALOG_PAGE)?;
            read += page.len();
            let Some(last) = page.last().map(|p| p.id.clone()) else { break };
            let wanted = page.into_iter().filter(|p| p.categories.iter().any(|c| c.to_lowercase() == key.1));
            ids.extend(wanted.map(|p| p.id).take(COLLECTION_IDS_MAX - ids.len()));
            after = Some(last);
        }
        let ids = Arc::new(ids);
        self.recs.put_collection(key, now, ids.clone());
        Ok(ids)
    }
}
