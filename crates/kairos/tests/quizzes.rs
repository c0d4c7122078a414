//! Quiz funnels (issue 14 item 5) over HTTP: the API (`/api/v1/quizzes`, field-named errors, another workspace's
//! quizzes out of reach), the hosted quiz `/q/{id}` (answers stored as traits, branching, the email step with its
//! consent evidence, in-stock recommendations and the best-seller fallback, every text escaped, the anonymous id,
//! the rate limit) and the report (completion and drop-off per question). The browser side is ui-tests/quiz.mjs.

mod common;

use common::{TestServer, all_items, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

/// Posts one step as a script would (JSON): (status, answer).
async fn step(c: &mut HttpClient, quiz: &str, v: Value) -> (u16, Value) {
    let r = c.send("POST", &format!("/q/{quiz}"), None, body(&v)).await.unwrap();
    (r.status, r.json())
}

/// Posts one step as the hosted page does (form-encoded): (status, HTML).
async fn post_form(c: &mut HttpClient, quiz: &str, form: &str, cookie: Option<&str>) -> (u16, String) {
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    let r = c.request("POST", &format!("/q/{quiz}"), &headers, bytes::Bytes::from(form.to_string())).await.unwrap();
    (r.status, String::from_utf8_lossy(&r.body).to_string())
}

async fn contact_by(c: &mut HttpClient, sk: &str, query: &str) -> Value {
    c.get(&format!("/api/v1/contacts?{query}"), sk).await.unwrap().json()["items"][0].clone()
}

async fn put_product(c: &mut HttpClient, sk: &str, p: Value) {
    let id = p["id"].as_str().unwrap().to_string();
    let r = c.put_json(&format!("/api/v1/products/{id}"), sk, &p).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

fn bike_quiz() -> Value {
    json!({
        "id": "find-your-bike",
        "name": "Find your bike",
        "intro": "Three quick questions.",
        "questions": [
            {"id": "style", "text": "How do you ride?", "trait": "riding_style", "options": [
                {"label": "On the road", "value": "road", "categories": ["Road"], "next": "distance"},
                {"label": "On trails", "value": "trail", "categories": ["trail"], "next": "end"}]},
            {"id": "distance", "text": "How far?", "trait": "ride_distance", "options": [
                {"label": "A few km", "value": "short"},
                {"label": "All day", "value": "long", "products": ["helmet"]}]}
        ],
        "email": {"title": "Where should we send your picks?",
                  "consent": {"text": "Email me riding tips & offers <weekly>"}},
        "result": {"title": "Your bikes", "products_max": 3}
    })
}

/// The catalog: two road bikes (one out of stock), a trail bike, a helmet, and a best seller.
async fn seed_catalog(c: &mut HttpClient, s: &TestServer) {
    let sk = s.keys.secret_key.as_str();
    let img = "https://cdn.velo.example/i.jpg";
    for p in [
        json!({"id": "road-1", "title": "Road One", "price": 1200, "categories": ["road"], "inventory_quantity": 4,
               "url": "https://velo.example/road-1", "image_url": img}),
        json!({"id": "road-2", "title": "Road Two", "price": 900, "categories": ["ROAD"], "inventory_quantity": 0}),
        json!({"id": "trail-1", "title": "Trail One", "price": 1500, "categories": ["trail"], "inventory_quantity": 2}),
        json!({"id": "helmet", "title": "Helmet", "price": 80, "categories": ["gear"]}),
        json!({"id": "bell", "title": "Bell", "price": 9.5, "categories": ["gear"], "inventory_quantity": 50}),
    ] {
        put_product(c, sk, p).await;
    }
    let order = json!({"userId": "buyer", "event": "Order Completed", "properties": {"order_id": "o1", "total": 28.5,
        "products": [{"product_id": "bell", "quantity": 3, "price": 9.5}]}});
    assert_eq!(c.post_json("/v1/track", &s.keys.write_key, &order).await.unwrap().status, 200);
}

fn names(events: &[Value]) -> Vec<String> {
    events.iter().filter_map(|e| e["event"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn answers_become_traits_branch_and_end_in_products_in_stock() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    seed_catalog(&mut c, &s).await;
    let r = c.post_json("/api/v1/quizzes", sk, &bike_quiz()).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert!(r.json()["url"].as_str().unwrap().ends_with("/q/find-your-bike"));
    assert_eq!(r.json()["warnings"], json!([]), "every product and category the quiz names exists");
    let q = "find-your-bike";

    // A rider on the road, going far, who gives an email and ticks the box.
    let (status, started) = step(&mut c, q, json!({"action": "start", "anonymous_id": "anon-road"})).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!((started["step"]["type"].as_str(), started["step"]["id"].as_str()), (Some("question"), Some("style")));
    let attempt = started["attempt"].as_str().unwrap().to_string();
    let base = json!({"action": "answer", "anonymous_id": "anon-road", "attempt": attempt});
    let mut a = base.clone();
    a["question"] = json!("style");
    a["value"] = json!("road");
    let (_, next) = step(&mut c, q, a).await;
    assert_eq!(next["step"]["id"], json!("distance"), "road riders are asked how far: {next}");
    let mut a = base.clone();
    a["question"] = json!("distance");
    a["value"] = json!("long");
    a["answers"] = next["answers"].clone();
    let (_, email) = step(&mut c, q, a).await;
    assert_eq!(email["step"]["type"], json!("email"), "{email}");
    assert_eq!(email["step"]["consent_text"], json!("Email me riding tips & offers <weekly>"));
    let mut e = base.clone();
    e["action"] = json!("email");
    e["email"] = json!("Rider@Example.com");
    e["consent"] = json!(true);
    e["answers"] = email["answers"].clone();
    let (status, result) = step(&mut c, q, e).await;
    assert_eq!(status, 200, "{result}");
    let shown: Vec<&str> =
        result["step"]["products"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(shown, ["helmet", "road-1"], "the answer's product first, then the category; never out of stock");
    assert_eq!(result["step"]["fallback"], json!(false));
    let road = &result["step"]["products"][1];
    assert_eq!((road["name"].as_str(), road["price"].as_f64()), (Some("Road One"), Some(1200.0)));
    assert!(road["price_text"].as_str().unwrap().contains("1,200.00"), "{road}");
    assert_eq!(road["image_url"], json!("https://cdn.velo.example/i.jpg"));
    assert!(road["url"].as_str().unwrap().contains("utm_campaign=find-your-bike"), "{road}");

    let rider = contact_by(&mut c, sk, "email=rider%40example.com").await;
    assert_eq!(rider["traits"]["riding_style"], json!("road"), "{rider}");
    assert_eq!(rider["traits"]["ride_distance"], json!("long"));
    assert!(
        rider["anonymous_ids"].as_array().unwrap().contains(&json!("anon-road")),
        "anonymous answers kept: {rider}"
    );
    assert_eq!(rider["consent"]["email"]["status"], json!("subscribed"), "{rider}");
    assert_eq!(rider["consent"]["email"]["source"], json!("quiz"));
    assert_eq!(rider["traits"]["consent_text"], json!("Email me riding tips & offers <weekly>"));
    assert_eq!(rider["traits"]["consent_quiz"], json!(q));
    let cid = rider["id"].to_string();
    let events = all_items(&mut c, sk, &format!("/api/v1/contacts/{cid}/events?limit=100")).await;
    let n = names(&events);
    for name in ["Quiz Started", "Quiz Question Answered", "Quiz Completed"] {
        assert!(n.contains(&name.to_string()), "{name} in {n:?}");
    }
    let answered: Vec<&Value> = events.iter().filter(|e| e["event"] == json!("Quiz Question Answered")).collect();
    assert_eq!(answered.len(), 2);
    let style = answered.iter().find(|e| e["properties"]["question_id"] == json!("style")).unwrap();
    assert_eq!(style["properties"]["question"], json!("How do you ride?"));
    assert_eq!(
        (style["properties"]["answer"].as_str(), style["properties"]["next"].as_str()),
        (Some("road"), Some("distance"))
    );
    let done = events.iter().find(|e| e["event"] == json!("Quiz Completed")).unwrap();
    assert_eq!(done["properties"]["recommended"], json!(["helmet", "road-1"]));
    assert_eq!(done["properties"]["answers"], json!({"riding_style": "road", "ride_distance": "long"}));

    // A trail rider branches straight to the end and skips the email: no subscription, the trail bike.
    let (_, t) = step(&mut c, q, json!({"action": "start", "anonymous_id": "anon-trail"})).await;
    let ta = t["attempt"].clone();
    let (_, t) =
        step(&mut c, q, json!({"attempt": ta, "anonymous_id": "anon-trail", "question": "style", "value": "trail"}))
            .await;
    assert_eq!(t["step"]["type"], json!("email"), "trail riders skip the distance question: {t}");
    let (_, t) = step(
        &mut c,
        q,
        json!({"action": "email", "skip": true, "attempt": ta, "anonymous_id": "anon-trail",
        "answers": t["answers"]}),
    )
    .await;
    assert_eq!(t["step"]["products"][0]["id"], json!("trail-1"), "{t}");
    let trail = contact_by(&mut c, sk, "anonymous_id=anon-trail").await;
    assert_eq!(trail["traits"]["riding_style"], json!("trail"));
    assert_ne!(trail["consent"]["email"]["status"], json!("subscribed"));

    // Once the trail bike is sold out, nothing matches: the best sellers in stock instead.
    let r =
        c.send("PATCH", "/api/v1/products/trail-1", Some(sk), body(&json!({"inventory_quantity": 0}))).await.unwrap();
    assert_eq!(r.status, 200);
    let (_, t) = step(&mut c, q, json!({"action": "start", "anonymous_id": "anon-late"})).await;
    let la = t["attempt"].clone();
    step(&mut c, q, json!({"attempt": la, "anonymous_id": "anon-late", "question": "style", "value": "trail"})).await;
    let (_, t) = step(
        &mut c,
        q,
        json!({"action": "email", "skip": true, "attempt": la, "anonymous_id": "anon-late",
        "answers": {"style": "trail"}}),
    )
    .await;
    assert_eq!(t["step"]["fallback"], json!(true), "{t}");
    let ids: Vec<&str> = t["step"]["products"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.first(), Some(&"bell"), "the best seller first: {ids:?}");
    assert!(!ids.contains(&"trail-1") && !ids.contains(&"road-2"), "in stock only: {ids:?}");

    // Someone who stops after the first question.
    let (_, t) = step(&mut c, q, json!({"action": "start", "anonymous_id": "anon-gone"})).await;
    step(
        &mut c,
        q,
        json!({"attempt": t["attempt"], "anonymous_id": "anon-gone", "question": "style", "value": "road"}),
    )
    .await;

    let report = c.get(&format!("/api/v1/reports/quizzes/{q}"), sk).await.unwrap().json();
    assert_eq!((report["started"].as_u64(), report["completed"].as_u64()), (Some(4), Some(3)), "{report}");
    assert_eq!(report["completion_rate"], json!(0.75));
    let style = &report["questions"][0];
    assert_eq!(
        (style["reached"].as_u64(), style["answered"].as_u64(), style["dropped"].as_u64()),
        (Some(4), Some(4), Some(0))
    );
    assert_eq!(
        style["answers"],
        json!([{"value": "road", "label": "On the road", "count": 2},
                                        {"value": "trail", "label": "On trails", "count": 2}])
    );
    let distance = &report["questions"][1];
    assert_eq!(
        (distance["reached"].as_u64(), distance["answered"].as_u64(), distance["dropped"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{distance}"
    );
    assert_eq!(distance["drop_off_rate"], json!(0.5));
    assert_eq!(
        report["email_step"],
        json!({"reached": 3, "emails": 1, "declined": 2, "dropped": 0, "drop_off_rate": 0.0})
    );
}

#[tokio::test]
async fn the_hosted_quiz_escapes_every_text_and_works_as_plain_forms() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    put_product(
        &mut c,
        sk,
        json!({"id": "x1", "title": "<img src=x onerror=alert(1)>", "price": 5, "categories": ["<b>"],
        "url": "javascript:alert(1)", "image_url": "javascript:alert(2)"}),
    )
    .await;
    let quiz = json!({"id": "xss", "name": "<script>alert('name')</script>", "intro": "Hi <em>there</em>",
        "questions": [{"id": "q1", "text": "Pick <script>alert(1)</script>", "trait": "pick", "options": [
            {"label": "<b>bold</b>", "value": "\"><script>alert(2)</script>", "categories": ["<b>"]},
            {"label": "Plain", "value": "plain"}]}],
        "email": {"title": "Your <email>", "required": true, "consent": {"text": "I agree & <consent>"}},
        "result": {"title": "Picks <i>", "text": "For \"you\""}});
    let r = c.post_json("/api/v1/quizzes", sk, &quiz).await.unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    let no_script = |html: &str, what: &str| {
        assert!(!html.contains("<script") && !html.contains("<b>") && !html.contains("<img src=x"), "{what}: {html}");
    };

    let r = c.request("GET", "/q/xss", &[("referer", "https://velo.example/quiz")], bytes::Bytes::new()).await.unwrap();
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body).to_string();
    no_script(&html, "intro");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;") && html.contains("Hi &lt;em&gt;"),
        "{html}"
    );
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "no script may run: {csp}");
    let set = r.header("set-cookie").unwrap_or_default().to_string();
    assert!(set.starts_with("kairos_quiz_aid=quiz-") && set.contains("HttpOnly"), "its own anonymous id: {set}");
    let aid = set.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    assert!(html.contains(&format!("name=\"aid\" value=\"{aid}\"")), "the id travels with the form");
    // On the store's own domain the tracker's cookie is the anonymous id.
    let r =
        c.request("GET", "/q/xss", &[("cookie", "other=1; kairos_aid=tracker-7")], bytes::Bytes::new()).await.unwrap();
    assert!(r.header("set-cookie").is_none());
    assert!(String::from_utf8_lossy(&r.body).contains("name=\"aid\" value=\"tracker-7\""));

    let (status, html) =
        post_form(&mut c, "xss", "action=start&page=https%3A%2F%2Fvelo.example%2Fquiz", Some("kairos_aid=tracker-7"))
            .await;
    assert_eq!(status, 200);
    no_script(&html, "question");
    assert!(
        html.contains("Pick &lt;script&gt;")
            && html.contains("value=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""),
        "{html}"
    );
    assert!(
        html.contains("role=\"group\"") && html.contains("aria-labelledby=\"question\""),
        "the answers are a named group"
    );
    let attempt = html.split("name=\"attempt\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(html.contains("name=\"page\" value=\"https://velo.example/quiz\""), "where it was taken travels too");
    let value = "%22%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E";
    let form = format!("aid=tracker-7&attempt={attempt}&action=answer&question=q1&value={value}");
    let (status, html) = post_form(&mut c, "xss", &form, None).await;
    assert_eq!(status, 200, "{html}");
    no_script(&html, "email step");
    assert!(html.contains("Your &lt;email&gt;") && html.contains("I agree &amp; &lt;consent&gt;"), "{html}");
    assert!(!html.contains("name=\"skip\""), "a required email cannot be skipped");
    let answered = contact_by(&mut c, sk, "anonymous_id=tracker-7").await;
    assert_eq!(answered["traits"]["pick"], json!("\"><script>alert(2)</script>"), "the answer stored as given");

    // A bad address: the step again with the error, nothing identified.
    let form = format!("aid=tracker-7&attempt={attempt}&action=email&email=%3Cscript%3E&a.q1={value}");
    let (status, html) = post_form(&mut c, "xss", &form, None).await;
    assert_eq!(status, 400);
    no_script(&html, "email error");
    assert!(html.contains("enter an email address") && html.contains("aria-invalid=\"true\""), "{html}");
    let page = "page=https%3A%2F%2Fvelo.example%2Fquiz";
    let form =
        format!("aid=tracker-7&attempt={attempt}&action=email&email=pat%40example.com&consent=yes&a.q1={value}&{page}");
    let (status, html) = post_form(&mut c, "xss", &form, None).await;
    assert_eq!(status, 200, "{html}");
    no_script(&html, "result");
    assert!(html.contains("Picks &lt;i&gt;") && html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(!html.contains("javascript:"), "only web addresses become links and images: {html}");
    let pat = contact_by(&mut c, sk, "email=pat%40example.com").await;
    assert_eq!(pat["consent"]["email"]["status"], json!("subscribed"));
    assert_eq!(pat["traits"]["consent_page"], json!("https://velo.example/quiz"));
    assert!(pat["anonymous_ids"].as_array().unwrap().contains(&json!("tracker-7")), "{pat}");

    let r = c.request("GET", "/q/nope", &[], bytes::Bytes::new()).await.unwrap();
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn bad_quizzes_and_bad_steps_are_refused_with_the_field_named() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut q = bike_quiz();
        f(&mut q);
        q
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|q| q["name"] = json!("")), "name"),
        (with(&|q| q["questions"] = json!([])), "questions"),
        (with(&|q| q["questions"][1]["options"][0]["next"] = json!("style")), "questions[1].options[0].next"),
        (with(&|q| q["questions"][0]["options"][1]["next"] = json!("nowhere")), "questions[0].options[1].next"),
        (
            with(&|q| {
                q["questions"][0]["options"] = json!([{"label": "A", "next": "end"}, {"label": "B", "next": "end"}])
            }),
            "questions[1]",
        ),
        (with(&|q| q["questions"][1]["trait"] = json!("email")), "questions[1].trait"),
        (with(&|q| q["questions"][1]["id"] = json!("style")), "questions[1].id"),
        (with(&|q| q["questions"][0]["text"] = json!("x".repeat(1001))), "questions[0].text"),
        (
            with(&|q| q["questions"][0]["options"][0]["categories"] = json!("road")),
            "questions[0].options[0].categories",
        ),
        (with(&|q| q["email"]["consent"] = json!({"text": ""})), "email.consent.text"),
        (with(&|q| q["result"]["products_max"] = json!(50)), "result.products_max"),
        (with(&|q| q["id"] = json!("bad id!")), "id"),
    ];
    for (bad, field) in cases {
        let r = c.post_json("/api/v1/quizzes", sk, &bad).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{:?}", r.json());
    }
    let r = c.get("/api/v1/quizzes", sk).await.unwrap().json();
    assert_eq!(r["items"], json!([]), "nothing half-stored");
    let r = c
        .post_json("/api/v1/quizzes/preview", sk, &json!({"quiz": with(&|q| q["questions"][1]["trait"] = json!(""))}))
        .await
        .unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("quiz.questions[1].trait")));

    // A product the catalog lacks is a warning, not an error (it may be imported later).
    let r = c.post_json("/api/v1/quizzes", sk, &bike_quiz()).await.unwrap();
    assert_eq!(r.status, 201);
    let w = r.json()["warnings"].clone();
    assert!(
        w.as_array().unwrap().iter().any(|m| m.as_str().unwrap().starts_with("questions[1].options[1].products[0]")),
        "{w}"
    );
    let q = "find-your-bike";
    let (status, e) = step(&mut c, q, json!({"question": "style", "value": "road"})).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("attempt")), "{e}");
    let (_, t) = step(&mut c, q, json!({"action": "start"})).await;
    let at = t["attempt"].clone();
    let (status, e) = step(&mut c, q, json!({"attempt": at, "question": "style", "value": "unicycle"})).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("value")), "{e}");
    let (status, e) = step(&mut c, q, json!({"attempt": at, "question": "nope", "value": "road"})).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("question")), "{e}");
    let (status, e) = step(&mut c, q, json!({"attempt": at, "action": "email", "email": "not-an-address"})).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("email")), "{e}");
    let (status, e) = step(&mut c, q, json!({"attempt": at, "action": "dance"})).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("action")), "{e}");
    let big = format!("action=start&page={}", "x".repeat(20_000));
    let (status, _) = post_form(&mut c, q, &big, None).await;
    assert_eq!(status, 413, "an oversized step");
    let report = c.get(&format!("/api/v1/reports/quizzes/{q}"), sk).await.unwrap().json();
    assert_eq!(report["questions"][0]["answered"], json!(0), "no refused answer counted: {report}");
}

#[tokio::test]
async fn another_workspaces_quiz_is_out_of_reach() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    assert_eq!(c.post_json("/api/v1/quizzes", sk, &bike_quiz()).await.unwrap().status, 201);
    let other = common::create_workspace(&s.dir, "Other");
    let osk = other.secret_key.as_str();
    let q = "find-your-bike";
    for path in [format!("/api/v1/quizzes/{q}"), format!("/api/v1/reports/quizzes/{q}")] {
        assert_eq!(c.get(&path, osk).await.unwrap().status, 404, "{path}");
    }
    assert_eq!(c.send("DELETE", &format!("/api/v1/quizzes/{q}"), Some(osk), None).await.unwrap().status, 404);
    let mut theirs = bike_quiz();
    theirs["name"] = json!("Taken over");
    assert_eq!(c.post_json("/api/v1/quizzes", osk, &theirs).await.unwrap().status, 409, "the id stays its owner's");
    assert_eq!(c.get("/api/v1/quizzes", osk).await.unwrap().json()["items"], json!([]));
    let mine = c.get(&format!("/api/v1/quizzes/{q}"), sk).await.unwrap().json();
    assert_eq!(mine["name"], json!("Find your bike"), "unchanged");
    // The owner deletes it: the hosted page is gone.
    let r = c.send("DELETE", &format!("/api/v1/quizzes/{q}"), Some(sk), None).await.unwrap();
    assert_eq!((r.status, r.json()["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(c.request("GET", &format!("/q/{q}"), &[], bytes::Bytes::new()).await.unwrap().status, 404);
}

#[tokio::test]
async fn a_visitor_posting_too_fast_is_refused_and_stores_nothing() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    assert_eq!(c.post_json("/api/v1/quizzes", sk, &bike_quiz()).await.unwrap().status, 201);
    let limit = 30;
    for i in 0..limit {
        let (status, _) =
            step(&mut c, "find-your-bike", json!({"action": "start", "anonymous_id": format!("fast-{i}")})).await;
        assert_eq!(status, 200, "step {i}");
    }
    let (status, e) = step(&mut c, "find-your-bike", json!({"action": "start", "anonymous_id": "fast-over"})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (429, Some("too_many_attempts")), "{e}");
    let (status, html) = post_form(&mut c, "find-your-bike", "action=start&aid=fast-form", None).await;
    assert!(status == 429 && html.contains("try again in a minute"), "{status} {html}");
    for aid in ["fast-over", "fast-form"] {
        assert_eq!(contact_by(&mut c, sk, &format!("anonymous_id={aid}")).await, Value::Null, "{aid} stored nothing");
    }
    assert!(contact_by(&mut c, sk, "anonymous_id=fast-29").await.is_object(), "the last allowed step was stored");
}
