//! SPEC 16 "Integrations", WooCommerce: webhooks at `/hooks/woocommerce/{workspace_id}` verified with
//! `X-WC-Webhook-Signature` over the raw body, the unsigned ping WooCommerce sends when a webhook is saved
//! acknowledged (storing nothing), and orders and products in WooCommerce's REST v3 shapes taken in.

mod common;

use common::{TestServer, body};
use kairos_bench::client::HttpClient;
use kairos_integrations::signature::hmac_sha256_base64;
use serde_json::{Value, json};

const SECRET: &str = "wc-webhook-secret";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../integrations/tests/fixtures/woocommerce/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

async fn post(c: &mut HttpClient, ws: &str, topic: &str, raw: Vec<u8>, signed: bool) -> (u16, Value) {
    let sig = hmac_sha256_base64(SECRET.as_bytes(), &raw);
    let mut headers = vec![
        ("content-type", "application/json"),
        ("x-wc-webhook-source", "https://example.com/"),
        ("x-wc-webhook-topic", topic),
        ("x-wc-webhook-id", "12"),
        ("x-wc-webhook-delivery-id", "1234"),
    ];
    if signed {
        headers.push(("x-wc-webhook-signature", &sig));
    }
    let r = c.request("POST", &format!("/hooks/woocommerce/{ws}"), &headers, raw.into()).await.unwrap();
    (r.status, r.json())
}

#[tokio::test]
async fn woocommerce_webhooks_are_verified_and_taken_in() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    let missing = json!({"site_url": "https://example.com", "consumer_key": "ck_1", "webhook_secret": SECRET});
    let r = c.send("PUT", "/api/v1/integrations/woocommerce", Some(sk), body(&missing)).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("consumer_secret")));
    let v = json!({"site_url": "https://example.com", "consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": SECRET});
    let r = c.send("PUT", "/api/v1/integrations/woocommerce", Some(sk), body(&v)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(!r.json().to_string().contains("cs_1"));

    // Saving the webhook in WooCommerce sends this, unsigned: acknowledged, nothing stored.
    let ping = [("content-type", "application/x-www-form-urlencoded")];
    let r = c.request("POST", &format!("/hooks/woocommerce/{ws}"), &ping, "webhook_id=12".into()).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());

    assert_eq!(post(&mut c, &ws, "order.created", fixture("order_updated"), false).await.0, 401);
    let empty = c.get("/api/v1/contacts?email=john.doe@example.com", sk).await.unwrap().json();
    assert_eq!(empty["items"], json!([]), "nothing stored from an unsigned order");

    let (status, r) = post(&mut c, &ws, "order.created", fixture("order_updated"), true).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(post(&mut c, &ws, "order.updated", fixture("order_updated"), true).await.0, 200);
    let john = c.get("/api/v1/contacts?email=john.doe@example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_eq!(john["orders"]["count"], json!(1), "{john}");
    assert_eq!(john["orders"]["total_spent"], json!(29.35), "{john}");

    assert_eq!(post(&mut c, &ws, "product.updated", fixture("product_updated"), true).await.0, 200);
    let p = c.get("/api/v1/products/794", sk).await.unwrap().json();
    assert_eq!((p["title"].clone(), p["price"].clone()), (json!("Premium Quality"), json!(17.99)), "{p}");
}
