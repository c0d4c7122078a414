//! `GET /api/v1/openapi.json` (SPEC 16 "OpenAPI"): the OpenAPI 3.1 description of every `/v1` and `/api/v1`
//! route, generated with `utoipa` from the handlers' `#[utoipa::path]` annotations and the typed request and
//! response bodies. The route table (`routes/mod.rs`) and this list must name the same routes: a unit test
//! below and `crates/kairos/tests/openapi.rs` check it both ways.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{ErrorBody, ErrorCode};
use crate::routes;

/// The security scheme of ingestion: HTTP Basic with the write key as user name and an empty password
/// (Segment's convention); a secret key works too.
pub const WRITE_KEY: &str = "write_key";
/// The security scheme of the admin API: `Authorization: Bearer <secret key>`.
pub const SECRET_KEY: &str = "secret_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kairos API",
        description = "Segment-compatible ingestion under `/v1` (write key) and the admin API under `/api/v1` \
                       (secret key, or a UI session cookie with its `X-CSRF-Token`). Every error answers \
                       `{\"error\": {\"code\", \"message\", \"field\"}}`; lists answer `{\"items\", \"next_cursor\"}` \
                       and take `limit` and `cursor`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        routes::ingest::track,
        routes::ingest::identify,
        routes::ingest::page,
        routes::ingest::screen,
        routes::ingest::alias,
        routes::ingest::group,
        routes::ingest::batch,
        routes::ingest::import,
        routes::contacts::list,
        routes::contacts::get,
        routes::contacts::events,
        routes::contact_journey::journey,
        routes::contacts::set_consent,
        routes::contacts::set_preferences,
        routes::events::list,
        routes::products::list,
        routes::products::get,
        routes::products::put,
        routes::products::patch,
        routes::products::bulk,
        routes::segments::create,
        routes::segments::list,
        routes::segments::get,
        routes::segments::update,
        routes::segments::delete,
        routes::segments::preview,
        routes::segment_words::describe,
        routes::segments::members,
        routes::segments::history,
        routes::templates::create,
        routes::templates::put,
        routes::templates::get,
        routes::templates::list,
        routes::templates::preview,
        routes::templates::preview_draft,
        routes::template_variants::pick_winner,
        routes::flows::create,
        routes::flows::update,
        routes::flows::list,
        routes::flows::get,
        routes::flows::activate,
        routes::flows::pause,
        routes::flows::stats,
        routes::flows::library,
        routes::flow_safety::install,
        routes::flow_safety::overlaps,
        routes::flows::trigger,
        routes::flows::simulate,
        routes::tasks::list,
        routes::tasks::get,
        routes::tasks::update,
        routes::tasks::users,
        routes::messages::list,
        routes::messages::get,
        routes::messages::outbox,
        routes::messages::suppressions,
        routes::messages::suppress,
        routes::messages::unsuppress,
        routes::messages::bounces,
        routes::coupons::save,
        routes::coupons::list,
        routes::coupons::get,
        routes::coupons::validate,
        routes::campaigns::create,
        routes::campaigns::list,
        routes::campaigns::get,
        routes::campaigns::schedule,
        routes::campaign_life::edit,
        routes::campaign_life::delete,
        routes::campaign_life::cancel,
        routes::campaign_life::pause,
        routes::campaign_life::resume,
        routes::campaign_life::duplicate,
        routes::campaign_life::audience,
        routes::reports::kpis,
        routes::reports::flows,
        routes::reports::flow,
        routes::reports::campaigns,
        routes::report_details::campaign,
        routes::report_details::templates,
        routes::reports::attribution,
        routes::settings::get,
        routes::settings::put,
        routes::data_rights::export,
        routes::backfill::start,
        routes::backfill::progress,
        routes::data_rights::erase,
        routes::forms::save,
        routes::forms::list,
        routes::forms::get,
        routes::quizzes::save,
        routes::quizzes::list,
        routes::quizzes::preview,
        routes::quizzes::get,
        routes::quizzes::delete,
        routes::quizzes::quiz_report,
        routes::forms::delete,
        routes::landing::save,
        routes::landing::list,
        routes::landing::preview,
        routes::landing::get,
        routes::landing::delete,
        routes::landing::report::report,
        routes::data_rights::audit_log,
        routes::contacts_export::export,
        routes::integrations::list,
        routes::integrations::put,
        routes::integrations::delete,
        routes::integrations::test,
        routes::imports::preview,
        routes::imports::upload,
        routes::dev::clock,
        spec,
    ),
    components(schemas(ErrorBody, ErrorCode)),
    modifiers(&Auth),
    tags(
        (name = "ingestion", description = "Segment's HTTP Tracking API (write key)."),
        (name = "contacts", description = "Profiles, timelines, consent."),
        (name = "products", description = "The catalog."),
        (name = "segments", description = "Live segments."),
        (name = "templates", description = "Message templates and previews."),
        (name = "flows", description = "Automations and the flow library."),
        (name = "tasks", description = "Team tasks opened by flows: assigned to a user, closed; the workspace's users."),
        (name = "messages", description = "Messages, the capture outbox, suppressions, bounces."),
        (name = "coupons", description = "Coupon pools."),
        (name = "campaigns", description = "One-off sends."),
        (name = "reports", description = "Attribution and numbers."),
        (name = "settings", description = "Workspace settings."),
        (name = "integrations", description = "Connections to store platforms (Shopify, WooCommerce, Magento)."),
        (name = "forms", description = "Signup forms: defined here, hosted at /f/{id}."),
        (name = "quizzes", description = "Quiz funnels: defined here, hosted at /q/{id}."),
        (name = "landing pages", description = "Landing pages built from blocks: defined here, hosted at /p/{id}."),
        (name = "imports", description = "CSV import of contacts, orders and products (the export is `GET /api/v1/contacts/export`)."),
        (name = "dev", description = "Only with `serve --dev-clock`."),
        (name = "meta", description = "This description."),
    )
)]
pub struct ApiDoc;

/// Adds the security schemes, each operation's credential, and the answers every operation can give: 401
/// without a valid key, 403 for a key that may not use it (admin routes), 503 while the server cannot commit.
struct Auth;

impl Modify for Auth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            WRITE_KEY,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("The workspace's write key as user name, no password (Segment's convention)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SECRET_KEY,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The workspace's secret key. The web UI sends its session cookie (`kairos_session`) and \
                         the session's `X-CSRF-Token` header instead.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let ingestion = path.starts_with("/v1/");
            let public = path == SPEC_PATH;
            for op in operations(item) {
                if public {
                    op.security = Some(vec![SecurityRequirement::default()]);
                    continue;
                }
                op.security = Some(if ingestion {
                    vec![
                        SecurityRequirement::new(WRITE_KEY, Vec::<String>::new()),
                        SecurityRequirement::new(SECRET_KEY, Vec::<String>::new()),
                    ]
                } else {
                    vec![SecurityRequirement::new(SECRET_KEY, Vec::<String>::new())]
                });
                add_error(op, "401", "No key, an unknown key, or an expired session");
                if !ingestion {
                    add_error(op, "403", "A write key, or a session request without its CSRF token");
                }
                add_error(op, "503", "The server is shutting down or overloaded; nothing was stored (Retry-After)");
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
}

fn add_error(op: &mut Operation, status: &str, description: &str) {
    let response: Response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(ErrorBody::name()))))
                .build(),
        )
        .build();
    op.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
}

/// Where the description is served.
pub const SPEC_PATH: &str = "/api/v1/openapi.json";

/// The description as JSON text, generated once.
pub fn json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()))
}

/// This description (OpenAPI 3.1). No key needed.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "meta_spec",
    tag = "meta",
    responses(
        (
            status = 200,
            description = "The OpenAPI description of every /v1 and /api/v1 route",
            content_type = "application/json",
            body = Object
        )
    )
)]
pub async fn spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routes::{API, INGEST};

    /// (METHOD, full path) of every route the table serves (the dev clock included).
    fn table() -> BTreeSet<(String, String)> {
        let ingest = INGEST.iter().map(|r| (r.method.to_string(), format!("/v1{}", r.path)));
        let api = API.iter().map(|r| (r.method.to_string(), format!("/api/v1{}", r.path)));
        ingest.chain(api).collect()
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn the_description_names_exactly_the_routes_of_the_table() {
        let (table, doc) = (table(), documented());
        let missing: Vec<_> = table.difference(&doc).collect();
        let extra: Vec<_> = doc.difference(&table).collect();
        assert!(missing.is_empty() && extra.is_empty(), "undocumented: {missing:?}; not served: {extra:?}");
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut seen = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(!id.is_empty() && seen.insert(id.clone()), "{method} {path}: operationId {id:?}");
            }
        }
    }

    #[test]
    fn every_path_parameter_is_described() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let names: BTreeSet<&str> = path.split('{').skip(1).filter_map(|s| s.split('}').next()).collect();
            for (method, op) in item.as_object().unwrap() {
                let described: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                assert_eq!(described, names, "{method} {path}");
            }
        }
    }
}
