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

impl Product {
    /// Validates a catalog entry from the admin API. `id` comes from the URL when given there.
    pub fn from_api(v: &Value, id: Option<&str>, now: Timestamp) -> Result<Product, ValidationError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ValidationError::without_field("invalid_type", "a product must be a JSON object"))?;
        let id = match (id, obj.get("id")) {
            (Some(url_id), Some(Value::String(body_id))) if body_id != url_id => {
                return Err(ValidationError::new(
                    "invalid_value",
                    "id",
                    "id in the body differs from the id in the URL",
                ));
            }
            (Some(url_id), _) => parse_identifier(url_id, "id")?,
            (None, Some(Value::String(s))) => parse_identifier(s, "id")?,
            (None, Some(Value::Number(n))) => n.to_string(),
            (None, Some(_)) => return Err(ValidationError::new("invalid_type", "id", "id must be a string")),
            (None, None) => return Err(ValidationError::new("missing_field", "id", "id is required")),
        };
        let price = money(obj, "price")?;
        let compare_at_price = money(obj, "compare_at_price")?;
        let inventory_quantity = match obj.get("inventory_quantity") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| {
                ValidationError::new("invalid_type", "inventory_quantity", "inventory_quantity must be an integer")
            })?),
            Some(_) => {
                return Err(ValidationError::new(
                    "invalid_type",
                    "inventory_quantity",
                    "inventory_quantity must be an integer",
                ));
            }
        };
        let available = match obj.get("available") {
            None | Some(Value::Null) => inventory_quantity.is_none_or(|q| q > 0),
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ValidationError::new("invalid_type", "available", "available must be true or false"));
            }
        };
        let categories = match obj.get("categories") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > CATEGORIES_MAX {
                    return Err(ValidationError::new(
                        "too_long",
                        "categories",
                        format!("at most {CATEGORIES_MAX} categories"),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        c.as_str().map(str::to_string).ok_or_else(|| {
                            ValidationError::new(
                                "invalid_type",
                                format!("categories[{i}]"),
                                "each category must be a string",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => {
                return Err(ValidationError::new(
                    "invalid_type",
                    "categories",
                    "categories must be an array of strings",
                ));
            }
        };
        let currency = text(obj, "currency")?;
        if let Some(c) = &currency
            && !(c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        {
            return Err(ValidationError::new("invalid_value", "currency", "currency must be a 3-letter ISO 4217 code"));
        }
        Ok(Product {
            id,
            sku: text(obj, "sku")?,
            title: text(obj, "title")?,
            url: text(obj, "url")?,
            image_url: text(obj, "image_url")?,
            price,
            compare_at_price,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            categories,
            inventory_quantity,
            available,
            updated_at: now,
        })
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

fn text(obj: &JsonMap, key: &str) -> Result<Option<String>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > TEXT_CHARS_MAX => {
            Err(ValidationError::new("too_long", key, format!("{key} is longer than {TEXT_CHARS_MAX} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ValidationError::new("invalid_type", key, format!("{key} must be a string"))),
    }
}

fn money(obj: &JsonMap, key: &str) -> Result<Option<Money>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match Money::from_json(v) {
            Some(m) if m.cents() >= 0 => Ok(Some(m)),
            _ => Err(ValidationError::new("invalid_value", key, format!("{key} must be a non-negative number"))),
        },
    }
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
}
