//! Subject-line variants within one email template over HTTP (issue 16): preview text and variants are saved and
//! refused naming the field, a campaign to many people splits them between the subject lines (each message
//! records its line, with the preview text hidden at the top of its html), opens through the real open-pixel
//! links count per line in `/reports/templates` with the lead on open rate, a flow gives a person the same line as
//! the campaign did, and a picked winner goes to everyone; a message rendered again when it is retried keeps its
//! subject line.

mod common;
mod sends;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

/// People in the campaign.
const PEOPLE: usize = 60;
const RANGE: &str = "from=2030-03-01&to=2030-03-31T00:00:00Z";

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string())
}

/// The open pixel's path in a message's html.
fn pixel_of(html: &str) -> String {
    let at = html.find("/o/").unwrap_or_else(|| panic!("an open pixel in {html}"));
    let start = html[..at].rfind('"').unwrap() + 1;
    let end = at + html[at..].find('"').unwrap();
    path_of(&html[start..end])
}

fn template() -> Value {
    json!({"id": "spring", "name": "Spring sale", "channel": "email",
        "subject": "A: spring is here, {{ contact.first_name | default: \"friend\" }}",
        "preview_text": "Base preview for {{ contact.first_name }}",
        "variants": [
            {"subject": "B: 20% off for {{ contact.first_name }}", "preview_text": "B's preview & more"},
            {"subject": "C: last call"}
        ],
        "html": "<html><body><p>Hi</p><a href=\"https://shop.example/sale\">Sale</a></body></html>", "text": "Hi"})
}

fn refused_field(r: &kairos_bench::client::Response) -> String {
    assert_eq!(r.status, 400, "{:?}", r.json());
    r.json()["error"]["field"].as_str().unwrap_or_default().to_string()
}

async fn get_ok(c: &mut HttpClient, sk: &str, path: &str) -> Value {
    let r = c.get(path, sk).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {:?}", r.json());
    r.json()
}

/// Every message of the campaign, once all `n` are there.
async fn campaign_messages(c: &mut HttpClient, sk: &str, campaign: &str, n: usize) -> Vec<Value> {
    let path = format!("/api/v1/messages?campaign_id={campaign}&limit=1000");
    for _ in 0..200 {
        let all = common::all_items(c, sk, &path).await;
        if all.len() >= n && all.iter().all(|m| m["status"] == "sent") {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the campaign never sent its {n} messages");
}

#[tokio::test]
async fn subject_lines_are_split_counted_and_a_winner_goes_to_everyone() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap();

    // Saved with its preview text and variants, shown back as sent.
    let r = c.post_json("/api/v1/templates", sk, &template()).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let saved = get_ok(&mut c, sk, "/api/v1/templates/spring").await;
    assert_eq!(saved["preview_text"], template()["preview_text"]);
    assert_eq!(saved["variants"], template()["variants"], "{saved}");
    assert!(saved.get("winner").is_none(), "{saved}");

    // Bad variants are refused naming the field; nothing is saved.
    let with = |f: &dyn Fn(&mut Value)| {
        let mut t = template();
        f(&mut t);
        t
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|t| t["variants"][1]["subject"] = json!("Hi {{ contact.first_name | shout }}")), "variants[1].subject"),
        (with(&|t| t["variants"][0]["preview_text"] = json!("{% if x %}")), "variants[0].preview_text"),
        (with(&|t| t["variants"][1] = json!({"preview_text": "no subject"})), "variants[1].subject"),
        (with(&|t| t["variants"][0] = json!({"subject": "  "})), "variants[0].subject"),
        (with(&|t| t["variants"][0]["colour"] = json!("red")), "variants[0].colour"),
        (with(&|t| t["variants"][0] = json!("B")), "variants[0]"),
        (with(&|t| t["variants"] = json!("B")), "variants"),
        (with(&|t| t["variants"] = json!(vec![json!({"subject": "x"}); 5])), "variants"),
        (with(&|t| t["preview_text"] = json!("{{ x | nope }}")), "preview_text"),
        (with(&|t| t["preview_text"] = json!(3)), "preview_text"),
        (with(&|t| t["winner"] = json!("D")), "winner"),
        (with(&|t| t["winner"] = json!("b")), "winner"),
        (json!({"channel": "sms", "body": "Hi", "variants": [{"subject": "x"}]}), "variants"),
        (json!({"channel": "sms", "body": "Hi", "preview_text": "x"}), "preview_text"),
        (
            with(&|t| {
                t["blocks"] = json!([{"type": "header", "preheader": "Mine"}, {"type": "footer"}]);
            }),
            "preview_text",
        ),
    ];
    for (body, field) in cases {
        let r = c.put_json("/api/v1/templates/spring", sk, &body).await.unwrap();
        assert_eq!(refused_field(&r), field, "{body}");
    }
    assert_eq!(get_ok(&mut c, sk, "/api/v1/templates/spring").await["version"], 1, "nothing refused was saved");

    // 60 subscribed people.
    let batch: Vec<Value> = (0..PEOPLE)
        .map(|i| {
            json!({"type": "identify", "userId": format!("u{i}"),
                "traits": {"email": format!("u{i}@example.com"), "first_name": format!("P{i}")}})
        })
        .collect();
    assert_eq!(c.post_json("/v1/batch", wk, &json!({"batch": batch})).await.unwrap().status, 200);
    for i in 0..PEOPLE + 3 {
        let consent = json!({"user_id": format!("u{i}"), "channel": "email", "status": "subscribed"});
        if i >= PEOPLE {
            let who = json!({"userId": format!("u{i}"), "traits": {"email": format!("u{i}@example.com")}});
            assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
        }
        assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    }

    // A preview shows the subject line asked for, with its preview text hidden at the top of the body.
    let u0 = get_ok(&mut c, sk, "/api/v1/contacts?user_id=u0").await["items"][0]["id"].as_i64().unwrap();
    let r = c
        .post_json(&format!("/api/v1/templates/spring/preview?contact_id={u0}"), sk, &json!({"variant": "B"}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let p = r.json();
    assert_eq!((p["subject"].as_str(), p["variant"].as_str()), (Some("B: 20% off for P0"), Some("B")), "{p}");
    assert_eq!(p["preview_text"], "B's preview & more");
    let html = p["html"].as_str().unwrap();
    assert!(html.starts_with("<html><body><div style=\"display:none;"), "{html}");
    assert!(html.contains(">B&#39;s preview &amp; more&#847;"), "{html}");
    let r = c.post_json(&format!("/api/v1/templates/spring/preview?contact_id={u0}"), sk, &json!({})).await.unwrap();
    assert_eq!(
        (r.json()["variant"].as_str(), r.json()["preview_text"].as_str()),
        (Some("A"), Some("Base preview for P0"))
    );
    let r = c
        .post_json(&format!("/api/v1/templates/spring/preview?contact_id={u0}"), sk, &json!({"variant": "Z"}))
        .await
        .unwrap();
    assert_eq!(refused_field(&r), "variant");

    // A campaign to the first 60: each person gets one subject line, recorded on the message.
    let seg = json!({"name": "First sixty", "definition": "trait.first_name exists"});
    let seg = c.post_json("/api/v1/segments", sk, &seg).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let body =
        json!({"name": "Spring", "channel": "email", "template": "spring", "segments": [seg], "smart_sending": false});
    let campaign =
        c.post_json("/api/v1/campaigns", sk, &body).await.unwrap().json()["id"].as_str().unwrap().to_string();
    let r = c.post_json(&format!("/api/v1/campaigns/{campaign}/schedule"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let messages = campaign_messages(&mut c, sk, &campaign, PEOPLE).await;
    assert_eq!(messages.len(), PEOPLE);
    let mut by_variant: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in &messages {
        let v = m["variant"].as_str().unwrap_or_else(|| panic!("a variant: {m}")).to_string();
        let subject = m["subject"].as_str().unwrap();
        assert!(subject.starts_with(&format!("{v}:")), "{v} has its own subject: {subject}");
        let preview = if v == "B" { "B&#39;s preview &amp; more" } else { "Base preview for P" };
        let html = m["html"].as_str().unwrap();
        assert!(html.starts_with("<html><body><div style=\"display:none;"), "{m}");
        assert!(html.contains(preview), "{v}'s preview text: {m}");
        by_variant.entry(v).or_default().push(m.clone());
    }
    let counts: Vec<(String, usize)> = by_variant.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    assert_eq!(counts.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["A", "B", "C"], "{counts:?}");
    for (v, n) in &counts {
        assert!((10..=30).contains(n), "about a third each, {v} got {n}: {counts:?}");
    }
    let one = &by_variant["B"][0];
    let got = get_ok(&mut c, sk, &format!("/api/v1/messages/{}", one["id"].as_str().unwrap())).await;
    assert_eq!((got["variant"].as_str(), got["preview_text"].as_str()), (Some("B"), Some("B's preview & more")));

    // A minute later everyone given B opens it (through the open pixel, as a mail app), and one person given A.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1m"})).await.unwrap();
    let opened: Vec<&Value> = by_variant["B"].iter().chain(by_variant["A"].iter().take(1)).collect();
    for m in &opened {
        let pixel = pixel_of(m["html"].as_str().unwrap());
        let r = c.request("GET", &pixel, &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
        assert_eq!(r.status, 200);
    }

    // The template's numbers per subject line, with B leading on open rate.
    let report = get_ok(&mut c, sk, &format!("/api/v1/reports/templates?{RANGE}")).await;
    let item = report["items"].as_array().unwrap().iter().find(|t| t["template_id"] == "spring").cloned().unwrap();
    assert_eq!((item["sent"].clone(), item["opened"].clone()), (json!(PEOPLE), json!(opened.len())), "{item}");
    let lines = item["variants"].as_array().unwrap_or_else(|| panic!("variants: {item}"));
    let summary: Vec<(&str, u64, u64)> = lines
        .iter()
        .map(|l| (l["variant"].as_str().unwrap(), l["sent"].as_u64().unwrap(), l["opened"].as_u64().unwrap()))
        .collect();
    let n = |v: &str| by_variant[v].len() as u64;
    assert_eq!(summary, [("A", n("A"), 1), ("B", n("B"), n("B")), ("C", n("C"), 0)], "{item}");
    assert_eq!(lines[1]["subject"], "B: 20% off for {{ contact.first_name }}");
    assert_eq!(lines[2]["preview_text"], template()["preview_text"], "C uses the template's preview text");
    assert_eq!(lines[1]["open_rate"], json!(1.0));
    let lead = &item["lead"];
    assert_eq!((lead["metric"].as_str(), lead["variant"].as_str()), (Some("open_rate"), Some("B")), "{item}");
    assert!(lead["confidence"].as_f64().unwrap() > 0.99, "B opened by all, A by one: {item}");
    assert_eq!((lead["enough_data"].clone(), lead["decided"].clone()), (json!(false), json!(false)), "20 each is few");

    // A flow sending the same template gives u0 the same subject line as the campaign did.
    let given_u0 = messages.iter().find(|m| m["to"] == "u0@example.com").unwrap()["variant"].clone();
    let f = json!({"name": "Again", "trigger": {"type": "event", "event": "Came Back"}, "entry": {"reentry": "always"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "spring", "smart_sending": false}]});
    let flow = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
    assert_eq!(flow.status, 201, "{:?}", flow.json());
    let flow = flow.json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let came_back = |u: &str| json!({"userId": u, "event": "Came Back"});
    assert_eq!(c.post_json("/v1/track", wk, &came_back("u0")).await.unwrap().status, 200);
    let again = flow_message(&mut c, sk, &flow, "u0@example.com").await;
    assert_eq!(again["variant"], given_u0, "{again}");

    // A send held back by smart sending (the person just got another of the flows' emails) is decided now, with
    // its subject line.
    let f = json!({"name": "Later", "trigger": {"type": "event", "event": "Looked Again"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "spring", "smart_sending": "16h"}]});
    let later = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{later}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let held_to = by_variant["A"].iter().map(|m| m["to"].as_str().unwrap()).find(|to| *to != "u0@example.com").unwrap();
    let held_user = held_to.trim_end_matches("@example.com").to_string();
    assert_eq!(c.post_json("/v1/track", wk, &came_back(&held_user)).await.unwrap().status, 200);
    assert_eq!(flow_message(&mut c, sk, &flow, held_to).await["variant"], "A");
    let look = json!({"userId": held_user, "event": "Looked Again"});
    assert_eq!(c.post_json("/v1/track", wk, &look).await.unwrap().status, 200);
    let held = common::wait_status(&mut c, sk, held_to, "deferred").await;
    assert_eq!(held["variant"], "A", "{held}");

    // B is picked: from now on everyone gets it.
    let r = c.post_json("/api/v1/templates/spring/variants/B/winner", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!((r.json()["winner"].as_str(), r.json()["version"].as_i64()), (Some("B"), Some(2)));
    assert_eq!(r.json()["variants"], template()["variants"], "the variants stay on record");
    let r = c.post_json("/api/v1/templates/spring/variants/E/winner", sk, &json!({})).await.unwrap();
    assert_eq!(refused_field(&r), "variant");
    assert_eq!(c.post_json("/api/v1/templates/nope/variants/B/winner", sk, &json!({})).await.unwrap().status, 404);
    for i in PEOPLE..PEOPLE + 3 {
        let u = format!("u{i}");
        assert_eq!(c.post_json("/v1/track", wk, &came_back(&u)).await.unwrap().status, 200);
        let m = flow_message(&mut c, sk, &flow, &format!("{u}@example.com")).await;
        assert_eq!(m["variant"], "B", "{m}");
    }
    // The send decided before the winner goes out, a day later, with the subject line it was given.
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "1d"})).await.unwrap();
    let went = common::wait_status(&mut c, sk, held_to, "sent").await;
    assert_eq!((went["id"].clone(), went["variant"].as_str()), (held["id"].clone(), Some("A")), "{went}");
    assert!(went["subject"].as_str().unwrap().starts_with("A:"), "{went}");

    let report = get_ok(&mut c, sk, &format!("/api/v1/reports/templates?{RANGE}")).await;
    let item = report["items"].as_array().unwrap().iter().find(|t| t["template_id"] == "spring").cloned().unwrap();
    assert_eq!(item["winner"], "B", "{item}");
    let sent: Vec<u64> = item["variants"].as_array().unwrap().iter().map(|l| l["sent"].as_u64().unwrap()).collect();
    // The campaign's, then the flows': u0's again, the held person's two (A) and the three after the winner (B).
    let mut want: BTreeMap<&str, u64> = ["A", "B", "C"].into_iter().map(|v| (v, n(v))).collect();
    *want.get_mut(given_u0.as_str().unwrap()).unwrap() += 1;
    *want.get_mut("A").unwrap() += 2;
    *want.get_mut("B").unwrap() += 3;
    assert_eq!(sent, want.into_values().collect::<Vec<_>>(), "{item}");
}

/// The flow's message to `to`, once sent.
async fn flow_message(c: &mut HttpClient, sk: &str, flow: &str, to: &str) -> Value {
    for _ in 0..200 {
        let all = common::all_items(c, sk, &format!("/api/v1/messages?flow_id={flow}&limit=100")).await;
        if let Some(m) = all.into_iter().find(|m| m["to"] == to && m["status"] == "sent") {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the flow never sent to {to}");
}

#[tokio::test]
async fn a_message_rendered_again_at_hand_off_keeps_its_subject_line() {
    // The mail server answers 451 "try later" for tess: her email is retried, and rendered again when it goes.
    let sink = support::SmtpSink::start(support::SinkOptions { tempfail: vec!["tess".into()], ..Default::default() });
    let port = sink.port;
    let s = TestServer::start_with(|dir| sends::smtp_config(dir, port));
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap();
    assert_eq!(c.post_json("/api/v1/templates", sk, &template()).await.unwrap().status, 201);
    let f = json!({"name": "Hello", "trigger": {"type": "event", "event": "Signed Up"},
        "steps": [{"id": "mail", "type": "send", "channel": "email", "template": "spring"}]});
    let flow = c.post_json("/api/v1/flows", sk, &f).await.unwrap().json()["id"].as_str().unwrap().to_string();
    assert_eq!(c.post_json(&format!("/api/v1/flows/{flow}/activate"), sk, &json!({})).await.unwrap().status, 200);
    let who = json!({"userId": "tess", "traits": {"email": "tess@example.com", "first_name": "Tess"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let consent = json!({"user_id": "tess", "channel": "email", "status": "subscribed"});
    assert_eq!(c.post_json("/api/v1/contacts/consent", sk, &consent).await.unwrap().status, 200);
    let signed_up = json!({"userId": "tess", "event": "Signed Up"});
    assert_eq!(c.post_json("/v1/track", wk, &signed_up).await.unwrap().status, 200);
    let first = common::wait_status(&mut c, sk, "tess@example.com", "retrying").await;
    let given = first["variant"].as_str().unwrap_or_else(|| panic!("{first}")).to_string();

    // Another line is picked as the winner before the retry: the retried message, rendered anew, keeps hers.
    let other = if given == "B" { "C" } else { "B" };
    let r = c.post_json(&format!("/api/v1/templates/spring/variants/{other}/winner"), sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "31s"})).await.unwrap();
    let retried = async {
        loop {
            let m = common::messages_to(&mut c, sk, "tess@example.com").await;
            if m[0]["attempts"] == 2 && m[0]["status"] == "retrying" {
                return m[0].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let m = tokio::time::timeout(std::time::Duration::from_secs(20), retried).await.expect("rendered again");
    assert_eq!(m["template_version"], 2, "rendered from the template as it is now: {m}");
    assert_eq!(m["variant"].as_str(), Some(given.as_str()), "{m}");
    assert!(m["subject"].as_str().unwrap().starts_with(&format!("{given}:")), "{m}");
}
