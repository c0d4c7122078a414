//! Minimal `{{ variable | filter }}` substitution for captured messages and tasks until Liquid rendering lands
//! with the channels release: `contact.*` (profile fields and traits), `event.*` (the trigger event),
//! filters `default: "x"`, `money`, `upcase`, `downcase`, `size`. Values are HTML-escaped in HTML bodies.
//! `{% ... %}` tags are left out of the output.

use serde_json::{Value, json};

use kairos_domain::{Contact, JsonMap};

/// The variables a message sees.
pub fn variables(c: &Contact, event: &JsonMap) -> Value {
    let mut contact = Value::Object(c.traits.clone());
    if let Some(o) = contact.as_object_mut() {
        o.insert("id".into(), json!(c.id.0));
        o.insert("email".into(), json!(c.email.as_ref().map(|e| e.as_str())));
        o.insert("phone".into(), json!(c.phone.as_ref().map(|p| p.as_str())));
        o.insert("user_id".into(), json!(c.user_id));
        let orders = &c.computed.orders;
        o.insert(
            "orders".into(),
            json!({"count": orders.count, "total_spent": orders.total_spent.as_major(), "average_value": orders.average_value().as_major()}),
        );
    }
    let cart = &c.computed.cart;
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id, "name": i.name, "price": i.price.as_major(), "quantity": i.quantity, "url": i.url, "image_url": i.image_url}))
        .collect();
    json!({"contact": contact, "event": Value::Object(event.clone()), "cart": {"value": cart.value().as_major(), "items": items}})
}

fn lookup<'a>(vars: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(vars, |v, k| v.get(k.trim())).filter(|v| !v.is_null())
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn apply_filter(value: Option<Value>, filter: &str) -> Option<Value> {
    let (name, arg) = match filter.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a.trim().trim_matches(|c| c == '"' || c == '\'').to_string())),
        None => (filter.trim(), None),
    };
    match name {
        "default" => match value {
            Some(v) if !(v.is_string() && v.as_str() == Some("")) => Some(v),
            _ => arg.map(Value::String),
        },
        "money" => value
            .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .map(|n| json!(format!("{n:.2}"))),
        "upcase" => value.map(|v| json!(show(&v).to_uppercase())),
        "downcase" => value.map(|v| json!(show(&v).to_lowercase())),
        "size" => value.map(|v| match &v {
            Value::Array(a) => json!(a.len()),
            Value::String(s) => json!(s.chars().count()),
            _ => json!(0),
        }),
        _ => value,
    }
}

/// Renders `template` with `vars`; `html` escapes substituted values.
pub fn render(template: &str, vars: &Value, html: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    loop {
        let next_var = rest.find("{{");
        let next_tag = rest.find("{%");
        let (at, close) = match (next_var, next_tag) {
            (Some(v), Some(t)) if t < v => (t, "%}"),
            (Some(v), _) => (v, "}}"),
            (None, Some(t)) => (t, "%}"),
            (None, None) => break,
        };
        out.push_str(&rest[..at]);
        let Some(end) = rest[at + 2..].find(close) else {
            out.push_str(&rest[at..]);
            return out;
        };
        let inner = &rest[at + 2..at + 2 + end];
        if close == "}}" {
            let mut parts = inner.split('|');
            let path = parts.next().unwrap_or("").trim();
            let mut value = lookup(vars, path).cloned();
            for f in parts {
                value = apply_filter(value, f);
            }
            let text = value.as_ref().map(show).unwrap_or_default();
            out.push_str(&if html { escape_html(&text) } else { text });
        }
        rest = &rest[at + 2 + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_filters_and_escapes() {
        let vars = json!({"contact": {"first_name": "<Ann>"}, "event": {"value": 1234.5}});
        assert_eq!(render("Hi {{ contact.first_name }}!", &vars, true), "Hi &lt;Ann&gt;!");
        assert_eq!(render("{{ contact.last_name | default: \"friend\" }}", &vars, false), "friend");
        assert_eq!(render("{{ event.value | money }} {% if x %}", &vars, false), "1234.50 ");
        assert_eq!(render("broken {{ contact", &vars, false), "broken {{ contact");
    }
}
