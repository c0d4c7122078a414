//! Coupons the checkout accepts (issue 13): a unique pool backed by WooCommerce or Shopify has its codes
//! created in the shop ahead of need (local fakes of the WooCommerce coupons batch API and Shopify's price
//! rule discount codes), a flow hands out only codes the shop created, and when the shop refuses the flow
//! takes its fallback branch.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Recorder, TestServer, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn allow_local(dir: &std::path::Path) {
    std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap();
}

/// Polls a pool until `done` holds for it (up to 10 s).
async fn pool_until(c: &mut HttpClient, sk: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let p = c.get(&format!("/api/v1/coupons/{id}"), sk).await.unwrap().json();
        if done(&p) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pool {id} never got there");
}

async fn flow_with_coupon(c: &mut HttpClient, sk: &str, pool: &str, event: &str) {
    let steps = json!([{"id": "coupon", "type": "issue_coupon", "pool": pool, "next": "mail", "fallback_next": "plain"},
        {"id": "mail", "type": "send", "channel": "email", "template": "with-code", "transactional": true},
        {"id": "plain", "type": "send", "channel": "email", "template": "no-code", "transactional": true}]);
    let f = json!({"name": format!("Coupon {pool}"), "trigger": {"type": "event", "event": event}, "steps": steps});
    let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
}

#[tokio::test]
async fn codes_are_created_in_the_shop_before_a_flow_hands_them_out() {
    let s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    // WooCommerce creates what it is sent (in lower case, as it stores codes); Shopify refuses the token.
    let answer = Arc::new(|path: &str, _n: usize, body: &[u8]| -> common::Answer {
        if path == "/wp-json/wc/v3/coupons/batch" {
            let sent: Value = serde_json::from_slice(body).unwrap_or_default();
            let created: Vec<Value> = sent["create"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| {
                    json!({"id": 700 + i, "code": c["code"].as_str().unwrap_or_default().to_lowercase(),
                    "amount": c["amount"], "discount_type": c["discount_type"], "usage_limit": c["usage_limit"]})
                })
                .collect();
            return (200, Vec::new(), json!({"create": created}).to_string());
        }
        if path.starts_with("/admin/api/2026-01/price_rules/") {
            return (401, Vec::new(), r#"{"errors": "[API] Invalid API key or access token"}"#.into());
        }
        (404, Vec::new(), "{}".into())
    });
    let shop = Recorder::start_with_bodies(answer).await;
    let woo = json!({"site_url": format!("http://{}", shop.addr), "consumer_key": "ck_x", "consumer_secret": "cs_x",
                     "webhook_secret": "whsec"});
    assert_eq!(c.send("PUT", "/api/v1/integrations/woocommerce", Some(sk), body(&woo)).await.unwrap().status, 200);
    let shopify = json!({"shop_domain": "velo.myshopify.com", "access_token": "shpat_revoked", "webhook_secret": "s",
                         "api_url": format!("http://{}", shop.addr)});
    assert_eq!(c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&shopify)).await.unwrap().status, 200);

    for (pool, field) in [
        (
            json!({"id": "x", "type": "shared", "code": "A", "value_type": "percent", "value": 5, "platform": "woocommerce"}),
            "platform",
        ),
        (
            json!({"id": "x", "type": "unique", "value_type": "percent", "value": 5, "platform": "shopify"}),
            "price_rule_id",
        ),
        (json!({"id": "x", "type": "unique", "value_type": "percent", "value": 5, "platform": "magento"}), "platform"),
    ] {
        let r = c.post_json("/api/v1/coupons", sk, &pool).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{pool}");
    }
    let vip = json!({"id": "vip", "type": "unique", "pattern": "VIP-{CODE}", "value_type": "percent", "value": 15,
                     "platform": "woocommerce"});
    assert_eq!(c.post_json("/api/v1/coupons", sk, &vip).await.unwrap().status, 201);
    let gift = json!({"id": "gift", "type": "unique", "pattern": "GIFT-{CODE}", "value_type": "fixed", "value": 10,
                      "platform": "shopify", "price_rule_id": "507328175"});
    assert_eq!(c.post_json("/api/v1/coupons", sk, &gift).await.unwrap().status, 201);
    let stocked = pool_until(&mut c, sk, "vip", |p| p["stock"] == json!(20)).await;
    assert_eq!(stocked["active"], json!(true), "{stocked}");
    let sent: Value =
        serde_json::from_slice(&shop.received().iter().find(|r| r.path.ends_with("/batch")).unwrap().body).unwrap();
    let coupons = sent["create"].as_array().unwrap();
    assert_eq!(coupons.len(), 20);
    assert_eq!(
        (coupons[0]["discount_type"].clone(), coupons[0]["amount"].clone(), coupons[0]["usage_limit"].clone()),
        (json!("percent"), json!("15.00"), json!(1))
    );
    let created: Vec<String> = coupons.iter().map(|c| c["code"].as_str().unwrap().to_string()).collect();
    // The shop owner deletes one of them in WooCommerce: its webhook takes it out of the stock.
    let deleted = json!({"id": 700, "code": created[0], "amount": "15.00", "discount_type": "percent"});
    let raw = serde_json::to_vec(&deleted).unwrap();
    let sig = kairos_integrations::signature::hmac_sha256_base64(b"whsec", &raw);
    let headers = [
        ("content-type", "application/json"),
        ("x-wc-webhook-topic", "coupon.deleted"),
        ("x-wc-webhook-signature", sig.as_str()),
        ("x-wc-webhook-id", "3"),
        ("x-wc-webhook-delivery-id", "d1"),
    ];
    let r = c
        .request("POST", &format!("/hooks/woocommerce/{}", s.keys.id), &headers, bytes::Bytes::from(raw))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(c.get("/api/v1/coupons/vip", sk).await.unwrap().json()["stock"], json!(19));
    // The Shopify pool's codes are refused: once Shopify has answered, the pool has none to hand out.
    pool_until(&mut c, sk, "gift", |_| shop.received().iter().any(|r| r.path.contains("price_rules"))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = c.get("/api/v1/coupons/gift", sk).await.unwrap().json();
    assert_eq!((refused["stock"].clone(), refused["active"].clone()), (json!(0), json!(false)), "{refused}");

    for t in [
        json!({"id": "with-code", "channel": "email", "subject": "Your code", "text": "Use {{ coupon.code }}"}),
        json!({"id": "no-code", "channel": "email", "subject": "Hello", "text": "No code today"}),
    ] {
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    flow_with_coupon(&mut c, sk, "vip", "Became VIP").await;
    flow_with_coupon(&mut c, sk, "gift", "Birthday").await;
    for u in ["ann", "bob"] {
        let who = json!({"userId": u, "traits": {"email": format!("{u}@example.com")}});
        assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    }
    c.post_json("/v1/track", wk, &json!({"userId": "ann", "event": "Became VIP"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "ann@example.com").await;
    let text = m[0]["text"].as_str().unwrap_or_default().to_string();
    let code = text.trim_start_matches("Use ").trim().to_string();
    assert!(created.contains(&code), "the code handed out is one the shop created: {code:?} of {created:?}");
    assert_ne!(code, created[0], "never the code deleted in the shop");
    let after = c.get("/api/v1/coupons/vip", sk).await.unwrap().json();
    assert_eq!((after["stock"].clone(), after["issued"].clone()), (json!(18), json!(1)), "{after}");
    // An order in the shop with that code redeems it.
    let order = json!({"userId": "ann", "event": "Order Completed", "properties": {"order_id": "w1", "total": 40, "coupon": code}});
    c.post_json("/v1/track", wk, &order).await.unwrap();
    let v = c
        .post_json("/api/v1/coupons/validate", sk, &json!({"code": code, "email": "ann@example.com"}))
        .await
        .unwrap()
        .json();
    assert_eq!(v["reason"], json!("already_redeemed"), "{v}");

    // The shop refused the Shopify pool's codes: the flow takes its fallback branch.
    c.post_json("/v1/track", wk, &json!({"userId": "bob", "event": "Birthday"})).await.unwrap();
    let m = common::messages_to(&mut c, sk, "bob@example.com").await;
    assert_eq!(m[0]["subject"], json!("Hello"), "{m:?}");
}
