//! The route table of the Segment ingestion API (`/v1`) and the admin API (`/api/v1`): every route with the
//! credential it needs. The router is built from this table, so the table cannot drift from what is served, and
//! the isolation suite (`crates/kairos/tests/isolation_routes.rs`) walks it: every route is tried with no key, a
//! write key, a session without its CSRF token, and another workspace's ids. The OpenAPI description
//! (`crate::openapi`) must name exactly these routes (checked by a unit test and `crates/kairos/tests/openapi.rs`).

use std::collections::BTreeMap;

pub mod backfill;
pub mod campaign_life;
pub mod campaigns;
pub mod contact_journey;
pub mod contacts;
pub mod contacts_export;
pub mod coupons;
pub mod data_rights;
pub mod demo_images;
pub mod dev;
pub mod events;
pub mod flow_safety;
pub mod flows;
pub mod forms;
pub mod hooks;
pub mod imports;
pub mod ingest;
pub mod integrations;
pub mod inventory;
pub mod landing;
pub mod links;
pub mod messages;
pub mod onsite;
pub mod privacy;
pub mod products;
pub mod quizzes;
pub mod report_details;
pub mod reports;
pub mod segment_words;
pub mod segments;
pub mod settings;
pub mod site;
pub mod site_items;
pub mod tasks;
mod template_blocks;
pub mod template_variants;
pub mod templates;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::AppState;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A workspace's write key (or its secret key): ingestion only.
    WriteKey,
    /// A secret key, or a UI session with its CSRF token.
    Secret,
    /// No credential (the API's own description).
    Public,
}

#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// Relative to the prefix, with `{name}` for path parameters.
    pub path: &'static str,
    pub access: Access,
    handler: fn() -> MethodRouter<AppState>,
}

const fn secret(method: &'static str, path: &'static str, handler: fn() -> MethodRouter<AppState>) -> Route {
    Route { method, path, access: Access::Secret, handler }
}

const fn no_key(method: &'static str, path: &'static str, handler: fn() -> MethodRouter<AppState>) -> Route {
    Route { method, path, access: Access::Public, handler }
}

const fn ingest(path: &'static str, handler: fn() -> MethodRouter<AppState>) -> Route {
    Route { method: "POST", path, access: Access::WriteKey, handler }
}

/// `/v1`: Segment's HTTP Tracking API.
pub const INGEST: &[Route] = &[
    ingest("/track", || post(ingest::track)),
    ingest("/identify", || post(ingest::identify)),
    ingest("/page", || post(ingest::page)),
    ingest("/screen", || post(ingest::screen)),
    ingest("/alias", || post(ingest::alias)),
    ingest("/group", || post(ingest::group)),
    ingest("/batch", || post(ingest::batch)),
    ingest("/import", || post(ingest::import)),
];

/// `/api/v1`: the admin API. `/dev/clock` exists only with `serve --dev-clock`.
pub const API: &[Route] = &[
    secret("GET", "/contacts", || get(contacts::list)),
    secret("GET", "/contacts/export", || get(contacts_export::export)),
    secret("POST", "/contacts/consent", || post(contacts::set_consent)),
    secret("POST", "/contacts/preferences", || post(contacts::set_preferences)),
    secret("GET", "/contacts/{id}", || get(contacts::get)),
    secret("GET", "/contacts/{id}/events", || get(contacts::events)),
    secret("GET", "/contacts/{id}/journey", || get(contact_journey::journey)),
    secret("GET", "/contacts/{id}/export", || get(data_rights::export)),
    secret("DELETE", "/contacts/{id}", || delete(data_rights::erase)),
    secret("GET", "/audit-log", || get(data_rights::audit_log)),
    secret("POST", "/forms", || post(forms::save)),
    secret("GET", "/forms", || get(forms::list)),
    secret("GET", "/forms/{id}", || get(forms::get)),
    secret("POST", "/quizzes", || post(quizzes::save)),
    secret("GET", "/quizzes", || get(quizzes::list)),
    secret("POST", "/quizzes/preview", || post(quizzes::preview)),
    secret("GET", "/quizzes/{id}", || get(quizzes::get)),
    secret("DELETE", "/quizzes/{id}", || delete(quizzes::delete)),
    secret("DELETE", "/forms/{id}", || delete(forms::delete)),
    secret("POST", "/landing-pages", || post(landing::save)),
    secret("GET", "/landing-pages", || get(landing::list)),
    secret("POST", "/landing-pages/preview", || post(landing::preview)),
    secret("GET", "/landing-pages/{id}", || get(landing::get)),
    secret("DELETE", "/landing-pages/{id}", || delete(landing::delete)),
    secret("GET", "/reports/landing-pages/{id}", || get(landing::report::report)),
    secret("GET", "/events", || get(events::list)),
    secret("GET", "/products", || get(products::list)),
    secret("POST", "/products/bulk", || post(products::bulk)),
    secret("PUT", "/products/{id}", || put(products::put)),
    secret("PATCH", "/products/{id}", || patch(products::patch)),
    secret("GET", "/products/{id}", || get(products::get)),
    secret("POST", "/segments", || post(segments::create)),
    secret("GET", "/segments", || get(segments::list)),
    secret("POST", "/segments/preview", || post(segments::preview)),
    secret("POST", "/segments/describe", || post(segment_words::describe)),
    secret("GET", "/segments/{id}", || get(segments::get)),
    secret("PUT", "/segments/{id}", || put(segments::update)),
    secret("DELETE", "/segments/{id}", || delete(segments::delete)),
    secret("GET", "/segments/{id}/members", || get(segments::members)),
    secret("GET", "/segments/{id}/history", || get(segments::history)),
    secret("POST", "/templates", || post(templates::create)),
    secret("GET", "/templates", || get(templates::list)),
    secret("PUT", "/templates/{id}", || put(templates::put)),
    secret("GET", "/templates/{id}", || get(templates::get)),
    secret("POST", "/templates/preview", || post(templates::preview_draft)),
    secret("POST", "/templates/{id}/preview", || post(templates::preview)),
    secret("POST", "/templates/{id}/variants/{variant}/winner", || post(template_variants::pick_winner)),
    secret("POST", "/flows", || post(flows::create)),
    secret("GET", "/flows", || get(flows::list)),
    secret("GET", "/flows/library", || get(flows::library)),
    secret("POST", "/flows/library/{key}/install", || post(flow_safety::install)),
    secret("GET", "/flows/{id}", || get(flows::get)),
    secret("PUT", "/flows/{id}", || put(flows::update)),
    secret("POST", "/flows/{id}/activate", || post(flows::activate)),
    secret("GET", "/flows/{id}/overlaps", || get(flow_safety::overlaps)),
    secret("POST", "/flows/{id}/pause", || post(flows::pause)),
    secret("GET", "/flows/{id}/stats", || get(flows::stats)),
    secret("POST", "/flows/{id}/trigger", || post(flows::trigger)),
    secret("POST", "/flows/{id}/simulate", || post(flows::simulate)),
    secret("GET", "/outbox", || get(messages::outbox)),
    secret("GET", "/tasks", || get(tasks::list)),
    secret("GET", "/tasks/{id}", || get(tasks::get)),
    secret("PATCH", "/tasks/{id}", || patch(tasks::update)),
    secret("GET", "/users", || get(tasks::users)),
    secret("GET", "/settings", || get(settings::get)),
    secret("GET", "/integrations", || get(integrations::list)),
    secret("PUT", "/integrations/{platform}", || put(integrations::put)),
    secret("DELETE", "/integrations/{platform}", || delete(integrations::delete)),
    secret("POST", "/integrations/{platform}/test", || post(integrations::test)),
    secret("POST", "/integrations/{platform}/backfill", || post(backfill::start)),
    secret("GET", "/integrations/{platform}/backfill", || get(backfill::progress)),
    secret("PUT", "/settings", || put(settings::put)),
    secret("POST", "/imports/csv/preview", || post(imports::preview)),
    secret("POST", "/imports/csv", || post(imports::upload)),
    secret("GET", "/messages", || get(messages::list)),
    secret("GET", "/messages/{id}", || get(messages::get)),
    secret("GET", "/suppressions", || get(messages::suppressions)),
    secret("POST", "/suppressions", || post(messages::suppress)),
    secret("DELETE", "/suppressions/{channel}/{address}", || delete(messages::unsuppress)),
    secret("POST", "/bounces", || post(messages::bounces)),
    secret("POST", "/coupons", || post(coupons::save)),
    secret("GET", "/coupons", || get(coupons::list)),
    secret("POST", "/coupons/validate", || post(coupons::validate)),
    secret("GET", "/coupons/{id}", || get(coupons::get)),
    secret("POST", "/campaigns", || post(campaigns::create)),
    secret("GET", "/campaigns", || get(campaigns::list)),
    secret("GET", "/campaigns/{id}", || get(campaigns::get)),
    secret("POST", "/campaigns/{id}/schedule", || post(campaigns::schedule)),
    secret("PATCH", "/campaigns/{id}", || patch(campaign_life::edit)),
    secret("DELETE", "/campaigns/{id}", || delete(campaign_life::delete)),
    secret("POST", "/campaigns/{id}/cancel", || post(campaign_life::cancel)),
    secret("POST", "/campaigns/{id}/pause", || post(campaign_life::pause)),
    secret("POST", "/campaigns/{id}/resume", || post(campaign_life::resume)),
    secret("POST", "/campaigns/{id}/duplicate", || post(campaign_life::duplicate)),
    secret("GET", "/campaigns/{id}/audience", || get(campaign_life::audience)),
    secret("GET", "/reports/kpis", || get(reports::kpis)),
    secret("GET", "/reports/flows", || get(reports::flows)),
    secret("GET", "/reports/flows/{id}", || get(reports::flow)),
    secret("GET", "/reports/campaigns", || get(reports::campaigns)),
    secret("GET", "/reports/campaigns/{id}", || get(report_details::campaign)),
    secret("GET", "/reports/templates", || get(report_details::templates)),
    secret("GET", "/reports/attribution", || get(reports::attribution)),
    secret("GET", "/reports/quizzes/{id}", || get(quizzes::quiz_report)),
    secret("POST", "/dev/clock", || post(dev::clock)),
    no_key("GET", "/openapi.json", || get(crate::openapi::spec)),
];

/// A router for `routes`, merging the methods of each path (axum wants one `route` call per path).
pub fn router(routes: &[Route], keep: impl Fn(&Route) -> bool) -> Router<AppState> {
    let mut by_path: BTreeMap<&str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes.iter().filter(|r| keep(r)) {
        let m = (r.handler)();
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(m),
            None => m,
        };
        by_path.insert(r.path, merged);
    }
    by_path.into_iter().fold(Router::new(), |router, (path, m)| router.route(path, m))
}

/// The public endpoints outside `/v1` and `/api/v1`: links in messages (their signature is the credential), the
/// SMS provider's and the store platforms' webhooks (their signatures), and the tracker stores load.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/js/kairos.js", get(site::tracker))
        .route("/demo-images/{file}", get(demo_images::image))
        .route("/js/kairos-forms.js", get(onsite::forms_script))
        .route("/v1/site/forms", get(onsite::forms))
        .route("/f/{id}", get(forms::hosted).post(forms::submit))
        .route("/q/{id}", get(quizzes::hosted::show).post(quizzes::hosted::step))
        .route("/p/{id}", get(landing::hosted::hosted))
        .route("/p/{id}/coupon", post(landing::hosted::reveal))
        .route("/o/{token}", get(links::open))
        .route("/c/{token}", get(links::click))
        .route("/u/{token}", get(links::unsubscribe_page).post(links::unsubscribe))
        .route("/preferences/{token}", get(links::preferences_page).post(links::save_preferences))
        .route("/confirm/{token}", get(links::confirm))
        .route("/hooks/sms/inbound", post(hooks::sms_inbound))
        .route("/hooks/sms/status", post(hooks::sms_status))
        .route("/hooks/shopify/{workspace_id}", post(integrations::shopify_hook))
        .route("/hooks/woocommerce/{workspace_id}", post(integrations::woocommerce_hook))
}
