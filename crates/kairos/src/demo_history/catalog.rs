//! The catalog changing during the history: a restock and a price drop, stored the way a platform's product
//! update arrives, so the back-in-stock and price-drop flows start by themselves.

use kairos_domain::Product;

use super::{History, Res};
use crate::demo_content::CatalogMoment;

/// How many products a price drop makes cheaper.
const PRICE_DROP_PRODUCTS: usize = 4;
/// Units a restock brings.
const RESTOCK_UNITS: i64 = 25;

impl History {
    pub(super) async fn catalog_moment(&mut self, moment: CatalogMoment) -> Res<()> {
        let changed: Vec<usize> = match moment {
            CatalogMoment::Restock => {
                // All but one come back; one popular product sells out meanwhile: a store always has some.
                let mut sold_out: Vec<usize> =
                    (0..self.catalog.len()).filter(|i| self.catalog[*i].inventory == 0).collect();
                let still_out = sold_out.pop();
                for i in &sold_out {
                    self.catalog[*i].inventory = RESTOCK_UNITS;
                }
                if still_out.is_none()
                    && let Some(i) = (0..self.catalog.len()).find(|i| self.catalog[*i].inventory > 0)
                {
                    self.catalog[i].inventory = 0;
                    sold_out.push(i);
                }
                sold_out
            }
            CatalogMoment::PriceDrop => {
                // The best-known products of each kind (the first of each category), which people have viewed.
                let mut picked = Vec::new();
                for i in 0..self.catalog.len() {
                    let first_of_kind = i == 0 || self.catalog[i - 1].category != self.catalog[i].category;
                    if first_of_kind && self.catalog[i].inventory > 0 && picked.len() < PRICE_DROP_PRODUCTS {
                        let p = &mut self.catalog[i];
                        p.price_cents = p.price_cents * 85 / 100 / 10 * 10;
                        picked.push(i);
                    }
                }
                picked
            }
        };
        let now = kairos_engine::Clock::now(&*self.clock);
        let products = changed
            .iter()
            .map(|i| Product::from_api(&self.catalog[*i].api_json(), None, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("sample product: {e}"))?;
        if !products.is_empty() {
            self.engine.upsert_products(self.ws, products).await?;
        }
        Ok(())
    }
}
