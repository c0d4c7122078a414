//! SPEC 16 "Data rights": `DELETE /api/v1/contacts/{id}` erases a person's data from the profile, the events,
//! the message log and the outbox, keeps their figures anonymously, ends their flow runs, is audited with who
//! asked, and keeps a keyed hash so a platform webhook (or a backfill or an import) does not bring them back
//! unless they consent again. Shopify's mandatory privacy webhooks go through the same path.

mod common;

use std::time::Duration;

use common::shopify::{SECRET, connect, contact_by_email, fixture, hook};
use common::{TestServer, all_items};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

/// Text of every stored event, message and the outbox of the workspace.
async fn everything(c: &mut HttpClient, sk: &str) -> String {
    let mut all = String::new();
    for path in ["/api/v1/events", "/api/v1/messages", "/api/v1/outbox"] {
        all.push_str(&Value::Array(all_items(c, sk, path).await).to_string());
    }
    all
}

fn id_of(contact: &Value) -> String {
    contact["id"].as_str().map(str::to_string).unwrap_or_else(|| contact["id"].to_string())
}

/// A transactional email and then a waiting step, so the person has a message and an active run.
async fn mail_flow(c: &mut HttpClient, sk: &str) -> String {
    let t = json!({"id": "receipt", "channel": "email", "subject": "Order {{ event.order }} for {{ contact.traits.first_name }}",
        "text": "Thanks {{ contact.traits.first_name }}"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    let f = json!({"name": "Receipts", "trigger": {"type": "api"}, "entry": {"reentry": "always"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "receipt", "transactional": true,
                   "next": "wait"},
                  {"id": "wait", "type": "delay", "duration": "2d", "next": "again"},
                  {"id": "again", "type": "send", "channel": "email", "template": "receipt", "transactional": true}]});
    let id = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap();
    id
}

#[tokio::test]
async fn an_erased_person_leaves_their_figures_and_nothing_that_names_them() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let ws = s.keys.id.clone();
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-07T10:00:00Z"})).await.unwrap();
    connect(&mut c, sk).await;
    let order = serde_json::to_vec(&fixture("orders_create")).unwrap();
    assert_eq!(hook(&mut c, &ws, "orders/create", &order, Some(SECRET), "e1").await.0, 200);
    let flow = mail_flow(&mut c, sk).await;
    let r = c
        .post_json(
            &format!("/api/v1/flows/{flow}/trigger"),
            sk,
            &json!({"email": "jon@example.com", "properties": {"order": "A-1"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    common::wait_status(&mut c, sk, "jon@example.com", "sent").await;
    let jon = contact_by_email(&mut c, sk, "jon@example.com").await.expect("the customer");
    let id = id_of(&jon);
    assert_eq!(jon["erased_at"], Value::Null, "{jon}");
    assert!(everything(&mut c, sk).await.contains("jon@example.com"), "the test must see the address first");

    assert!(
        [401, 403].contains(&c.send("DELETE", &format!("/api/v1/contacts/{id}"), Some(wk), None).await.unwrap().status)
    );
    let r = c.send("DELETE", &format!("/api/v1/contacts/{id}"), Some(sk), None).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["erased"], json!(true));
    assert_eq!(r.json()["flow_runs"], json!(1), "the waiting run ended");

    let after = c.get(&format!("/api/v1/contacts/{id}"), sk).await.unwrap().json();
    let text = after.to_string();
    assert!(!text.contains("jon@") && !text.contains("Jon") && !text.contains("Smith"), "{text}");
    assert!(text.contains("\"count\":1") && text.contains("403"), "the order's figures stay: {text}");
    assert_eq!(after["consent"]["email"]["status"], json!("unsubscribed"), "{text}");
    let erased_at = after["erased_at"].as_str().unwrap_or_default();
    assert!(erased_at.starts_with("2030-01-07T10:00"), "the profile says when it was erased: {text}");
    assert_eq!(after["erased_at"], after["consent"]["email"]["updated_at"], "{text}");
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none());
    let all = everything(&mut c, sk).await;
    for pii in ["jon@example.com", "Jon", "Smith", "123 Elm", "A-1"] {
        assert!(!all.contains(pii), "{pii} is still stored: {all}");
    }
    assert!(all.contains("Order Completed"), "the activity's shape stays");
    let export = c.get(&format!("/api/v1/contacts/{id}/export"), sk).await.unwrap();
    assert!(!export.json().to_string().contains("jon@"), "{:?}", export.json());

    // Two days later the run's second email is not sent: the run ended with the erasure.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "3d"})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = all_items(&mut c, sk, "/api/v1/messages").await;
    assert_eq!(sent.len(), 1, "{sent:?}");

    let log = c.get("/api/v1/audit-log", sk).await.unwrap().json();
    let entries = log["entries"].as_array().unwrap();
    let first = entries.iter().find(|e| e["action"] == "contact.erase").expect("the erasure is audited");
    assert_eq!(first["subject"], json!(format!("contact:{id}")));
    let tail = &sk[sk.len() - 4..];
    assert_eq!(first["actor"], json!(format!("key:…{tail}")), "who: the key, by its last characters");
    assert!(entries.iter().any(|e| e["action"] == "contact.export"), "{log}");
    assert!(!log.to_string().contains(sk), "never the whole key");

    // The same order again (a backfill, or a retried webhook with a new id) does not bring Jon back.
    let mut again = fixture("orders_create");
    again["id"] = json!(820982911946154999u64);
    let raw = serde_json::to_vec(&again).unwrap();
    assert_eq!(hook(&mut c, &ws, "orders/create", &raw, Some(SECRET), "e2").await.0, 200);
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none(), "an erased person stays erased");
    assert!(!everything(&mut c, sk).await.contains("jon@example.com"));

    // Unless Jon subscribes again, after the erasure: then the profile comes back with that consent.
    let mut consents = fixture("customers_update");
    consents["id"] = json!(115310627314723954u64);
    consents["email"] = json!("jon@example.com");
    consents["updated_at"] = json!("2030-01-09T09:00:00Z");
    consents["email_marketing_consent"]["consent_updated_at"] = json!("2030-01-09T08:00:00Z");
    let raw = serde_json::to_vec(&consents).unwrap();
    assert_eq!(hook(&mut c, &ws, "customers/update", &raw, Some(SECRET), "e3").await.0, 200);
    let back = contact_by_email(&mut c, sk, "jon@example.com").await.expect("consented again");
    assert_eq!(back["consent"]["email"]["status"], json!("subscribed"), "{back}");

    assert_eq!(c.send("DELETE", "/api/v1/contacts/999999", Some(sk), None).await.unwrap().status, 404);
    assert_eq!(c.send("DELETE", "/api/v1/contacts/nope", Some(sk), None).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/audit-log?limit=0", sk).await.unwrap().status, 400);
}

#[tokio::test]
async fn another_workspace_can_not_erase_or_read_the_audit() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let other = common::create_workspace(&s.dir, "Other");
    let r = c
        .post_json("/v1/identify", &s.keys.write_key, &json!({"userId": "u1", "traits": {"email": "ann@example.com"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let ann = contact_by_email(&mut c, sk, "ann@example.com").await.expect("ann");
    let id = id_of(&ann);
    let r = c.send("DELETE", &format!("/api/v1/contacts/{id}"), Some(&other.secret_key), None).await.unwrap();
    assert_eq!(r.status, 404, "ids resolve inside the caller's workspace");
    assert!(contact_by_email(&mut c, sk, "ann@example.com").await.is_some());
    let log = c.get("/api/v1/audit-log", &other.secret_key).await.unwrap().json();
    assert_eq!(log["entries"], json!([]));
}

#[tokio::test]
async fn shopify_privacy_webhooks_erase_and_record_requests() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let ws = s.keys.id.clone();
    connect(&mut c, sk).await;
    let order = serde_json::to_vec(&fixture("orders_create")).unwrap();
    assert_eq!(hook(&mut c, &ws, "orders/create", &order, Some(SECRET), "e1").await.0, 200);
    let jon = contact_by_email(&mut c, sk, "jon@example.com").await.expect("jon");
    let id = id_of(&jon);

    let request = json!({"shop_id": 954889, "shop_domain": "velo.myshopify.com", "orders_requested": [820982911946154508u64],
        "customer": {"id": 115310627314723954u64, "email": "jon@example.com", "phone": null},
        "data_request": {"id": 9999}});
    let raw = serde_json::to_vec(&request).unwrap();
    assert_eq!(hook(&mut c, &ws, "customers/data_request", &raw, Some(SECRET), "p1").await.0, 200);
    let log = c.get("/api/v1/audit-log", sk).await.unwrap().json();
    let line = &log["entries"][0];
    assert_eq!(
        (line["action"].as_str(), line["actor"].as_str()),
        (Some("privacy.data_request"), Some("shopify")),
        "{log}"
    );
    assert_eq!(line["subject"], json!(format!("contact:{id}")));
    assert!(!log.to_string().contains("jon@"), "never the address in the log");

    // Redact names the customer by id and the orders; the address alone would do too.
    let redact = json!({"shop_id": 954889, "shop_domain": "velo.myshopify.com",
        "customer": {"id": 115310627314723954u64, "email": "jon@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [820982911946154508u64]});
    let raw = serde_json::to_vec(&redact).unwrap();
    let forged = hook(&mut c, &ws, "customers/redact", &raw, Some("wrong"), "p2").await;
    assert_eq!(forged.0, 401);
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_some(), "a forged request erases nothing");
    assert_eq!(hook(&mut c, &ws, "customers/redact", &raw, Some(SECRET), "p2").await.0, 200);
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none());
    assert!(!everything(&mut c, sk).await.contains("jon@example.com"));
    // A later backfill of the same order does not bring him back.
    let mut again = fixture("orders_create");
    again["id"] = json!(820982911946154777u64);
    assert_eq!(
        hook(&mut c, &ws, "orders/create", &serde_json::to_vec(&again).unwrap(), Some(SECRET), "e9").await.0,
        200
    );
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none());

    // shop/redact: the connection goes and every customer the shop's records created is erased.
    let bob = serde_json::to_vec(&fixture("customers_update")).unwrap();
    assert_eq!(hook(&mut c, &ws, "customers/update", &bob, Some(SECRET), "c1").await.0, 200);
    assert!(contact_by_email(&mut c, sk, "bob@biller.com").await.is_some());
    let own = json!({"userId": "site-1", "traits": {"email": "cai@example.com"}});
    assert_eq!(c.post_json("/v1/identify", &s.keys.write_key, &own).await.unwrap().status, 200);
    let shop = serde_json::to_vec(&json!({"shop_id": 954889, "shop_domain": "velo.myshopify.com"})).unwrap();
    assert_eq!(hook(&mut c, &ws, "shop/redact", &shop, Some(SECRET), "s1").await.0, 200);
    let mut gone = false;
    for _ in 0..100 {
        if contact_by_email(&mut c, sk, "bob@biller.com").await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the shop's customers are erased");
    assert!(contact_by_email(&mut c, sk, "cai@example.com").await.is_some(), "the site's own contacts stay");
    let list = c.get("/api/v1/integrations", sk).await.unwrap().json();
    let shopify = list["items"].as_array().unwrap().iter().find(|i| i["platform"] == "shopify").cloned().unwrap();
    assert_eq!(shopify["connected"], json!(false), "{shopify}");
}
