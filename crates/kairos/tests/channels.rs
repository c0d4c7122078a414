//! Real delivery end to end: email over SMTP to a real SMTP server (aiosmtpd, started here on loopback) with
//! DKIM, List-Unsubscribe and tracking; SMS through a Twilio-shaped provider; suppression that holds even for a
//! campaign queued before the unsubscribe.

mod common;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use common::{TestServer, messages_to, wait_status};
use serde_json::{Value, json};
use support::{SinkOptions, SmtpSink, dkim_test_key, dkim_verify};

/// `openssl genpkey -algorithm ed25519` (test-only): the second key of dual signing.
const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO41blH7d+fk76cQtek+W1WGSBHlhjnOHwJk7uwsFRPG\n-----END PRIVATE KEY-----\n";

fn email_config(dir: &std::path::Path, port: u16) {
    let (pem, _) = dkim_test_key();
    std::fs::write(dir.join("dkim.pem"), pem).unwrap();
    std::fs::write(dir.join("dkim-ed25519.pem"), ED25519_PEM).unwrap();
    std::fs::write(
        dir.join("kairos.toml"),
        format!(
            "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             from = \"Velo Shop <shop@velo.example>\"\n[email.dkim]\ndomain = \"velo.example\"\nselector = \"k1\"\n\
             private_key_file = \"dkim.pem\"\ned25519_selector = \"ed1\"\ned25519_private_key_file = \"dkim-ed25519.pem\"\n\
             [sending]\nsmart_sending = \"off\"\n"
        ),
    )
    .unwrap();
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

#[tokio::test]
async fn email_over_smtp_with_dkim_tracking_unsubscribe_and_suppression() {
    let sink = SmtpSink::start(SinkOptions { reject: vec!["unknown".into()], ..Default::default() });
    let port = sink.port;
    let s = TestServer::start_with(|dir| email_config(dir, port));
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    let tpl = json!({"id": "cart", "channel": "email", "subject": "{{ contact.first_name }}, your cart",
        "html": "<html><body><p>Hi {{ contact.first_name }}</p>{% for i in event.items %}<a href=\"{{ i.url }}\">{{ i.name }}</a> {{ i.price | money }}{% endfor %}<a href=\"{{ unsubscribe_url }}\">unsubscribe</a></body></html>",
        "text": "Hi {{ contact.first_name }}: {{ event.items | size }} items"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &tpl).await.unwrap().status, 201);
    let receipt = json!({"id": "receipt", "channel": "email", "subject": "Receipt", "text": "Thanks"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &receipt).await.unwrap().status, 201);
    for (name, event, template, transactional) in
        [("Cart", "Checkout Started", "cart", false), ("Receipt", "Order Completed", "receipt", true)]
    {
        let f = json!({"name": name, "trigger": {"type": "event", "event": event}, "entry": {"reentry": "always"},
            "steps": [{"id": "mail", "type": "send", "channel": "email", "template": template, "transactional": transactional}]});
        let id = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
        assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    }
    for (user, email) in [("ann", "ann@example.com"), ("bob", "unknown@example.com")] {
        c.post_json("/v1/identify", wk, &json!({"userId": user, "traits": {"email": email, "first_name": "Ann"}}))
            .await
            .unwrap();
        c.post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"user_id": user, "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    }
    let items = json!([{"product_id": "p1", "name": "Lamp <b>", "price": 49.5, "url": "https://shop.example/p1"}]);
    c.post_json(
        "/v1/track",
        wk,
        &json!({"userId": "ann", "event": "Checkout Started", "properties": {"items": items}}),
    )
    .await
    .unwrap();

    // The mail arrives at the real SMTP server, signed and with RFC 8058 headers.
    let mails = sink.wait_for(1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, vec!["ann@example.com".to_string()]);
    let (_, txt) = dkim_test_key();
    assert!(dkim_verify(&mail.path, &txt), "DKIM-Signature verifies with the public key");
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    let unsub = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    let unsub_url = unsub.trim_matches(|ch| ch == '<' || ch == '>').to_string();
    assert!(unsub_url.contains("/u/"), "{unsub}");
    assert!(mail.header("Message-ID").unwrap().contains("msg_"), "deterministic Message-ID");
    assert_eq!(mail.header("Subject").as_deref(), Some("Ann, your cart"));
    let raw = String::from_utf8_lossy(&mail.raw).to_string();
    assert!(raw.contains("multipart/alternative"), "html and text parts");
    // Dual signing: the RSA signature (verified above) and an Ed25519 one under its own selector.
    assert!(raw.contains("DKIM-Signature: v=1; a=ed25519-sha256; d=velo.example; s=ed1;"), "{raw}");
    let m = wait_status(&mut c, sk, "ann@example.com", "sent").await;
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("Lamp &lt;b&gt;") && html.contains("$49.50"), "escaped contact data and money: {html}");
    assert!(html.contains("/o/"), "open pixel: {html}");
    assert!(!html.contains("https://shop.example/p1"), "links go through the click tracker: {html}");
    let history: Vec<&str> = m["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, vec!["queued", "sent"]);

    // Clicks redirect only to the stored destination; a tampered link is refused.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    let click = html.split("href=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(click.contains("/c/"), "{click}");
    let r = c.request("GET", &path_of(&click), &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
    assert_eq!((r.status, r.header("location")), (302, Some("https://shop.example/p1")));
    let mut bad = path_of(&click);
    bad.push('x');
    let r = c.request("GET", &bad, &[], Default::default()).await.unwrap();
    assert_eq!(r.status, 404);
    assert!(r.header("location").is_none(), "never an open redirect");
    wait_status(&mut c, sk, "ann@example.com", "clicked").await;

    // One-click unsubscribe (RFC 8058): a POST without cookies, no redirect, effective before the answer.
    let r = c
        .request(
            "POST",
            &path_of(&unsub_url),
            &[("content-type", "application/x-www-form-urlencoded")],
            "List-Unsubscribe=One-Click".into(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let ann = c.get("/api/v1/contacts?email=ann%40example.com", sk).await.unwrap().json();
    let ann = if ann["items"].is_array() { ann["items"][0].clone() } else { ann };
    assert_eq!(ann["consent"]["email"]["status"], "unsubscribed", "{ann}");
    c.post_json(
        "/v1/track",
        wk,
        &json!({"userId": "ann", "event": "Checkout Started", "properties": {"items": items}}),
    )
    .await
    .unwrap();
    // The flow no longer admits her (entry needs consent); the first message records the unsubscribe.
    let m = messages_to(&mut c, sk, "ann@example.com").await;
    assert_eq!((m.len(), m[0]["status"].as_str()), (1, Some("unsubscribed")), "{m:?}");

    // A 550 at RCPT is a hard bounce: the address is suppressed, even for transactional mail.
    c.post_json(
        "/v1/track",
        wk,
        &json!({"userId": "bob", "event": "Checkout Started", "properties": {"items": items}}),
    )
    .await
    .unwrap();
    wait_status(&mut c, sk, "unknown@example.com", "bounced").await;
    let sup = c.get("/api/v1/suppressions", sk).await.unwrap().json();
    assert_eq!(sup["items"][0]["address"], "unknown@example.com", "{sup}");
    c.post_json("/v1/track", wk, &json!({"userId": "bob", "event": "Order Completed", "properties": {"total": 5}}))
        .await
        .unwrap();
    let m = messages_to(&mut c, sk, "unknown@example.com").await;
    assert_eq!((m[0]["status"].as_str(), m[0]["reason"].as_str()), (Some("skipped"), Some("suppressed")));
    assert_eq!(sink.messages().len(), 1, "nothing else reached the SMTP server");
}

#[tokio::test]
async fn a_campaign_queued_before_an_unsubscribe_or_complaint_never_reaches_them() {
    let sink = SmtpSink::start(SinkOptions::default());
    let port = sink.port;
    let s = TestServer::start_with(|dir| email_config(dir, port));
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-06-01T12:00:00Z"})).await.unwrap();
    c.post_json(
        "/api/v1/templates",
        sk,
        &json!({"id": "news", "channel": "email", "subject": "News", "html": "<p>Hello {{ contact.email }}</p>"}),
    )
    .await
    .unwrap();
    let seg = c
        .post_json("/api/v1/segments", sk, &json!({"name": "Subscribers", "definition": "subscribed email"}))
        .await
        .unwrap();
    assert_eq!(seg.status, 201, "{:?}", seg.json());
    let seg_id = seg.json()["id"].as_str().unwrap().to_string();
    for u in ["a", "b", "c"] {
        c.post_json("/v1/identify", wk, &json!({"userId": u, "traits": {"email": format!("{u}@example.com")}}))
            .await
            .unwrap();
        c.post_json("/api/v1/contacts/consent", sk, &json!({"user_id": u, "channel": "email", "status": "subscribed"}))
            .await
            .unwrap();
    }
    let r = c
        .post_json(
            "/api/v1/campaigns",
            sk,
            &json!({"name": "Launch", "channel": "email", "template": "news", "segments": [seg_id],
            "schedule": {"type": "at", "at": "2030-06-01T13:00:00Z"}, "smart_sending": false}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap();
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("scheduled")), "{:?}", r.json());
    assert_eq!(r.json()["recipients"], 3);
    // After scheduling: b unsubscribes, c complains (a provider webhook).
    c.post_json("/api/v1/contacts/consent", sk, &json!({"user_id": "b", "channel": "email", "status": "unsubscribed"}))
        .await
        .unwrap();
    let r = c.post_json("/api/v1/bounces", sk, &json!({"email": "c@example.com", "type": "complaint"})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-06-01T13:00:01Z"})).await.unwrap();
    let mails = sink.wait_for(1);
    wait_status(&mut c, sk, "a@example.com", "sent").await;
    let b = messages_to(&mut c, sk, "b@example.com").await;
    assert_eq!((b[0]["status"].as_str(), b[0]["reason"].as_str()), (Some("skipped"), Some("no_consent")));
    let cc = messages_to(&mut c, sk, "c@example.com").await;
    assert_eq!((cc[0]["status"].as_str(), cc[0]["reason"].as_str()), (Some("skipped"), Some("suppressed")));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "only a was mailed: {:?}",
        mails.iter().map(|m| &m.rcpt_tos).collect::<Vec<_>>()
    );
    let r = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap().json();
    assert_eq!(
        (r["status"].as_str(), r["stats"]["sent"].as_u64(), r["stats"]["skipped"].as_u64()),
        (Some("sent"), Some(1), Some(2)),
        "{r}"
    );
}

#[tokio::test]
async fn sms_through_a_twilio_shaped_provider_with_status_callbacks_and_keywords() {
    let provider =
        common::Recorder::start(|_, n| (201, format!("{{\"sid\": \"SM{n:04}\", \"status\": \"queued\"}}"))).await;
    let base = format!("http://{}", provider.addr);
    let s = TestServer::start_with(|dir| {
        std::fs::write(
            dir.join("kairos.toml"),
            format!(
                "[sms]\nprovider_url = \"{base}\"\naccount_sid = \"AC42\"\nauth_token = \"tok\"\nfrom = \"+15005550006\"\n\
                 [sending]\nsmart_sending = \"off\"\nquiet_hours_sms = \"off\"\n"
            ),
        )
        .unwrap()
    });
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json(
        "/api/v1/templates",
        sk,
        &json!({"id": "sms", "channel": "sms", "body": "Hi {{ contact.first_name }}, your cart waits"}),
    )
    .await
    .unwrap();
    let f = json!({"name": "SMS", "trigger": {"type": "event", "event": "Ping"}, "entry": {"reentry": "always"},
        "steps": [{"id": "sms", "type": "send", "channel": "sms", "template": "sms"}]});
    let id = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap();
    c.post_json("/v1/identify", wk, &json!({"userId": "u", "traits": {"phone": "+358401111111", "first_name": "Uma"}}))
        .await
        .unwrap();
    c.post_json("/api/v1/contacts/consent", sk, &json!({"user_id": "u", "channel": "sms", "status": "subscribed"}))
        .await
        .unwrap();
    c.post_json("/v1/track", wk, &json!({"userId": "u", "event": "Ping"})).await.unwrap();
    let got = provider.wait_for(1).await;
    let req = &got[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/2010-04-01/Accounts/AC42/Messages.json"));
    use base64::Engine as _;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("AC42:tok"));
    assert_eq!(req.header("authorization"), Some(basic.as_str()));
    let form = kairos_server::messages::form_fields(&req.body);
    let field = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    assert_eq!((field("To"), field("From")), (Some("+358401111111"), Some("+15005550006")));
    assert_eq!(field("Body"), Some("Hi Uma, your cart waits"));
    let callback = field("StatusCallback").unwrap().to_string();
    assert!(callback.ends_with("/hooks/sms/status"), "{callback}");
    let m = wait_status(&mut c, sk, "+358401111111", "sent").await;
    assert_eq!(m["channel"], "sms");

    // The provider's status callback, signed as Twilio signs it; a bad signature is refused.
    let params =
        vec![("MessageSid".to_string(), "SM0000".to_string()), ("MessageStatus".to_string(), "delivered".to_string())];
    let body = "MessageSid=SM0000&MessageStatus=delivered";
    let form_ct = ("content-type", "application/x-www-form-urlencoded");
    let r = c
        .request("POST", "/hooks/sms/status", &[form_ct, ("x-twilio-signature", "forged")], body.into())
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let sig = kairos_channels::twilio_signature("tok", &callback, &params);
    let r =
        c.request("POST", "/hooks/sms/status", &[form_ct, ("x-twilio-signature", &sig)], body.into()).await.unwrap();
    assert_eq!(r.status, 204);
    wait_status(&mut c, sk, "+358401111111", "delivered").await;

    // STOP through the inbound webhook unsubscribes SMS; the next send is refused at entry.
    let inbound_url = callback.replace("/hooks/sms/status", "/hooks/sms/inbound");
    let params = vec![
        ("From".to_string(), "+358401111111".to_string()),
        ("To".to_string(), "+15005550006".to_string()),
        ("Body".to_string(), " stop ".to_string()),
    ];
    let sig = kairos_channels::twilio_signature("tok", &inbound_url, &params);
    let r = c
        .request(
            "POST",
            "/hooks/sms/inbound",
            &[form_ct, ("x-twilio-signature", &sig)],
            "From=%2B358401111111&To=%2B15005550006&Body=+stop+".into(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("unsubscribed"), "TwiML confirmation");
    let u = c.get("/api/v1/contacts?user_id=u", sk).await.unwrap().json();
    assert_eq!(u["items"][0]["consent"]["sms"]["status"], "unsubscribed", "{u}");
    c.post_json("/v1/track", wk, &json!({"userId": "u", "event": "Ping"})).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(provider.received().len(), 1, "no SMS after STOP");
}

#[tokio::test]
async fn ab_campaign_picks_the_winner_and_throttles() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-07-01T12:00:00Z"})).await.unwrap();
    for (id, subject) in [("va", "Variant A"), ("vb", "Variant B")] {
        let t = json!({"id": id, "channel": "email", "subject": subject, "html": "<a href=\"https://shop.example/x\">x</a>"});
        assert_eq!(c.post_json("/api/v1/templates", sk, &t).await.unwrap().status, 201);
    }
    let seg =
        c.post_json("/api/v1/segments", sk, &json!({"name": "All", "definition": "subscribed email"})).await.unwrap();
    let seg = seg.json()["id"].as_str().unwrap().to_string();
    let vip =
        c.post_json("/api/v1/segments", sk, &json!({"name": "VIP", "definition": "traits.vip = true"})).await.unwrap();
    let vip = vip.json()["id"].as_str().unwrap().to_string();
    let mut batch = Vec::new();
    for i in 0..60 {
        batch.push(json!({"type": "identify", "userId": format!("u{i}"), "traits": {"email": format!("u{i}@example.com"), "vip": i < 5}}));
    }
    c.post_json("/v1/batch", wk, &json!({"batch": batch})).await.unwrap();
    for i in 0..60 {
        c.post_json(
            "/api/v1/contacts/consent",
            sk,
            &json!({"user_id": format!("u{i}"), "channel": "email", "status": "subscribed"}),
        )
        .await
        .unwrap();
    }
    // Bad input names the field.
    for (body, field) in [
        (json!({"name": "X", "channel": "email", "template": "nope", "segments": [seg]}), "template"),
        (json!({"name": "X", "channel": "email", "template": "va", "segments": ["missing"]}), "segments[0]"),
        (json!({"name": "X", "channel": "sms", "template": "va", "segments": [seg]}), "template"),
        (
            json!({"name": "X", "channel": "email", "template": "va", "segments": [seg], "schedule": {"type": "soon"}}),
            "schedule.type",
        ),
        (
            json!({"name": "X", "channel": "email", "segments": [seg], "ab": {"variants": [{"template": "va"}], "test_share": 0.2, "wait": "1h"}}),
            "ab.variants",
        ),
    ] {
        let r = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{body}");
    }
    let body = json!({"name": "Summer", "channel": "email", "segments": [seg], "exclude_segments": [vip], "smart_sending": false,
        "schedule": {"type": "now"}, "ab": {"variants": [{"template": "va"}, {"template": "vb"}], "test_share": 0.5, "metric": "clicks", "wait": "4h"}});
    let id = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap().json();
    assert_eq!(r["recipients"], 55, "VIPs excluded: {r}");
    let r = c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 409, "scheduling twice is a conflict");
    let mut sent = Vec::new();
    for _ in 0..100 {
        // The report first: once nothing is pending, every test message is listed.
        let report = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap().json();
        if report["stats"]["pending"] == 0 {
            sent = common::all_items(&mut c, sk, &format!("/api/v1/messages?campaign_id={id}")).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tested = sent.len();
    assert!((10..=45).contains(&tested), "about half are in the test: {tested}");
    // B gets clicks, A none; after the wait B goes to everyone left.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "10m"})).await.unwrap();
    for m in sent.iter().filter(|m| m["subject"] == "Variant B") {
        let html = m["html"].as_str().unwrap();
        let click = html.split("href=\"").nth(1).unwrap().split('"').next().unwrap();
        let r = c.request("GET", &path_of(click), &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
        assert_eq!(r.status, 302);
    }
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "4h"})).await.unwrap();
    let mut report = Value::Null;
    for _ in 0..100 {
        report = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap().json();
        if report["status"] == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(report["status"], "sent", "{report}");
    assert_eq!(report["ab_results"]["winner"], 1, "{report}");
    let all = common::all_items(&mut c, sk, &format!("/api/v1/messages?campaign_id={id}")).await;
    assert_eq!(all.len(), 55);
    let b = all.iter().filter(|m| m["subject"] == "Variant B").count();
    let a = all.len() - b;
    assert_eq!(a, sent.iter().filter(|m| m["subject"] == "Variant A").count(), "the rest all got B");
    let conf = report["ab_results"]["variants"][0]["confidence_leader_better"].as_f64().unwrap();
    assert!(conf > 0.95, "{report}");

    // A throttle of 1 a minute sends one at a time as the clock moves.
    let body = json!({"name": "Slow", "channel": "email", "template": "va", "segments": [vip], "smart_sending": false, "throttle_per_minute": 1});
    let id = c.post_json("/api/v1/campaigns", sk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    c.post_json(&format!("/api/v1/campaigns/{id}/schedule"), sk, &json!({})).await.unwrap();
    let path = format!("/api/v1/messages?campaign_id={id}");
    let n = common::count_after(&mut c, sk, &path, 1, std::time::Duration::from_millis(1200)).await;
    assert_eq!(n, 1, "one at first");
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "2m"})).await.unwrap();
    let n = common::count_after(&mut c, sk, &path, 2, std::time::Duration::from_millis(1200)).await;
    let r = c.get(&format!("/api/v1/campaigns/{id}"), sk).await.unwrap().json();
    assert!((2..=3).contains(&n) && r["status"] != "sent", "{n} {r}");
}
