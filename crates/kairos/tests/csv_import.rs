//! CSV import (SPEC 16 "Integrations", issue 13 item 4): `kairos import csv` run as a real process on a data
//! directory (on PostgreSQL too: the suite's backend), then checked over HTTP; the upload and preview
//! endpoints; and a large file streamed in bounded memory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, Keys, TestServer, backend_env, body, create_workspace};
use kairos_bench::client::HttpClient;
use kairos_integrations::signature::hmac_sha256_base64;
use serde_json::{Value, json};

const CONTACTS: &str = "\
Email,First Name,Phone,Email Consent,Email Consent At,Consent Source,IP,Consent Text,SMS Consent,Loyalty Tier
ann@example.com,Ann,+358401234567,yes,2026-01-15T09:30:00Z,checkout,203.0.113.7,Yes please,subscribed,gold
bob@example.com,Bob,,unsubscribed,,,,,,
not-an-email,Cid,,yes,,,,,,
dan@example.com,Dan,,maybe,,,,,,
";

/// The order of Shopify's `orders_create` fixture as Shopify's order export writes it (totals on the first row).
const ORDERS: &str = "\
Name,Email,Financial Status,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Id
#9999,jon@example.com,paid,USD,393.00,10.00,0.00,403.00,,2026-11-30 19:00:00 -0500,1,IPod Nano - 8GB,199.00,IPOD2008PINK,820982911946154508
#9999,jon@example.com,,,,,,,,,1,IPod Nano - 8GB,199.00,IPOD2008PINK,820982911946154508
#1002,amy@example.com,paid,EUR,10,,,10,,2026-11-01,1,Helmet,-10,H-1,1002
";

const PRODUCTS: &str = "\
Handle,Title,Type,Variant SKU,Variant Price,Variant Compare At Price,Variant Inventory Qty,Image Src,Status
city-bike,City Bike,Bikes,CB-M,499.00,599.00,0,https://shop.example/cb.jpg,active
city-bike,,,CB-L,479.00,549.00,3,,
lamp,Lamp,Lights,L-1,abc,,5,,active
";

const SHOPIFY_SECRET: &str = "shpss_csv_test";

/// `kairos import csv`: (success, stdout, stderr).
fn import(dir: &Path, ws: &str, kind: &str, file: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["import", "csv", "--kind", kind])
        .arg(file)
        .args(["--workspace", ws, "--data-dir"])
        .arg(dir)
        .env("KAIROS_LOG", "warn")
        .envs(backend_env(dir))
        .output()
        .expect("run kairos import csv");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn rejected_report(file: &Path) -> Vec<Vec<String>> {
    let path = format!("{}.rejected.csv", file.display());
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut rows = vec![header];
    rows.extend(r.records().map(|rec| rec.unwrap().iter().map(str::to_string).collect::<Vec<_>>()));
    rows
}

async fn contact(c: &mut HttpClient, sk: &str, email: &str) -> Value {
    let r = c.get(&format!("/api/v1/contacts?email={email}"), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["items"][0].clone()
}

async fn shopify_order(c: &mut HttpClient, keys: &Keys) {
    let connection =
        json!({"shop_domain": "velo.myshopify.com", "access_token": "shpat_0", "webhook_secret": SHOPIFY_SECRET});
    let r = c.send("PUT", "/api/v1/integrations/shopify", Some(&keys.secret_key), body(&connection)).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let path = format!("{}/../integrations/tests/fixtures/shopify/orders_create.json", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(path).unwrap();
    let sig = hmac_sha256_base64(SHOPIFY_SECRET.as_bytes(), &raw);
    let headers = [
        ("content-type", "application/json"),
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-hmac-sha256", sig.as_str()),
        ("x-shopify-webhook-id", "w1"),
    ];
    let r = c.request("POST", &format!("/hooks/shopify/{}", keys.id), &headers, raw.into()).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
}

async fn orders_completed(c: &mut HttpClient, sk: &str) -> usize {
    let events = common::all_items(c, sk, "/api/v1/events").await;
    events.iter().filter(|e| e["event"] == "Order Completed").count()
}

#[tokio::test]
async fn the_cli_imports_contacts_orders_and_products_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let a = create_workspace(&dir, "CSV Shop");
    let b = create_workspace(&dir, "Webhook Shop");
    let files = tempfile::tempdir().unwrap();
    let contacts = write(files.path(), "contacts.csv", CONTACTS);
    let orders = write(files.path(), "orders.csv", ORDERS);
    let products = write(files.path(), "products.csv", PRODUCTS);

    let (ok, out, err) = import(&dir, &a.id, "contacts", &contacts);
    assert!(ok, "{out}\n{err}");
    assert_eq!(last_line(&out), "imported 2, rejected 2", "{out}");
    let report = rejected_report(&contacts);
    assert_eq!(report[0][10..], ["line", "column", "reason"], "the file's columns, then line, column, reason");
    assert_eq!(report[1][0], "not-an-email", "the original cells");
    assert_eq!(report[1][10..13], ["4", "Email", "\"not-an-email\" is not an email address"]);
    assert_eq!(report[2][10..12], ["5", "Email Consent"]);
    assert_eq!(report.len(), 3);
    let (ok, out, _) = import(&dir, &a.id, "orders", &orders);
    assert!(ok);
    assert_eq!(last_line(&out), "imported 2, rejected 1", "{out}");
    assert_eq!(rejected_report(&orders)[1][15..17], ["4", "Lineitem price"]);
    let (ok, out, _) = import(&dir, &a.id, "products", &products);
    assert!(ok);
    assert_eq!(last_line(&out), "imported 2, rejected 1", "{out}");
    assert_eq!(rejected_report(&products)[1][9..11], ["4", "Variant Price"]);

    // The same files again store nothing new.
    for (kind, file) in [("contacts", &contacts), ("orders", &orders)] {
        let (ok, out, _) = import(&dir, &a.id, kind, file);
        assert!(ok);
        assert!(out.starts_with("0 events stored"), "{kind} again: {out}");
    }
    let (ok, _, err) = import(&dir, "ws_nope", "contacts", &contacts);
    assert!(!ok && err.contains("no workspace ws_nope"), "{err}");
    let headerless = write(files.path(), "bad.csv", "Title,City\nx,y\n");
    let (ok, _, err) = import(&dir, &a.id, "contacts", &headerless);
    assert!(!ok && err.contains("needs an email, phone or customer id column"), "{err}");

    let mut s = TestServer::serve(&dir, None, a.clone(), &[], &[]);
    let mut c = s.client().await;
    let sk = &a.secret_key;
    let ann = contact(&mut c, sk, "ann@example.com").await;
    assert_eq!(ann["consent"]["email"]["status"], "subscribed", "{ann}");
    assert_eq!(ann["consent"]["email"]["source"], "checkout", "{ann}");
    assert!(ann["consent"]["email"]["updated_at"].as_str().unwrap().starts_with("2026-01-15T09:30:00"), "{ann}");
    assert_eq!(ann["consent"]["sms"]["status"], "subscribed", "{ann}");
    assert_eq!(
        (ann["traits"]["consent_ip"].clone(), ann["traits"]["loyalty_tier"].clone()),
        (json!("203.0.113.7"), json!("gold"))
    );
    assert_eq!(ann["phone"], "+358401234567");
    let bob = contact(&mut c, sk, "bob@example.com").await;
    assert_eq!(
        (bob["consent"]["email"]["status"].clone(), bob["consent"]["email"]["source"].clone()),
        (json!("unsubscribed"), json!("csv_import"))
    );
    let product = c.get("/api/v1/products/city-bike", sk).await.unwrap().json();
    assert_eq!(
        (product["title"].clone(), product["price"].clone(), product["compare_at_price"].clone()),
        (json!("City Bike"), json!(479.0), json!(549.0)),
        "{product}"
    );
    assert_eq!(product["inventory_quantity"], 3, "{product}");
    assert_eq!(c.get("/api/v1/products/lamp", sk).await.unwrap().status, 404, "a rejected product is not half-stored");
    assert_eq!(orders_completed(&mut c, sk).await, 1, "one order, imported twice");

    // The same order through Shopify's webhook, in another workspace: the same aggregates.
    shopify_order(&mut c, &b).await;
    let from_csv = contact(&mut c, sk, "jon@example.com").await["orders"].clone();
    let from_hook = contact(&mut c, &b.secret_key, "jon@example.com").await["orders"].clone();
    assert_eq!(from_csv, from_hook);
    assert_eq!(from_csv["count"], 1, "{from_csv}");

    // Importing the order the webhook brought, long after (past the message-id window), adds nothing: orders
    // already stored are recognised by their id.
    s.terminate();
    let (ok, out, _) = import(&dir, &b.id, "orders", &orders);
    assert!(ok);
    assert!(out.starts_with("0 events stored, 1 already stored"), "the webhook's order is recognised: {out}");
    s.restart();
    let mut c = s.client().await;
    assert_eq!(contact(&mut c, &b.secret_key, "jon@example.com").await["orders"], from_hook);
    assert_eq!(orders_completed(&mut c, &b.secret_key).await, 1);
}

#[tokio::test]
async fn an_upload_is_previewed_then_imported() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let csv = |text: &str| bytes::Bytes::from(text.to_string());
    let post = |path: &str| format!("/api/v1/imports/csv{path}");

    let r = c.send("POST", &post("/preview?kind=contacts"), Some(sk), Some(csv(CONTACTS))).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    let columns = v["columns"].as_array().unwrap();
    assert_eq!(columns[0], json!({"name": "Email", "maps_to": "email"}));
    assert_eq!(columns[9], json!({"name": "Loyalty Tier", "maps_to": "trait loyalty_tier"}));
    assert_eq!(v["rows"][0]["fields"]["email_consent"], "yes");
    assert_eq!(v["rows"][0]["rejected"], Value::Null);
    assert_eq!(v["rows"][2]["line"], 4);
    assert_eq!(v["rows"][2]["rejected"]["column"], "Email");

    for (path, field) in [("/preview", "kind"), ("?kind=nope", "kind"), ("?kind=orders", "columns")] {
        let r = c.send("POST", &post(path), Some(sk), Some(csv("Title\nx\n"))).await.unwrap();
        assert_eq!(r.status, 400, "{path}: {:?}", r.json());
        assert_eq!(r.json()["error"]["field"], field, "{path}");
    }

    let r = c.send("POST", &post("?kind=orders"), Some(sk), Some(csv(ORDERS))).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    assert_eq!((v["imported"].clone(), v["rejected"].clone()), (json!(2), json!(1)), "{v}");
    assert_eq!(
        v["rejected_rows"],
        json!([{"line": 4, "column": "Lineitem price", "reason": "-10 is negative; amounts are never negative"}])
    );
    let jon = contact(&mut c, sk, "jon@example.com").await;
    assert_eq!(
        (jon["orders"]["count"].clone(), jon["orders"]["total_spent"].clone()),
        (json!(1), json!(403.0)),
        "{jon}"
    );
    let again = c.send("POST", &post("?kind=orders"), Some(sk), Some(csv(ORDERS))).await.unwrap().json();
    assert_eq!((again["imported"].clone(), again["events_stored"].clone()), (json!(2), json!(0)), "{again}");
    let r = c.send("POST", &post("?kind=contacts"), Some(&s.keys.write_key), Some(csv(CONTACTS))).await.unwrap();
    assert_eq!(r.status, 403, "a write key cannot import");
}

/// VmHWM (peak resident memory) of a running process, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A file far larger than the memory the import may take: 200 000 rows of 600 bytes (about 120 MB). Rows
/// repeat 1 000 contacts, so the engine's own state stays small and what is measured is the reading.
#[test]
fn a_large_file_is_streamed_in_bounded_memory() {
    use std::io::Write;
    const ROWS: usize = 200_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let keys = create_workspace(&dir, "Big Shop");
    let path = dir.join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "email,first_name,note").unwrap();
    let pad = "x".repeat(560);
    for i in 0..ROWS {
        let n = i % 1_000;
        writeln!(f, "shopper{n}@example.com,Name{n},{pad}{n}").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();
    let started = std::time::Instant::now();
    let mut child = Command::new(BIN)
        .args(["import", "csv", "--kind", "contacts"])
        .arg(&path)
        .args(["--workspace", &keys.id, "--data-dir"])
        .arg(&dir)
        .env("KAIROS_LOG", "warn")
        .envs(backend_env(&dir))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak_rss(pid).unwrap_or(peak).max(peak);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(last_line(&stdout), format!("imported {ROWS}, rejected 0"), "{stdout}");
    eprintln!("{size} bytes imported in {:?}, peak resident memory {} MB", started.elapsed(), peak >> 20);
    assert!(peak > 0, "the child's memory was read");
    // An import of a 2 000-row file peaks near 60 MB (the runtime, the engine, SQLite); holding this file would
    // add its whole size.
    assert!(peak < size * 3 / 4, "peak {peak} bytes for a file of {size}: the file is not streamed");
}

/// The README's "Import a CSV" example: its file is `examples/contacts.csv` word for word, and the command prints
/// and writes what the README shows.
#[test]
fn the_readme_example_runs_as_shown() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/contacts.csv")).unwrap();
    assert!(readme.contains(&format!("```csv\n{example}```")), "the README shows examples/contacts.csv as it is");
    let tmp = tempfile::tempdir().unwrap();
    let keys = create_workspace(tmp.path(), "Readme Shop");
    let file = write(tmp.path(), "contacts.csv", &example);
    let (ok, out, err) = import(tmp.path(), &keys.id, "contacts", &file);
    assert!(ok, "{err}");
    let shown = out.replace(&file.display().to_string(), "examples/contacts.csv");
    assert!(readme.contains(&shown), "the README shows the output:\n{shown}");
    let report = std::fs::read_to_string(format!("{}.rejected.csv", file.display())).unwrap();
    assert!(
        readme.contains(&format!("$ cat examples/contacts.csv.rejected.csv\n{report}```")),
        "and the report:\n{report}"
    );
}

/// An erased person is not brought back by a CSV: their row is rejected with the reason, the others go in;
/// a row that gives consent after the erasure brings them back.
#[tokio::test]
async fn a_csv_does_not_bring_back_an_erased_person() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let sk = &s.keys.secret_key;
    let post = "/api/v1/imports/csv?kind=contacts";
    c.post_json("/api/v1/dev/clock", sk, &json!({"set": "2030-01-07T10:00:00Z"})).await.unwrap();
    let r = c.send("POST", post, Some(sk), Some(bytes::Bytes::from(CONTACTS))).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    let ann = contact(&mut c, sk, "ann@example.com").await;
    let id = ann["id"].as_str().map(str::to_string).unwrap_or_else(|| ann["id"].to_string());
    assert_eq!(c.send("DELETE", &format!("/api/v1/contacts/{id}"), Some(sk), None).await.unwrap().status, 200);

    let v = c.send("POST", post, Some(sk), Some(bytes::Bytes::from(CONTACTS))).await.unwrap().json();
    let rejected = v["rejected_rows"].as_array().unwrap();
    assert!(
        rejected.iter().any(|r| r["line"] == 2 && r["reason"] == "erased person (no new consent)"),
        "Ann's row is refused: {v}"
    );
    let items = c.get("/api/v1/contacts?email=ann@example.com", sk).await.unwrap().json();
    assert_eq!(items["items"], json!([]), "{items}");
    assert!(!contact(&mut c, sk, "bob@example.com").await.is_null(), "the other rows went in");

    // A consent dated after the erasure brings the person back (one without a date does not: Ann's row above
    // says SMS subscribed, undated).
    c.post_json("/api/v1/dev/clock", sk, &json!({"advance": "2h"})).await.unwrap();
    let csv = "Email,Email Consent,Email Consent At\nann@example.com,yes,2030-01-07T11:00:00Z\n";
    let v = c.send("POST", post, Some(sk), Some(bytes::Bytes::from(csv))).await.unwrap().json();
    assert_eq!(v["rejected"], json!(0), "{v}");
    let back = contact(&mut c, sk, "ann@example.com").await;
    assert_eq!(back["consent"]["email"]["status"], json!("subscribed"), "{back}");
}
