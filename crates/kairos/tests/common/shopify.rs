//! Shopify as the tests speak to it: the connection, signed webhooks with Shopify's headers, the documented
//! payloads (`crates/integrations/tests/fixtures/shopify/`).

use kairos_bench::client::HttpClient;
use kairos_integrations::signature::hmac_sha256_base64;
use serde_json::{Value, json};

use super::body;

pub const SECRET: &str = "shpss_test_webhook_secret";

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../integrations/tests/fixtures/shopify/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub async fn connect(c: &mut HttpClient, sk: &str) -> Value {
    let v = json!({"shop_domain": "velo.myshopify.com", "access_token": "shpat_0123456789", "webhook_secret": SECRET});
    let r = c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&v)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

/// Posts a webhook as Shopify does: the raw body, its signature under `secret`, Shopify's headers.
pub async fn hook(
    c: &mut HttpClient,
    ws: &str,
    topic: &str,
    raw: &[u8],
    secret: Option<&str>,
    event_id: &str,
) -> (u16, Value) {
    let sig = secret.map(|s| hmac_sha256_base64(s.as_bytes(), raw));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("x-shopify-topic", topic),
        ("x-shopify-shop-domain", "velo.myshopify.com"),
        ("x-shopify-api-version", "2025-01"),
        ("x-shopify-webhook-id", event_id),
        ("x-shopify-event-id", event_id),
        ("x-shopify-triggered-at", "2026-12-01T00:00:00.000Z"),
    ];
    if let Some(s) = &sig {
        headers.push(("x-shopify-hmac-sha256", s));
    }
    let r =
        c.request("POST", &format!("/hooks/shopify/{ws}"), &headers, bytes::Bytes::copy_from_slice(raw)).await.unwrap();
    (r.status, r.json())
}

pub async fn contact_by_email(c: &mut HttpClient, sk: &str, email: &str) -> Option<Value> {
    let r = c.get(&format!("/api/v1/contacts?email={email}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["items"].as_array().and_then(|a| a.first().cloned())
}
