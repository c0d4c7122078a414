//! SPEC 16 "Integrations", Shopify: a connection stored through the API (secrets never answered back), and
//! webhooks at `/hooks/shopify/{workspace_id}` verified on the raw body (401 and nothing stored without the
//! right `X-Shopify-Hmac-Sha256`), mapped onto events, profiles with consent and the catalog, de-duplicated
//! on redelivery, with an older update never overwriting a newer one. Payloads in Shopify's documented shapes
//! (`crates/integrations/tests/fixtures/shopify/`).

mod common;

use common::shopify::{SECRET, connect, contact_by_email, fixture, hook};
use common::{TestServer, body};
use kairos_bench::client::HttpClient;
use kairos_integrations::signature::hmac_sha256_base64;
use serde_json::{Value, json};

async fn event_names(c: &mut HttpClient, sk: &str) -> Vec<String> {
    let items = common::all_items(c, sk, "/api/v1/events").await;
    let mut names: Vec<String> =
        items.iter().filter_map(|e| e["event"].as_str().or(e["name"].as_str()).map(str::to_string)).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_connection_is_checked_and_its_secrets_never_answered() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let bad = [
        (json!({"access_token": "t", "webhook_secret": "w"}), "shop_domain"),
        (json!({"shop_domain": "velo.example.com", "access_token": "t", "webhook_secret": "w"}), "shop_domain"),
        (json!({"shop_domain": "velo.myshopify.com", "webhook_secret": "w"}), "access_token"),
        (json!({"shop_domain": "velo.myshopify.com", "access_token": "", "webhook_secret": "w"}), "access_token"),
        (json!({"shop_domain": "velo.myshopify.com", "access_token": 7, "webhook_secret": "w"}), "access_token"),
        (
            json!({"shop_domain": "velo.myshopify.com", "access_token": "t", "webhook_secret": "w", "api_url": "ftp://x"}),
            "api_url",
        ),
        (
            json!({"shop_domain": "velo.myshopify.com", "access_token": "t", "webhook_secret": "w", "colour": "red"}),
            "colour",
        ),
    ];
    for (v, field) in bad {
        let r = c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&v)).await.unwrap();
        assert_eq!(r.status, 400, "{v} -> {:?}", r.json());
        assert_eq!(r.json()["error"]["field"], json!(field), "{v} -> {:?}", r.json());
    }
    let r = c.send("PUT", "/api/v1/integrations/bigcartel", Some(sk), body(&json!({}))).await.unwrap();
    assert_eq!(r.status, 404);

    let answered = connect(&mut c, sk).await;
    let text = answered.to_string();
    assert!(!text.contains("shpat_0123456789") && !text.contains(SECRET), "secrets answered: {text}");
    assert_eq!(answered["access_token_set"], json!(true));
    assert_eq!(answered["shop_domain"], json!("velo.myshopify.com"));
    let url = answered["webhook_url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/hooks/shopify/{}", s.keys.id)), "{url}");

    // Changing the domain alone keeps the stored secrets.
    let moved = json!({"shop_domain": "velo-2.myshopify.com"});
    let r = c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&moved)).await.unwrap();
    assert_eq!((r.status, r.json()["webhook_secret_set"].clone()), (200, json!(true)), "{:?}", r.json());
    connect(&mut c, sk).await;

    let all = c.get("/api/v1/integrations", sk).await.unwrap().json();
    let platforms: Vec<(&str, bool)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["platform"].as_str().unwrap(), i["connected"] == json!(true)))
        .collect();
    assert_eq!(platforms, [("shopify", true), ("woocommerce", false), ("magento", false)]);
    assert!(!all.to_string().contains(SECRET));
    // A write key cannot read or change connections.
    let r = c.get("/api/v1/integrations", &s.keys.write_key).await.unwrap();
    assert!(r.status == 401 || r.status == 403, "{}", r.status);
}

#[tokio::test]
async fn only_signed_webhooks_are_taken_in() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    let raw = serde_json::to_vec(&fixture("orders_create")).unwrap();
    // No connection yet: nothing to verify against.
    assert_eq!(hook(&mut c, &ws, "orders/create", &raw, Some(SECRET), "e1").await.0, 404);
    connect(&mut c, sk).await;

    assert_eq!(hook(&mut c, &ws, "orders/create", &raw, None, "e1").await.0, 401, "unsigned");
    assert_eq!(hook(&mut c, &ws, "orders/create", &raw, Some("another secret"), "e1").await.0, 401, "wrong secret");
    // Signed, then one byte changed (re-serialized with spaces): the signature no longer matches.
    let sig = hmac_sha256_base64(SECRET.as_bytes(), &raw);
    let altered = serde_json::to_vec_pretty(&fixture("orders_create")).unwrap();
    let headers = [("x-shopify-topic", "orders/create"), ("x-shopify-hmac-sha256", sig.as_str())];
    let r = c.request("POST", &format!("/hooks/shopify/{ws}"), &headers, altered.into()).await.unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], json!("unauthorized"));
    assert!(event_names(&mut c, sk).await.is_empty(), "nothing stored from refused webhooks");
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none());

    // Malformed JSON with a valid signature: 400, nothing stored.
    let (status, v) = hook(&mut c, &ws, "orders/create", b"{\"id\": ", Some(SECRET), "e2").await;
    assert_eq!((status, v["error"]["code"].clone()), (400, json!("invalid_json")));
    // Deeply nested and oversized bodies, even signed, are refused before anything is stored.
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, _) = hook(&mut c, &ws, "orders/create", deep.as_bytes(), Some(SECRET), "e7").await;
    assert_eq!(status, 400, "a payload nested 10 000 deep");
    // Over the limit: 413 from the declared length, before the body is read (the server may close the
    // connection while the client still writes it).
    let huge = bytes::Bytes::from(vec![b' '; kairos_integrations::WEBHOOK_BYTES_MAX + 1]);
    let headers = [("x-shopify-topic", "orders/create"), ("x-shopify-hmac-sha256", "x")];
    let mut fresh = s.client().await;
    match fresh.request("POST", &format!("/hooks/shopify/{ws}"), &headers, huge).await {
        Ok(r) => assert_eq!(r.status, 413),
        Err(e) => assert!(e.to_string().contains("body") || e.to_string().contains("pipe"), "{e}"),
    }
    // An unknown topic is acknowledged and ignored.
    let (status, v) = hook(&mut c, &ws, "app/uninstalled", b"{}", Some(SECRET), "e3").await;
    assert_eq!((status, v["ignored"].clone()), (200, json!(true)));
    assert!(event_names(&mut c, sk).await.is_empty());

    let health = c.get("/api/v1/integrations", sk).await.unwrap().json()["items"][0]["webhooks"].clone();
    assert_eq!((health["received"].clone(), health["rejected"].clone()), (json!(1), json!(6)), "{health}");
    assert!(health["last_error"].is_string());
    assert!(health["last_error_at"].as_str().is_some_and(|t| t.ends_with('Z')), "times in RFC 3339: {health}");
}

#[tokio::test]
async fn orders_profiles_and_consent_arrive_once() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    connect(&mut c, sk).await;
    let raw = serde_json::to_vec(&fixture("orders_create")).unwrap();
    let (status, v) = hook(&mut c, &ws, "orders/create", &raw, Some(SECRET), "e1").await;
    assert_eq!(status, 200, "{v}");
    // Shopify redelivers (same event id), and orders/paid says the same order is placed.
    assert_eq!(hook(&mut c, &ws, "orders/create", &raw, Some(SECRET), "e1").await.0, 200);
    assert_eq!(hook(&mut c, &ws, "orders/paid", &raw, Some(SECRET), "e4").await.0, 200);

    let jon = contact_by_email(&mut c, sk, "jon@example.com").await.expect("the customer's profile");
    let text = jon.to_string();
    assert!(text.contains("\"count\":1"), "one order, not three: {text}");
    assert!(text.contains("403"), "the order's total is spent: {text}");
    assert_eq!(jon["consent"]["email"]["status"], json!("subscribed"), "{jon}");
    assert_eq!(jon["consent"]["email"]["source"], json!("shopify"), "{jon}");
    assert_eq!(jon["traits"]["first_name"], json!("Jon"));
    assert_eq!(event_names(&mut c, sk).await.iter().filter(|n| *n == "Order Completed").count(), 1);

    // A refund, whose payload names only the order, reaches the same person.
    let refund = serde_json::to_vec(&fixture("refunds_create")).unwrap();
    assert_eq!(hook(&mut c, &ws, "refunds/create", &refund, Some(SECRET), "e5").await.0, 200);
    let delivered = serde_json::to_vec(&fixture("fulfillments_update")).unwrap();
    assert_eq!(hook(&mut c, &ws, "fulfillments/update", &delivered, Some(SECRET), "e6").await.0, 200);
    let id = jon["id"].clone();
    let id = id.as_str().map(str::to_string).unwrap_or_else(|| id.to_string());
    let timeline = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{id}/events")).await;
    let names: Vec<&str> = timeline.iter().filter_map(|e| e["event"].as_str()).collect();
    for expected in ["Order Completed", "Order Refunded", "Order Fulfilled", "Order Delivered"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
}

#[tokio::test]
async fn an_older_update_never_overwrites_a_newer_one() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    connect(&mut c, sk).await;
    let newer = fixture("customers_update");
    let mut older = newer.clone();
    older["updated_at"] = json!("2026-11-20T10:00:00-05:00");
    older["first_name"] = json!("Robert");
    older["email_marketing_consent"] =
        json!({"state": "unsubscribed", "opt_in_level": null, "consent_updated_at": "2026-11-20T09:00:00-05:00"});
    for (v, id) in [(&newer, "c1"), (&older, "c2")] {
        let (status, r) =
            hook(&mut c, &ws, "customers/update", &serde_json::to_vec(v).unwrap(), Some(SECRET), id).await;
        assert_eq!(status, 200, "{r}");
    }
    let bob = contact_by_email(&mut c, sk, "bob@biller.com").await.unwrap();
    assert_eq!(bob["traits"]["first_name"], json!("Bob"), "{bob}");
    assert_eq!(bob["consent"]["email"]["status"], json!("subscribed"), "{bob}");
    assert_eq!(bob["consent"]["sms"]["status"], json!("unsubscribed"), "{bob}");

    let product = fixture("products_update");
    let mut stale = product.clone();
    stale["updated_at"] = json!("2026-11-01T00:00:00-05:00");
    stale["title"] = json!("Old T-Shirt");
    for (v, id) in [(&product, "p1"), (&stale, "p2")] {
        assert_eq!(
            hook(&mut c, &ws, "products/update", &serde_json::to_vec(v).unwrap(), Some(SECRET), id).await.0,
            200
        );
    }
    let r = c.get("/api/v1/products/788032119674292922", sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let p = r.json();
    assert_eq!(p["title"], json!("Example T-Shirt"), "{p}");
    assert_eq!(p["url"], json!("https://velo.myshopify.com/products/example-t-shirt"));
    assert_eq!(p["price"], json!(19.99));

    let gone = json!({"id": 788032119674292922u64});
    assert_eq!(
        hook(&mut c, &ws, "products/delete", &serde_json::to_vec(&gone).unwrap(), Some(SECRET), "p3").await.0,
        200
    );
    let p = c.get("/api/v1/products/788032119674292922", sk).await.unwrap().json();
    assert_eq!(p["available"], json!(false), "{p}");
}

/// A Shopify checkout left unfinished gets the library's abandoned-cart email, whose link is the checkout's own
/// recovery URL (Shopify's `abandoned_checkout_url`), and nothing once the order arrives.
#[tokio::test]
async fn an_abandoned_shopify_checkout_gets_its_recovery_link() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    connect(&mut c, sk).await;
    assert_eq!(
        c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-01T00:00:00Z"})).await.unwrap().status,
        200
    );
    let r = c.post_json("/api/v1/flows/library/abandoned_cart/install", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let flow = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let consent = json!({"email": "jon@example.com", "channel": "email", "status": "subscribed", "source": "checkout"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);

    let mut checkout = fixture("checkouts_update");
    checkout["updated_at"] = json!("2029-12-31T18:59:00-05:00");
    let checkout = serde_json::to_vec(&checkout).unwrap();
    let (status, v) = hook(&mut c, &ws, "checkouts/update", &checkout, Some(SECRET), "k1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "5h"})).await.unwrap().status, 200);

    let sent = common::all_items(&mut c, sk, "/api/v1/outbox?to=jon%40example.com&limit=100").await;
    let email = sent.iter().find(|m| m["subject"] == json!("You left something in your cart")).expect("the cart email");
    let id = email["id"].as_str().unwrap();
    let m = c.get(&format!("/api/v1/messages/{id}"), sk).await.unwrap().json();
    let recovery = "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token";
    assert!(m["text"].as_str().unwrap_or_default().contains(recovery), "the text part links the recovery URL: {m}");
    assert!(m["html"].as_str().unwrap_or_default().contains("Return to your cart"), "{m}");
    assert!(m["text"].as_str().unwrap_or_default().contains("$398.00") || m["text"].to_string().contains("398"), "{m}");
}

/// A connection test calls Shopify's Admin API (here a local fake, allowed by `[network] outbound_allow`) with
/// the stored token: a working token says ok, a refused one says so in words, and the outcome shows in the
/// connection's health.
#[tokio::test]
async fn a_connection_test_reports_a_refused_token_in_words() {
    let s = TestServer::start_with(|dir| {
        std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap();
    });
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    // The fake shop accepts the first call and refuses the second (a token revoked meanwhile).
    let shop = common::Recorder::start(|_, n| match n {
        0 => (200, r#"{"shop": {"id": 548380009, "name": "Velo"}}"#.into()),
        _ => (
            401,
            r#"{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}"#.into(),
        ),
    })
    .await;
    let v = json!({"shop_domain": "velo.myshopify.com", "access_token": "shpat_fake", "webhook_secret": SECRET,
                   "api_url": format!("http://{}", shop.addr)});
    assert_eq!(c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&v)).await.unwrap().status, 200);

    let ok = c.post_json("/api/v1/integrations/shopify/test", sk, &json!({})).await.unwrap().json();
    assert_eq!((ok["ok"].clone(), ok["error"].clone()), (json!(true), Value::Null), "{ok}");
    let seen = shop.received();
    assert_eq!(seen[0].path, "/admin/api/2026-01/shop.json");
    assert_eq!(seen[0].header("x-shopify-access-token"), Some("shpat_fake"));

    let refused = c.post_json("/api/v1/integrations/shopify/test", sk, &json!({})).await.unwrap().json();
    assert_eq!(refused["ok"], json!(false), "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("refused the credentials"), "{refused}");
    let all = c.get("/api/v1/integrations", sk).await.unwrap().json();
    assert!(all["items"][0]["webhooks"]["test_error"].as_str().unwrap().contains("401"), "{all}");

    // Without a connection there is nothing to test.
    let r = c.post_json("/api/v1/integrations/magento/test", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 404);
}

/// By default a connection test may not reach internal addresses (a workspace chooses the address).
#[tokio::test]
async fn a_connection_test_refuses_internal_addresses_by_default() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let v = json!({"shop_domain": "velo.myshopify.com", "access_token": "t", "webhook_secret": SECRET,
                   "api_url": "http://127.0.0.1:9"});
    assert_eq!(c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&v)).await.unwrap().status, 200);
    let r = c.post_json("/api/v1/integrations/shopify/test", sk, &json!({})).await.unwrap().json();
    assert_eq!(r["ok"], json!(false), "{r}");
    assert!(r["error"].as_str().unwrap().contains("could not reach"), "{r}");
}

/// `inventory_levels/update` names an inventory item: the product webhook told which product it belongs to. An
/// item back in stock makes its product available again; a sold-out item of a one-variant product makes it
/// unavailable; an older level never undoes a newer product update.
#[tokio::test]
async fn inventory_levels_reach_the_product_their_item_belongs_to() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let ws = s.keys.id.clone();
    connect(&mut c, sk).await;
    let mut product = fixture("products_update");
    let variants = product["variants"].as_array_mut().unwrap();
    variants.truncate(1);
    variants[0]["inventory_item_id"] = json!(271878346596884015u64);
    variants[0]["inventory_quantity"] = json!(0);
    product["updated_at"] = json!("2026-12-01T10:00:00Z");
    let raw = serde_json::to_vec(&product).unwrap();
    assert_eq!(hook(&mut c, &ws, "products/update", &raw, Some(SECRET), "p1").await.0, 200);
    let path = "/api/v1/products/788032119674292922";
    assert_eq!(c.get(path, sk).await.unwrap().json()["available"], json!(false));

    let level = |available: i64, at: &str| {
        serde_json::to_vec(&json!({"inventory_item_id": 271878346596884015u64, "location_id": 24826418,
            "available": available, "updated_at": at,
            "admin_graphql_api_id": "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015"}))
        .unwrap()
    };
    let (status, v) =
        hook(&mut c, &ws, "inventory_levels/update", &level(6, "2026-12-02T10:00:00Z"), Some(SECRET), "l1").await;
    assert_eq!(status, 200, "{v}");
    let p = c.get(path, sk).await.unwrap().json();
    assert_eq!((p["available"].clone(), p["inventory_quantity"].clone()), (json!(true), json!(6)), "{p}");
    // Sold out again at a later time; then a level older than that arrives late and changes nothing.
    assert_eq!(
        hook(&mut c, &ws, "inventory_levels/update", &level(0, "2026-12-03T10:00:00Z"), Some(SECRET), "l2").await.0,
        200
    );
    assert_eq!(c.get(path, sk).await.unwrap().json()["available"], json!(false));
    assert_eq!(
        hook(&mut c, &ws, "inventory_levels/update", &level(4, "2026-12-02T12:00:00Z"), Some(SECRET), "l3").await.0,
        200
    );
    assert_eq!(c.get(path, sk).await.unwrap().json()["available"], json!(false), "a late level is older");
    // A level for an item no product named is acknowledged and changes nothing.
    let unknown = serde_json::to_vec(&json!({"inventory_item_id": 1, "location_id": 2, "available": 3})).unwrap();
    assert_eq!(hook(&mut c, &ws, "inventory_levels/update", &unknown, Some(SECRET), "l4").await.0, 200);
    let bad = serde_json::to_vec(&json!({"inventory_item_id": 1, "available": "lots"})).unwrap();
    assert_eq!(hook(&mut c, &ws, "inventory_levels/update", &bad, Some(SECRET), "l5").await.0, 400);
}
