//! SPEC 16 "Products": `PUT /api/v1/products/{id}` replaces a product and refuses a body without its required
//! fields (a partial PUT used to wipe the title and price, and a back-in-stock email then read " is back in
//! stock."); `PATCH /api/v1/products/{id}` merges the fields given, and its inventory and price changes start
//! back-in-stock and price-drop flows like a PUT does.

mod common;

use common::{TestServer, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn send(c: &mut HttpClient, key: &str, method: &str, id: &str, v: &Value) -> (u16, Value) {
    let r = c.send(method, &format!("/api/v1/products/{id}"), Some(key), body(v)).await.unwrap();
    (r.status, r.json())
}

async fn get(c: &mut HttpClient, key: &str, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/products/{id}"), key).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

/// `(code, field)` of an error answer.
fn error(v: &Value) -> (&str, Option<&str>) {
    (v["error"]["code"].as_str().unwrap_or("(no code)"), v["error"]["field"].as_str())
}

const BIKE: &str = "bike";

fn full_bike() -> Value {
    json!({"id": BIKE, "sku": "GB-1", "title": "Gravel Bike", "price": 1000, "compare_at_price": 1200,
           "url": "https://shop.example/bike", "currency": "EUR", "categories": ["bikes"], "inventory_quantity": 0})
}

#[tokio::test]
async fn put_without_required_fields_is_refused_and_changes_nothing() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let (status, put) = send(&mut c, sk, "PUT", BIKE, &full_bike()).await;
    assert_eq!(status, 200, "{put}");
    let before = get(&mut c, sk, BIKE).await;

    // A partial PUT (what an inventory sync might send) is not a merge: it names the first missing field.
    let cases = [
        (json!({"inventory_quantity": 3}), "missing_field", "title"),
        (json!({"title": "Gravel Bike", "inventory_quantity": 3}), "missing_field", "price"),
        (json!({"price": 900}), "missing_field", "title"),
        (json!({"title": null, "price": 900}), "missing_field", "title"),
        (json!({"title": "  ", "price": 900}), "empty_value", "title"),
        (json!({"id": "other", "title": "Gravel Bike", "price": 900}), "invalid_value", "id"),
        (json!({"title": "Gravel Bike", "price": -1}), "invalid_value", "price"),
    ];
    for (v, code, field) in cases {
        let (status, resp) = send(&mut c, sk, "PUT", BIKE, &v).await;
        assert_eq!(status, 400, "PUT {v} -> {resp}");
        assert_eq!(error(&resp), (code, Some(field)), "PUT {v} -> {resp}");
    }
    assert_eq!(get(&mut c, sk, BIKE).await, before, "refused PUTs left the product as it was");

    // A complete PUT replaces: fields it does not send are cleared.
    let (status, put) = send(&mut c, sk, "PUT", BIKE, &json!({"title": "Road Bike", "price": 800})).await;
    assert_eq!(status, 200, "{put}");
    let after = get(&mut c, sk, BIKE).await;
    assert_eq!(after, put);
    assert_eq!((after["title"].as_str(), after["price"].as_f64()), (Some("Road Bike"), Some(800.0)));
    assert_eq!((&after["sku"], &after["compare_at_price"]), (&Value::Null, &Value::Null));
}

#[tokio::test]
async fn patch_merges_the_fields_given() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    assert_eq!(send(&mut c, sk, "PUT", BIKE, &full_bike()).await.0, 200);
    let before = get(&mut c, sk, BIKE).await;

    let (status, patched) = send(&mut c, sk, "PATCH", BIKE, &json!({"price": 950.5, "inventory_quantity": 4})).await;
    assert_eq!(status, 200, "{patched}");
    let after = get(&mut c, sk, BIKE).await;
    assert_eq!(after, patched, "PATCH answers the merged product");
    assert_eq!(after["price"], json!(950.5));
    assert_eq!(after["inventory_quantity"], 4);
    assert_eq!(after["available"], true, "availability follows the new inventory");
    for kept in ["id", "sku", "title", "compare_at_price", "url", "currency", "categories"] {
        assert_eq!(after[kept], before[kept], "PATCH kept {kept}");
    }

    // null removes an optional field; an explicit `available` wins over the inventory.
    let (status, p) =
        send(&mut c, sk, "PATCH", BIKE, &json!({"id": BIKE, "compare_at_price": null, "available": false})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!((&p["compare_at_price"], &p["available"], &p["title"]), (&Value::Null, &json!(false), &before["title"]));

    // Bad patches name the field and change nothing; the required fields cannot be removed.
    let kept = get(&mut c, sk, BIKE).await;
    let cases = [
        (json!({"price": -1}), "invalid_value", "price"),
        (json!({"title": null}), "invalid_value", "title"),
        (json!({"price": null}), "invalid_value", "price"),
        (json!({"title": ""}), "empty_value", "title"),
        (json!({"inventory_quantity": 1.5}), "invalid_type", "inventory_quantity"),
        (json!({"categories": ["a", 1]}), "invalid_type", "categories[1]"),
        (json!({"id": "other"}), "invalid_value", "id"),
    ];
    for (v, code, field) in cases {
        let (status, resp) = send(&mut c, sk, "PATCH", BIKE, &v).await;
        assert_eq!(status, 400, "PATCH {v} -> {resp}");
        assert_eq!(error(&resp), (code, Some(field)), "PATCH {v} -> {resp}");
    }
    let (status, resp) = send(&mut c, sk, "PATCH", BIKE, &json!(["price"])).await;
    assert_eq!((status, error(&resp).0), (400, "invalid_type"), "{resp}");
    assert_eq!(get(&mut c, sk, BIKE).await, kept);

    // PATCH does not create: an unknown product is 404 and stays unknown.
    let (status, resp) = send(&mut c, sk, "PATCH", "nope", &json!({"title": "New", "price": 1})).await;
    assert_eq!((status, error(&resp)), (404, ("not_found", None)), "{resp}");
    assert_eq!(c.get("/api/v1/products/nope", sk).await.unwrap().status, 404);

    // Nor across workspaces: another workspace's PATCH of the same id finds nothing and changes nothing.
    let other = common::create_workspace(&s.dir, "Other Shop");
    let (status, resp) = send(&mut c, &other.secret_key, "PATCH", BIKE, &json!({"title": "Stolen"})).await;
    assert_eq!((status, error(&resp).0), (404, "not_found"), "{resp}");
    assert_eq!(get(&mut c, sk, BIKE).await, kept);
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_all_land() {
    let s = TestServer::start();
    let sk = s.keys.secret_key.clone();
    let mut c = s.client().await;
    assert_eq!(send(&mut c, &sk, "PUT", BIKE, &full_bike()).await.0, 200);
    let patches = [
        json!({"price": 7}),
        json!({"sku": "GB-2"}),
        json!({"inventory_quantity": 9}),
        json!({"url": "https://shop.example/bike-2"}),
        json!({"categories": ["bikes", "sale"]}),
        json!({"image_url": "https://shop.example/bike.jpg"}),
    ];
    let mut runs = Vec::new();
    for p in patches {
        let (mut c, sk) = (s.client().await, sk.clone());
        runs.push(tokio::spawn(async move { send(&mut c, &sk, "PATCH", BIKE, &p).await.0 }));
    }
    let mut statuses = Vec::new();
    for r in runs {
        statuses.push(r.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let p = get(&mut c, &sk, BIKE).await;
    assert_eq!(p["price"], json!(7.0));
    assert_eq!(p["sku"], "GB-2");
    assert_eq!(p["inventory_quantity"], 9);
    assert_eq!(p["url"], "https://shop.example/bike-2");
    assert_eq!(p["categories"], json!(["bikes", "sale"]));
    assert_eq!(p["image_url"], "https://shop.example/bike.jpg");
    assert_eq!(p["title"], "Gravel Bike");
}

#[tokio::test]
async fn back_in_stock_after_a_patch_names_the_product() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let mut flows = std::collections::HashMap::new();
    for key in ["back_in_stock", "price_drop"] {
        let r = c.post_json(&format!("/api/v1/flows/library/{key}/install"), sk, &json!({})).await.unwrap();
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
        flows.insert(key, id);
    }
    assert_eq!(send(&mut c, sk, "PUT", BIKE, &full_bike()).await.0, 200);
    c.post_json("/v1/identify", wk, &json!({"userId": "viewer", "traits": {"email": "viewer@example.com"}}))
        .await
        .unwrap();
    let consent = json!({"user_id": "viewer", "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let view = json!({"userId": "viewer", "event": "Product Viewed", "properties": {"product_id": BIKE}});
    assert_eq!(c.post_json("/v1/track", wk, &view).await.unwrap().status, 200);
    let outbox = |flow: &str| format!("/api/v1/outbox?flow_id={flow}");

    // An inventory sync that PUTs only the stock is refused, so it cannot wipe the title and mail " is back".
    let (status, resp) = send(&mut c, sk, "PUT", BIKE, &json!({"inventory_quantity": 3})).await;
    assert_eq!(status, 400, "{resp}");
    let out = c.get(&outbox(&flows["back_in_stock"]), sk).await.unwrap().json();
    assert_eq!(out["items"], json!([]), "{out}");

    // PATCHing the stock restocks the product with its title: the email names it.
    let (status, p) = send(&mut c, sk, "PATCH", BIKE, &json!({"inventory_quantity": 3})).await;
    assert_eq!(status, 200, "{p}");
    let out = c.get(&outbox(&flows["back_in_stock"]), sk).await.unwrap().json();
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{out}");
    assert_eq!(items[0]["to"], "viewer@example.com");
    assert_eq!(items[0]["subject"], "Gravel Bike is back", "{out}");
    assert!(
        items[0]["text"].as_str().unwrap().contains("Gravel Bike is back in stock at €1,000.00"),
        "in the product's currency: {out}"
    );

    // A PATCHed price drop of 20% starts the price-drop flow, again with the product's title.
    let (status, _) = send(&mut c, sk, "PATCH", BIKE, &json!({"price": 800})).await;
    assert_eq!(status, 200);
    let out = c.get(&outbox(&flows["price_drop"]), sk).await.unwrap().json();
    assert_eq!(out["items"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["items"][0]["subject"], "Price drop: Gravel Bike", "{out}");
}
