//! A definition said in words for the people who read it in the UI: `orders.count >= 2 and did "Product
//! Viewed" within 7d` → "People whose number of orders is at least 2 and who did “Product Viewed” in the last
//! 7 days". Read-only: the text language stays the form people edit and the JSON the form that is stored.
//!
//! Every condition names its own relative pronoun ("whose …" for fields, "who …" for behaviour), so a list
//! joined with "and" / "or" reads as one sentence; nested groups keep their parentheses.

use kairos_domain::Duration;

use crate::ast::{Channel, CompareOp, ConsentIs, Expr, FieldPath, Literal, Relative, Window};

/// Values of an `in [...]` list named before "and N more".
const IN_VALUES_SHOWN: usize = 5;

/// The whole definition as a sentence about people. `segment_name` turns a segment reference (id or name) into
/// the segment's name; unknown references are shown as written.
pub fn describe(e: &Expr, segment_name: &dyn Fn(&str) -> Option<String>) -> String {
    match e {
        Expr::And(xs) if xs.is_empty() => "Everyone".into(),
        Expr::Or(xs) if xs.is_empty() => "No one".into(),
        _ => format!("People {}", clause(e, segment_name)),
    }
}

fn clause(e: &Expr, names: &dyn Fn(&str) -> Option<String>) -> String {
    match e {
        Expr::And(xs) => list(xs, " and ", names, |x| matches!(x, Expr::Or(_))),
        Expr::Or(xs) => list(xs, " or ", names, |x| matches!(x, Expr::And(_))),
        Expr::Not(x) => negated(x, names),
        Expr::Compare { field, op, value } => format!("whose {} {}", field_name(field), compare(field, *op, value)),
        Expr::Exists { field } => format!("whose {} is known", field_name(field)),
        Expr::In { field, values } => format!("whose {} is one of {}", field_name(field), one_of(field, values)),
        Expr::Relative { field, rel } => format!("whose {} was {}", time_name(field), relative(*rel)),
        Expr::Did { event, filter, window } => {
            format!("who did {}{}", event_with(event, filter.as_deref()), window_words(window))
        }
        Expr::Count { event, filter, window, op, value } => {
            format!("who did {} {}{}", event_with(event, filter.as_deref()), times(*op, *value), window_words(window))
        }
        Expr::Consent { channel, status } => match status {
            ConsentIs::Subscribed => format!("who are subscribed to {}", channel_name(*channel)),
            ConsentIs::Unsubscribed => format!("who are unsubscribed from {}", channel_name(*channel)),
        },
        Expr::InSegment(r) => format!("who are in “{}”", names(r).unwrap_or_else(|| r.clone())),
    }
}

fn list(xs: &[Expr], sep: &str, names: &dyn Fn(&str) -> Option<String>, nested: fn(&Expr) -> bool) -> String {
    xs.iter()
        .map(|x| if nested(x) { format!("({})", clause(x, names)) } else { clause(x, names) })
        .collect::<Vec<_>>()
        .join(sep)
}

/// `not` said where the sentence allows it ("who did not do", "who are not subscribed"), else "who do not match".
fn negated(x: &Expr, names: &dyn Fn(&str) -> Option<String>) -> String {
    match x {
        Expr::Did { event, filter, window } => {
            format!("who did not do {}{}", event_with(event, filter.as_deref()), window_words(window))
        }
        Expr::Exists { field } => format!("whose {} is not known", field_name(field)),
        Expr::Consent { channel, status: ConsentIs::Subscribed } => {
            format!("who are not subscribed to {}", channel_name(*channel))
        }
        Expr::InSegment(r) => format!("who are not in “{}”", names(r).unwrap_or_else(|| r.clone())),
        Expr::In { field, values } => format!("whose {} is none of {}", field_name(field), one_of(field, values)),
        Expr::Not(inner) => clause(inner, names),
        other => format!("who do not match ({})", clause(other, names)),
    }
}

/// The name of a profile field, trigger-event property or (inside `where`) event property.
fn field_name(f: &FieldPath) -> String {
    let known = match f.as_str() {
        "orders.count" => "number of orders",
        "orders.total_spent" => "total spent",
        "orders.average_value" => "average order value",
        "orders.refunded_total" => "total refunded",
        "cart.value" => "cart value",
        "cart.item_count" => "number of items in the cart",
        "engagement.score" => "engagement score",
        "lead.score" => "lead score",
        "lifecycle.stage" => "lifecycle stage",
        "rfm.recency" => "recency score",
        "rfm.frequency" => "frequency score",
        "rfm.monetary" => "monetary score",
        "predicted.clv" => "predicted lifetime value",
        "predicted.churn_risk" => "predicted churn risk",
        "predicted.orders" => "predicted number of orders",
        "email" => "email address",
        "phone" => "phone number",
        "user_id" => "user id",
        "timezone" => "time zone",
        "locale" => "language",
        _ => return time_known(f).map(str::to_string).unwrap_or_else(|| path_words(f)),
    };
    known.to_string()
}

fn time_known(f: &FieldPath) -> Option<&'static str> {
    Some(match f.as_str() {
        "orders.first_at" => "first order",
        "orders.last_at" => "last order",
        "cart.updated_at" => "last cart change",
        "last_seen_at" => "last visit",
        "created_at" => "first contact",
        "email.last_open_at" => "last email open",
        "email.last_click_at" => "last email click",
        "predicted.next_order_at" => "predicted next order",
        _ => return None,
    })
}

/// A time field's name for "whose … was in the last 30 days".
fn time_name(f: &FieldPath) -> String {
    time_known(f).map(str::to_string).unwrap_or_else(|| path_words(f))
}

/// `trait.first_name` → "first name", `event.value` → "trigger event's value", `products.category` →
/// "products category".
fn path_words(f: &FieldPath) -> String {
    let mut parts: Vec<&str> = f.segments().collect();
    let prefix = match parts.first() {
        Some(&"trait") if parts.len() > 1 => {
            parts.remove(0);
            ""
        }
        Some(&"event") if parts.len() > 1 => {
            parts.remove(0);
            "trigger event's "
        }
        _ => "",
    };
    format!("{prefix}{}", parts.join(" ").replace('_', " "))
}

fn compare(field: &FieldPath, op: CompareOp, value: &Literal) -> String {
    let v = literal(field, value);
    match op {
        CompareOp::Eq => format!("is {v}"),
        CompareOp::Ne => format!("is not {v}"),
        CompareOp::Gt => format!("is more than {v}"),
        CompareOp::Ge => format!("is at least {v}"),
        CompareOp::Lt => format!("is less than {v}"),
        CompareOp::Le => format!("is at most {v}"),
        CompareOp::Contains => format!("contains {v}"),
        CompareOp::StartsWith => format!("starts with {v}"),
    }
}

fn literal(field: &FieldPath, v: &Literal) -> String {
    match v {
        Literal::Str(s) if field.as_str() == "lifecycle.stage" => stage_name(s),
        Literal::Str(s) => format!("“{s}”"),
        Literal::Num(n) => {
            let mut out = format!("{n}");
            if out.ends_with(".0") {
                out.truncate(out.len() - 2);
            }
            out
        }
        Literal::Bool(true) => "yes".into(),
        Literal::Bool(false) => "no".into(),
        Literal::Null => "empty".into(),
    }
}

/// Lifecycle stages by their names in the UI ("First-time customer").
fn stage_name(s: &str) -> String {
    let name = match s {
        "subscriber" => "Subscriber",
        "lead" => "Lead",
        "first_time_customer" => "First-time customer",
        "repeat_customer" => "Repeat customer",
        "vip" => "VIP",
        "at_risk" => "At risk",
        "lapsed" => "Lapsed",
        other => return format!("“{other}”"),
    };
    format!("“{name}”")
}

fn one_of(field: &FieldPath, values: &[Literal]) -> String {
    let shown: Vec<String> = values.iter().take(IN_VALUES_SHOWN).map(|v| literal(field, v)).collect();
    let more = values.len().saturating_sub(IN_VALUES_SHOWN);
    match (shown.split_last(), more) {
        (None, _) => "nothing".into(),
        (Some((only, [])), 0) => only.clone(),
        (Some((last, rest)), 0) => format!("{} or {last}", rest.join(", ")),
        (Some(_), more) => format!("{} and {more} more", shown.join(", ")),
    }
}

fn relative(rel: Relative) -> String {
    match rel {
        Relative::Within(d) => in_the_last(d),
        Relative::BeforeAgo(d) => format!("more than {} ago", duration(d)),
        Relative::AfterAgo(d) => format!("less than {} ago", duration(d)),
    }
}

fn window_words(w: &Option<Window>) -> String {
    match w {
        None => String::new(),
        Some(Window::Within(d)) | Some(Window::AfterAgo(d)) => format!(" {}", in_the_last(*d)),
        Some(Window::BeforeAgo(d)) => format!(" more than {} ago", duration(*d)),
        Some(Window::SinceEntry) => " since entering the flow".into(),
    }
}

/// "in the last 30 days", "in the last day" (not "1 day").
fn in_the_last(d: Duration) -> String {
    let said = duration(d);
    format!("in the last {}", said.strip_prefix("1 ").unwrap_or(&said))
}

/// “Order Completed”, or “Order Completed” where category contains “bikes”.
fn event_with(event: &str, filter: Option<&Expr>) -> String {
    match filter {
        None => format!("“{event}”"),
        Some(f) => match filter_words(f).as_str() {
            made @ ("made by a machine" | "made by a person") => format!("“{event}” {made}"),
            said => format!("“{event}” where {said}"),
        },
    }
}

/// A `where` filter over event properties: no pronouns, the property names as written.
fn filter_words(e: &Expr) -> String {
    let join = |xs: &[Expr], sep: &str| {
        xs.iter()
            .map(|x| match x {
                Expr::And(_) | Expr::Or(_) => format!("({})", filter_words(x)),
                _ => filter_words(x),
            })
            .collect::<Vec<_>>()
            .join(sep)
    };
    match e {
        Expr::And(xs) => join(xs, " and "),
        Expr::Or(xs) => join(xs, " or "),
        Expr::Not(x) => format!("not ({})", filter_words(x)),
        // Opens and clicks that a mail privacy proxy or a link scanner made (`machine: true`).
        Expr::Compare { field, op: op @ (CompareOp::Eq | CompareOp::Ne), value: Literal::Bool(b) }
            if field.as_str() == "machine" =>
        {
            if (*op == CompareOp::Eq) == *b {
                "made by a machine".into()
            } else {
                "made by a person".into()
            }
        }
        Expr::Compare { field, op, value } => format!("{} {}", path_words(field), compare(field, *op, value)),
        Expr::Exists { field } => format!("{} is given", path_words(field)),
        Expr::In { field, values } => format!("{} is one of {}", path_words(field), one_of(field, values)),
        // The remaining kinds are refused inside filters by validation; said plainly if they ever arrive.
        other => crate::print::to_text(other),
    }
}

fn times(op: CompareOp, n: u64) -> String {
    let count = match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    };
    match op {
        CompareOp::Eq => format!("exactly {count}"),
        CompareOp::Ne => format!("other than {count}"),
        CompareOp::Gt => format!("more than {count}"),
        CompareOp::Ge => format!("at least {count}"),
        CompareOp::Lt => format!("fewer than {count}"),
        CompareOp::Le => format!("at most {count}"),
        // Refused for counts by validation.
        other => format!("{} {count}", other.as_str()),
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Sms => "SMS",
    }
}

/// `7d` and `1w` → "7 days", `14d` → "2 weeks", `90m` → "90 minutes".
pub fn duration(d: Duration) -> String {
    let secs = d.as_micros() / 1_000_000;
    for (size, one, many) in
        [(604_800, "week", "weeks"), (86_400, "day", "days"), (3_600, "hour", "hours"), (60, "minute", "minutes")]
    {
        // "7 days" as people write it; weeks from two on ("2 weeks", not "14 days").
        if secs != 0 && secs % size == 0 && (size != 604_800 || secs >= 2 * size) {
            let n = secs / size;
            return format!("{n} {}", if n == 1 { one } else { many });
        }
    }
    format!("{secs} {}", if secs == 1 { "second" } else { "seconds" })
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
