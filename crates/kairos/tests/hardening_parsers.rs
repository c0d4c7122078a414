//! Parsers of what the API accepts never recurse without a bound: deeply nested or very long templates,
//! segment definitions, flow conditions and bounce reports get a 400 naming the field (or are handled), and the
//! server, committer included, keeps answering. Before the limits, a template of 1 200 nested `{% if %}`s or a
//! preview of a 20 000-term condition overflowed the committer's stack and aborted the process.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn nested_ifs(n: usize) -> String {
    format!("{}deep{}", "{% if true %}".repeat(n), "{% endif %}".repeat(n))
}

fn long_condition(terms: usize) -> String {
    format!("{{% if true{} %}}x{{% endif %}}", " and true".repeat(terms - 1))
}

/// The 400 of `r`, with its field; fails with the body otherwise.
fn refused(r: &kairos_bench::client::Response) -> (u16, String) {
    let v = r.json();
    (r.status, v["error"]["field"].as_str().unwrap_or("").to_string())
}

/// The server answers and its committer still commits: a fresh template saves.
async fn assert_alive(c: &mut HttpClient, sk: &str) {
    let r = c.get("/healthz", sk).await.expect("the server answers");
    assert_eq!(r.status, 200);
    let id = format!("alive_{}", rand_suffix());
    let r = c
        .post_json("/api/v1/templates", sk, &json!({"id": id, "channel": "sms", "body": "Hi {{ contact.first_name }}"}))
        .await
        .expect("the committer answers");
    assert_eq!(r.status, 201, "{:?}", r.json());
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn deeply_nested_templates_are_refused_and_the_server_lives() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();

    let deep = nested_ifs(1200);
    for (body, field) in [
        (json!({"id": "deep", "channel": "email", "subject": "Hi", "html": deep}), "html"),
        (json!({"id": "deep_sms", "channel": "sms", "body": deep}), "body"),
        (json!({"id": "deep_partial", "channel": "partial", "html": deep}), "html"),
        (json!({"id": "long", "channel": "email", "subject": long_condition(20_000), "text": "x"}), "subject"),
    ] {
        let r = c.post_json("/api/v1/templates", sk, &body).await.expect("an answer, not a dead server");
        assert_eq!(refused(&r), (400, field.to_string()), "{:?}", r.json());
        let message = r.json()["error"]["message"].as_str().unwrap_or("").to_string();
        assert!(message.contains("nest") || message.contains("terms"), "{message}");
        assert_alive(&mut c, sk).await;
    }
    // The same through PUT, and just under the limit is fine.
    let r = c.put_json("/api/v1/templates/ok", sk, &json!({"channel": "email", "subject": "s", "html": deep})).await;
    assert_eq!(refused(&r.unwrap()), (400, "html".to_string()));
    let fine = json!({"channel": "email", "subject": long_condition(100), "html": nested_ifs(100)});
    let r = c.put_json("/api/v1/templates/ok", sk, &fine).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());

    // Nesting counts through partials: 60 blocks around an include of a 60-deep partial is too deep.
    let partial = json!({"id": "p60", "channel": "partial", "html": nested_ifs(60)});
    assert_eq!(c.post_json("/api/v1/templates", sk, &partial).await.unwrap().status, 201);
    let around = format!("{}{{% include 'p60' %}}{}", "{% if true %}".repeat(60), "{% endif %}".repeat(60));
    let outer = json!({"id": "outer", "channel": "sms", "body": around});
    let r = c.post_json("/api/v1/templates", sk, &outer).await.unwrap();
    assert_eq!(refused(&r), (400, "body".to_string()), "{:?}", r.json());
    assert_alive(&mut c, sk).await;
}

#[tokio::test]
async fn previews_of_huge_conditions_are_refused() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/v1/identify", wk, &json!({"userId": "u1", "traits": {"email": "u1@example.com"}})).await.unwrap();
    let id = c.get("/api/v1/contacts?user_id=u1", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();

    // A template preview with a 20 000-term condition: refused before liquid builds the chain.
    let path = format!("/api/v1/templates/preview?contact_id={id}");
    for (template, field) in [
        (json!({"subject": long_condition(20_000), "html": "<p>x</p>"}), "subject"),
        (json!({"subject": "s", "html": nested_ifs(1200)}), "html"),
        (json!({"body": format!("{{{{ {}x{} }}}}", "a[".repeat(5000), "]".repeat(5000))}), "body"),
    ] {
        let r = c.post_json(&path, sk, &json!({"template": template})).await.expect("an answer");
        assert_eq!(refused(&r), (400, field.to_string()), "{:?}", r.json());
        assert_alive(&mut c, sk).await;
    }
    let r = c.post_json(&path, sk, &json!({"template": {"body": long_condition(50)}})).await.unwrap();
    assert_eq!((r.status, r.json()["body"].as_str()), (200, Some("x")), "{:?}", r.json());

    // A segment preview with 20 000 terms, as text (short terms, within the text size) and as JSON.
    let text = vec!["a = 1"; 20_000].join(" or ");
    let leaves = vec![json!({"field": "trait.a", "op": "=", "value": 1}); 20_000];
    for definition in [json!(text), json!(text[..60_000].rsplit_once(" or").unwrap().0), json!({"or": leaves})] {
        let r = c.post_json("/api/v1/segments/preview", sk, &json!({"definition": definition})).await.unwrap();
        let (status, field) = refused(&r);
        assert!(status == 400 && field.starts_with("definition"), "{:?}", r.json());
    }
    assert_alive(&mut c, sk).await;
}

/// `{"not": {"not": ... leaf}}`, `depth` levels.
fn deep_not(depth: usize) -> Value {
    let mut v = json!({"field": "trait.a", "op": "=", "value": 1});
    for _ in 0..depth {
        v = json!({ "not": v });
    }
    v
}

#[tokio::test]
async fn deep_segment_and_flow_definitions_are_refused() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();

    // Segment JSON: deeper than the segment language allows (32) gets its depth error at its path; a body deeper
    // than any admin body may be (64 levels) is refused before it is parsed; text nesting gets the depth error.
    let r = c.post_json("/api/v1/segments/preview", sk, &json!({"definition": deep_not(50)})).await.unwrap();
    let (status, field) = refused(&r);
    assert_eq!(status, 400, "{:?}", r.json());
    assert!(field.starts_with("definition.not.not"), "{field}");
    for depth in [120, 50_000] {
        let deeper = format!("{{\"definition\":{}1{}}}", "{\"not\":".repeat(depth), "}".repeat(depth));
        let r = c.send("POST", "/api/v1/segments/preview", Some(sk), Some(deeper.into())).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("too_deep")), "{depth}");
    }
    let parens = format!("{}a = 1{}", "(".repeat(30_000), ")".repeat(30_000));
    let r = c.post_json("/api/v1/segments", sk, &json!({"name": "deep", "definition": parens})).await.unwrap();
    assert_eq!(refused(&r), (400, "definition".to_string()), "{:?}", r.json());

    // Flows: conditions are the segment language, at their step's path.
    let flow = |condition: Value| {
        json!({"name": "Deep", "trigger": {"type": "api"}, "steps": [
            {"id": "a", "type": "delay", "duration": "1h", "next": "b"},
            {"id": "b", "type": "delay", "duration": "1h", "next": "c"},
            {"id": "c", "type": "split", "condition": condition, "yes": null, "no": null},
        ]})
    };
    let r = c.post_json("/api/v1/flows", sk, &flow(deep_not(50))).await.unwrap();
    let (status, field) = refused(&r);
    assert_eq!(status, 400, "{:?}", r.json());
    assert!(field.starts_with("steps[2].condition.not.not"), "{field}");
    for condition in
        [json!(format!("{}a = 1{}", "(".repeat(30_000), ")".repeat(30_000))), json!("not ".repeat(15_000) + "a = 1")]
    {
        let r = c.post_json("/api/v1/flows", sk, &flow(condition)).await.unwrap();
        assert_eq!(refused(&r), (400, "steps[2].condition".to_string()), "{:?}", r.json());
    }
    // Liquid in webhook bodies and task messages is checked when the flow is saved, at its path.
    let task = json!({"name": "Task", "trigger": {"type": "api"}, "steps": [
        {"id": "t", "type": "task", "message": nested_ifs(1200)}]});
    let r = c.post_json("/api/v1/flows", sk, &task).await.unwrap();
    assert_eq!(refused(&r), (400, "steps[0].message".to_string()), "{:?}", r.json());
    let hook = json!({"name": "Hook", "trigger": {"type": "api"}, "steps": [
        {"id": "w", "type": "webhook", "url": "https://example.com/h", "body": {"note": long_condition(20_000)}}]});
    let r = c.post_json("/api/v1/flows", sk, &hook).await.unwrap();
    assert_eq!(refused(&r), (400, "steps[0].body.note".to_string()), "{:?}", r.json());
    assert_alive(&mut c, sk).await;
}

/// A delivery status notification whose report sits under `levels` nested multiparts.
fn nested_dsn(levels: usize) -> Vec<u8> {
    let mut m = b"From: MAILER-DAEMON@mx.example\r\nTo: bounces@shop.example\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b0\"\r\n\r\n"
        .to_vec();
    for i in 1..levels {
        m.extend(format!("--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n", i - 1).bytes());
    }
    m.extend(
        format!(
            "--b{}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n\
             Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n",
            levels - 1
        )
        .bytes(),
    );
    for i in (0..levels).rev() {
        m.extend(format!("--b{i}--\r\n").bytes());
    }
    m
}

/// A report quoting a message that quotes a message ... `levels` deep.
fn nested_rfc822(levels: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nSubject: innermost\r\n\r\nhello\r\n".to_vec();
    for i in 0..levels {
        let mut outer = format!(
            "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; \
             boundary=\"n{i}\"\r\n\r\n--n{i}\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .into_bytes();
        outer.extend(&m);
        outer.extend(format!("\r\n--n{i}--\r\n").bytes());
        m = outer;
    }
    m
}

/// Posts a raw report to `/api/v1/bounces`; answers the response and how long it took.
async fn post_raw(
    c: &mut HttpClient,
    sk: &str,
    body: Vec<u8>,
    ctype: &str,
) -> (kairos_bench::client::Response, Duration) {
    let auth = format!("Bearer {sk}");
    let started = Instant::now();
    let headers = [("authorization", auth.as_str()), ("content-type", ctype)];
    let r = c.request("POST", "/api/v1/bounces", &headers, body.into()).await.expect("an answer, not a dead server");
    (r, started.elapsed())
}

#[tokio::test]
async fn deeply_nested_bounce_reports_are_handled() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    // 20 000 nested multiparts (1.4 MB, under the 4 MB cap): the report inside is still found, quickly.
    let (r, took) = post_raw(&mut c, sk, nested_dsn(20_000), "message/rfc822").await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["items"][0]["address"], "gone@example.com");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Messages quoted inside messages: not a report with recipients, a 400, no crash.
    let (r, took) = post_raw(&mut c, sk, nested_rfc822(2_000), "multipart/report").await;
    assert_eq!(refused(&r), (400, "body".to_string()), "{:?}", r.json());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_alive(&mut c, sk).await;
}

/// Issue 18: `curl -d` sends a provider's JSON as `application/x-www-form-urlencoded`; a body that is a JSON
/// object of the bounce shape is read as JSON whatever its declared type (but a report's), and raw reports sent
/// with such a type are still parsed as reports.
#[tokio::test]
async fn bounce_json_is_read_whatever_its_content_type() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let form = "application/x-www-form-urlencoded";
    for (ctype, address) in [(form, "form@example.com"), ("text/plain", "plain@example.com")] {
        let body = json!({"email": address, "type": "hard"}).to_string().into_bytes();
        let (r, _) = post_raw(&mut c, sk, body, ctype).await;
        assert_eq!(r.status, 200, "{ctype}: {:?}", r.json());
        assert_eq!(
            (r.json()["items"][0]["address"].as_str(), r.json()["items"][0]["kind"].as_str()),
            (Some(address), Some("hard"))
        );
    }
    let batch = json!({"events": [{"email": "a@example.com", "type": "soft"}, {"address": "b@example.com", "type": "complaint"}]});
    let (r, _) = post_raw(&mut c, sk, format!("  \n{batch}").into_bytes(), form).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(2));
    // Read as JSON, so a bad field is named as in JSON.
    let (r, _) = post_raw(&mut c, sk, br#"{"email": "x@example.com", "type": "weird"}"#.to_vec(), form).await;
    assert_eq!(refused(&r), (400, "type".to_string()), "{:?}", r.json());
    // Not the bounce shape, or declared a report: a raw report, and none is found.
    let (r, _) = post_raw(&mut c, sk, br#"{"recipient": "x@example.com"}"#.to_vec(), form).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("invalid_report")), "{:?}", r.json());
    let (r, _) =
        post_raw(&mut c, sk, br#"{"email": "x@example.com", "type": "hard"}"#.to_vec(), "message/rfc822").await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("invalid_report")), "{:?}", r.json());
    // A DSN posted as a form (`curl --data-binary @dsn.eml`) is still a DSN.
    let (r, _) = post_raw(&mut c, sk, nested_dsn(1), form).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["items"][0]["address"], "gone@example.com");
}

/// Inputs the fuzz targets found that made a parser panic: liquid-core on a block left open inside a comment or
/// an integer over 64 bits (in the committer, which then stopped serving every request: 503 for good), mail-parser
/// on a quoted message that is only a `message/rfc822` header (in the request handler).
#[tokio::test]
async fn inputs_that_made_parsers_panic_are_answered() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    // Comments are skipped unparsed, as in Shopify: this one is simply a comment.
    let comment = json!({"channel": "sms", "body": "{% comment %}{% raw %}{% endcomment %}"});
    let r = c.post_json("/api/v1/templates", sk, &comment).await.expect("an answer");
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_alive(&mut c, sk).await;
    for body in ["Hi{% comment %}\n{% if x %}", "{{ 222222222222222222222 }}"] {
        let r = c.post_json("/api/v1/templates", sk, &json!({"channel": "sms", "body": body})).await;
        let r = r.expect("an answer");
        assert_eq!(refused(&r), (400, "body".to_string()), "{body}: {:?}", r.json());
        assert_alive(&mut c, sk).await;
    }
    // A render that panicked liquid (tablerow divides by cols) in the committer: now a render error, which a
    // preview reports as the reason the send would be skipped.
    c.post_json("/v1/identify", &s.keys.write_key, &json!({"userId": "u1", "traits": {"email": "u1@example.com"}}))
        .await
        .unwrap();
    let id = c.get("/api/v1/contacts?user_id=u1", sk).await.unwrap().json()["items"][0]["id"].as_i64().unwrap();
    let table = json!({"template": {"body": "{% tablerow i in (1..3) cols:0 %}{{ i }}{% endtablerow %}"}});
    let r = c.post_json(&format!("/api/v1/templates/preview?contact_id={id}"), sk, &table).await.expect("an answer");
    let skipped = r.json()["skipped"].as_str().unwrap_or("").to_string();
    assert!(r.status == 200 && skipped.starts_with("render_error: body"), "{:?}", r.json());
    assert_alive(&mut c, sk).await;
    let report = b"From: a@b\r\nContent-Type: multipart/report; boundary=\"b\"\r\n\r\n--b\r\n\
        Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nx\r\n\r\n--b--\r\n";
    let (r, _) = post_raw(&mut c, sk, report.to_vec(), "message/rfc822").await;
    assert_eq!(refused(&r), (400, "body".to_string()), "{:?}", r.json());
    assert_alive(&mut c, sk).await;
}
