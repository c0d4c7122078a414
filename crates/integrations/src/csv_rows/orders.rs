//! Orders: one line item per row, consecutive rows with the same order id forming one order (Shopify's order
//! export writes the order's totals on its first row only). An order becomes what the Shopify mapping emits for
//! a webhook order: an identify linking the order's anonymous id to the email and phone, then `Order Completed`
//! with Segment's e-commerce properties, so a profile's order aggregates are the same whichever way it came.

use kairos_domain::{Event, Timestamp};
use serde_json::{Map, Value, json};

use super::cells::{amount, check_row, quantity, read, time};
use super::{Mapping, Rejection, RowContext};
use crate::LINE_ITEMS_MAX;
use crate::common::{is_token, link, track};

/// One row of an orders file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLine {
    /// The order's id (else its number): the key grouping its rows.
    pub order_id: String,
    order_number: Option<String>,
    user_id: Option<String>,
    /// Identity traits: email, phone, names.
    who: Map<String, Value>,
    created_at: Option<Timestamp>,
    currency: Option<String>,
    financial_status: Option<String>,
    coupon: Option<String>,
    /// Order amounts as written on this row (`total`, `subtotal`, `shipping`, `tax`, `discount`).
    amounts: Map<String, Value>,
    /// The line item, as one of Segment's `products[]`.
    item: Option<Map<String, Value>>,
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Reads one row of an orders file.
pub fn order_line(m: &Mapping, row: &[&str], cx: &RowContext) -> Result<OrderLine, Rejection> {
    check_row(m, row)?;
    let key_column = if m.has("order_id") { m.column("order_id") } else { m.column("order_number") };
    let order_id = m.key(row).ok_or_else(|| Rejection::new(&key_column, "the row has no order id"))?;
    if !is_token(&order_id) {
        return Err(Rejection::new(key_column, "an order id is 1 to 128 characters without spaces"));
    }
    let mut who = Map::new();
    if let Some(e) = read(m, row, "email", |c| {
        kairos_domain::Email::parse(c).ok_or_else(|| format!("{c:?} is not an email address"))
    })? {
        who.insert("email".into(), json!(e.as_str()));
    }
    if let Some(p) =
        read(m, row, "phone", |c| kairos_domain::Phone::parse(c).ok_or_else(|| format!("{c:?} is not a phone number")))?
    {
        who.insert("phone".into(), json!(p.as_str()));
    }
    for field in ["first_name", "last_name"] {
        if let Some(v) = m.get(row, field) {
            who.insert(field.into(), json!(v));
        }
    }
    let user_id =
        read(m, row, "user_id", |c| kairos_domain::ids::parse_identifier(c, "user_id").map_err(|e| e.message))?;
    let currency = read(m, row, "currency", |c| {
        let c = c.trim();
        (c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
            .then(|| c.to_ascii_uppercase())
            .ok_or_else(|| format!("{c:?} is not a 3-letter currency code"))
    })?;
    let mut amounts = Map::new();
    for field in ["total", "subtotal", "shipping", "tax", "discount"] {
        if let Some(x) = read(m, row, field, amount)? {
            amounts.insert(field.into(), number(x));
        }
    }
    Ok(OrderLine {
        order_number: m.get(row, "order_number").map(str::to_string).filter(|n| *n != order_id),
        order_id,
        user_id,
        who,
        created_at: read(m, row, "created_at", |c| time(c, cx.now))?,
        currency,
        financial_status: m.get(row, "financial_status").map(str::to_lowercase),
        coupon: m.get(row, "coupon").map(str::to_string),
        amounts,
        item: item(m, row)?,
    })
}

/// The row's line item; None when the row names no product.
fn item(m: &Mapping, row: &[&str]) -> Result<Option<Map<String, Value>>, Rejection> {
    let price = read(m, row, "item_price", amount)?;
    let quantity = read(m, row, "item_quantity", quantity)?;
    let product_id = m.get(row, "item_product_id").or_else(|| m.get(row, "item_sku"));
    let name = m.get(row, "item_name");
    if product_id.is_none() && name.is_none() && price.is_none() {
        return Ok(None);
    }
    let mut out = Map::new();
    out.insert("product_id".into(), json!(product_id));
    out.insert("variant".into(), json!(m.get(row, "item_variant")));
    out.insert("sku".into(), json!(m.get(row, "item_sku")));
    out.insert("name".into(), json!(name));
    out.insert("category".into(), json!(m.get(row, "item_category")));
    out.insert("price".into(), price.map_or(Value::Null, number));
    out.insert("quantity".into(), json!(quantity.unwrap_or(1)));
    out.retain(|_, v| !v.is_null());
    Ok(Some(out))
}

/// The events of one order from its rows (all with the same `order_id`): the first value written wins for the
/// order's own fields, every row adds its line item. `column` names the key column for rejections.
pub fn order_events(lines: &[OrderLine], column: &str, cx: &RowContext) -> Result<Vec<Event>, Rejection> {
    let Some(first) = lines.first() else { return Ok(Vec::new()) };
    if lines.len() > LINE_ITEMS_MAX {
        return Err(Rejection::new(column, format!("an order has at most {LINE_ITEMS_MAX} rows (line items)")));
    }
    let order_id = &first.order_id;
    let pick = |f: &dyn Fn(&OrderLine) -> Option<&String>| lines.iter().find_map(f).cloned();
    let mut who = Map::new();
    for line in lines {
        for (k, v) in &line.who {
            who.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let user_id = pick(&|l| l.user_id.as_ref());
    if user_id.is_none() && !who.contains_key("email") && !who.contains_key("phone") {
        return Err(Rejection::new(column, format!("order {order_id} names no email, phone or customer id")));
    }
    let at = lines.iter().find_map(|l| l.created_at).unwrap_or(cx.as_of).min(cx.now);
    let mut props = Map::new();
    props.insert("order_id".into(), json!(order_id));
    props.insert("order_number".into(), json!(pick(&|l| l.order_number.as_ref())));
    for field in ["total", "subtotal", "shipping", "tax", "discount"] {
        props.insert(field.into(), lines.iter().find_map(|l| l.amounts.get(field).cloned()).unwrap_or(Value::Null));
    }
    // As the Shopify mapping does: Segment's `revenue` is the subtotal.
    props.insert("revenue".into(), props["subtotal"].clone());
    let coupon = pick(&|l| l.coupon.as_ref());
    props.insert("discount_codes".into(), json!(coupon.iter().collect::<Vec<_>>()));
    props.insert("coupon".into(), json!(coupon));
    props.insert("currency".into(), json!(pick(&|l| l.currency.as_ref())));
    props.insert("financial_status".into(), json!(pick(&|l| l.financial_status.as_ref())));
    props.insert(
        "products".into(),
        Value::Array(lines.iter().filter_map(|l| l.item.clone().map(Value::Object)).collect()),
    );
    props.retain(|_, v| !v.is_null());
    let who = (format!("csv-order:{order_id}"), who);
    let mut messages: Vec<Value> = link(&who, at, format!("csv-order-{order_id}-link")).into_iter().collect();
    messages.push(track("Order Completed", format!("csv-order-{order_id}-completed"), who, at, Value::Object(props)));
    messages
        .into_iter()
        .map(|mut message| {
            if let Some(u) = &user_id {
                message["userId"] = json!(u);
            }
            Event::from_segment(message, None, cx.now, &mut String::new)
                .map_err(|e| Rejection::new(column, format!("order {order_id} is not a valid order: {}", e.message)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_rows::{Kind, map_header};

    use crate::csv_rows::test_cx as cx;

    const HEADER: &[&str] = &[
        "Name",
        "Email",
        "Created at",
        "Currency",
        "Total",
        "Subtotal",
        "Discount Code",
        "Lineitem name",
        "Lineitem sku",
        "Lineitem price",
        "Lineitem quantity",
    ];

    #[test]
    fn consecutive_rows_make_one_order_with_segment_properties() {
        let m = map_header(Kind::Orders, HEADER).unwrap();
        let rows = [
            [
                "#1001",
                "ann@example.com",
                "2026-03-01 10:00:00 +0000",
                "EUR",
                "129.90",
                "119.90",
                "SPRING",
                "Helmet",
                "H-1",
                "59.95",
                "2",
            ],
            ["#1001", "ann@example.com", "", "", "", "", "", "Light", "L-1", "0", "1"],
        ];
        let lines: Vec<OrderLine> = rows.iter().map(|r| order_line(&m, r, &cx()).unwrap()).collect();
        let events = order_events(&lines, "Name", &cx()).unwrap();
        assert_eq!(events.len(), 2, "an identify linking the order to the person, then the order");
        assert_eq!(events[0].traits["email"], "ann@example.com");
        let order = &events[1];
        assert_eq!(order.name.as_deref(), Some("Order Completed"));
        assert_eq!(order.message_id.as_str(), "csv-order-#1001-completed");
        assert_eq!(order.timestamp, Timestamp::parse("2026-03-01T10:00:00Z").unwrap());
        let p = &order.properties;
        assert_eq!(
            (p["order_id"].clone(), p["total"].clone(), p["revenue"].clone()),
            (json!("#1001"), json!(129.9), json!(119.9))
        );
        assert_eq!(p["currency"], "EUR");
        assert_eq!(p["coupon"], "SPRING");
        assert_eq!(
            p["products"],
            json!([{"product_id": "H-1", "sku": "H-1", "name": "Helmet", "price": 59.95, "quantity": 2},
                   {"product_id": "L-1", "sku": "L-1", "name": "Light", "price": 0.0, "quantity": 1}])
        );
        assert_eq!(kairos_domain::contact::order_amount(p), kairos_domain::Money::from_major(129.9).unwrap());
    }

    #[test]
    fn bad_cells_reject_the_row_naming_the_column() {
        let m = map_header(Kind::Orders, HEADER).unwrap();
        let good = ["#1", "a@x.com", "2026-03-01", "EUR", "10", "10", "", "Helmet", "H", "10", "1"];
        for (i, bad, column, reason) in [
            (9, "-5", "Lineitem price", "negative"),
            (10, "two", "Lineitem quantity", "not a quantity"),
            (2, "someday", "Created at", "not a date"),
            (3, "EURO", "Currency", "currency code"),
            (1, "a@", "Email", "not an email"),
            (0, "# 1", "Name", "without spaces"),
        ] {
            let mut row = good;
            row[i] = bad;
            let r = order_line(&m, &row, &cx()).unwrap_err();
            assert_eq!(r.column, column, "{bad}");
            assert!(r.reason.contains(reason), "{bad}: {r:?}");
        }
        let mut row = good;
        row[1] = "";
        let line = order_line(&m, &row, &cx()).unwrap();
        let r = order_events(&[line], "Name", &cx()).unwrap_err();
        assert!(r.reason.contains("names no email"), "{r:?}");
        let many: Vec<OrderLine> = (0..=LINE_ITEMS_MAX).map(|_| order_line(&m, &good, &cx()).unwrap()).collect();
        assert!(order_events(&many, "Name", &cx()).unwrap_err().reason.contains("at most"));
    }
}
