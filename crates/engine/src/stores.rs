//! The committer's write transaction, handed to each subsystem as the one storage trait it owns (segments see
//! `SegmentWrites`, campaigns `CampaignWrites`, ...), never as the whole writer. Only `state.rs` (the event log,
//! identity and the group commit) takes the whole writer ([`Stores::writer`]); `crates/kairos/tests/layers.rs`
//! checks that in CI.

use kairos_domain::{Product, WorkspaceId};
use kairos_store::Writer;
use kairos_store::write::{
    CampaignWrites, CouponWrites, EventWrites, FlowWrites, MessageWrites, ProductWrites, SecretWrites, SegmentWrites,
    SettingsWrites, TemplateWrites,
};

/// Catalog products a transaction keeps once read (each a few hundred bytes; past this the reads start over).
const PRODUCTS_READ_MAX: usize = 10_000;

pub struct Stores(Box<dyn Writer>, ProductsRead);

/// The catalog products read in the open transaction, by (workspace, id): a burst of sends for the same
/// product (timers falling due together, a campaign) reads it once per transaction, not once per message. Only
/// this transaction's own writes could change them (the committer is the one writer, products are written
/// through [`Stores::product_tx`], which forgets them), and a new transaction starts with none.
#[derive(Default)]
struct ProductsRead(std::collections::HashMap<(WorkspaceId, String), Option<Product>>);

impl Stores {
    pub(crate) fn new(w: Box<dyn Writer>) -> Stores {
        Stores(w, ProductsRead::default())
    }

    /// The whole writer: the group commit, the event log and identity (`state.rs` only).
    pub(crate) fn writer(&mut self) -> &mut dyn Writer {
        &mut *self.0
    }

    pub(crate) fn into_writer(self) -> Box<dyn Writer> {
        self.0
    }

    /// Begins the committer's transaction (products read before are forgotten).
    pub(crate) fn begin(&mut self) -> kairos_store::Result<()> {
        self.1.0.clear();
        self.0.begin()
    }

    /// A catalog product as the open transaction sees it, read from the store once per transaction.
    pub(crate) fn product(&mut self, ws: WorkspaceId, id: &str) -> kairos_store::Result<Option<Product>> {
        if let Some(p) = self.1.0.get(&(ws, id.to_string())) {
            return Ok(p.clone());
        }
        let p = self.0.load_product(ws, id)?;
        if self.1.0.len() >= PRODUCTS_READ_MAX {
            self.1.0.clear();
        }
        self.1.0.insert((ws, id.to_string()), p.clone());
        Ok(p)
    }

    pub(crate) fn event_tx(&mut self) -> &mut dyn EventWrites {
        &mut *self.0
    }
    pub(crate) fn segment_tx(&mut self) -> &mut dyn SegmentWrites {
        &mut *self.0
    }
    pub(crate) fn template_tx(&mut self) -> &mut dyn TemplateWrites {
        &mut *self.0
    }
    pub(crate) fn flow_tx(&mut self) -> &mut dyn FlowWrites {
        &mut *self.0
    }
    pub(crate) fn message_tx(&mut self) -> &mut dyn MessageWrites {
        &mut *self.0
    }
    pub(crate) fn campaign_tx(&mut self) -> &mut dyn CampaignWrites {
        &mut *self.0
    }
    pub(crate) fn coupon_tx(&mut self) -> &mut dyn CouponWrites {
        &mut *self.0
    }
    pub(crate) fn settings_tx(&mut self) -> &mut dyn SettingsWrites {
        &mut *self.0
    }
    pub(crate) fn secret_tx(&mut self) -> &mut dyn SecretWrites {
        &mut *self.0
    }
    /// At most `limit` catalog products with ids after `after`, by id (kept products stay: nothing is written).
    pub(crate) fn products_after(
        &mut self,
        ws: WorkspaceId,
        after: Option<&str>,
        limit: usize,
    ) -> kairos_store::Result<Vec<Product>> {
        self.0.products_after(ws, after, limit)
    }

    /// The catalog's writes (and reads of several products): the products read so far are forgotten, since
    /// they may change through it.
    pub(crate) fn product_tx(&mut self) -> &mut dyn ProductWrites {
        self.1.0.clear();
        &mut *self.0
    }
    pub(crate) fn erasure_tx(&mut self) -> &mut dyn kairos_store::erasure::ErasureWrites {
        self.1.0.clear();
        &mut *self.0
    }
    pub(crate) fn sync_tx(&mut self) -> &mut dyn kairos_store::sync::SyncWrites {
        &mut *self.0
    }
    pub(crate) fn site_tx(&mut self) -> &mut dyn kairos_store::forms::SiteWrites {
        &mut *self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_store::Store;

    fn product(id: &str, available: bool) -> Product {
        Product {
            id: id.into(),
            sku: None,
            title: Some("Bike".into()),
            url: None,
            image_url: None,
            price: None,
            compare_at_price: None,
            currency: None,
            categories: Vec::new(),
            inventory_quantity: None,
            available,
            updated_at: kairos_domain::Timestamp(1),
        }
    }

    /// A product read once in a transaction is served again from memory, but never after a write of the
    /// catalog in the same transaction, nor in the next transaction.
    #[test]
    fn products_read_in_a_transaction_follow_its_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = kairos_store_sqlite::SqliteStore::open(dir.path()).unwrap();
        store.create_workspace("w", kairos_domain::Timestamp(1)).unwrap();
        let ws = store.workspaces().unwrap()[0].0;
        let mut s = Stores::new(store.writer().unwrap());
        s.begin().unwrap();
        assert_eq!(s.product(ws, "p").unwrap(), None);
        s.product_tx().upsert_product(ws, &product("p", true)).unwrap();
        assert!(s.product(ws, "p").unwrap().unwrap().available, "the write is seen in its transaction");
        s.product_tx().upsert_product(ws, &product("p", false)).unwrap();
        assert!(!s.product(ws, "p").unwrap().unwrap().available, "a second write too");
        s.writer().commit().unwrap();
        // Written behind the kept copy's back (as another transaction would): the next one reads it again.
        let mut other = store.writer().unwrap();
        other.begin().unwrap();
        other.upsert_product(ws, &product("p", true)).unwrap();
        other.commit().unwrap();
        s.begin().unwrap();
        assert!(s.product(ws, "p").unwrap().unwrap().available, "a new transaction reads the store");
        s.writer().commit().unwrap();
    }
}
