//! Backfills (issue 13): a connected shop's products, customers and orders read through its API (local fakes
//! answering in the documented shapes: Shopify's Admin API with `Link` pagination, count endpoints and 429
//! throttling; WooCommerce's REST API with `X-WP-TotalPages`), taken in as the webhooks would have been,
//! continued where they stopped after a refused call or a killed server, and never bringing back an erased
//! person.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::shopify::{SECRET, connect as connect_webhooks, contact_by_email, fixture, hook};
use common::{Recorder, TestServer, body};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

const API: &str = "/admin/api/2026-01";

fn allow_local(dir: &std::path::Path) {
    std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap();
}

/// How the fake shop answers its orders page: 0 refuses the token once, 1 throttles for 30 s once, 2 answers.
struct Shop {
    recorder: Recorder,
    orders_mode: Arc<AtomicUsize>,
}

impl Shop {
    async fn start(orders_mode: usize) -> Shop {
        let addr: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let mode = Arc::new(AtomicUsize::new(orders_mode));
        let (a, m) = (addr.clone(), mode.clone());
        let answer = Arc::new(move |path: &str, n: usize| -> common::Answer {
            let ok = |v: Value| (200, Vec::new(), v.to_string());
            let base = a.get().cloned().unwrap_or_default();
            match path.strip_prefix(API).unwrap_or(path) {
                "/products/count.json" => ok(json!({"count": 1})),
                "/products.json?limit=250" => ok(json!({"products": [fixture("products_update")]})),
                "/customers/count.json" => ok(json!({"count": 2})),
                "/customers.json?limit=250" if n == 0 => (429, vec![("Retry-After".into(), "0.2".into())], "{}".into()),
                "/customers.json?limit=250" => {
                    let next = format!("<{base}{API}/customers.json?limit=250&page_info=p2>; rel=\"next\"");
                    (200, vec![("Link".into(), next)], json!({"customers": [fixture("customers_update")]}).to_string())
                }
                "/customers.json?limit=250&page_info=p2" => ok(json!({"customers": [{
                    "id": 207119551, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                    "updated_at": "2026-11-20T10:00:00-05:00", "created_at": "2026-11-01T10:00:00-05:00",
                    "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in",
                        "consent_updated_at": "2026-11-20T09:00:00-05:00"}}]})),
                "/orders/count.json?status=any" => ok(json!({"count": 1})),
                "/orders.json?limit=250&status=any" => match m.load(Ordering::SeqCst) {
                    0 if n == 0 => (401, Vec::new(), r#"{"errors": "[API] Invalid API key or access token"}"#.into()),
                    1 if n == 0 => (429, vec![("Retry-After".into(), "30".into())], "{}".into()),
                    _ => ok(json!({"orders": [fixture("orders_create")]})),
                },
                other => (404, Vec::new(), json!({"errors": format!("no route {other}")}).to_string()),
            }
        });
        let recorder = Recorder::start_with_headers(answer).await;
        addr.set(format!("http://{}", recorder.addr)).unwrap();
        Shop { recorder, orders_mode: mode }
    }

    fn calls(&self, path: &str) -> usize {
        self.recorder.received().iter().filter(|r| r.path == format!("{API}{path}")).count()
    }
}

async fn connect(c: &mut HttpClient, sk: &str, shop: &Shop) {
    let v = json!({"shop_domain": "velo.myshopify.com", "access_token": "shpat_fake", "webhook_secret": SECRET,
                   "api_url": format!("http://{}", shop.recorder.addr)});
    let r = c.send("PUT", "/api/v1/integrations/shopify", Some(sk), body(&v)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

/// Polls the backfill's progress until it is no longer running (up to 20 s).
async fn settled(c: &mut HttpClient, sk: &str, platform: &str) -> Value {
    for _ in 0..400 {
        let p = c.get(&format!("/api/v1/integrations/{platform}/backfill"), sk).await.unwrap().json();
        if p["status"] != "running" && p["status"] != "never" {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backfill did not finish");
}

fn computed(contact: &Value) -> Value {
    json!({"orders": contact["orders"], "consent": contact["consent"]["email"]["status"]})
}

#[tokio::test]
async fn a_shopify_backfill_takes_the_shop_in_as_its_webhooks_would_and_continues_where_it_stopped() {
    let s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let shop = Shop::start(0).await;
    let r = c.post_json("/api/v1/integrations/shopify/backfill", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 404, "nothing to backfill without a connection");
    connect(&mut c, sk, &shop).await;
    let r = c.post_json("/api/v1/integrations/shopify/backfill", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 202, "{:?}", r.json());

    // The orders call is refused once: the backfill stops there, saying why, with what it took in so far.
    let p = settled(&mut c, sk, "shopify").await;
    assert_eq!(p["status"], json!("failed"), "{p}");
    assert!(p["error"].as_str().unwrap().contains("refused the credentials"), "{p}");
    assert_eq!(p["resource"], json!("orders"));
    assert_eq!(p["counts"]["customers"], json!({"imported": 2, "total": 2}), "{p}");
    assert_eq!(shop.calls("/customers.json?limit=250"), 2, "the throttled page was asked again");
    assert!(contact_by_email(&mut c, sk, "ann@example.com").await.is_some(), "the second page was read");
    let bob = contact_by_email(&mut c, sk, "bob@biller.com").await.expect("bob");
    assert_eq!(bob["consent"]["email"]["status"], json!("subscribed"), "{bob}");
    assert_eq!(c.get("/api/v1/products/788032119674292922", sk).await.unwrap().status, 200, "the catalog came first");

    // Started again, it continues at the orders: the products and customers are not read twice.
    let r = c.post_json("/api/v1/integrations/shopify/backfill", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 202, "{:?}", r.json());
    let p = settled(&mut c, sk, "shopify").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    assert_eq!((p["imported"].as_u64(), p["total"].as_u64()), (Some(4), Some(4)), "{p}");
    assert_eq!(shop.calls("/products.json?limit=250"), 1);
    assert_eq!(shop.calls("/customers.json?limit=250"), 2);
    let list = c.get("/api/v1/integrations", sk).await.unwrap().json();
    assert_eq!(list["items"][0]["backfill"]["status"], json!("done"), "{list}");

    // The same order through a webhook, in another workspace: the same profile figures.
    let other = common::create_workspace(&s.dir, "Webhooks");
    connect_webhooks(&mut c, &other.secret_key).await;
    let raw = serde_json::to_vec(&fixture("orders_create")).unwrap();
    assert_eq!(hook(&mut c, &other.id, "orders/create", &raw, Some(SECRET), "w1").await.0, 200);
    let by_hook = contact_by_email(&mut c, &other.secret_key, "jon@example.com").await.expect("jon by webhook");
    let by_backfill = contact_by_email(&mut c, sk, "jon@example.com").await.expect("jon by backfill");
    assert_eq!(computed(&by_backfill), computed(&by_hook));
    assert_eq!(by_backfill["orders"]["count"], json!(1), "{by_backfill}");

    // A second full backfill eight days later (past the engine's 7-day message-id window) counts nothing twice.
    assert_eq!(c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "8d"})).await.unwrap().status, 200);
    assert_eq!(c.post_json("/api/v1/integrations/shopify/backfill", sk, &json!({})).await.unwrap().status, 202);
    let p = settled(&mut c, sk, "shopify").await;
    assert_eq!((p["status"].clone(), p["known"].clone()), (json!("done"), json!(1)), "{p}");
    let jon = contact_by_email(&mut c, sk, "jon@example.com").await.unwrap();
    assert_eq!(jon["orders"]["count"], json!(1), "{jon}");

    // An erased person is not brought back.
    let id = by_backfill["id"].as_str().map(str::to_string).unwrap_or_else(|| by_backfill["id"].to_string());
    assert_eq!(c.send("DELETE", &format!("/api/v1/contacts/{id}"), Some(sk), None).await.unwrap().status, 200);
    let r = c.post_json("/api/v1/integrations/shopify/backfill", sk, &json!({})).await.unwrap();
    assert_eq!(r.status, 202);
    let p = settled(&mut c, sk, "shopify").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    // Jon's order is left out: Kairos counted it already (his erased profile keeps the figures).
    assert!(p["erased"].as_u64().unwrap() + p["known"].as_u64().unwrap() >= 1, "{p}");
    assert!(contact_by_email(&mut c, sk, "jon@example.com").await.is_none(), "an erased person stays erased");
    let bob = contact_by_email(&mut c, sk, "bob@biller.com").await.expect("bob");
    assert_eq!(bob["orders"]["count"], json!(0));
}

#[tokio::test]
async fn a_backfill_interrupted_by_a_killed_server_continues_at_start() {
    let mut s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let sk = s.keys.secret_key.clone();
    let shop = Shop::start(1).await;
    connect(&mut c, &sk, &shop).await;
    assert_eq!(c.post_json("/api/v1/integrations/shopify/backfill", &sk, &json!({})).await.unwrap().status, 202);
    // The orders page is throttled for 30 s: the server is killed while it waits.
    for _ in 0..200 {
        if shop.calls("/orders.json?limit=250&status=any") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shop.calls("/orders.json?limit=250&status=any"), 1);
    s.kill();
    shop.orders_mode.store(2, Ordering::SeqCst);
    s.restart();
    let mut c = s.client().await;
    let p = settled(&mut c, &sk, "shopify").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    assert_eq!(shop.calls("/customers.json?limit=250&page_info=p2"), 1, "the customers were not read again");
    assert!(contact_by_email(&mut c, &sk, "jon@example.com").await.is_some());
}

#[tokio::test]
async fn a_woocommerce_backfill_reads_every_page() {
    let s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let answer = Arc::new(|path: &str, _n: usize| -> common::Answer {
        let pages = |n: u32, total: u32| {
            vec![("X-WP-Total".into(), total.to_string()), ("X-WP-TotalPages".into(), n.to_string())]
        };
        let woo = |name: &str| {
            let path = format!("{}/../integrations/tests/fixtures/woocommerce/{name}.json", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let customer = |id: u32, email: &str| {
            json!({"id": id, "email": email, "first_name": "C", "last_name": "L",
            "date_created_gmt": "2026-11-01T10:00:00", "date_modified_gmt": "2026-11-02T10:00:00",
            "billing": {"email": email, "phone": ""}, "role": "customer"})
        };
        match path {
            "/wp-json/wc/v3/products?per_page=100&page=1&orderby=id&order=asc" => {
                (200, pages(1, 1), json!([woo("product_updated")]).to_string())
            }
            p if p.starts_with("/wp-json/wc/v3/customers?") && p.contains("&page=1&") => {
                (200, pages(2, 2), json!([customer(1, "c1@example.com")]).to_string())
            }
            p if p.starts_with("/wp-json/wc/v3/customers?") && p.contains("&page=2&") => {
                (200, pages(2, 2), json!([customer(2, "c2@example.com")]).to_string())
            }
            p if p.starts_with("/wp-json/wc/v3/orders?") => {
                (200, pages(1, 1), json!([woo("order_updated")]).to_string())
            }
            other => (404, Vec::new(), json!({"code": "rest_no_route", "message": other}).to_string()),
        }
    });
    let woo = Recorder::start_with_headers(answer).await;
    let v = json!({"site_url": format!("http://{}", woo.addr), "consumer_key": "ck_fake", "consumer_secret": "cs_fake",
                   "webhook_secret": "whsec"});
    assert_eq!(c.send("PUT", "/api/v1/integrations/woocommerce", Some(sk), body(&v)).await.unwrap().status, 200);
    assert_eq!(c.post_json("/api/v1/integrations/woocommerce/backfill", sk, &json!({})).await.unwrap().status, 202);
    let p = settled(&mut c, sk, "woocommerce").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    assert_eq!(p["counts"]["customers"], json!({"imported": 2, "total": 2}), "{p}");
    for email in ["c1@example.com", "c2@example.com", "john.doe@example.com"] {
        assert!(contact_by_email(&mut c, sk, email).await.is_some(), "{email}");
    }
    let john = contact_by_email(&mut c, sk, "john.doe@example.com").await.unwrap();
    assert_eq!(john["orders"]["count"], json!(1), "{john}");
    let seen = woo.received();
    let auth = seen[0].header("authorization").unwrap();
    assert!(auth.starts_with("Basic "), "consumer key and secret as Basic authentication: {auth}");
}

fn magento_fixture(name: &str) -> Value {
    let path = format!("{}/../integrations/tests/fixtures/magento/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `updated_at` filter value of a Magento search query, if any.
fn magento_after(path: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "searchCriteria[filter_groups][0][filters][0][value]")
        .map(|(_, v)| v.into_owned())
}

/// A later order of Magento's fixture customer, updated at `at`.
fn magento_order(id: u64, at: &str) -> Value {
    let mut o = magento_fixture("orders_page")["items"][0].clone();
    o["entity_id"] = json!(id);
    o["increment_id"] = json!(format!("0000000{id}"));
    o["created_at"] = json!(at);
    o["updated_at"] = json!(at);
    o
}

fn magento_page(items: Vec<Value>) -> String {
    let n = items.len();
    json!({"items": items, "search_criteria": {"page_size": 100, "current_page": 1}, "total_count": n}).to_string()
}

/// Magento has no webhooks: its lists are read by `updated_at` (pages moving the cursor up), and a later sync
/// reads only what changed since the newest record it saw.
#[tokio::test]
async fn magento_is_read_by_update_time_and_synced_incrementally() {
    let s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let sk = s.keys.secret_key.as_str();
    let answer = Arc::new(|path: &str, _n: usize| -> common::Answer {
        let ok = |body: String| (200, Vec::new(), body);
        let after = magento_after(path);
        let list = path.split('?').next().unwrap_or_default();
        match (list, after.as_deref()) {
            ("/rest/V1/products", _) => ok(magento_fixture("products_page").to_string()),
            ("/rest/V1/customers/search", _) => ok(magento_fixture("customers_page").to_string()),
            // The fixture's first page says there are 3 orders, 2 per page: the next page is asked for by time.
            ("/rest/V1/orders", None) => ok(magento_fixture("orders_page").to_string()),
            ("/rest/V1/orders", Some("2026-12-02 10:00:00")) => {
                ok(magento_page(vec![magento_order(44, "2026-12-03 08:00:00")]))
            }
            ("/rest/V1/orders", Some("2026-12-03 08:00:00")) => {
                ok(magento_page(vec![magento_order(45, "2026-12-04 09:00:00")]))
            }
            ("/rest/V1/creditmemos", _) => ok(magento_fixture("creditmemos_page").to_string()),
            _ => (404, Vec::new(), json!({"message": format!("no route {path}")}).to_string()),
        }
    });
    let shop = Recorder::start_with_headers(answer).await;
    let v = json!({"base_url": format!("http://{}", shop.addr), "access_token": "magento-token"});
    assert_eq!(c.send("PUT", "/api/v1/integrations/magento", Some(sk), body(&v)).await.unwrap().status, 200);
    assert_eq!(c.post_json("/api/v1/integrations/magento/backfill", sk, &json!({})).await.unwrap().status, 202);
    let p = settled(&mut c, sk, "magento").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    let seen = shop.received();
    assert_eq!(seen[0].header("authorization"), Some("Bearer magento-token"));
    let order_calls: Vec<Option<String>> =
        seen.iter().filter(|r| r.path.starts_with("/rest/V1/orders")).map(|r| magento_after(&r.path)).collect();
    assert_eq!(
        order_calls,
        [None, Some("2026-12-02 10:00:00".to_string())],
        "the cursor moved to the page's last time"
    );
    let veronica = contact_by_email(&mut c, sk, "veronica.costello@example.com").await.expect("the customer");
    let orders = veronica["orders"]["count"].as_u64().unwrap();
    assert!(orders >= 2, "orders 42 and 44 (and the credit memo on 42): {veronica}");
    assert!(veronica["orders"]["refunded_total"].as_f64().unwrap() > 0.0, "the credit memo is a refund: {veronica}");
    assert_eq!(c.get("/api/v1/products/14", sk).await.unwrap().status, 200, "products by Magento's id");

    // A second sync asks only for what changed since the newest order it saw, and takes in the new order.
    assert_eq!(c.post_json("/api/v1/integrations/magento/backfill", sk, &json!({})).await.unwrap().status, 202);
    let p = settled(&mut c, sk, "magento").await;
    assert_eq!(p["status"], json!("done"), "{p}");
    let latest: Vec<Option<String>> = shop
        .received()
        .iter()
        .filter(|r| r.path.starts_with("/rest/V1/orders"))
        .map(|r| magento_after(&r.path))
        .skip(2)
        .collect();
    assert_eq!(latest, [Some("2026-12-03 08:00:00".to_string())], "only changes since the last sync");
    let veronica = contact_by_email(&mut c, sk, "veronica.costello@example.com").await.unwrap();
    assert_eq!(veronica["orders"]["count"].as_u64().unwrap(), orders + 1, "order 45: {veronica}");
}

/// `kairos import shopify`: the same backfill from the command line (the server stopped), with its summary.
#[tokio::test]
async fn kairos_import_shopify_backfills_from_the_command_line() {
    let mut s = TestServer::start_with(allow_local);
    let mut c = s.client().await;
    let sk = s.keys.secret_key.clone();
    let shop = Shop::start(2).await;
    connect(&mut c, &sk, &shop).await;
    drop(c);
    s.terminate();
    let (ws, dir) = (s.keys.id.clone(), s.dir.clone());
    // Off the test's runtime: the fake shop answers on it while the command runs.
    let run = async |platform: &'static str| {
        let (ws, dir) = (ws.clone(), dir.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(common::BIN)
                .args(["import", platform, "--workspace", &ws, "--data-dir"])
                .arg(&dir)
                .env("KAIROS_LOG", "warn")
                .envs(common::backend_env(&dir))
                .output()
                .expect("run kairos import")
        })
        .await
        .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = run("shopify").await;
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().last(), Some("imported 4, left out 0 (erased people), rejected 0"), "{stdout}");
    let (ok, _, stderr) = run("woocommerce").await;
    assert!(!ok, "no WooCommerce connection");
    assert!(stderr.contains("no woocommerce connection"), "{stderr}");
    s.restart();
    let mut c = s.client().await;
    assert!(contact_by_email(&mut c, &sk, "jon@example.com").await.is_some());
    let p = c.get("/api/v1/integrations/shopify/backfill", &sk).await.unwrap().json();
    assert_eq!(p["status"], json!("done"), "{p}");
}
