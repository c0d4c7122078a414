//! Landing pages (issue 14) over HTTP: the API with its field-named refusals and workspace isolation, the hosted
//! page `/p/{id}` (escaped, no script, 404 unless published), visits with their UTM campaign, a signup through
//! the embedded form and an order attributed to the page, the products block (in stock only, per segment), and
//! the coupon reveal. The browser side is `ui-tests/landing.mjs`.

mod common;

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

async fn page(c: &mut HttpClient, path: &str, headers: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let r = c.request("GET", path, headers, bytes::Bytes::new()).await.unwrap();
    let cookie = r.header("set-cookie").map(str::to_string);
    (r.status, String::from_utf8_lossy(&r.body).to_string(), cookie)
}

async fn post_form(c: &mut HttpClient, path: &str, cookie: &str, form: &str) -> (u16, String) {
    let headers = [("content-type", "application/x-www-form-urlencoded"), ("cookie", cookie)];
    let r = c.request("POST", path, &headers, bytes::Bytes::from(form.to_string())).await.unwrap();
    (r.status, String::from_utf8_lossy(&r.body).to_string())
}

async fn created(c: &mut HttpClient, sk: &str, path: &str, v: Value) -> Value {
    let r = c.post_json(path, sk, &v).await.unwrap();
    assert!(r.status == 201 || r.status == 200, "{path}: {} {:?}", r.status, r.json());
    r.json()
}

/// The `kairos_aid=...` pair of a Set-Cookie header.
fn aid_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

async fn report(c: &mut HttpClient, sk: &str, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/reports/landing-pages/{id}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

#[tokio::test]
async fn pages_are_checked_field_by_field_escaped_hidden_until_published_and_kept_to_their_workspace() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let other = common::create_workspace(&s.dir, "Other");
    let theirs = json!({"id": "their-form", "name": "Theirs", "fields": [{"name": "email", "type": "email"}]});
    created(&mut c, &other.secret_key, "/api/v1/forms", theirs).await;
    let text = |t: &str| json!({"type": "text", "text": t});
    for (bad, field) in [
        (json!({"blocks": [text("x")]}), "name"),
        (json!({"name": "N", "blocks": "no"}), "blocks"),
        (json!({"name": "N", "blocks": [text("x"), {"type": "banner"}]}), "blocks[1].type"),
        (json!({"name": "N", "id": "Has Spaces", "blocks": [text("x")]}), "id"),
        (
            json!({"name": "N", "blocks": [{"type": "hero", "heading": "H", "button_label": "Go", "button_url": "javascript:alert(1)"}]}),
            "blocks[0].button_url",
        ),
        (json!({"name": "N", "blocks": [{"type": "products", "category": "road", "count": 99}]}), "blocks[0].count"),
        (json!({"name": "N", "blocks": [text("x"), {"type": "form", "form": "their-form"}]}), "blocks[1].form"),
        (json!({"name": "N", "blocks": [{"type": "coupon", "pool": "missing"}]}), "blocks[0].pool"),
        (
            json!({"name": "N", "blocks": [{"type": "products", "source": "segment", "category": "c",
                "segments": [{"segment": "seg_missing", "category": "d"}]}]}),
            "blocks[0].segments[0].segment",
        ),
        (json!({"name": "N", "blocks": [{"type": "text", "text": "x".repeat(5_001)}]}), "blocks[0].text"),
    ] {
        let r = c.post_json("/api/v1/landing-pages", sk, &bad).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{bad}: {:?}", r.json());
    }
    let r = c.get("/api/v1/landing-pages", sk).await.unwrap().json();
    assert_eq!(r["items"], json!([]), "nothing half-stored: {r}");

    let evil = "<script>alert('x')</script>";
    let draft = json!({"id": "spring", "name": format!("Spring {evil}"), "title": evil, "blocks": [
        {"type": "hero", "heading": evil, "text": format!("Ride {evil}"), "button_label": evil,
         "button_url": "https://velo.example/?q=\"><script>"},
        {"type": "text", "heading": "Why", "text": format!("One\n\n{evil}")}]});
    let saved = created(&mut c, sk, "/api/v1/landing-pages", draft.clone()).await;
    assert_eq!(saved["published"], false, "a page starts unpublished");
    assert!(saved["url"].as_str().unwrap().ends_with("/p/spring"), "{saved}");
    let (status, _, _) = page(&mut c, "/p/spring", &[]).await;
    assert_eq!(status, 404, "unpublished: not found for the public");
    let preview = c.post_json("/api/v1/landing-pages/preview", sk, &draft).await.unwrap();
    assert_eq!(preview.status, 200);
    assert!(
        preview.json()["html"].as_str().unwrap().contains("<h1 id=\"b0-h\">&lt;script&gt;"),
        "the owner previews it"
    );

    let mut published = draft.clone();
    published["published"] = json!(true);
    let r = c.post_json("/api/v1/landing-pages", sk, &published).await.unwrap();
    assert_eq!(r.status, 200, "replaced: {:?}", r.json());
    let r = c.request("GET", "/p/spring", &[], bytes::Bytes::new()).await.unwrap();
    let html = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 200);
    assert!(!html.contains("<script"), "no script, and every text escaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "{html}");
    assert!(html.contains("name=\"viewport\"") && html.contains("<html lang=\"en\">"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "no script may run: {csp}");

    // Another workspace: neither reads, replaces nor deletes it; its own id cannot take the name.
    let osk = other.secret_key.as_str();
    assert_eq!(c.get("/api/v1/landing-pages/spring", osk).await.unwrap().status, 404);
    assert_eq!(c.get("/api/v1/reports/landing-pages/spring", osk).await.unwrap().status, 404);
    assert_eq!(c.send("DELETE", "/api/v1/landing-pages/spring", Some(osk), None).await.unwrap().status, 404);
    let theirs = json!({"id": "spring", "name": "Mine", "blocks": [text("x")]});
    let r = c.post_json("/api/v1/landing-pages", osk, &theirs).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (409, Some("id")), "{:?}", r.json());
    assert_eq!(c.get("/api/v1/landing-pages", osk).await.unwrap().json()["items"], json!([]));
    let mine = c.get("/api/v1/landing-pages/spring", sk).await.unwrap().json();
    assert_eq!(mine["name"], format!("Spring {evil}"), "untouched by the other workspace");

    let r = c.send("DELETE", "/api/v1/landing-pages/spring", Some(sk), None).await.unwrap();
    assert_eq!((r.status, r.json()["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(page(&mut c, "/p/spring", &[]).await.0, 404);
}

#[tokio::test]
async fn a_visit_keeps_its_utm_campaign_and_the_signup_and_order_that_follow_are_the_pages() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-03-04T10:00:00Z"})).await.unwrap();
    let form = json!({"id": "join", "name": "Join the club", "fields": [{"name": "email", "type": "email", "required": true}],
                      "consent": {"channel": "email", "text": "Send me offers"}});
    created(&mut c, sk, "/api/v1/forms", form).await;
    let lp = json!({"id": "spring-sale", "name": "Spring sale", "published": true, "blocks": [
        {"type": "hero", "heading": "Spring sale"}, {"type": "form", "form": "join", "heading": "Get 10% off"}]});
    created(&mut c, sk, "/api/v1/landing-pages", lp).await;

    let q = "/p/spring-sale?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=bikes&utm_content=hero";
    let (status, html, set) = page(&mut c, q, &[("user-agent", "Mozilla/5.0 (X11; Linux) Firefox/120")]).await;
    assert_eq!(status, 200);
    let set = set.expect("a new visitor gets the tracker's cookie");
    assert!(set.starts_with("kairos_aid=") && set.contains("SameSite=Lax") && set.contains("Max-Age="), "{set}");
    let cookie = aid_pair(&set);
    let aid = cookie.trim_start_matches("kairos_aid=").to_string();
    assert!(
        html.contains("action=\"/f/join\"") && html.contains("/p/spring-sale\""),
        "the form names the page: {html}"
    );
    assert!(html.contains(&format!("name=\"anonymous_id\" value=\"{aid}\"")), "and the visitor");
    assert!(html.contains("Send me offers"), "the form's consent text");

    // HEAD, prefetches and crawlers see the page without being counted.
    assert_eq!(c.request("HEAD", "/p/spring-sale", &[], bytes::Bytes::new()).await.unwrap().status, 200);
    page(&mut c, "/p/spring-sale", &[("sec-purpose", "prefetch")]).await;
    page(&mut c, "/p/spring-sale", &[("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")]).await;
    // The same visitor comes back (cookie sent: no new one), and someone else from Instagram.
    let (_, _, again) = page(&mut c, "/p/spring-sale?utm_source=newsletter", &[("cookie", &cookie)]).await;
    assert!(again.is_none(), "a known visitor keeps their cookie");
    page(&mut c, "/p/spring-sale?utm_source=instagram", &[]).await;

    let found = c.get(&format!("/api/v1/contacts?anonymous_id={aid}"), sk).await.unwrap().json();
    let visitor = found["items"][0]["id"].clone();
    let events = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{visitor}/events")).await;
    let views: Vec<&Value> = events.iter().filter(|e| e["type"] == "page").collect();
    assert_eq!(views.len(), 2, "{views:?}");
    let first = views.iter().find(|e| e["context"]["campaign"]["medium"] == "email").expect("the first visit");
    assert_eq!(
        first["context"]["campaign"],
        json!({"source": "newsletter", "medium": "email", "name": "spring", "term": "bikes", "content": "hero"})
    );
    assert_eq!(first["name"], "Landing page: spring-sale");
    assert_eq!(first["properties"]["url"], format!("http://{}{q}", s.addr));

    // The visitor signs up through the embedded form, as the browser posts it.
    let body = format!(
        "email=rae%40example.com&consent=yes&page={}&anonymous_id={aid}",
        urlencode(&page_url(&s, "spring-sale"))
    );
    let (status, html) = post_form(&mut c, "/f/join", &cookie, &body).await;
    assert_eq!(status, 200, "{html}");
    let rae = c.get("/api/v1/contacts?email=rae%40example.com", sk).await.unwrap().json()["items"][0].clone();
    assert_eq!(rae["id"], visitor, "the signup is the visitor, with their visits");
    assert_eq!(rae["consent"]["email"]["status"], "subscribed");
    // Someone else signs up with the same form on another page: not this page's signup.
    let elsewhere = format!("email=sam%40example.com&page={}", urlencode(&page_url(&s, "spring-sale-2")));
    assert_eq!(post_form(&mut c, "/f/join", "", &elsewhere).await.0, 200);

    // Rae orders two days later (attributed), then again a week later (outside the 5-day window).
    let who = json!({"userId": "rae-1", "traits": {"email": "rae@example.com"}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "2d"})).await.unwrap();
    let order = |id: &str, total: f64| json!({"userId": "rae-1", "event": "Order Completed", "properties": {"order_id": id, "total": total}});
    assert_eq!(c.post_json("/v1/track", wk, &order("A-1", 120.0)).await.unwrap().status, 200);
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "7d"})).await.unwrap();
    assert_eq!(c.post_json("/v1/track", wk, &order("A-2", 80.0)).await.unwrap().status, 200);

    let r = report(&mut c, sk, "spring-sale").await;
    assert_eq!(
        (r["visits"].as_u64(), r["unique_visitors"].as_u64(), r["signups"].as_u64()),
        (Some(3), Some(2), Some(1)),
        "{r}"
    );
    assert_eq!((r["orders"].as_u64(), r["revenue"].as_f64()), (Some(1), Some(120.0)), "{r}");
    assert_eq!(r["attribution_window"], "5d");
    assert_eq!(r["sources"][0], json!({"source": "newsletter", "visits": 2}), "{r}");
    assert!(r["sources"].as_array().unwrap().contains(&json!({"source": "instagram", "visits": 1})));
    let bad = c.get("/api/v1/reports/landing-pages/spring-sale?from=yesterday", sk).await.unwrap();
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("from")));
}

fn page_url(s: &TestServer, id: &str) -> String {
    format!("http://{}/p/{id}", s.addr)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn product_blocks_show_products_in_stock_chosen_by_category_segment_or_recommendation() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    for (id, title, cats, available, qty) in [
        ("road-1", "Road One", vec!["road"], true, Some(3)),
        ("road-2", "Road Two <fast>", vec!["road"], true, None),
        ("road-gone", "Road Sold Out", vec!["road"], true, Some(0)),
        ("road-off", "Road Withdrawn", vec!["road"], false, Some(5)),
        ("vip-1", "Carbon Special", vec!["vip"], true, Some(1)),
    ] {
        let mut p = json!({"id": id, "title": title, "price": 1999.5, "categories": cats, "available": available,
                           "url": format!("https://velo.example/{id}"), "image_url": format!("https://cdn.velo.example/{id}.jpg")});
        if let Some(q) = qty {
            p["inventory_quantity"] = json!(q);
        }
        let r = c.put_json(&format!("/api/v1/products/{id}"), sk, &p).await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.json());
    }
    let seg = created(&mut c, sk, "/api/v1/segments", json!({"name": "VIP", "definition": "trait.vip = true"})).await;
    let seg = seg["id"].as_str().unwrap().to_string();
    let lp = json!({"id": "bikes", "name": "Bikes", "published": true, "blocks": [
        {"type": "products", "heading": "Road bikes", "source": "category", "category": "Road", "count": 6},
        {"type": "products", "heading": "For you", "source": "segment", "category": "road", "count": 1,
         "segments": [{"segment": seg, "category": "vip"}]},
        {"type": "products", "heading": "Recommended", "source": "recommended", "count": 12}]});
    created(&mut c, sk, "/api/v1/landing-pages", lp).await;

    let (status, html, set) = page(&mut c, "/p/bikes", &[]).await;
    assert_eq!(status, 200);
    let road = section(&html, "Road bikes");
    assert!(road.contains("Road One") && road.contains("Road Two &lt;fast&gt;"), "{road}");
    assert!(!html.contains("Road Sold Out") && !html.contains("Road Withdrawn"), "in stock only: {html}");
    assert!(road.contains("$1999.50") && road.contains("href=\"https://velo.example/road-1\""), "{road}");
    assert!(!section(&html, "For you").contains("Carbon Special"), "someone unknown gets the fallback category");
    let recommended = section(&html, "Recommended");
    assert!(recommended.contains("Carbon Special") && !recommended.contains("Sold Out"), "{recommended}");

    // The visitor becomes a VIP: the segment rule picks their category.
    let cookie = aid_pair(&set.unwrap());
    let aid = cookie.trim_start_matches("kairos_aid=").to_string();
    let who = json!({"anonymousId": aid, "traits": {"vip": true}});
    assert_eq!(c.post_json("/v1/identify", wk, &who).await.unwrap().status, 200);
    let (_, html, _) = page(&mut c, "/p/bikes", &[("cookie", &cookie)]).await;
    let for_you = section(&html, "For you");
    assert!(for_you.contains("Carbon Special") && !for_you.contains("Road One"), "{for_you}");

    // Stock is read at every view.
    let r = c.send("PATCH", "/api/v1/products/road-1", Some(sk), common::body(&json!({"inventory_quantity": 0})));
    assert_eq!(r.await.unwrap().status, 200);
    let (_, html, _) = page(&mut c, "/p/bikes", &[("cookie", &cookie)]).await;
    assert!(!section(&html, "Road bikes").contains("Road One"), "sold out since the last view");
}

/// The HTML of the section headed `heading`.
fn section(html: &str, heading: &str) -> String {
    let at = html.find(&format!(">{heading}</h2>")).unwrap_or_else(|| panic!("no section {heading:?} in {html}"));
    let start = html[..at].rfind("<section").unwrap();
    let end = html[at..].find("</section>").map_or(html.len(), |e| at + e);
    html[start..end].to_string()
}

#[tokio::test]
async fn a_coupon_is_revealed_for_an_email_and_counts_as_a_signup() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let pool = json!({"id": "welcome", "type": "unique", "pattern": "HELLO-{CODE}", "length": 6, "value_type": "percent", "value": 10});
    assert_eq!(c.post_json("/api/v1/coupons", sk, &pool).await.unwrap().status, 201);
    let lp = json!({"id": "deal", "name": "Deal", "published": true, "blocks": [
        {"type": "coupon", "heading": "Your 10% off", "pool": "welcome", "button_label": "Get my code"},
        {"type": "coupon", "heading": "Everyone", "code": "SPRING5"}]});
    created(&mut c, sk, "/api/v1/landing-pages", lp).await;
    let (_, html, set) = page(&mut c, "/p/deal", &[]).await;
    assert!(html.contains("action=\"/p/deal/coupon\"") && html.contains("Get my code"), "{html}");
    assert!(html.contains("<details>") && html.contains("SPRING5"), "a static code behind a disclosure");
    let cookie = aid_pair(&set.unwrap());

    let (status, html) = post_form(&mut c, "/p/deal/coupon", &cookie, "block=0&email=%3Cscript%3Ex").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Enter an email address") && html.contains("&lt;script&gt;x") && !html.contains("<script"),
        "{html}"
    );
    let (status, html) = post_form(&mut c, "/p/deal/coupon", &cookie, "block=0&email=ann%40example.com").await;
    assert_eq!(status, 200, "{html}");
    let code = html.split("Your code: <strong>").nth(1).and_then(|r| r.split('<').next()).expect(&html).to_string();
    assert!(code.starts_with("HELLO-") && code.len() == 12, "{code}");
    let ann = c.get("/api/v1/contacts?email=ann%40example.com", sk).await.unwrap().json()["items"][0].clone();
    let events = common::all_items(&mut c, sk, &format!("/api/v1/contacts/{}/events", ann["id"])).await;
    assert!(
        events.iter().any(|e| e["event"] == "Coupon Issued" && e["properties"]["code"] == code.as_str()),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["type"] == "page"), "the visit joined the person who gave the address");

    // The same browser sees its code again; another one typing Ann's address does not.
    let (_, html) = post_form(&mut c, "/p/deal/coupon", &cookie, "block=0&email=ann%40example.com").await;
    assert!(html.contains(&code), "{html}");
    for _ in 0..2 {
        let (_, html) =
            post_form(&mut c, "/p/deal/coupon", "kairos_aid=someone-else", "block=0&email=ann%40example.com").await;
        assert!(!html.contains(&code) && html.contains("already given"), "asked again, still not shown: {html}");
    }
    let r = c.get("/api/v1/contacts?anonymous_id=someone-else", sk).await.unwrap().json();
    assert_eq!(r["items"], json!([]), "that browser was not joined to Ann: {r}");
    // A bot fills the hidden field: nothing stored.
    post_form(&mut c, "/p/deal/coupon", &cookie, "block=0&email=bot%40example.com&website=spam").await;
    assert_eq!(c.get("/api/v1/contacts?email=bot%40example.com", sk).await.unwrap().json()["items"], json!([]));

    let r = report(&mut c, sk, "deal").await;
    assert_eq!((r["signups"].as_u64(), r["visits"].as_u64()), (Some(1), Some(1)), "{r}");
}
