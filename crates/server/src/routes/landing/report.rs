//! `GET /api/v1/reports/landing-pages/{id}`: a page's visits, unique visitors, signups and attributed orders over
//! a range (by default the last 30 days), read from the page's own rows only: its visit events by their name, the
//! `Form Submitted` and `Coupon Revealed` events and the orders of the range (`ReportReads::event_rows`, through
//! the events-by-name index from the range's first sequence), never the whole log.
//!
//! A signup is a `Form Submitted` whose `page` is the page's address (its embedded forms say so), or a coupon
//! revealed on the page for an email address; signups count people. An order is attributed when its contact
//! visited the page within the workspace's attribution window before it (a visit is a web touch: the email
//! window, 5 days by default).

use axum::Json;
use axum::extract::{Path, State};
use kairos_analytics::{Order, Visit, Windows, landing_numbers};
use kairos_domain::{ContactId, SystemEvent};
use kairos_store::reports::OrderRow;
use serde_json::{Value, json};

use super::hosted::visit_name;
use crate::AppState;
use crate::api::{QueryParams, read_log};
use crate::auth::SecretWorkspace;
use crate::error::{ApiError, ErrorBody};
use crate::routes::reports::{ReportQuery, range};

/// The path of an address (`https://k.example/p/sale?x=1#y` → `/p/sale`).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r.find('/').map_or("", |i| &r[i..]));
    rest.split(['?', '#']).next().unwrap_or_default()
}

/// `utm_source` of a visit's address.
fn source_of(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k == "utm_source" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
}

/// The contacts of the rows that signed up on page `id`.
fn signups(forms: &[OrderRow], coupons: &[OrderRow], id: &str) -> Vec<ContactId> {
    let path = format!("/p/{id}");
    let by_form =
        forms.iter().filter(|r| r.properties.get("page").and_then(Value::as_str).is_some_and(|p| path_of(p) == path));
    let by_coupon = coupons.iter().filter(|r| r.properties.get("landing_page_id").and_then(Value::as_str) == Some(id));
    by_form.chain(by_coupon).map(|r| r.contact).collect()
}

fn rate(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The page's numbers over the range.
#[utoipa::path(
    get,
    path = "/api/v1/reports/landing-pages/{id}",
    operation_id = "reports_landing_page",
    tag = "reports",
    params(("id" = String, Path, description = "The landing page's id"), ReportQuery),
    responses(
        (status = 200, description = "`{\"id\", \"name\", \"from\", \"to\", \"visits\", \"unique_visitors\", \"signups\", \
            \"signup_rate\", \"orders\", \"revenue\", \"currency\", \"attribution_window\", \"sources\": [{\"source\", \"visits\"}]}`",
            body = Object),
        (status = 400, description = "A bad range", body = ErrorBody),
        (status = 404, description = "No such page in the workspace", body = ErrorBody)
    )
)]
pub async fn report(
    SecretWorkspace(ws): SecretWorkspace,
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = super::own(&app, ws, &id).await?;
    let (from, to) = range(&q, app.engine.clock().now())?;
    let settings = app.engine.settings(ws).await?.settings;
    let window = Windows { email: settings.attribution_email, sms: settings.attribution_sms }.of("web");
    let (name, key) = (visit_name(&id), id.clone());
    let (visits, forms, coupons, orders) = read_log(&app, move |r| {
        // Visits from one window before the range: an order early in the range may follow one of them.
        let visits = r.event_rows(ws, &name, from.saturating_sub(window), to)?;
        let forms = r.event_rows(ws, SystemEvent::FormSubmitted.as_str(), from, to)?;
        let coupons = r.event_rows(ws, SystemEvent::CouponRevealed.as_str(), from, to)?;
        Ok((visits, forms, coupons, r.order_rows(ws, from, to)?))
    })
    .await?;
    let visits: Vec<Visit> = visits
        .iter()
        .map(|v| Visit {
            contact: v.contact,
            at: v.at,
            source: v.properties.get("url").and_then(Value::as_str).and_then(source_of),
        })
        .collect();
    let orders: Vec<Order> = kairos_analytics::orders(&orders);
    let n = landing_numbers(&visits, &signups(&forms, &coupons, &key), &orders, window, from, to);
    let signup_rate = if n.unique_visitors == 0 { 0.0 } else { rate(n.signups as f64 / n.unique_visitors as f64) };
    let sources: Vec<Value> = n.sources.iter().map(|(s, v)| json!({"source": s, "visits": v})).collect();
    Ok(Json(json!({
        "id": id, "name": page["name"], "from": from.to_string(), "to": to.to_string(),
        "visits": n.visits, "unique_visitors": n.unique_visitors, "signups": n.signups, "signup_rate": signup_rate,
        "orders": n.orders, "revenue": n.revenue.as_major(), "currency": settings.store.currency,
        "attribution_window": window.to_string(), "sources": sources,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_for_their_path_and_source() {
        assert_eq!(path_of("https://k.example/p/sale?utm_source=x#top"), "/p/sale");
        assert_eq!(path_of("http://127.0.0.1:8080/p/big-sale"), "/p/big-sale");
        assert_eq!(path_of("/p/sale?x"), "/p/sale");
        assert_eq!(path_of("https://k.example"), "");
        assert_eq!(
            source_of("https://k.example/p/s?utm_medium=e&utm_source=news%20letter"),
            Some("news letter".into())
        );
        assert_eq!(source_of("https://k.example/p/s?utm_source="), None);
        assert_eq!(source_of("https://k.example/p/s"), None);
    }
}
