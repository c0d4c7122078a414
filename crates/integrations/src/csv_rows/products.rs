//! Products, upserted by id. Consecutive rows with the same id are one product (Shopify's product export
//! writes a row per variant and image, the product's own fields on the first): the first value written wins,
//! the price is the cheapest variant's (with its compare-at price) and stock is summed, as the Shopify webhook
//! mapping does.

use kairos_domain::Product;
use serde_json::{Map, Value, json};

use super::cells::{amount, check_row, flag, integer, read};
use super::{Mapping, Rejection, RowContext};

/// One row of a products file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductLine {
    pub id: String,
    /// Text fields as written (`title`, `sku`, `url`, `image_url`, `currency`).
    text: Map<String, Value>,
    price: Option<f64>,
    compare_at_price: Option<f64>,
    categories: Vec<String>,
    inventory: Option<i64>,
    available: Option<bool>,
}

/// Reads one row of a products file.
pub fn product_line(m: &Mapping, row: &[&str]) -> Result<ProductLine, Rejection> {
    check_row(m, row)?;
    let key_column = if m.has("id") { m.column("id") } else { m.column("sku") };
    let id = m.key(row).ok_or_else(|| Rejection::new(&key_column, "the row has no product id"))?;
    kairos_domain::ids::parse_identifier(&id, "id").map_err(|e| Rejection::new(&key_column, e.message))?;
    let mut text = Map::new();
    for field in ["title", "sku", "url", "currency"] {
        if let Some(v) = m.get(row, field) {
            text.insert(field.into(), json!(v));
        }
    }
    // WooCommerce lists every image, comma-separated: the first is the product's.
    if let Some(images) = m.get(row, "image_url")
        && let Some(first) = images.split(',').map(str::trim).find(|s| !s.is_empty())
    {
        text.insert("image_url".into(), json!(first));
    }
    let regular = read(m, row, "regular_price", amount)?;
    let sale = read(m, row, "sale_price", amount)?;
    let price = read(m, row, "price", amount)?;
    let compare = read(m, row, "compare_at_price", amount)?;
    // WooCommerce: a sale price is the price, the regular one what it is compared with.
    let (price, compare_at_price) = match (price, sale, regular) {
        (Some(p), _, _) => (Some(p), compare),
        (None, Some(s), r) => (Some(s), r.or(compare)),
        (None, None, r) => (r, compare),
    };
    let mut categories = Vec::new();
    for field in ["category", "tags"] {
        if let Some(v) = m.get(row, field) {
            categories.extend(v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string));
        }
    }
    let status = read(m, row, "status", flag)?;
    let published = read(m, row, "published", flag)?;
    let available = read(m, row, "available", flag)?;
    let available = match (available, status, published) {
        (None, None, None) => None,
        (a, s, p) => Some(a.unwrap_or(true) && s.unwrap_or(true) && p.unwrap_or(true)),
    };
    Ok(ProductLine {
        id,
        text,
        price,
        compare_at_price,
        categories,
        inventory: read(m, row, "inventory", integer)?,
        available,
    })
}

/// The catalog entry of one product's rows (all with the same id), dated `cx.as_of` (a later change through the
/// API is not undone by importing an older file again).
pub fn product(lines: &[ProductLine], column: &str, cx: &RowContext) -> Result<Option<Product>, Rejection> {
    let Some(first) = lines.first() else { return Ok(None) };
    let mut body = Map::new();
    body.insert("id".into(), json!(first.id));
    for line in lines {
        for (k, v) in &line.text {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let cheapest = lines
        .iter()
        .filter(|l| l.price.is_some())
        .min_by(|a, b| a.price.partial_cmp(&b.price).unwrap_or(std::cmp::Ordering::Equal));
    if let Some(c) = cheapest {
        body.insert("price".into(), json!(c.price));
        if let Some(compare) = c.compare_at_price.filter(|x| Some(*x) > c.price) {
            body.insert("compare_at_price".into(), json!(compare));
        }
    }
    let mut categories: Vec<String> = Vec::new();
    for c in lines.iter().flat_map(|l| &l.categories) {
        if !categories.contains(c) && categories.len() < kairos_domain::product::CATEGORIES_MAX {
            categories.push(c.clone());
        }
    }
    body.insert("categories".into(), json!(categories));
    let stocked: Vec<i64> = lines.iter().filter_map(|l| l.inventory).collect();
    if !stocked.is_empty() {
        body.insert("inventory_quantity".into(), json!(stocked.iter().sum::<i64>()));
    }
    if let Some(a) = lines.iter().find_map(|l| l.available) {
        let in_stock = stocked.is_empty() || stocked.iter().any(|q| *q > 0);
        body.insert("available".into(), json!(a && in_stock));
    }
    Product::from_api(&Value::Object(body), None, cx.as_of)
        .map(Some)
        .map_err(|e| Rejection::new(column, format!("product {}: {}", first.id, e.message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_rows::{Kind, map_header};
    use kairos_domain::{Money, Timestamp};

    fn cx() -> RowContext {
        let t = Timestamp::parse("2026-05-01T00:00:00Z").unwrap();
        RowContext { as_of: t, now: t }
    }

    #[test]
    fn shopify_variant_rows_make_one_product() {
        let header = [
            "Handle",
            "Title",
            "Type",
            "Variant SKU",
            "Variant Price",
            "Variant Compare At Price",
            "Variant Inventory Qty",
            "Status",
        ];
        let m = map_header(Kind::Products, &header).unwrap();
        let rows = [
            ["city-bike", "City Bike", "Bikes", "CB-M", "499.00", "599.00", "0", "active"],
            ["city-bike", "", "", "CB-L", "479.00", "549.00", "3", ""],
        ];
        let lines: Vec<ProductLine> = rows.iter().map(|r| product_line(&m, r).unwrap()).collect();
        let p = product(&lines, "Handle", &cx()).unwrap().unwrap();
        assert_eq!(p.id, "city-bike");
        assert_eq!(p.title.as_deref(), Some("City Bike"));
        assert_eq!(p.price, Money::from_major(479.0));
        assert_eq!(p.compare_at_price, Money::from_major(549.0));
        assert_eq!(p.inventory_quantity, Some(3));
        assert!(p.available);
        assert_eq!(p.categories, vec!["Bikes".to_string()]);
    }

    #[test]
    fn woocommerce_sale_prices_and_rejections() {
        let header = ["ID", "Name", "In stock?", "Sale price", "Regular price", "Images"];
        let m = map_header(Kind::Products, &header).unwrap();
        let line =
            product_line(&m, &["42", "Lamp", "1", "15", "20", "https://x.example/a.jpg, https://x.example/b.jpg"])
                .unwrap();
        let p = product(&[line], "ID", &cx()).unwrap().unwrap();
        assert_eq!((p.price, p.compare_at_price), (Money::from_major(15.0), Money::from_major(20.0)));
        assert_eq!(p.image_url.as_deref(), Some("https://x.example/a.jpg"));
        let r = product_line(&m, &["42", "Lamp", "1", "-1", "20", ""]).unwrap_err();
        assert_eq!((r.column.as_str(), r.reason.contains("negative")), ("Sale price", true));
        let r = product_line(&m, &["42", "Lamp", "maybe", "1", "2", ""]).unwrap_err();
        assert_eq!(r.column, "In stock?");
        let r = product_line(&m, &["", "Lamp", "1", "1", "2", ""]).unwrap_err();
        assert_eq!((r.column.as_str(), r.reason.as_str()), ("ID", "the row has no product id"));
    }
}
