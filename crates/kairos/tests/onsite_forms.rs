//! On-site forms (issue 14), over HTTP: display rules checked field by field, the tracker's list of a
//! workspace's popups, flyouts and inline forms (`GET /v1/site/forms`, by write key, without the forms that hide
//! from a visitor who is already a subscriber), and submissions from another origin answered in JSON with CORS.
//! The browser behaviour is in ui-tests/popup.mjs (crates/kairos/tests/site_browser.rs).

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn save(c: &mut HttpClient, sk: &str, form: Value) -> (u16, Value) {
    let r = c.post_json("/api/v1/forms", sk, &form).await.unwrap();
    (r.status, r.json())
}

fn form(name: &str, display: Value) -> Value {
    json!({"name": name, "fields": [{"name": "email", "type": "email", "required": true}],
        "consent": {"channel": "email", "text": "Email me"}, "display": display})
}

async fn site_forms(c: &mut HttpClient, query: &str) -> (u16, Value) {
    let r = c.request("GET", &format!("/v1/site/forms?{query}"), &[], bytes::Bytes::new()).await.unwrap();
    (r.status, r.json())
}

#[tokio::test]
async fn display_rules_are_checked_and_the_tracker_gets_the_onsite_forms() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (display, field) in [
        (json!({"type": "banner"}), "display.type"),
        (json!({"type": "popup", "delay_seconds": -1}), "display.delay_seconds"),
        (json!({"type": "popup", "scroll_percent": 150}), "display.scroll_percent"),
        (json!({"type": "popup", "show_on": ["products"]}), "display.show_on"),
        (json!({"type": "popup", "hide_on": "/checkout"}), "display.hide_on"),
        (json!({"type": "popup", "frequency_days": 1000}), "display.frequency_days"),
        (json!({"type": "popup", "devices": "tv"}), "display.devices"),
        (json!({"type": "popup", "exit_intent": "yes"}), "display.exit_intent"),
        (json!("popup"), "display"),
    ] {
        let (status, body) = save(&mut c, sk, form("Bad", display.clone())).await;
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{display}: {body}");
    }
    let (status, _) = save(&mut c, sk, form("Footer", Value::Null)).await;
    assert_eq!(status, 201, "no display: the hosted page only");
    let (status, popup) = save(
        &mut c,
        sk,
        form("Ten percent <off>", json!({"type": "popup", "exit_intent": true, "show_on": ["/bikes/*"]})),
    )
    .await;
    assert_eq!(status, 201, "{popup}");
    let d = &popup["display"];
    assert_eq!(d["delay_seconds"], Value::Null, "exit intent alone: no timer");
    assert_eq!((d["frequency_days"].clone(), d["hide_for_subscribers"].clone()), (json!(7), json!(true)));
    let (_, inline) = save(&mut c, sk, form("Inline", json!({"type": "inline"}))).await;

    let (status, body) = site_forms(&mut c, &format!("writeKey={wk}")).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["forms"].as_array().unwrap().iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names.len(), 2, "popup and inline, not the hosted-only form: {names:?}");
    let p = body["forms"].as_array().unwrap().iter().find(|f| f["id"] == popup["id"]).unwrap();
    assert_eq!(p["name"], json!("Ten percent <off>"), "as data; the script writes it as text");
    assert!(p["action"].as_str().unwrap().ends_with(&format!("/f/{}", popup["id"].as_str().unwrap())));
    assert_eq!(p["consent_text"], json!("Email me"));
    assert!(p.get("confirmation_template").is_none() && p.get("consent").is_none(), "only what visitors see");
    assert_eq!(site_forms(&mut c, "writeKey=wk_nope").await.0, 401);
    assert_eq!(site_forms(&mut c, "").await.0, 401);
    let other = common::create_workspace(&s.dir, "Other");
    let (_, theirs) = site_forms(&mut c, &format!("writeKey={}", other.write_key)).await;
    assert_eq!(theirs["forms"], json!([]), "another workspace's forms are its own");

    // A visitor who signs up through the popup is a subscriber: the popup (hidden from subscribers) is not
    // offered again to that anonymous id, the inline form still is.
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
        ("origin", "http://shop.example"),
    ];
    let action = format!("/f/{}", popup["id"].as_str().unwrap());
    let sub = "email=vi%40example.com&consent=yes&anonymous_id=visitor-1&page=http%3A%2F%2Fshop.example%2Fbikes%2Fa";
    let r = c.request("POST", &action, &headers, bytes::Bytes::from(sub)).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "readable from the store's pages");
    assert_eq!(r.json()["ok"], json!(true), "JSON for the on-site script");
    let bad = c.request("POST", &action, &headers, bytes::Bytes::from("email=nope")).await.unwrap();
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("email")));
    let (_, body) = site_forms(&mut c, &format!("writeKey={wk}&anonymousId=visitor-1")).await;
    let ids: Vec<&Value> = body["forms"].as_array().unwrap().iter().map(|f| &f["id"]).collect();
    assert_eq!(ids, [&inline["id"]], "{body}");
    let (_, body) = site_forms(&mut c, &format!("writeKey={wk}&anonymousId=someone-else")).await;
    assert_eq!(body["forms"].as_array().unwrap().len(), 2);

    // The node keeps the answer for page views, yet its own edits show at the next one.
    let (_, flyout) = save(&mut c, sk, form("Flyout", json!({"type": "flyout", "delay_seconds": 3}))).await;
    let (_, body) = site_forms(&mut c, &format!("writeKey={wk}")).await;
    assert_eq!(body["forms"].as_array().unwrap().len(), 3, "a new form at once: {body}");
    let path = format!("/api/v1/forms/{}", inline["id"].as_str().unwrap());
    let r = c.send("DELETE", &path, Some(sk), None).await.unwrap();
    assert_eq!(r.status, 200);
    let (_, body) = site_forms(&mut c, &format!("writeKey={wk}")).await;
    let ids: Vec<&Value> = body["forms"].as_array().unwrap().iter().map(|f| &f["id"]).collect();
    assert_eq!(ids.len(), 2, "a deleted form is gone at once: {body}");
    assert!(ids.contains(&&flyout["id"]) && !ids.contains(&&inline["id"]));
}

#[tokio::test]
async fn the_forms_script_is_served_to_any_site() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let r = c.request("GET", "/js/kairos-forms.js", &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    let body = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(body.contains("data-kairos-form") && body.contains("textContent"), "draws forms as text");
    assert!(!body.contains("innerHTML"), "never writes a form's words as HTML");
}
