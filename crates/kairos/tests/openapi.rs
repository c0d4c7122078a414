//! `GET /api/v1/openapi.json` (SPEC 16 "OpenAPI") from the real server: it needs no key, parses as OpenAPI 3,
//! names every route of the server's route table with its method and nothing else, and describes the shapes
//! clients depend on (the error body, the batch request, the credentials).

mod common;

use std::collections::BTreeSet;

use common::TestServer;
use kairos_server::routes::{API, INGEST};
use serde_json::Value;

async fn description(s: &TestServer) -> Value {
    let mut c = s.client().await;
    let r = c.send("GET", "/api/v1/openapi.json", None, None).await.unwrap();
    assert_eq!(r.status, 200, "no key needed: {:?}", String::from_utf8_lossy(&r.body));
    assert!(r.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    serde_json::from_slice(&r.body).expect("the description is JSON")
}

/// The component a `$ref` points to.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "$ref {r} names no schema");
            target
        }
        None => v,
    }
}

/// Every `$ref` anywhere in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r);
            }
            o.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_description_covers_every_route_and_parses_as_openapi_3() {
    let s = TestServer::start();
    let doc = description(&s).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["paths"].is_object() && doc["components"]["schemas"].is_object());

    let table: BTreeSet<(String, String)> = INGEST
        .iter()
        .map(|r| (r.method.to_ascii_lowercase(), format!("/v1{}", r.path)))
        .chain(API.iter().map(|r| (r.method.to_ascii_lowercase(), format!("/api/v1{}", r.path))))
        .collect();
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            described.insert((method.clone(), path.clone()));
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
            assert!(op["operationId"].is_string(), "{method} {path}: no operationId");
        }
    }
    let missing: Vec<_> = table.difference(&described).collect();
    let unknown: Vec<_> = described.difference(&table).collect();
    assert!(missing.is_empty(), "routes the description lacks: {missing:?}");
    assert!(unknown.is_empty(), "described routes the server does not serve: {unknown:?}");
    assert!(table.contains(&("patch".into(), "/api/v1/products/{id}".into())));

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{} refs", all.len());
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {r}");
    }
}

#[tokio::test]
async fn credentials_and_errors_are_described() {
    let s = TestServer::start();
    let doc = description(&s).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!((&schemes["write_key"]["type"], &schemes["write_key"]["scheme"]), (&"http".into(), &"basic".into()));
    assert_eq!((&schemes["secret_key"]["type"], &schemes["secret_key"]["scheme"]), (&"http".into(), &"bearer".into()));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security: Vec<&str> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().map(String::as_str))
                .collect();
            if path == "/api/v1/openapi.json" {
                assert!(security.is_empty(), "{method} {path} needs no key: {security:?}");
                continue;
            }
            let wanted: &[&str] = if path.starts_with("/v1/") { &["write_key", "secret_key"] } else { &["secret_key"] };
            assert_eq!(security, wanted, "{method} {path}");
            for status in ["401", "503"] {
                let resp = &op["responses"][status];
                let schema = &resp["content"]["application/json"]["schema"];
                assert_eq!(schema["$ref"], "#/components/schemas/ErrorBody", "{method} {path} {status}");
            }
            if path.starts_with("/api/v1/") {
                assert!(op["responses"]["403"].is_object(), "{method} {path}: no 403");
            }
        }
    }

    // The error shape (SPEC 16): code from the table, a message, and a field that is always present.
    let body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(body["required"], serde_json::json!(["error"]));
    let detail = resolve(&doc, &body["properties"]["error"]);
    let required: BTreeSet<&str> = detail["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, BTreeSet::from(["code", "field", "message"]));
    assert_eq!(detail["properties"]["field"]["type"], serde_json::json!(["string", "null"]));
    let code = resolve(&doc, &detail["properties"]["code"]);
    assert_eq!(code["type"], "string");
    let codes: BTreeSet<&str> = code["enum"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for c in [
        "invalid_json",
        "missing_field",
        "invalid_value",
        "not_found",
        "unauthorized",
        "forbidden",
        "csrf_token_invalid",
        "payload_too_large",
        "unavailable",
    ] {
        assert!(codes.contains(c), "{c} is not in the described codes {codes:?}");
    }

    // And the server answers in that shape.
    let mut c = s.client().await;
    let r = c.send("GET", "/api/v1/products?limit=0", Some(&s.keys.secret_key), None).await.unwrap();
    let e = r.json();
    assert_eq!(r.status, 400);
    assert!(codes.contains(e["error"]["code"].as_str().unwrap()), "{e}");
    let keys: BTreeSet<&str> = e["error"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, required);
}

#[tokio::test]
async fn the_important_bodies_have_their_fields() {
    let s = TestServer::start();
    let doc = description(&s).await;
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    let request = |o: &Value| o["requestBody"]["content"]["application/json"]["schema"].clone();
    let props = |schema: &Value| -> BTreeSet<String> {
        let s = resolve(&doc, schema);
        let mut out: BTreeSet<String> =
            s["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        for part in s["allOf"].as_array().into_iter().flatten() {
            let p = resolve(&doc, part);
            out.extend(p["properties"].as_object().into_iter().flat_map(|o| o.keys().cloned()));
        }
        out
    };

    // The batch request: an array of Segment events with their documented fields.
    let batch = request(&op("post", "/v1/batch"));
    assert_eq!(batch["$ref"], "#/components/schemas/BatchRequest");
    let batch = resolve(&doc, &batch);
    assert_eq!(batch["required"], serde_json::json!(["batch"]));
    assert_eq!(batch["properties"]["batch"]["type"], "array");
    let event = &batch["properties"]["batch"]["items"];
    for f in ["type", "userId", "anonymousId", "event", "properties", "traits", "context", "timestamp", "messageId"] {
        assert!(props(event).contains(f), "a batch item lacks {f}");
    }
    assert_eq!(request(&op("post", "/v1/track"))["$ref"], "#/components/schemas/SegmentEvent");

    // Products: PUT and PATCH take the product's fields; PATCH may answer 404.
    for method in ["put", "patch"] {
        let fields = props(&request(&op(method, "/api/v1/products/{id}")));
        for f in ["title", "price", "inventory_quantity", "available", "categories"] {
            assert!(fields.contains(f), "{method} lacks {f}: {fields:?}");
        }
    }
    assert!(op("patch", "/api/v1/products/{id}")["responses"]["404"].is_object());

    // A list answers items and next_cursor; a contact has its computed fields.
    let list = &op("get", "/api/v1/contacts")["responses"]["200"]["content"]["application/json"]["schema"];
    let page = resolve(&doc, list);
    assert!(props(list).contains("items") && props(list).contains("next_cursor"), "{page}");
    let contact = &page["properties"]["items"]["items"];
    for f in ["id", "email", "traits", "consent", "orders", "cart", "created_at"] {
        assert!(props(contact).contains(f), "a contact lacks {f}");
    }

    // Free-form bodies are objects with their documented fields.
    let flow = props(&request(&op("post", "/api/v1/flows")));
    for f in ["name", "trigger", "entry", "exit_when", "steps"] {
        assert!(flow.contains(f), "a flow definition lacks {f}");
    }
    let consent = props(&request(&op("post", "/api/v1/contacts/consent")));
    for f in ["email", "phone", "user_id", "contact_id", "channel", "status", "source"] {
        assert!(consent.contains(f), "a consent request lacks {f}");
    }

    // A template may be built from blocks, each type described with its fields.
    let template = props(&request(&op("post", "/api/v1/templates")));
    for f in ["channel", "subject", "html", "text", "blocks", "preview_text", "variants", "winner"] {
        assert!(template.contains(f), "a template lacks {f}: {template:?}");
    }
    // Subject-line variants: each has its subject and preview text; the templates report has each line's numbers
    // and the lead; a message says which line it was given.
    let variant = resolve(&doc, &serde_json::json!({"$ref": "#/components/schemas/SubjectVariantBody"})).clone();
    assert_eq!(variant["required"], serde_json::json!(["subject"]), "{variant}");
    assert!(variant["properties"]["preview_text"].is_object(), "{variant}");
    let ok = |o: &Value| o["responses"]["200"]["content"]["application/json"]["schema"].clone();
    let report = resolve(&doc, &ok(&op("get", "/api/v1/reports/templates"))).clone();
    let parts = std::iter::once(&report).chain(report["allOf"].as_array().into_iter().flatten());
    let items = parts.map(|p| resolve(&doc, p)["properties"]["items"].clone()).find(|i| i.is_object());
    let item = &items.unwrap_or_else(|| panic!("{report}"))["items"];
    for f in ["template_id", "sent", "opened", "variants", "lead", "winner"] {
        assert!(props(item).contains(f), "a template report item lacks {f}: {:?}", props(item));
    }
    let line = props(&serde_json::json!({"$ref": "#/components/schemas/VariantNumbers"}));
    for f in ["variant", "subject", "preview_text", "sent", "opened", "open_rate", "clicked", "conversions", "revenue"]
    {
        assert!(line.contains(f), "a subject line's numbers lack {f}: {line:?}");
    }
    let lead = props(&serde_json::json!({"$ref": "#/components/schemas/VariantLead"}));
    assert_eq!(lead.into_iter().collect::<Vec<_>>(), ["confidence", "decided", "enough_data", "metric", "variant"]);
    assert!(props(&ok(&op("get", "/api/v1/messages/{id}"))).contains("variant"));
    let winner = op("post", "/api/v1/templates/{id}/variants/{variant}/winner");
    assert!(winner["responses"]["400"].is_object() && winner["responses"]["404"].is_object(), "{winner}");
    let block = &doc["components"]["schemas"]["Block"];
    assert_eq!(block["oneOf"].as_array().map(Vec::len), Some(9), "nine block types: {block}");
    let button = resolve(&doc, &serde_json::json!({"$ref": "#/components/schemas/Button"})).clone();
    for f in ["label", "url", "color", "align"] {
        assert!(button["properties"][f].is_object(), "a button block lacks {f}: {button}");
    }
}
