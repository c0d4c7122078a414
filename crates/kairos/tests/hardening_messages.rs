//! What recipients, providers and other workspaces can reach through messages: the SMS provider's webhooks
//! (refused without a provider, signed and scoped to the workspace that owns the number with one), bounce
//! reports naming another workspace's message, click links to hosts outside the store, the preference form
//! posted empty, and an old unsubscribe link replayed after a re-subscribe.

mod common;

use common::{Keys, TestServer, messages_to, wait_status};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

/// Every `href` value of an HTML body.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
}

async fn contact(c: &mut HttpClient, sk: &str, user: &str) -> Value {
    let r = c.get(&format!("/api/v1/contacts?user_id={user}"), sk).await.unwrap().json();
    r["items"][0].clone()
}

async fn consent_of(c: &mut HttpClient, sk: &str, user: &str, channel: &str) -> String {
    contact(c, sk, user).await["consent"][channel]["status"].as_str().unwrap_or_default().to_string()
}

/// A contact with an email address and a phone number, subscribed on both channels.
async fn subscribed(c: &mut HttpClient, keys: &Keys, user: &str, email: &str, phone: &str) {
    let r = c
        .post_json(
            "/v1/identify",
            &keys.write_key,
            &json!({"userId": user, "traits": {"email": email, "phone": phone}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    for channel in ["email", "sms"] {
        let r = c
            .post_json(
                "/api/v1/contacts/consent",
                &keys.secret_key,
                &json!({"user_id": user, "channel": channel, "status": "subscribed"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
}

/// A template `t` and a flow sending it on every `Ping` (smart sending off, so every Ping sends).
async fn ping_flow(c: &mut HttpClient, sk: &str, channel: &str, template: Value) {
    let r = c.put_json("/api/v1/settings", sk, &json!({"smart_sending": null})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let mut t = template;
    t["id"] = json!("t");
    t["channel"] = json!(channel);
    let r = c.post_json("/api/v1/templates", sk, &t).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let f = json!({"name": "Ping", "trigger": {"type": "event", "event": "Ping"}, "entry": {"reentry": "always"},
        "steps": [{"id": "send", "type": "send", "channel": channel, "template": "t"}]});
    let id = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

async fn ping(c: &mut HttpClient, wk: &str, user: &str, properties: Value) {
    let r = c.post_json("/v1/track", wk, &json!({"userId": user, "event": "Ping", "properties": properties})).await;
    assert_eq!(r.unwrap().status, 200);
}

async fn advance(c: &mut HttpClient, sk: &str, by: &str) {
    let r = c.post_json("/api/v1/dev/clock", sk, &json!({"advance": by})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

fn form_body(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn sms_hooks_refuse_every_request_without_a_provider() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.clone();
    subscribed(&mut c, &s.keys, "u", "u@example.com", "+14155550100").await;
    c.post_json("/api/v1/contacts/consent", &sk, &json!({"user_id": "u", "channel": "sms", "status": "unsubscribed"}))
        .await
        .unwrap();
    // A forged opt-in (garbage signature), then an unsigned STOP and an unsigned status callback.
    for (path, body, sig) in [
        ("/hooks/sms/inbound", form_body(&[("From", "+14155550100"), ("Body", "START")]), Some("garbage")),
        ("/hooks/sms/inbound", form_body(&[("From", "+14155550100"), ("Body", "STOP")]), None),
        ("/hooks/sms/status", form_body(&[("MessageSid", "SM1"), ("MessageStatus", "delivered")]), None),
    ] {
        let mut headers = vec![FORM];
        if let Some(sig) = sig {
            headers.push(("x-twilio-signature", sig));
        }
        let r = c.request("POST", path, &headers, body.into()).await.unwrap();
        assert_eq!(r.status, 404, "{path}: {:?}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"]["code"], "not_found", "a JSON error: {:?}", r.body);
    }
    assert_eq!(consent_of(&mut c, &sk, "u", "sms").await, "unsubscribed", "the forged START changed nothing");
    c.post_json("/api/v1/contacts/consent", &sk, &json!({"user_id": "u", "channel": "sms", "status": "subscribed"}))
        .await
        .unwrap();
    let r = c
        .request("POST", "/hooks/sms/inbound", &[FORM], form_body(&[("From", "+14155550100"), ("Body", "STOP")]).into())
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(consent_of(&mut c, &sk, "u", "sms").await, "subscribed", "the unsigned STOP changed nothing");
}

#[tokio::test]
async fn sms_keywords_need_the_providers_signature_and_stay_in_the_workspace_that_owns_the_number() {
    let provider =
        common::Recorder::start(|_, n| (201, format!("{{\"sid\": \"SM{n:04}\", \"status\": \"queued\"}}"))).await;
    let base = format!("http://{}", provider.addr);
    let mut other = None;
    let s = TestServer::start_with(|dir| {
        other = Some(common::create_workspace(dir, "Other Shop"));
        std::fs::write(
            dir.join("kairos.toml"),
            format!(
                "[sms]\nprovider_url = \"{base}\"\naccount_sid = \"AC42\"\nauth_token = \"tok\"\nfrom = \"+15005550006\"\n\
                 [sending]\nquiet_hours_sms = \"off\"\n"
            ),
        )
        .unwrap()
    });
    let (a, b) = (s.keys.clone(), other.unwrap());
    let mut c = s.client().await;
    let phone = "+14155550100";
    // Workspace A texts from its own number; B keeps the server's.
    let r = c.put_json("/api/v1/settings", &a.secret_key, &json!({"sms": {"from": "+15005550007"}})).await.unwrap();
    assert_eq!((r.status, r.json()["sms"]["from"].as_str()), (200, Some("+15005550007")), "{:?}", r.json());
    let r = c.get("/api/v1/settings", &b.secret_key).await.unwrap().json();
    assert_eq!(r["sms"]["from"], "+15005550006", "the server's sender is every workspace's default: {r}");
    let r = c.put_json("/api/v1/settings", &a.secret_key, &json!({"sms": {"from": "+1 555 CALL"}})).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("sms.from")), "{:?}", r.json());
    for keys in [&a, &b] {
        subscribed(&mut c, keys, "u", "u@example.com", phone).await;
    }
    ping_flow(&mut c, &a.secret_key, "sms", json!({"body": "Hello from A"})).await;
    ping(&mut c, &a.write_key, "u", json!({})).await;
    let sent = provider.wait_for(1).await;
    let form: Vec<(String, String)> = form_urlencoded::parse(&sent[0].body).into_owned().collect();
    assert!(form.contains(&("From".into(), "+15005550007".into())), "A's own sender: {form:?}");

    let inbound = format!("http://{}/hooks/sms/inbound", s.addr);
    let stop = [("From", phone), ("To", "+15005550007"), ("Body", "STOP")];
    // Unsigned, or signed with anything but the provider's auth token: refused, nothing changes.
    let forged = kairos_channels::twilio_signature("not-the-token", &inbound, &owned(&stop));
    for sig in [None, Some("garbage"), Some(""), Some(forged.as_str())] {
        let mut headers = vec![FORM];
        if let Some(sig) = sig {
            headers.push(("x-twilio-signature", sig));
        }
        let r = c.request("POST", "/hooks/sms/inbound", &headers, form_body(&stop).into()).await.unwrap();
        assert_eq!(r.status, 401, "{sig:?}");
        assert_eq!(r.json()["error"]["code"], "unauthorized");
    }
    assert_eq!(consent_of(&mut c, &a.secret_key, "u", "sms").await, "subscribed");
    let status = format!("http://{}/hooks/sms/status", s.addr);
    let r = c
        .request(
            "POST",
            "/hooks/sms/status",
            &[FORM, ("x-twilio-signature", "garbage")],
            form_body(&[("MessageSid", "SM0000"), ("MessageStatus", "failed")]).into(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let delivered = [("MessageSid", "SM0000"), ("MessageStatus", "delivered")];
    let sig = kairos_channels::twilio_signature("tok", &status, &owned(&delivered));
    let r = c
        .request("POST", "/hooks/sms/status", &[FORM, ("x-twilio-signature", &sig)], form_body(&delivered).into())
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    wait_status(&mut c, &a.secret_key, phone, "delivered").await;

    // Signed STOP to A's number: A's contact only.
    let sig = kairos_channels::twilio_signature("tok", &inbound, &owned(&stop));
    let r = c
        .request("POST", "/hooks/sms/inbound", &[FORM, ("x-twilio-signature", &sig)], form_body(&stop).into())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("unsubscribed"), "TwiML confirmation");
    assert_eq!(consent_of(&mut c, &a.secret_key, "u", "sms").await, "unsubscribed");
    assert_eq!(consent_of(&mut c, &b.secret_key, "u", "sms").await, "subscribed", "B does not text from that number");
    // A number no workspace sends from changes nothing.
    let stray = [("From", phone), ("To", "+15005550999"), ("Body", "STOP")];
    let sig = kairos_channels::twilio_signature("tok", &inbound, &owned(&stray));
    let r = c
        .request("POST", "/hooks/sms/inbound", &[FORM, ("x-twilio-signature", &sig)], form_body(&stray).into())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(consent_of(&mut c, &b.secret_key, "u", "sms").await, "subscribed");
}

#[tokio::test]
async fn bounce_reports_never_touch_another_workspaces_messages() {
    let mut other = None;
    let s = TestServer::start_with(|dir| other = Some(common::create_workspace(dir, "Other Shop")));
    let (a, b) = (s.keys.clone(), other.unwrap());
    let mut c = s.client().await;
    for (keys, user) in [(&a, "a0"), (&b, "b0")] {
        subscribed(&mut c, keys, user, &format!("{user}@example.com"), "+14155550100").await;
        ping_flow(&mut c, &keys.secret_key, "email", json!({"subject": "Hi", "html": "<p>Hi</p>"})).await;
        ping(&mut c, &keys.write_key, user, json!({})).await;
    }
    let theirs = wait_status(&mut c, &b.secret_key, "b0@example.com", "sent").await;
    let mine = wait_status(&mut c, &a.secret_key, "a0@example.com", "sent").await;
    let their_id = theirs["id"].as_str().unwrap().to_string();
    // B's campaign message too.
    let bsk = b.secret_key.as_str();
    let seg = c.post_json("/api/v1/segments", bsk, &json!({"name": "All", "definition": "subscribed email"})).await;
    let seg = seg.unwrap().json()["id"].as_str().unwrap().to_string();
    let body = json!({"name": "News", "channel": "email", "template": "t", "segments": [seg], "smart_sending": false});
    let cmp = c.post_json("/api/v1/campaigns", bsk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/campaigns/{cmp}/schedule"), bsk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let path = format!("/api/v1/messages?campaign_id={cmp}");
    assert_eq!(common::count_after(&mut c, bsk, &path, 1, std::time::Duration::ZERO).await, 1);
    let campaign_id = common::all_items(&mut c, bsk, &path).await[0]["id"].as_str().unwrap().to_string();
    // Ids are deterministic per (run, step) and (campaign, contact) but not guessable from row numbers: a keyed
    // 128-bit digest (32 hex digits), after the second the run entered its flow (10 more) for flow messages.
    let mine_id = mine["id"].as_str().unwrap().to_string();
    for (id, prefix, digits) in [(&their_id, "msg_", 42), (&mine_id, "msg_", 42), (&campaign_id, "cmp_", 32)] {
        let hex = id.strip_prefix(prefix).unwrap_or_else(|| panic!("{id}"));
        assert!(hex.len() == digits && hex.bytes().all(|b| b.is_ascii_hexdigit()), "unguessable: {id}");
    }
    for (kind, id) in [("complaint", &their_id), ("hard", &their_id), ("complaint", &campaign_id)] {
        let r = c
            .post_json(
                "/api/v1/bounces",
                &a.secret_key,
                &json!({"email": "a0@example.com", "type": kind, "message_id": id}),
            )
            .await
            .unwrap();
        assert_eq!((r.status, &r.json()["items"][0]["message_id"]), (200, &Value::Null), "{:?}", r.json());
    }
    for id in [&their_id, &campaign_id] {
        let r = c.get(&format!("/api/v1/messages/{id}"), &b.secret_key).await.unwrap().json();
        assert_eq!(r["status"], "sent", "B's message is untouched: {r}");
        let history: Vec<&str> = r["history"].as_array().unwrap().iter().filter_map(|h| h["status"].as_str()).collect();
        assert_eq!(history, vec!["sent"], "{r}");
    }
    assert_eq!(consent_of(&mut c, &b.secret_key, "b0", "email").await, "subscribed");
    let sup = c.get("/api/v1/suppressions", &b.secret_key).await.unwrap().json();
    assert_eq!(sup["items"], json!([]), "{sup}");
    // The report still applies to the caller's own address.
    let sup = c.get("/api/v1/suppressions", &a.secret_key).await.unwrap().json();
    assert_eq!(sup["items"][0]["address"], "a0@example.com", "{sup}");
    assert_eq!(consent_of(&mut c, &a.secret_key, "a0", "email").await, "unsubscribed", "a complaint unsubscribes");
    // A's own message id, with A's key, is marked.
    let mine_id = mine["id"].as_str().unwrap();
    let r = c
        .post_json(
            "/api/v1/bounces",
            &a.secret_key,
            &json!({"email": "a0@example.com", "type": "complaint", "message_id": mine_id}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c.get(&format!("/api/v1/messages/{mine_id}"), &a.secret_key).await.unwrap().json();
    assert_eq!(r["status"], "complained", "{r}");
}

#[tokio::test]
async fn click_links_lead_only_to_the_store_and_allowed_domains() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let r = c
        .put_json(
            "/api/v1/settings",
            &sk,
            &json!({"store": {"url": "https://www.velo.example"}, "tracking": {"allowed_domains": ["partner.example"]}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["tracking"]["allowed_domains"], json!(["partner.example"]));
    for (patch, field) in [
        (json!({"tracking": {"allowed_domains": ["https://x.example/"]}}), "tracking.allowed_domains[0]"),
        (json!({"tracking": {"allowed_domains": "x.example"}}), "tracking.allowed_domains"),
        (json!({"store": {"url": "javascript:alert(1)"}}), "store.url"),
    ] {
        let r = c.put_json("/api/v1/settings", &sk, &patch).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{patch}");
    }
    subscribed(&mut c, &s.keys, "u", "u@example.com", "+14155550100").await;
    let html = "<html><body>{% for i in event.items %}<a href=\"{{ i.url }}\">{{ i.name }}</a>{% endfor %}\
                <a href=\"https://velo.example/sale\">sale</a><a href=\"https://partner.example/x\">partner</a>\
                <a href=\"mailto:help@velo.example\">help</a><a href=\"{{ unsubscribe_url }}\">unsubscribe</a></body></html>";
    ping_flow(&mut c, &sk, "email", json!({"subject": "Your cart", "html": html})).await;
    let items = json!([
        {"name": "Phish", "url": "https://evil.example/phish"},
        {"name": "Tricky", "url": "https://www.velo.example@evil.example/x"},
        {"name": "Script", "url": "javascript:alert(document.cookie)"},
        {"name": "Lamp", "url": "https://cdn.www.velo.example/lamp"},
    ]);
    ping(&mut c, &wk, "u", json!({"items": items})).await;
    let m = wait_status(&mut c, &sk, "u@example.com", "sent").await;
    let html = m["html"].as_str().unwrap();
    let links = hrefs(html);
    assert!(!html.contains("javascript:"), "a script link is dropped: {html}");
    assert!(links.contains(&"https://evil.example/phish".to_string()), "left as written, untracked: {links:?}");
    assert!(links.contains(&"mailto:help@velo.example".to_string()), "{links:?}");
    advance(&mut c, &sk, "1m").await;
    let mut destinations = Vec::new();
    for link in links.iter().filter(|l| l.contains("/c/")) {
        let r = c.request("GET", &path_of(link), &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
        assert_eq!(r.status, 302, "{link}");
        destinations.push(r.header("location").unwrap().to_string());
    }
    destinations.sort();
    assert_eq!(
        destinations,
        vec!["https://cdn.www.velo.example/lamp", "https://partner.example/x", "https://velo.example/sale"],
        "only the store's hosts and the allowed domains are tracked"
    );
    let warnings = m["warnings"].to_string();
    assert!(warnings.contains("evil.example") && warnings.contains("javascript"), "render warnings: {m}");
    let r = c.post_json("/api/v1/templates/t/preview?contact_id=1", &sk, &json!({"event": {"items": items}})).await;
    let preview = r.unwrap().json();
    assert!(preview["warnings"].to_string().contains("evil.example"), "the preview warns too: {preview}");
}

/// RFC 8058 one-click: what a mail client POSTs to the `List-Unsubscribe` URL.
async fn one_click(c: &mut HttpClient, path: String) -> kairos_bench::client::Response {
    c.request("POST", &path, &[FORM], "List-Unsubscribe=One-Click".to_string().into()).await.unwrap()
}

/// The one message to `to` (the newest).
async fn newest(c: &mut HttpClient, sk: &str, to: &str) -> Value {
    messages_to(c, sk, to).await.into_iter().next().expect("a message")
}

#[tokio::test]
async fn the_preference_form_posted_empty_changes_nothing() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    subscribed(&mut c, &s.keys, "u", "u@example.com", "+14155550100").await;
    ping_flow(&mut c, &sk, "email", json!({"subject": "Hi", "html": "<a href=\"{{ preferences_url }}\">prefs</a>"}))
        .await;
    ping(&mut c, &wk, "u", json!({})).await;
    wait_status(&mut c, &sk, "u@example.com", "sent").await;
    let m = newest(&mut c, &sk, "u@example.com").await;
    let prefs = path_of(&hrefs(m["html"].as_str().unwrap())[0]);
    assert!(prefs.starts_with("/preferences/"), "{prefs}");
    let page = c.request("GET", &prefs, &[], Default::default()).await.unwrap();
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("name=\"submitted\" value=\"1\""));
    for body in ["", "email=on", "submitted=0", "submitted"] {
        let r = c.request("POST", &prefs, &[FORM], body.to_string().into()).await.unwrap();
        assert_eq!(r.status, 400, "{body:?}");
    }
    assert_eq!(consent_of(&mut c, &sk, "u", "email").await, "subscribed");
    assert_eq!(consent_of(&mut c, &sk, "u", "sms").await, "subscribed");
    // The real form: only SMS left ticked.
    let r = c.request("POST", &prefs, &[FORM], "sms=on&submitted=1".to_string().into()).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(consent_of(&mut c, &sk, "u", "email").await, "unsubscribed");
    assert_eq!(consent_of(&mut c, &sk, "u", "sms").await, "subscribed");
}

#[tokio::test]
async fn an_old_unsubscribe_link_cannot_undo_a_later_resubscribe() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    c.post_json("/api/v1/dev/clock", &sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    subscribed(&mut c, &s.keys, "u", "u@example.com", "+14155550100").await;
    ping_flow(&mut c, &sk, "email", json!({"subject": "Hi", "html": "<a href=\"{{ unsubscribe_url }}\">stop</a>"}))
        .await;
    advance(&mut c, &sk, "1m").await;
    ping(&mut c, &wk, "u", json!({})).await;
    let first = path_of(&hrefs(wait_status(&mut c, &sk, "u@example.com", "sent").await["html"].as_str().unwrap())[0]);
    assert!(first.starts_with("/u/"), "{first}");
    // RFC 8058 one-click works for recent mail; repeating it is harmless.
    advance(&mut c, &sk, "1m").await;
    assert_eq!(one_click(&mut c, first.clone()).await.status, 200);
    assert_eq!(consent_of(&mut c, &sk, "u", "email").await, "unsubscribed");
    assert_eq!(one_click(&mut c, first.clone()).await.status, 200);
    // She subscribes again; the old link no longer unsubscribes her.
    advance(&mut c, &sk, "1d").await;
    c.post_json("/api/v1/contacts/consent", &sk, &json!({"user_id": "u", "channel": "email", "status": "subscribed"}))
        .await
        .unwrap();
    advance(&mut c, &sk, "1d").await;
    let r = one_click(&mut c, first.clone()).await;
    assert_eq!(r.status, 410, "{:?}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));
    assert_eq!(consent_of(&mut c, &sk, "u", "email").await, "subscribed");
    let r = c.request("GET", &first, &[], Default::default()).await.unwrap();
    assert_eq!(r.status, 410, "the confirmation page says so too");
    // Re-affirming consent (an integration sending "subscribed" again) keeps recent links working.
    ping(&mut c, &wk, "u", json!({})).await;
    for _ in 0..100 {
        if messages_to(&mut c, &sk, "u@example.com").await.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = path_of(&hrefs(newest(&mut c, &sk, "u@example.com").await["html"].as_str().unwrap())[0]);
    assert_ne!(first, second);
    advance(&mut c, &sk, "1h").await;
    c.post_json("/api/v1/contacts/consent", &sk, &json!({"user_id": "u", "channel": "email", "status": "subscribed"}))
        .await
        .unwrap();
    advance(&mut c, &sk, "1h").await;
    assert_eq!(c.request("GET", &second, &[], Default::default()).await.unwrap().status, 200);
    assert_eq!(one_click(&mut c, second).await.status, 200);
    assert_eq!(consent_of(&mut c, &sk, "u", "email").await, "unsubscribed");
}
