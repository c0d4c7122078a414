//! Store platforms' webhook payloads (`shopify`, `woocommerce`) and polled API records (`magento`: Magento 2 /
//! Adobe Commerce REST search results, with the query strings that page through them) mapped onto what Kairos
//! speaks: Segment e-commerce events (as Segment messages, which the caller validates like any ingested message),
//! catalog products, and privacy requests; and the platforms' webhook signatures. Pure: no I/O, and `now` comes
//! from the caller.

mod common;
pub mod csv_rows;
pub mod magento;
pub mod shopify;
pub mod signature;
pub mod woocommerce;

use kairos_domain::Product;
use serde_json::Value;

/// Largest webhook body read, in bytes (a Shopify order with hundreds of line items stays well under).
pub const WEBHOOK_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Most line items of one order or checkout carried onto its event (keeps it under the 32 KB an event may take).
pub const LINE_ITEMS_MAX: usize = 100;

/// What one webhook says, in Kairos's terms.
#[derive(Debug, Default, PartialEq)]
pub struct Mapped {
    /// Segment messages (`track`, `identify`), each with a `messageId` derived from the platform's ids, so a
    /// redelivered webhook is recognised as a duplicate.
    pub messages: Vec<Value>,
    /// Catalog products to upsert (unless the stored one was updated later).
    pub products: Vec<Product>,
    /// Products the platform deleted: no longer available.
    pub deleted_products: Vec<String>,
    /// A privacy request (Shopify's mandatory webhooks).
    pub privacy: Option<Privacy>,
    /// Shopify inventory items and the product each belongs to (one per variant), so that a later inventory
    /// level names its product: (inventory item id, product id, how many items the product has).
    pub inventory_items: Vec<(String, String, usize)>,
    /// Inventory levels reported (`inventory_levels/update`).
    pub inventory_levels: Vec<InventoryLevel>,
    /// Coupon codes the shop deleted, expired or used up (WooCommerce `coupon.*`): no longer handed out.
    pub withdrawn_codes: Vec<String>,
}

/// What one location has available of one inventory item, and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryLevel {
    pub item: String,
    /// None when the item is not tracked.
    pub available: Option<i64>,
    pub updated_at: kairos_domain::Timestamp,
}

/// A platform's privacy request about a person or the whole shop.
#[derive(Debug, Clone, PartialEq)]
pub enum Privacy {
    /// The person asked for their data (`customers/data_request`).
    DataRequest(Person),
    /// Erase the person (`customers/redact`).
    Redact(Person),
    /// The shop uninstalled the app 48 hours ago: erase the shop's customers' data (`shop/redact`).
    ShopRedact,
}

/// Who a privacy request names: the ways Kairos may know them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The anonymous ids the platform's records were ingested under (`shopify-customer:{id}`,
    /// `shopify-order:{id}` for each order named).
    pub anonymous_ids: Vec<String>,
    /// The platform's reference for the request (Shopify's `data_request.id`), for the audit log.
    pub reference: Option<String>,
}

/// A payload that does not have the shape its topic documents.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MapError {
    /// The offending field, as a path into the payload (`line_items[0].quantity`).
    pub field: String,
    pub message: String,
}

impl MapError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> MapError {
        MapError { field: field.into(), message: message.into() }
    }
}
