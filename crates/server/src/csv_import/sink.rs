//! The engine as the import's [`Sink`]: called from a thread that may block (the CLI's main thread, or a
//! blocking task of the server), it waits for each commit.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use kairos_domain::{Event, Product, WorkspaceId};
use kairos_engine::{Engine, Imported};

use super::{ImportError, Sink};

/// The engine of a workspace, reached from blocking code through a runtime handle.
pub struct EngineSink {
    pub engine: Arc<Engine>,
    pub handle: tokio::runtime::Handle,
    pub ws: WorkspaceId,
}

/// An order id as the set of known orders holds it (a 64-bit hash: a million orders take megabytes, not the
/// ids themselves).
pub fn order_key(order_id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    order_id.hash(&mut h);
    h.finish()
}

/// The `order_id` of a stored event, read without the rest of it.
#[derive(serde::Deserialize)]
struct StoredOrder {
    #[serde(default)]
    properties: OrderProps,
}

#[derive(serde::Deserialize, Default)]
struct OrderProps {
    #[serde(default)]
    order_id: Option<serde_json::Value>,
}

impl Sink for EngineSink {
    fn records(&mut self, records: Vec<Vec<Event>>) -> Result<Imported, ImportError> {
        Ok(self.handle.block_on(self.engine.ingest_records(self.ws, records))?)
    }

    fn products(&mut self, products: Vec<Product>) -> Result<(), ImportError> {
        Ok(self.handle.block_on(self.engine.upsert_platform_products(self.ws, products))?)
    }

    fn known_orders(&mut self) -> Result<HashSet<u64>, ImportError> {
        Ok(known_orders(&self.engine, self.ws)?)
    }
}

/// Every stored `Order Completed`'s order id ([`order_key`]), whichever way it came (a CSV, a webhook, a
/// backfill, the API): the engine's message-id window is days, a re-import may come months later, and an order
/// counted twice would double the customer's spend. Blocking (a scan of the workspace's orders).
pub fn known_orders(engine: &Engine, ws: WorkspaceId) -> Result<HashSet<u64>, kairos_engine::EngineError> {
    let known = engine.read(|r| {
        let mut known = HashSet::new();
        r.events_named(ws, "Order Completed", &mut |_, data| {
            if let Ok(StoredOrder { properties: OrderProps { order_id: Some(id) } }) = serde_json::from_str(data) {
                known.insert(order_key(&order_text(id)));
            }
        })?;
        Ok(known)
    })?;
    Ok(known)
}

/// An order id as text (platforms send numbers or strings).
pub fn order_text(id: serde_json::Value) -> String {
    match id {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}
