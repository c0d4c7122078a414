//! Catalog products.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contact::product_id;
use crate::ids::parse_identifier;
use crate::{JsonMap, Money, Timestamp, ValidationError};

/// Most categories kept on one product.
pub const CATEGORIES_MAX: usize = 50;
/// Longest text field (title, url) accepted.
pub const TEXT_CHARS_MAX: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub price: Option<Money>,
    #[serde(default)]
    pub compare_at_price: Option<Money>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
    pub available: bool,
    pub updated_at: Timestamp,
}

/// A field of a request body: `None` when absent, `Some(None)` when `null`, `Some(Some(v))` when given.
pub type Field<T> = Option<Option<T>>;

/// The fields of a product body from the admin API, each validated on its own (required fields are the
/// caller's rule: a bulk upsert, a `PUT` and a `PATCH` differ).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFields {
    pub id: Field<Value>,
    pub sku: Field<String>,
    pub title: Field<String>,
    pub url: Field<String>,
    pub image_url: Field<String>,
    pub price: Field<Money>,
    pub compare_at_price: Field<Money>,
    pub currency: Field<String>,
    pub categories: Field<Vec<String>>,
    pub inventory_quantity: Field<i64>,
    pub available: Field<bool>,
}

impl ProductFields {
    /// Reads and checks every field of a product body (the first bad one is the error, naming it).
    pub fn from_api(v: &Value) -> Result<ProductFields, ValidationError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ValidationError::without_field("invalid_type", "a product must be a JSON object"))?;
        let price = field(obj, "price", |v| money(v, "price"))?;
        let compare_at_price = field(obj, "compare_at_price", |v| money(v, "compare_at_price"))?;
        let inventory_quantity = field(obj, "inventory_quantity", |v| {
            v.as_i64().filter(|_| v.is_number()).ok_or_else(|| {
                ValidationError::new("invalid_type", "inventory_quantity", "inventory_quantity must be an integer")
            })
        })?;
        let available = field(obj, "available", |v| {
            v.as_bool()
                .ok_or_else(|| ValidationError::new("invalid_type", "available", "available must be true or false"))
        })?;
        let categories = field(obj, "categories", categories)?;
        let currency = field(obj, "currency", |v| {
            let c = text(v, "currency")?;
            if !(c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic())) {
                return Err(ValidationError::new(
                    "invalid_value",
                    "currency",
                    "currency must be a 3-letter ISO 4217 code",
                ));
            }
            Ok(c.to_ascii_uppercase())
        })?;
        Ok(ProductFields {
            id: field(obj, "id", |v| Ok(v.clone()))?,
            sku: field(obj, "sku", |v| text(v, "sku"))?,
            title: field(obj, "title", |v| text(v, "title"))?,
            url: field(obj, "url", |v| text(v, "url"))?,
            image_url: field(obj, "image_url", |v| text(v, "image_url"))?,
            price,
            compare_at_price,
            currency,
            categories,
            inventory_quantity,
            available,
        })
    }

    /// Checks a `PATCH` of product `id`: a body `id` must be that id, and `title` and `price` (required by a
    /// `PUT`) may change but not be removed.
    pub fn checked_patch(self, id: &str) -> Result<ProductFields, ValidationError> {
        if self.id.as_ref().is_some_and(|body| body.as_ref().and_then(Value::as_str) != Some(id)) {
            return Err(ValidationError::new("invalid_value", "id", "id in the body differs from the id in the URL"));
        }
        for (name, removed) in [("title", self.title == Some(None)), ("price", self.price == Some(None))] {
            if removed {
                return Err(ValidationError::new(
                    "invalid_value",
                    name,
                    format!("{name} cannot be removed from a product; send a new {name}"),
                ));
            }
        }
        check_title(&self.title)?;
        Ok(self)
    }
}

/// A title, when given, has text: an empty one would read as nothing in every message naming the product.
fn check_title(title: &Field<String>) -> Result<(), ValidationError> {
    match title {
        Some(Some(t)) if t.trim().is_empty() => {
            Err(ValidationError::new("empty_value", "title", "title must not be empty"))
        }
        _ => Ok(()),
    }
}

impl Product {
    /// Whether the product may be offered: available, and not counted out of stock.
    pub fn in_stock(&self) -> bool {
        self.available && self.inventory_quantity.is_none_or(|q| q > 0)
    }

    /// Validates a catalog entry from the admin API (a bulk upsert item, leniently: only `id` is required).
    /// `id` comes from the URL when given there.
    pub fn from_api(v: &Value, id: Option<&str>, now: Timestamp) -> Result<Product, ValidationError> {
        let f = ProductFields::from_api(v)?;
        let id = match (id, &f.id) {
            (Some(url_id), Some(Some(Value::String(body_id)))) if body_id != url_id => {
                return Err(ValidationError::new(
                    "invalid_value",
                    "id",
                    "id in the body differs from the id in the URL",
                ));
            }
            (Some(url_id), _) => parse_identifier(url_id, "id")?,
            (None, Some(Some(Value::String(s)))) => parse_identifier(s, "id")?,
            (None, Some(Some(Value::Number(n)))) => n.to_string(),
            (None, Some(_)) => return Err(ValidationError::new("invalid_type", "id", "id must be a string")),
            (None, _) => return Err(ValidationError::new("missing_field", "id", "id is required")),
        };
        let inventory_quantity = f.inventory_quantity.flatten();
        Ok(Product {
            id,
            sku: f.sku.flatten(),
            title: f.title.flatten(),
            url: f.url.flatten(),
            image_url: f.image_url.flatten(),
            price: f.price.flatten(),
            compare_at_price: f.compare_at_price.flatten(),
            currency: f.currency.flatten(),
            categories: f.categories.flatten().unwrap_or_default(),
            inventory_quantity,
            available: f.available.flatten().unwrap_or_else(|| inventory_quantity.is_none_or(|q| q > 0)),
            updated_at: now,
        })
    }

    /// A whole product for `PUT /api/v1/products/{id}` (SPEC 16): like [`Product::from_api`], and `title` (with
    /// text) and `price` are required, so a partial body cannot wipe them.
    pub fn replacement_from_api(v: &Value, id: &str, now: Timestamp) -> Result<Product, ValidationError> {
        let p = Product::from_api(v, Some(id), now)?;
        check_title(&Some(p.title.clone()))?;
        if p.title.is_none() {
            return Err(ValidationError::new("missing_field", "title", "title is required; PATCH changes some fields"));
        }
        if p.price.is_none() {
            return Err(ValidationError::new("missing_field", "price", "price is required; PATCH changes some fields"));
        }
        Ok(p)
    }

    /// This product with the fields of a checked patch merged in (`null` removes an optional field). Without an
    /// explicit `available`, a new `inventory_quantity` decides availability as it does for a new product.
    pub fn patched(&self, f: &ProductFields, now: Timestamp) -> Product {
        fn merge<T: Clone>(old: &Option<T>, new: &Field<T>) -> Option<T> {
            new.clone().unwrap_or_else(|| old.clone())
        }
        let inventory_quantity = merge(&self.inventory_quantity, &f.inventory_quantity);
        let available = match (&f.available, &f.inventory_quantity) {
            (Some(Some(a)), _) => *a,
            (_, Some(_)) | (Some(None), None) => inventory_quantity.is_none_or(|q| q > 0),
            (None, None) => self.available,
        };
        Product {
            id: self.id.clone(),
            sku: merge(&self.sku, &f.sku),
            title: merge(&self.title, &f.title),
            url: merge(&self.url, &f.url),
            image_url: merge(&self.image_url, &f.image_url),
            price: merge(&self.price, &f.price),
            compare_at_price: merge(&self.compare_at_price, &f.compare_at_price),
            currency: merge(&self.currency, &f.currency),
            categories: f.categories.clone().map_or_else(|| self.categories.clone(), Option::unwrap_or_default),
            inventory_quantity,
            available,
            updated_at: now,
        }
    }

    /// A catalog entry made from e-commerce event properties (`Product Viewed`, an order's `products[]`),
    /// used when the catalog has no entry for the product yet. Malformed values are skipped, not errors.
    pub fn from_event_properties(p: &JsonMap, now: Timestamp) -> Option<Product> {
        let id = product_id(p)?;
        if id.chars().count() > crate::ids::ID_CHARS_MAX {
            return None;
        }
        let s = |k: &str| p.get(k).and_then(Value::as_str).filter(|s| s.len() <= TEXT_CHARS_MAX).map(str::to_string);
        Some(Product {
            id,
            sku: s("sku"),
            title: s("name").or_else(|| s("title")),
            url: s("url"),
            image_url: s("image_url"),
            price: p.get("price").and_then(Money::from_json),
            compare_at_price: None,
            currency: s("currency").filter(|c| c.len() == 3).map(|c| c.to_ascii_uppercase()),
            categories: s("category").into_iter().collect(),
            inventory_quantity: None,
            available: true,
            updated_at: now,
        })
    }
}

/// A field of `obj` read by `read` unless absent (`None`) or null (`Some(None)`).
fn field<T>(
    obj: &JsonMap,
    key: &str,
    read: impl FnOnce(&Value) -> Result<T, ValidationError>,
) -> Result<Field<T>, ValidationError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => read(v).map(|t| Some(Some(t))),
    }
}

fn text(v: &Value, key: &str) -> Result<String, ValidationError> {
    match v {
        Value::String(s) if s.chars().count() > TEXT_CHARS_MAX => {
            Err(ValidationError::new("too_long", key, format!("{key} is longer than {TEXT_CHARS_MAX} characters")))
        }
        Value::String(s) => Ok(s.clone()),
        _ => Err(ValidationError::new("invalid_type", key, format!("{key} must be a string"))),
    }
}

fn money(v: &Value, key: &str) -> Result<Money, ValidationError> {
    match Money::from_json(v) {
        Some(m) if m.cents() >= 0 => Ok(m),
        _ => Err(ValidationError::new("invalid_value", key, format!("{key} must be a non-negative number"))),
    }
}

fn categories(v: &Value) -> Result<Vec<String>, ValidationError> {
    let Value::Array(items) = v else {
        return Err(ValidationError::new("invalid_type", "categories", "categories must be an array of strings"));
    };
    if items.len() > CATEGORIES_MAX {
        return Err(ValidationError::new("too_long", "categories", format!("at most {CATEGORIES_MAX} categories")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.as_str().map(str::to_string).ok_or_else(|| {
                ValidationError::new("invalid_type", format!("categories[{i}]"), "each category must be a string")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_api_products() {
        let p = Product::from_api(
            &json!({"title":"Bike","price":499.5,"inventory_quantity":0,"categories":["bicycles"],"currency":"eur"}),
            Some("b1"),
            Timestamp(0),
        )
        .unwrap();
        assert!(!p.available);
        assert_eq!(p.price, Some(Money(49950)));
        assert_eq!(p.currency.as_deref(), Some("EUR"));
        let field = |v: Value| Product::from_api(&v, Some("b1"), Timestamp(0)).unwrap_err().field;
        assert_eq!(field(json!({"price":-1})).as_deref(), Some("price"));
        assert_eq!(field(json!({"price":"abc"})).as_deref(), Some("price"));
        assert_eq!(field(json!({"inventory_quantity":1.5})).as_deref(), Some("inventory_quantity"));
        assert_eq!(field(json!({"categories":["a",1]})).as_deref(), Some("categories[1]"));
        assert_eq!(field(json!({"available":"yes"})).as_deref(), Some("available"));
        assert_eq!(field(json!({"id":"other"})).as_deref(), Some("id"));
    }

    #[test]
    fn a_replacement_needs_title_and_price() {
        let field = |v: Value| Product::replacement_from_api(&v, "b1", Timestamp(0)).unwrap_err().field;
        assert_eq!(field(json!({"inventory_quantity": 3})).as_deref(), Some("title"));
        assert_eq!(field(json!({"title": "Bike"})).as_deref(), Some("price"));
        assert_eq!(field(json!({"title": " ", "price": 1})).as_deref(), Some("title"));
        assert_eq!(field(json!({"title": "Bike", "price": null})).as_deref(), Some("price"));
        // Field errors come before missing fields, as they always did.
        assert_eq!(field(json!({"compare_at_price": -1})).as_deref(), Some("compare_at_price"));
        let p = Product::replacement_from_api(&json!({"id": "b1", "title": "Bike", "price": 5}), "b1", Timestamp(0));
        assert_eq!(p.unwrap().title.as_deref(), Some("Bike"));
    }

    #[test]
    fn a_patch_merges_and_keeps_the_rest() {
        let base = Product::from_api(
            &json!({"title": "Bike", "price": 100, "sku": "S", "inventory_quantity": 0, "categories": ["a"]}),
            Some("b1"),
            Timestamp(0),
        )
        .unwrap();
        let patch = |v: Value| ProductFields::from_api(&v).and_then(|f| f.checked_patch("b1"));
        let p = base.patched(&patch(json!({"inventory_quantity": 2, "sku": null})).unwrap(), Timestamp(9));
        assert_eq!((p.title.as_deref(), p.price, p.sku.as_deref()), (Some("Bike"), Some(Money(10000)), None));
        assert_eq!((p.inventory_quantity, p.available, p.updated_at), (Some(2), true, Timestamp(9)));
        assert_eq!(p.categories, ["a"]);
        let q = p.patched(&patch(json!({"available": false})).unwrap(), Timestamp(10));
        assert_eq!((q.available, q.inventory_quantity), (false, Some(2)));
        assert_eq!(base.patched(&patch(json!({})).unwrap(), Timestamp(0)), base);
        let field = |v: Value| patch(v).unwrap_err().field;
        assert_eq!(field(json!({"title": null})).as_deref(), Some("title"));
        assert_eq!(field(json!({"price": null})).as_deref(), Some("price"));
        assert_eq!(field(json!({"title": ""})).as_deref(), Some("title"));
        assert_eq!(field(json!({"id": "b2"})).as_deref(), Some("id"));
        assert_eq!(field(json!({"id": 7})).as_deref(), Some("id"));
        assert!(patch(json!({"id": "b1", "title": "Trike"})).is_ok());
    }
}
