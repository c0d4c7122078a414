//! SPEC 16 "Site" (issue 14), over HTTP: the tracker's route, and the `form_submitted` flow trigger entered by a
//! `Form Submitted` event of the form it names (the browser behaviour of the tracker is in ui-tests/tracker.mjs).

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn the_tracker_is_served_as_javascript_to_any_site() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let r = c.request("GET", "/js/kairos.js", &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    assert!(r.header("cache-control").unwrap_or_default().contains("max-age="));
    let body = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(body.contains("/v1/batch") && body.contains("sendBeacon"), "the tracker itself");
}

#[tokio::test]
async fn a_form_submitted_event_enters_the_flows_of_its_form() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let t = json!({"id": "thanks", "channel": "email", "subject": "Thanks for signing up", "text": "Welcome"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    let f = json!({"name": "Newsletter thanks", "trigger": {"type": "form_submitted", "form": "newsletter"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "thanks", "transactional": true}]});
    let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    for (user, form) in [("ann", "newsletter"), ("bob", "contest")] {
        let who = json!({"userId": user, "traits": {"email": format!("{user}@example.com")}});
        assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
        let ev = json!({"userId": user, "event": "Form Submitted", "properties": {"form_id": form}});
        assert_eq!(c.post_json("/v1/track", wk, &ev).await.unwrap().status, 200);
    }
    let ann = common::messages_to(&mut c, sk, "ann@example.com").await;
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert_eq!(ann[0]["subject"], json!("Thanks for signing up"));
    let bob = common::count_after(
        &mut c,
        sk,
        "/api/v1/outbox?to=bob%40example.com",
        0,
        std::time::Duration::from_millis(300),
    )
    .await;
    assert_eq!(bob, 0, "another form's submission enters nothing");
}

async fn submit(c: &mut kairos_bench::client::HttpClient, id: &str, form: &str) -> (u16, String) {
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("referer", "https://velo.example/bikes")];
    let r = c.request("POST", &format!("/f/{id}"), &headers, bytes::Bytes::from(form.to_string())).await.unwrap();
    (r.status, String::from_utf8_lossy(&r.body).to_string())
}

#[tokio::test]
async fn a_hosted_form_subscribes_with_evidence_and_refuses_bots_and_bad_input() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    for (bad, field) in [
        (json!({"name": "X", "fields": [{"name": "first_name"}]}), "fields"),
        (
            json!({"name": "X", "fields": [{"name": "email", "type": "email"}], "consent": {"channel": "sms", "text": "t"}}),
            "consent.channel",
        ),
        (json!({"name": "X", "fields": [{"name": "Email!", "type": "email"}]}), "fields[0].name"),
        (json!({"fields": [{"name": "email", "type": "email"}]}), "name"),
    ] {
        let r = c.post_json("/api/v1/forms", sk, &bad).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{bad}");
    }
    let form = json!({"name": "Join <the> club", "fields": [
            {"name": "email", "type": "email", "required": true, "label": "Email"},
            {"name": "first_name", "label": "First name"}],
        "consent": {"channel": "email", "text": "Send me offers & news <weekly>"}, "double_opt_in": false,
        "success_message": "Welcome aboard!"});
    let r = c.post_json("/api/v1/forms", sk, &form).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(r.json()["url"].as_str().unwrap().ends_with(&format!("/f/{id}")));
    let other = common::create_workspace(&s.dir, "Other");
    assert_eq!(c.get(&format!("/api/v1/forms/{id}"), &other.secret_key).await.unwrap().status, 404);

    let page = c.request("GET", &format!("/f/{id}"), &[], bytes::Bytes::new()).await.unwrap();
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert_eq!(page.status, 200);
    assert!(html.contains("Join &lt;the&gt; club") && !html.contains("<the>"), "escaped: {html}");
    assert!(html.contains("Send me offers &amp; news &lt;weekly&gt;"), "the consent text as shown");
    assert!(html.contains("name=\"website\""), "the honeypot");

    // A bot fills the honeypot: a success page, nothing stored.
    let (status, _) = submit(&mut c, &id, "email=bot%40example.com&website=http%3A%2F%2Fspam&consent=yes").await;
    assert_eq!(status, 200);
    let r = c.get("/api/v1/contacts?email=bot%40example.com", sk).await.unwrap().json();
    assert_eq!(r["items"], json!([]), "{r}");
    // A bad email is shown again with the error; nothing is stored.
    let (status, html) = submit(&mut c, &id, "email=not-an-email&first_name=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("enter an email address") && html.contains("&lt;script&gt;") && !html.contains("<script>alert"),
        "{html}"
    );
    let r = c.send("POST", &format!("/f/{id}"), None, common::body(&json!({"email": "nope"}))).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("email")), "{:?}", r.json());

    let (status, html) = submit(&mut c, &id, "email=Rae%40Example.com&first_name=Rae&consent=yes").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Welcome aboard!"));
    let rae = c.get("/api/v1/contacts?email=rae%40example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_eq!(rae["consent"]["email"]["status"], json!("subscribed"), "{rae}");
    assert_eq!(rae["consent"]["email"]["source"], json!("form"), "{rae}");
    assert_eq!(rae["traits"]["first_name"], json!("Rae"));
    assert_eq!(rae["traits"]["consent_text"], json!("Send me offers & news <weekly>"), "the exact text shown");
    assert_eq!(rae["traits"]["consent_form"], json!(id));
    assert_eq!(rae["traits"]["consent_page"], json!("https://velo.example/bikes"));
    assert!(rae["traits"]["consent_ip"].as_str().is_some_and(|ip| ip.starts_with("127.")), "{rae}");
    let cid = rae["id"].as_str().map(str::to_string).unwrap_or_else(|| rae["id"].to_string());
    let events = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{cid}/events")).await;
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(names.contains(&"Form Submitted") && names.contains(&"Email Subscribed"), "{names:?}");

    // Without the box ticked: a contact, no subscription.
    submit(&mut c, &id, "email=sam%40example.com").await;
    let sam = c.get("/api/v1/contacts?email=sam%40example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_ne!(sam["consent"]["email"]["status"], json!("subscribed"), "{sam}");
    // One address may sign up a few times a minute, not more.
    let (status, _) = submit(&mut c, &id, "email=spam6%40example.com").await;
    assert_eq!(status, 429, "the sixth submission of the minute");
    let r = c.get("/api/v1/contacts?email=spam6%40example.com", sk).await.unwrap().json();
    assert_eq!(r["items"], json!([]));
}

/// `DELETE /api/v1/forms/{id}` (the UI's "Delete form"): only the workspace's own form goes; its hosted page and
/// its on-site listing go with it, and a second delete is a 404.
#[tokio::test]
async fn a_deleted_form_stops_answering_and_only_its_workspace_may_delete_it() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let form = json!({"name": "Popup", "fields": [{"name": "email", "type": "email", "required": true}],
        "display": {"type": "popup"}});
    let r = c.post_json("/api/v1/forms", sk, &form).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let onsite = format!("/v1/site/forms?writeKey={wk}");
    let listed = |r: kairos_bench::client::Response| r.json()["forms"].as_array().map_or(0, Vec::len);
    assert_eq!(listed(c.request("GET", &onsite, &[], bytes::Bytes::new()).await.unwrap()), 1);

    let other = common::create_workspace(&s.dir, "Other");
    let r = c.send("DELETE", &format!("/api/v1/forms/{id}"), Some(&other.secret_key), None).await.unwrap();
    assert_eq!(r.status, 404, "another workspace cannot delete it: {:?}", r.json());
    assert_eq!(c.get(&format!("/api/v1/forms/{id}"), sk).await.unwrap().status, 200, "still there");

    let r = c.send("DELETE", &format!("/api/v1/forms/{id}"), Some(sk), None).await.unwrap();
    assert_eq!((r.status, r.json()), (200, json!({"id": id, "deleted": true})));
    assert_eq!(c.get(&format!("/api/v1/forms/{id}"), sk).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/forms", sk).await.unwrap().json()["items"], json!([]));
    let page = c.request("GET", &format!("/f/{id}"), &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(page.status, 404, "the hosted page is gone");
    let r = c.request("GET", &onsite, &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(listed(r), 0, "the tracker no longer draws it");
    let r = c.send("DELETE", &format!("/api/v1/forms/{id}"), Some(sk), None).await.unwrap();
    assert_eq!(r.status, 404, "deleted once");
}
