//! The catalog API through the real server: upsert and read back, validation errors naming the field,
//! all-or-nothing bulk upserts, cursor pagination, and products learned from ingested events.

mod common;

use std::collections::BTreeSet;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

/// GET a product: `(status, body)`.
async fn get_product(c: &mut HttpClient, key: &str, id: &str) -> (u16, Value) {
    let r = c.get(&format!("/api/v1/products/{id}"), key).await.unwrap();
    (r.status, r.json())
}

async fn put_product(c: &mut HttpClient, key: &str, id: &str, v: &Value) -> (u16, Value) {
    let r = c.put_json(&format!("/api/v1/products/{id}"), key, v).await.unwrap();
    (r.status, r.json())
}

/// `(code, field)` of an error body, after checking it has the pinned shape.
fn error_of(v: &Value) -> (String, Option<String>) {
    let e = &v["error"];
    assert!(e.is_object(), "not an error body: {v}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {v}");
    (e["code"].as_str().unwrap().to_string(), e["field"].as_str().map(str::to_string))
}

/// Every product of the workspace, following `next_cursor` with pages of `limit`; also returns the page sizes.
async fn all_products(c: &mut HttpClient, key: &str, limit: usize) -> (Vec<Value>, Vec<usize>) {
    let mut items = Vec::new();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let path = match &cursor {
            None => format!("/api/v1/products?limit={limit}"),
            Some(cur) => format!("/api/v1/products?limit={limit}&cursor={}", encode(cur)),
        };
        let r = c.get(&path, key).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let v = r.json();
        let page = v["items"].as_array().expect("items array").clone();
        assert!(page.len() <= limit, "page larger than limit {limit}: {}", page.len());
        pages.push(page.len());
        items.extend(page);
        assert!(v.as_object().unwrap().contains_key("next_cursor"), "next_cursor missing: {v}");
        match &v["next_cursor"] {
            Value::Null => return (items, pages),
            Value::String(s) => cursor = Some(s.clone()),
            other => panic!("next_cursor must be a string or null, got {other}"),
        }
    }
    panic!("pagination never ended");
}

/// Percent-encodes a query parameter value (everything but unreserved characters).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

async fn track(c: &mut HttpClient, key: &str, v: &Value) {
    let r = c.post_json("/v1/track", key, v).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json(), json!({"success": true}));
}

#[tokio::test]
async fn put_then_get_returns_the_same_fields_and_put_again_updates() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;

    let (status, put) = put_product(
        &mut c,
        sk,
        "bike-1",
        &json!({
            "sku": "BK-1", "title": "Gravel Bike", "url": "https://shop.example/bike-1",
            "image_url": "https://shop.example/bike-1.jpg", "price": 499.5, "compare_at_price": 599,
            "currency": "eur", "categories": ["bicycles", "gravel"], "inventory_quantity": 0,
        }),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    let (status, got) = get_product(&mut c, sk, "bike-1").await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, put, "GET answers what PUT answered");
    assert_eq!(got["id"], "bike-1");
    assert_eq!(got["sku"], "BK-1");
    assert_eq!(got["title"], "Gravel Bike");
    assert_eq!(got["url"], "https://shop.example/bike-1");
    assert_eq!(got["image_url"], "https://shop.example/bike-1.jpg");
    assert_eq!(got["price"], json!(499.5), "price in major units");
    assert_eq!(got["compare_at_price"], json!(599.0));
    assert_eq!(got["currency"], "EUR", "currency is upper-cased");
    assert_eq!(got["categories"], json!(["bicycles", "gravel"]));
    assert_eq!(got["inventory_quantity"], 0);
    assert_eq!(got["available"], false, "sold out when inventory_quantity is 0");
    assert!(got["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{got}");

    // PUT again: the entry is replaced by the new one.
    let (status, put2) = put_product(
        &mut c,
        sk,
        "bike-1",
        &json!({"id": "bike-1", "title": "Gravel Bike 2", "price": "450.25", "currency": "Usd",
                "categories": ["sale"], "inventory_quantity": 3}),
    )
    .await;
    assert_eq!(status, 200, "{put2}");
    let (_, got) = get_product(&mut c, sk, "bike-1").await;
    assert_eq!(got, put2);
    assert_eq!(got["title"], "Gravel Bike 2");
    assert_eq!(got["price"], json!(450.25));
    assert_eq!(got["currency"], "USD");
    assert_eq!(got["categories"], json!(["sale"]));
    assert_eq!(got["inventory_quantity"], 3);
    assert_eq!(got["available"], true, "back in stock with inventory 3");
    assert_eq!(got["sku"], Value::Null, "PUT replaces the entry; fields not sent are cleared");

    // Without inventory the product counts as available; an explicit `available` wins.
    let (status, p) = put_product(&mut c, sk, "gift-card", &json!({"title": "Gift card", "price": 25})).await;
    assert_eq!(status, 200, "{p}");
    let (_, p) = get_product(&mut c, sk, "gift-card").await;
    assert_eq!(p["available"], true);
    assert_eq!(p["inventory_quantity"], Value::Null);
    assert_eq!(p["price"], json!(25.0));
    assert_eq!(p["categories"], json!([]));
    let (_, p) = put_product(
        &mut c,
        sk,
        "retired",
        &json!({"title": "Retired", "price": 5, "inventory_quantity": 10, "available": false}),
    )
    .await;
    assert_eq!(p["available"], false);

    let (items, _) = all_products(&mut c, sk, 50).await;
    assert_eq!(ids(&items), ["bike-1", "gift-card", "retired"], "one entry per id, in id order");
}

#[tokio::test]
async fn unknown_product_is_404_not_found() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (status, body) = get_product(&mut c, &s.keys.secret_key, "nope").await;
    assert_eq!(status, 404, "{body}");
    let (code, field) = error_of(&body);
    assert_eq!(code, "not_found");
    assert_eq!(field, None);
    assert!(body["error"].as_object().unwrap().contains_key("field"), "field is present (null): {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"), "the message names the id: {body}");

    // A method the catalog does not take, and an endpoint that does not exist, answer in the same error shape.
    let r = c.send("DELETE", "/api/v1/products/nope", Some(&s.keys.secret_key), None).await.unwrap();
    assert_eq!(r.status, 405, "{:?}", r.body);
    assert_eq!(error_of(&r.json()).0, "method_not_allowed");
    let r = c.get("/api/v1/productz", &s.keys.secret_key).await.unwrap();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(error_of(&r.json()).0, "not_found");
}

#[tokio::test]
async fn invalid_products_get_400_naming_the_field_and_store_nothing() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let cases = [
        (json!({"title": "T", "price": -1}), "invalid_value", "price"),
        (json!({"title": "T", "price": "abc"}), "invalid_value", "price"),
        (json!({"title": "T", "compare_at_price": -0.5}), "invalid_value", "compare_at_price"),
        (json!({"title": "T", "inventory_quantity": 1.5}), "invalid_type", "inventory_quantity"),
        (json!({"title": "T", "inventory_quantity": "7"}), "invalid_type", "inventory_quantity"),
        (json!({"title": "T", "categories": ["a", 1]}), "invalid_type", "categories[1]"),
        (json!({"title": "T", "categories": "a"}), "invalid_type", "categories"),
        (json!({"title": "T", "available": "yes"}), "invalid_type", "available"),
        (json!({"title": 5}), "invalid_type", "title"),
        (json!({"title": "T", "currency": "euro"}), "invalid_value", "currency"),
        (json!({"id": "someone-else", "title": "T"}), "invalid_value", "id"),
    ];
    for (body, want_code, want_field) in cases {
        let (status, resp) = put_product(&mut c, sk, "p1", &body).await;
        assert_eq!(status, 400, "{body} -> {resp}");
        let (code, field) = error_of(&resp);
        assert_eq!(field.as_deref(), Some(want_field), "{body} -> {resp}");
        assert_eq!(code, want_code, "{body} -> {resp}");
    }
    // Not an object at all.
    let (status, resp) = put_product(&mut c, sk, "p1", &json!(["title"])).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(error_of(&resp).0, "invalid_type");

    // Malformed JSON.
    let r = c
        .send("PUT", "/api/v1/products/p1", Some(sk), Some(bytes::Bytes::from_static(b"{\"title\": \"T\",")))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{:?}", r.body);
    let (code, field) = error_of(&r.json());
    assert_eq!(code, "invalid_json");
    assert_eq!(field, None);

    let (status, _) = get_product(&mut c, sk, "p1").await;
    assert_eq!(status, 404, "no rejected PUT stored anything");
    let (items, _) = all_products(&mut c, sk, 10).await;
    assert!(items.is_empty(), "{items:?}");

    // A rejected PUT leaves an existing entry as it was.
    let (status, _) = put_product(&mut c, sk, "p1", &json!({"title": "Kept", "price": 10})).await;
    assert_eq!(status, 200);
    let (status, _) = put_product(&mut c, sk, "p1", &json!({"title": "Changed", "price": -10})).await;
    assert_eq!(status, 400);
    let (_, p) = get_product(&mut c, sk, "p1").await;
    assert_eq!(p["title"], "Kept");
    assert_eq!(p["price"], json!(10.0));
}

#[tokio::test]
async fn bulk_upserts_every_item_and_pagination_yields_each_once() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    // 11 products, sent out of id order; one already exists and gets updated.
    let (status, _) = put_product(&mut c, sk, "p05", &json!({"title": "Old five", "price": 1})).await;
    assert_eq!(status, 200);
    let order = [7, 3, 11, 1, 5, 9, 2, 10, 4, 8, 6];
    let items: Vec<Value> = order
        .iter()
        .map(|n| {
            json!({"id": format!("p{n:02}"), "title": format!("Product {n}"), "price": *n as f64 + 0.99,
                   "currency": "sek", "inventory_quantity": n % 3, "categories": [format!("c{}", n % 2)]})
        })
        .collect();
    let r = c.post_json("/api/v1/products/bulk", sk, &json!({ "items": items })).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["upserted"], 11);

    for limit in [1, 3, 4, 11, 50] {
        let (got, pages) = all_products(&mut c, sk, limit).await;
        let got_ids = ids(&got);
        let want: Vec<String> = (1..=11).map(|n| format!("p{n:02}")).collect();
        assert_eq!(got_ids, want, "limit {limit}: every product exactly once, in id order");
        assert_eq!(pages.iter().sum::<usize>(), 11);
        assert!(pages[..pages.len() - 1].iter().all(|&n| n == limit), "limit {limit}: full pages first: {pages:?}");
        let unique: BTreeSet<&String> = got_ids.iter().collect();
        assert_eq!(unique.len(), 11);
    }

    let (_, p5) = get_product(&mut c, sk, "p05").await;
    assert_eq!(p5["title"], "Product 5", "bulk updated the existing entry");
    assert_eq!(p5["price"], json!(5.99));
    assert_eq!(p5["currency"], "SEK");
    assert_eq!(p5["inventory_quantity"], 2);
    assert_eq!(p5["available"], true);
    assert_eq!(p5["categories"], json!(["c1"]));
    let (_, p9) = get_product(&mut c, sk, "p09").await;
    assert_eq!(p9["inventory_quantity"], 0);
    assert_eq!(p9["available"], false);

    // Bad list parameters.
    for q in ["limit=0", "limit=abc", "limit=1001"] {
        let r = c.get(&format!("/api/v1/products?{q}"), sk).await.unwrap();
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(error_of(&r.json()).1.as_deref(), Some("limit"), "{q}");
    }
}

#[tokio::test]
async fn bulk_with_one_bad_item_stores_nothing() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let (status, _) = put_product(&mut c, sk, "existing", &json!({"title": "Existing", "price": 5})).await;
    assert_eq!(status, 200);
    let bulk = json!({"items": [
        {"id": "new-a", "title": "A", "price": 1},
        {"id": "existing", "title": "Overwritten", "price": 2},
        {"id": "new-c", "title": "C", "price": -3},
        {"id": "new-d", "title": "D", "price": 4},
    ]});
    let r = c.post_json("/api/v1/products/bulk", sk, &bulk).await.unwrap();
    assert_eq!(r.status, 400, "{:?}", r.body);
    let (code, field) = error_of(&r.json());
    assert_eq!(field.as_deref(), Some("items[2].price"));
    assert_eq!(code, "invalid_value");

    for id in ["new-a", "new-c", "new-d"] {
        assert_eq!(get_product(&mut c, sk, id).await.0, 404, "{id} must not be stored");
    }
    let (_, existing) = get_product(&mut c, sk, "existing").await;
    assert_eq!(existing["title"], "Existing", "items before the bad one are not applied either");
    assert_eq!(existing["price"], json!(5.0));
    let (items, _) = all_products(&mut c, sk, 50).await;
    assert_eq!(ids(&items), ["existing"]);

    // Other item errors are named by index too.
    let cases = [
        (json!({"items": [{"id": "x", "categories": ["ok", {"no": 1}]}]}), "items[0].categories[1]"),
        (json!({"items": [{"id": "x"}, {"title": "no id"}]}), "items[1].id"),
        (json!({"items": [{"id": "x"}, {"id": "y", "inventory_quantity": 2.5}]}), "items[1].inventory_quantity"),
        (json!({"products": []}), "items"),
    ];
    for (body, want) in cases {
        let r = c.post_json("/api/v1/products/bulk", sk, &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(error_of(&r.json()).1.as_deref(), Some(want), "{body}");
    }
    assert_eq!(get_product(&mut c, sk, "x").await.0, 404);
    let r = c
        .send("POST", "/api/v1/products/bulk", Some(sk), Some(bytes::Bytes::from_static(b"{\"items\": [")))
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r.json()).0, "invalid_json");
}

#[tokio::test]
async fn events_create_missing_products() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Product Viewed",
                "properties": {"product_id": "x1", "name": "Bell", "price": 12.5, "category": "parts"}}),
    )
    .await;
    let (status, p) = get_product(&mut c, sk, "x1").await;
    assert_eq!(status, 200, "Product Viewed created the product: {p}");
    assert_eq!(p["id"], "x1");
    assert_eq!(p["title"], "Bell");
    assert_eq!(p["price"], json!(12.5));
    assert_eq!(p["categories"], json!(["parts"]));
    assert_eq!(p["available"], true);

    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Order Completed", "properties": {
        "order_id": "o-1", "total": 60.0,
        "products": [
            {"product_id": "o1", "name": "Saddle", "price": 30, "quantity": 1, "category": "parts"},
            {"product_id": "o2", "name": "Pedals", "price": "15.00", "quantity": 2, "currency": "eur"},
            {"product_id": "x1", "name": "Renamed bell", "price": 99},
        ]}}),
    )
    .await;
    let (status, o1) = get_product(&mut c, sk, "o1").await;
    assert_eq!(status, 200, "{o1}");
    assert_eq!(o1["title"], "Saddle");
    assert_eq!(o1["price"], json!(30.0));
    assert_eq!(o1["categories"], json!(["parts"]));
    let (status, o2) = get_product(&mut c, sk, "o2").await;
    assert_eq!(status, 200, "{o2}");
    assert_eq!(o2["title"], "Pedals");
    assert_eq!(o2["price"], json!(15.0));
    assert_eq!(o2["currency"], "EUR");
    let (_, x1) = get_product(&mut c, sk, "x1").await;
    assert_eq!(x1["title"], "Bell", "an order does not overwrite a product learned earlier");
    assert_eq!(x1["price"], json!(12.5));

    let (items, _) = all_products(&mut c, sk, 50).await;
    assert_eq!(ids(&items), ["o1", "o2", "x1"], "no product for the order itself");
}

#[tokio::test]
async fn events_never_overwrite_catalog_entries() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    let (status, _) = put_product(
        &mut c,
        sk,
        "c1",
        &json!({"title": "Catalog title", "price": 100, "categories": ["catalog"], "inventory_quantity": 0}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, before) = get_product(&mut c, sk, "c1").await;
    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Product Viewed",
                "properties": {"product_id": "c1", "name": "Event title", "price": 1, "category": "events"}}),
    )
    .await;
    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Order Completed",
                "properties": {"order_id": "o9", "products": [{"product_id": "c1", "name": "Order title", "price": 2}]}}),
    )
    .await;
    let (_, after) = get_product(&mut c, sk, "c1").await;
    assert_eq!(after["title"], "Catalog title");
    assert_eq!(after["price"], json!(100.0));
    assert_eq!(after["categories"], json!(["catalog"]));
    assert_eq!(after["available"], false, "an event does not make a sold-out product available");
    assert_eq!(after, before, "the catalog entry is untouched");

    // And the catalog still wins when the event came first: a later PUT replaces the learned entry.
    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Product Viewed", "properties": {"product_id": "e1", "name": "Learned"}}),
    )
    .await;
    assert_eq!(get_product(&mut c, sk, "e1").await.1["title"], "Learned");
    let (status, _) = put_product(&mut c, sk, "e1", &json!({"title": "From catalog", "price": 7})).await;
    assert_eq!(status, 200);
    track(
        &mut c,
        wk,
        &json!({"userId": "u1", "event": "Product Viewed", "properties": {"product_id": "e1", "name": "Learned again"}}),
    )
    .await;
    let (_, e1) = get_product(&mut c, sk, "e1").await;
    assert_eq!(e1["title"], "From catalog");
    assert_eq!(e1["price"], json!(7.0));
}

#[tokio::test]
async fn odd_ids_round_trip_and_paginate() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    // Numeric ids in a bulk become strings; ids with characters that need encoding in URLs.
    let odd = ["a b", "a+b", "a&b=c", "a#1", "100%", "größe", "ürün"];
    let mut items: Vec<Value> = odd.iter().map(|id| json!({"id": id, "title": format!("T {id}")})).collect();
    items.push(json!({"id": 42, "title": "Numeric"}));
    let r = c.post_json("/api/v1/products/bulk", sk, &json!({ "items": items })).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (status, p) = get_product(&mut c, sk, "42").await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["id"], "42");
    assert_eq!(p["title"], "Numeric");
    for id in odd {
        let (status, p) = get_product(&mut c, sk, &encode(id)).await;
        assert_eq!(status, 200, "{id}: {p}");
        assert_eq!(p["id"], id);
        assert_eq!(p["title"], format!("T {id}"));
    }
    let mut want: Vec<String> = odd.iter().map(|s| s.to_string()).chain(["42".to_string()]).collect();
    want.sort();
    for limit in [1, 2, 5] {
        let (got, _) = all_products(&mut c, sk, limit).await;
        assert_eq!(ids(&got), want, "limit {limit}");
    }
    // A PUT through an encoded URL id addresses the same entry.
    let (status, p) =
        put_product(&mut c, sk, &encode("a b"), &json!({"id": "a b", "title": "Renamed", "price": 1})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(get_product(&mut c, sk, &encode("a b")).await.1["title"], "Renamed");
    assert_eq!(all_products(&mut c, sk, 50).await.0.len(), 8);
}
