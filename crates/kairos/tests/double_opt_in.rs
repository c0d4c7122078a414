//! Double opt-in and `Email Subscribed` (SPEC 16 "Site", issue 14), over HTTP: a sign-up subscribes nobody until
//! the signed link of the confirmation email comes back; the confirmation records the evidence of both steps and
//! emits `Email Subscribed`, which starts the library's welcome series, as a subscription from any other source
//! does. Forged, foreign and expired links subscribe nobody.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn submit(c: &mut HttpClient, form: &str, body: &str) -> u16 {
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("referer", "https://velo.example/join")];
    c.request("POST", &format!("/f/{form}"), &headers, bytes::Bytes::from(body.to_string())).await.unwrap().status
}

async fn contact(c: &mut HttpClient, sk: &str, email: &str) -> Value {
    let r = c.get(&format!("/api/v1/contacts?email={}", email.replace('@', "%40")), sk).await.unwrap().json();
    r["items"][0].clone()
}

async fn event_names(c: &mut HttpClient, sk: &str, contact: &Value) -> Vec<String> {
    let id = contact["id"].as_str().map(str::to_string).unwrap_or_else(|| contact["id"].to_string());
    let events = common::all_items(c, sk, &format!("/api/v1/contacts/{id}/events")).await;
    events.iter().filter_map(|e| e["event"].as_str().map(str::to_string)).collect()
}

/// The confirmation emails sent to `to`, and the path of the link in the newest.
async fn confirmation(c: &mut HttpClient, sk: &str, to: &str) -> (usize, String) {
    let all = common::all_items(c, sk, &format!("/api/v1/outbox?to={}", to.replace('@', "%40"))).await;
    let mails: Vec<&Value> =
        all.iter().filter(|m| m["subject"].as_str().is_some_and(|s| s.contains("confirm your subscription"))).collect();
    let Some(newest) = mails.first() else { return (0, String::new()) };
    let text = newest["text"].as_str().unwrap_or_default();
    let at = text.find("/confirm/").expect("a confirmation link in the text part");
    let path: String = text[at..].chars().take_while(|ch| !ch.is_whitespace()).collect();
    (mails.len(), path)
}

async fn get(c: &mut HttpClient, path: &str) -> (u16, String) {
    let r = c.request("GET", path, &[], bytes::Bytes::new()).await.unwrap();
    (r.status, String::from_utf8_lossy(&r.body).to_string())
}

async fn setup(c: &mut HttpClient, sk: &str) -> String {
    let lib = c.post_json("/api/v1/flows/library/welcome_series/install", sk, &json!({})).await.unwrap();
    assert_eq!(lib.status, 201, "{:?}", lib.json());
    let flow = lib.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let form = json!({"name": "Club", "fields": [{"name": "email", "type": "email", "required": true},
            {"name": "first_name"}],
        "consent": {"channel": "email", "text": "Email me news"}, "double_opt_in": true});
    let r = c.post_json("/api/v1/forms", sk, &form).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(r.json()["success_message"], json!("Almost done: check your inbox and confirm your subscription."));
    r.json()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_confirmed_sign_up_subscribes_with_evidence_and_starts_the_welcome_series() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-02T10:00:00Z"})).await.unwrap();
    let form = setup(&mut c, sk).await;

    assert_eq!(submit(&mut c, &form, "email=kim%40example.com&first_name=Kim&consent=yes").await, 200);
    let kim = contact(&mut c, sk, "kim@example.com").await;
    assert_ne!(kim["consent"]["email"]["status"], json!("subscribed"), "not before confirming: {kim}");
    let names = event_names(&mut c, sk, &kim).await;
    assert!(names.contains(&"Form Submitted".into()) && !names.contains(&"Email Subscribed".into()), "{names:?}");
    // Submitting again at once sends no second email.
    assert_eq!(submit(&mut c, &form, "email=kim%40example.com&consent=yes").await, 200);
    let (count, link) = confirmation(&mut c, sk, "kim@example.com").await;
    assert_eq!(count, 1, "one confirmation email");
    let welcome = common::all_items(&mut c, sk, "/api/v1/outbox?to=kim%40example.com").await;
    assert!(!welcome.iter().any(|m| m["subject"] == "Welcome to the shop"), "no welcome before confirming");

    // A forged or tampered link does nothing.
    let mut tampered = link.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(get(&mut c, &String::from_utf8(tampered).unwrap()).await.0, 404);
    assert_eq!(get(&mut c, "/confirm/bm90aGluZw.AAAAAAAAAAAAAAAAAAAAAA").await.0, 404);
    assert_ne!(contact(&mut c, sk, "kim@example.com").await["consent"]["email"]["status"], json!("subscribed"));

    let (status, page) = get(&mut c, &link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("you are subscribed"), "{page}");
    let kim = contact(&mut c, sk, "kim@example.com").await;
    assert_eq!(kim["consent"]["email"]["status"], json!("subscribed"), "{kim}");
    assert_eq!(kim["consent"]["email"]["source"], json!("form"));
    let t = &kim["traits"];
    assert_eq!((t["consent_text"].clone(), t["consent_form"].clone()), (json!("Email me news"), json!(form)));
    assert_eq!(t["consent_page"], json!("https://velo.example/join"));
    assert!(t["consent_requested_at"].as_str().is_some_and(|a| a.starts_with("2030-03-02T10:00:0")), "{t}");
    assert!(t["consent_confirmed_at"].is_string() && t["consent_confirmed_ip"].is_string(), "{t}");
    assert_eq!(t["consent_double_opt_in"], json!(true));
    let welcome = common::messages_to(&mut c, sk, "kim@example.com").await;
    assert!(welcome.iter().any(|m| m["subject"] == "Welcome to the shop"), "{welcome:?}");

    // A second visit says so and subscribes nothing twice.
    let (status, page) = get(&mut c, &link).await;
    assert_eq!(status, 200);
    assert!(page.contains("already subscribed"), "{page}");
    let names = event_names(&mut c, sk, &kim).await;
    assert_eq!(names.iter().filter(|n| *n == "Email Subscribed").count(), 1, "{names:?}");
}

#[tokio::test]
async fn unconfirmed_requests_expire_and_a_link_confirms_only_its_own_address() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-02T10:00:00Z"})).await.unwrap();
    let form = setup(&mut c, sk).await;
    for who in ["late", "moved"] {
        assert_eq!(submit(&mut c, &form, &format!("email={who}%40example.com&consent=yes")).await, 200);
    }
    let (_, late) = confirmation(&mut c, sk, "late@example.com").await;
    let (_, moved) = confirmation(&mut c, sk, "moved@example.com").await;
    // The profile's address changes before confirming: the old address's link subscribes nobody.
    let user = json!({"userId": "mover", "traits": {"email": "moved@example.com"}});
    assert_eq!(c.post_json("/v1/identify", wk, &user).await.unwrap().status, 200);
    let change = json!({"userId": "mover", "traits": {"email": "new.home@example.com"}});
    assert_eq!(c.post_json("/v1/identify", sk, &change).await.unwrap().status, 200);
    assert_eq!(get(&mut c, &moved).await.0, 404);

    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "8d"})).await.unwrap();
    let (status, page) = get(&mut c, &late).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("expired"));
    let late = contact(&mut c, sk, "late@example.com").await;
    assert_ne!(late["consent"]["email"]["status"], json!("subscribed"), "{late}");
    assert!(!event_names(&mut c, sk, &late).await.contains(&"Email Subscribed".into()));

    // A double opt-in form must ask for email consent.
    let bad = json!({"name": "X", "fields": [{"name": "phone", "type": "phone"}],
        "consent": {"channel": "sms", "text": "Texts"}, "double_opt_in": true});
    let r = c.post_json("/api/v1/forms", sk, &bad).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("double_opt_in")), "{:?}", r.json());
}

#[tokio::test]
async fn email_subscribed_is_emitted_for_every_source_once_per_subscription() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let subscribed = json!({"userId": "pat", "traits": {"email": "pat@example.com", "email_consent": "subscribed",
        "consent_source": "shopify"}});
    // A public write key cannot subscribe anyone: no event.
    assert_eq!(c.post_json("/v1/identify", wk, &subscribed).await.unwrap().status, 200);
    let pat = contact(&mut c, sk, "pat@example.com").await;
    assert!(!event_names(&mut c, sk, &pat).await.contains(&"Email Subscribed".into()));
    // A trusted sender (a platform's consent, a secret key) does; repeating it is no new subscription.
    for _ in 0..2 {
        assert_eq!(c.post_json("/v1/identify", sk, &subscribed).await.unwrap().status, 200);
    }
    let id = pat["id"].as_str().map(str::to_string).unwrap_or_else(|| pat["id"].to_string());
    let events = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{id}/events")).await;
    let subs: Vec<&Value> = events.iter().filter(|e| e["event"] == "Email Subscribed").collect();
    assert_eq!(subs.len(), 1, "{events:?}");
    assert_eq!(subs[0]["properties"]["source"], json!("shopify"));
    // Unsubscribing and subscribing again through the consent API is a new subscription.
    for status in ["unsubscribed", "subscribed"] {
        let body = json!({"email": "pat@example.com", "channel": "email", "status": status, "source": "api"});
        assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &body).await.unwrap().status, 200);
    }
    let events = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{id}/events")).await;
    let sources: Vec<&Value> =
        events.iter().filter(|e| e["event"] == "Email Subscribed").map(|e| &e["properties"]["source"]).collect();
    assert_eq!(sources, [&json!("api"), &json!("shopify")], "newest first");
}
