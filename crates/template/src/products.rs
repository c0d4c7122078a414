//! Product blocks: dropping what cannot be sold (SPEC 9, inventory) and shaping the cart for templates.

use kairos_domain::{Cart, Money};
use serde_json::{Value, json};

/// The skip reason when a non-empty product block has nothing promotable left.
pub const NOTHING_PROMOTABLE: &str = "nothing_promotable";

/// The items whose product is not known to be out of stock, in order. `in_stock(product_id)` answers
/// `Some(false)` for a product known to be unavailable; unknown products (`None`) and items without an id are kept.
/// The id is `product_id`, else `sku`, else `id` (Segment's e-commerce names).
pub fn promotable_items(items: &[Value], in_stock: impl Fn(&str) -> Option<bool>) -> Vec<Value> {
    items
        .iter()
        .filter(|item| {
            let id = item.as_object().and_then(kairos_domain::contact::product_id);
            id.is_none_or(|id| in_stock(&id) != Some(false))
        })
        .cloned()
        .collect()
}

/// [`promotable_items`], or `Err(NOTHING_PROMOTABLE)` when a non-empty list has no promotable item left: the
/// caller skips the send with that reason. An empty list stays empty (the template decides what to show).
pub fn promotable_or_skip(
    items: &[Value],
    in_stock: impl Fn(&str) -> Option<bool>,
) -> Result<Vec<Value>, &'static str> {
    let kept = promotable_items(items, in_stock);
    if kept.is_empty() && !items.is_empty() { Err(NOTHING_PROMOTABLE) } else { Ok(kept) }
}

fn major(m: Money) -> Value {
    // Cents / 100 prints as the shortest decimal (1999 → 19.99), which `money` formats exactly.
    json!(m.cents() as f64 / 100.0)
}

/// The `cart` variable from a contact's computed cart, amounts in major units (what `money` expects; the domain
/// keeps cents): `{items: [{product_id, sku, name, price, quantity, line_total, category, url, image_url}], value,
/// item_count, updated_at}`. With the store's free-shipping threshold (major units) it adds
/// `free_shipping_remaining` (≥ 0) and `free_shipping` (true once reached), for a "spend X more" nudge.
pub fn cart_json(cart: &Cart, free_shipping_threshold: Option<f64>) -> Value {
    let mut value = Money::ZERO;
    let mut count = 0i64;
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            let line = i.price.saturating_mul(i.quantity);
            value = value.saturating_add(line);
            count = count.saturating_add(i.quantity);
            json!({
                "product_id": i.product_id,
                "sku": i.sku,
                "name": i.name,
                "price": major(i.price),
                "quantity": i.quantity,
                "line_total": major(line),
                "category": i.category,
                "url": i.url,
                "image_url": i.image_url,
                "variant": i.variant,
            })
        })
        .collect();
    let mut out = json!({
        "items": items,
        "value": major(value),
        "item_count": count,
        "updated_at": cart.updated_at.map(|t| t.to_string()),
        "checkout_url": cart.checkout_url,
        "currency": cart.currency,
    });
    if let Some(threshold) = free_shipping_threshold.and_then(Money::from_major) {
        let remaining = Money::from_cents((threshold.cents() - value.cents()).max(0));
        out["free_shipping_remaining"] = major(remaining);
        out["free_shipping"] = json!(remaining == Money::ZERO);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_domain::{CartItem, Timestamp};

    #[test]
    fn drops_only_known_out_of_stock() {
        let items = vec![
            json!({"product_id": "a", "name": "A"}),
            json!({"product_id": "b", "name": "B"}),
            json!({"sku": "c"}),
            json!({"id": 7}),
            json!({"name": "no id"}),
        ];
        let stock = |id: &str| match id {
            "a" => Some(true),
            "b" | "7" => Some(false),
            _ => None,
        };
        let kept = promotable_items(&items, stock);
        let names: Vec<_> = kept.iter().map(|v| v.get("name").or(v.get("sku")).cloned()).collect();
        assert_eq!(names, [Some(json!("A")), Some(json!("c")), Some(json!("no id"))]);
        assert_eq!(promotable_or_skip(&items[1..2], stock), Err(NOTHING_PROMOTABLE));
        assert_eq!(promotable_or_skip(&[], stock), Ok(vec![]));
    }

    #[test]
    fn cart_in_major_units() {
        let item = |id: &str, cents, q| CartItem {
            product_id: id.into(),
            sku: None,
            name: Some(id.to_uppercase()),
            price: Money::from_cents(cents),
            quantity: q,
            category: None,
            url: None,
            image_url: None,
            variant: None,
        };
        let cart = Cart {
            items: vec![item("a", 1999, 2), item("b", 500, 1)],
            updated_at: Some(Timestamp::from_secs(0)),
            checkout_url: None,
            currency: Some("EUR".into()),
        };
        let v = cart_json(&cart, Some(75.0));
        assert_eq!(v["currency"], json!("EUR"));
        assert_eq!(v["value"], json!(44.98));
        assert_eq!(v["items"][0]["price"], json!(19.99));
        assert_eq!(v["items"][0]["line_total"], json!(39.98));
        assert_eq!(v["item_count"], json!(3));
        assert_eq!(v["free_shipping_remaining"], json!(30.02));
        assert_eq!(v["free_shipping"], json!(false));
        assert_eq!(v["updated_at"], json!("1970-01-01T00:00:00Z"));
    }
}
