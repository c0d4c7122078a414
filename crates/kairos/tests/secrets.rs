//! Secrets live in the store, encrypted under a master key from the environment or a key file (issue 11): links
//! and webhook signatures survive restarts and are shared by every node with the same key, a wrong key stops the
//! server, what older builds kept in plain text is moved in, and the database holds no plaintext secret.

mod common;
#[path = "../../channels/tests/support/mod.rs"]
mod support;

use std::path::Path;

use base64::Engine as _;
use common::{Keys, Recorder, TestServer, create_workspace, serve_refused, wait_status};
use kairos_bench::client::HttpClient;
use kairos_engine::links::{Link, LinkKey};
use kairos_store::Store;
use serde_json::{Value, json};

/// The link key of an older data directory (its `link-key` file), recognisable in a database dump.
fn old_link_key() -> [u8; 32] {
    std::array::from_fn(|i| 0xC3 ^ (i as u8).wrapping_mul(37))
}

const LEGACY_WEBHOOK_SECRET: &str = "whsec_legacy_plaintext_5d1e0c7a9b";

fn base64_key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// A transactional email with a tracked link for `Checkout Started`, a webhook to `hook` for `Order Completed`.
async fn flows(c: &mut HttpClient, sk: &str, hook: &str) {
    let tpl = json!({"id": "cart", "channel": "email", "subject": "Your cart",
        "html": "<html><body><a href=\"https://shop.example/p1\">Lamp</a></body></html>"});
    assert_eq!(c.post_json("/api/v1/templates", sk, &tpl).await.unwrap().status, 201);
    for (name, event, step) in [
        (
            "Cart",
            "Checkout Started",
            json!({"id": "mail", "type": "send", "channel": "email", "template": "cart", "transactional": true}),
        ),
        ("ERP", "Order Completed", json!({"id": "call", "type": "webhook", "url": hook})),
    ] {
        let f = json!({"name": name, "trigger": {"type": "event", "event": event}, "entry": {"reentry": "always"},
            "steps": [step]});
        let r = c.post_json("/api/v1/flows", sk, &f).await.unwrap();
        assert_eq!(r.status, 201, "{:?}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert_eq!(c.post_json(&format!("/api/v1/flows/{id}/activate"), sk, &json!({})).await.unwrap().status, 200);
    }
}

/// `user` checks out (an email with a click link) and orders (a webhook call).
async fn shop(c: &mut HttpClient, wk: &str, user: &str) {
    let email = format!("{user}@example.com");
    for body in [
        json!({"type": "identify", "userId": user, "traits": {"email": email}}),
        json!({"type": "track", "userId": user, "event": "Checkout Started"}),
        json!({"type": "track", "userId": user, "event": "Order Completed", "properties": {"order_id": user}}),
    ] {
        let path = format!("/v1/{}", body["type"].as_str().unwrap());
        assert_eq!(c.post_json(&path, wk, &body).await.unwrap().status, 200);
    }
}

/// The path of the click link in the email sent to `user`.
async fn click_path(c: &mut HttpClient, sk: &str, user: &str) -> String {
    let m = wait_status(c, sk, &format!("{user}@example.com"), "sent").await;
    let html = m["html"].as_str().unwrap();
    let token = html.split("/c/").nth(1).expect("a click link").split('"').next().unwrap();
    format!("/c/{token}")
}

async fn follow(c: &mut HttpClient, path: &str) -> (u16, Option<String>) {
    let r = c.request("GET", path, &[("user-agent", "Mozilla/5.0")], Default::default()).await.unwrap();
    (r.status, r.header("location").map(str::to_string))
}

async fn webhook_secret(c: &mut HttpClient, sk: &str) -> Value {
    let r = c.get("/api/v1/settings", sk).await.unwrap();
    assert_eq!(r.status, 200);
    r.json()["webhook_secret"].clone()
}

/// The database's bytes (file and write-ahead log), read while no server holds it open.
fn database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A data directory written by an older build (the link key in a `link-key` file, the webhook secret in the
/// settings) keeps signing with the same keys once they move into the store: a link signed by the old key still
/// redirects after a restart, and neither secret is left in plain text in the directory or the database.
#[tokio::test]
async fn an_older_sqlite_data_directory_moves_its_secrets_into_the_store_and_its_links_keep_working() {
    let hook = Recorder::start(|_, _| (200, "{}".into())).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let keys = create_workspace(&dir, "Old Shop");
    std::fs::write(dir.join("link-key"), old_link_key()).unwrap();
    {
        let store = kairos_store_sqlite::SqliteStore::open(&dir).unwrap();
        let ws = store.workspaces().unwrap()[0].0;
        let mut w = store.writer().unwrap();
        let mut tx = w.transaction().unwrap();
        let old = json!({"webhook_secret": LEGACY_WEBHOOK_SECRET, "store": {"name": "Velo"}});
        tx.save_workspace_settings(ws, &old.to_string()).unwrap();
        tx.commit().unwrap();
    }
    std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap();
    let mut s = TestServer::serve(&dir, Some(tmp), keys.clone(), &[], &[]);

    assert!(!dir.join("link-key").exists(), "the old link key file is removed once the key is in the store");
    let key_file = dir.join("secret-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600, "a private key file");
    }
    let mut c = s.client().await;
    let (wk, sk) = (keys.write_key.as_str(), keys.secret_key.as_str());
    assert_eq!(webhook_secret(&mut c, sk).await, json!(LEGACY_WEBHOOK_SECRET), "GET still shows it");
    let settings = c.get("/api/v1/settings", sk).await.unwrap().json();
    assert_eq!(settings["store"]["name"], "Velo", "the other settings stay");

    flows(&mut c, sk, &format!("http://{}/erp", hook.addr)).await;
    shop(&mut c, wk, "ann").await;
    let click = click_path(&mut c, sk, "ann").await;
    let token = click.trim_start_matches("/c/");
    assert!(
        matches!(LinkKey(old_link_key()).verify(token), Some(Link::Click { .. })),
        "links are signed with the imported key, so links in mail sent before keep working"
    );
    let call = &hook.wait_for(1).await[0];
    let sig = call.header("x-kairos-signature").expect("signed");
    assert!(kairos_channels::verify_webhook_signature(LEGACY_WEBHOOK_SECRET, sig, &call.body), "{sig}");

    s.terminate();
    let bytes = database_bytes(&dir.join("kairos.db"));
    assert!(!contains(&bytes, &old_link_key()), "the link key is stored encrypted only");
    assert!(!contains(&bytes, LEGACY_WEBHOOK_SECRET.as_bytes()), "the webhook secret is stored encrypted only");
    let master = std::fs::read_to_string(&key_file).unwrap();
    assert!(!contains(&bytes, master.trim().as_bytes()), "the master key never enters the database");

    s.restart();
    let mut c = s.client().await;
    assert_eq!(follow(&mut c, &click).await, (302, Some("https://shop.example/p1".to_string())));
    assert_eq!(webhook_secret(&mut c, sk).await, json!(LEGACY_WEBHOOK_SECRET));
    // A secret set through the API is stored like a generated one: encrypted, and null goes back to generated.
    let put = c.put_json("/api/v1/settings", sk, &json!({"webhook_secret": "whsec_set_by_the_api_77"})).await.unwrap();
    assert_eq!((put.status, put.json()["webhook_secret"].clone()), (200, json!("whsec_set_by_the_api_77")));
    let short = c.put_json("/api/v1/settings", sk, &json!({"webhook_secret": "short"})).await.unwrap();
    assert_eq!((short.status, short.json()["error"]["field"].clone()), (400, json!("webhook_secret")));
    s.terminate();
    assert!(!contains(&database_bytes(&dir.join("kairos.db")), b"whsec_set_by_the_api_77"));
    s.restart();
    let mut c = s.client().await;
    assert_eq!(webhook_secret(&mut c, sk).await, json!("whsec_set_by_the_api_77"));
    let reset = c.put_json("/api/v1/settings", sk, &json!({"webhook_secret": null})).await.unwrap();
    let new = reset.json()["webhook_secret"].as_str().expect("a new secret, answered").to_string();
    assert!(new.starts_with("whsec_") && new != "whsec_set_by_the_api_77", "{new}");
    assert_eq!(webhook_secret(&mut c, sk).await, json!(new), "kept");
}

/// Two nodes on one database with the same master key (from the environment): the second verifies the first's
/// links and signs webhook calls with the secret the first generated; each reads its own `kairos.toml`.
#[tokio::test]
async fn a_second_node_on_one_sqlite_file_with_the_same_master_key_shares_links_and_webhook_secrets() {
    let hook = Recorder::start(|_, _| (200, "{}".into())).await;
    let (tmp_a, tmp_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (dir_a, dir_b) = (tmp_a.path().to_path_buf(), tmp_b.path().to_path_buf());
    for (dir, node) in [(&dir_a, "node-a"), (&dir_b, "node-b")] {
        let toml =
            format!("[email]\npublic_url = \"http://{node}.example\"\n[network]\noutbound_allow = [\"127.0.0.1\"]\n");
        std::fs::write(dir.join("kairos.toml"), toml).unwrap();
    }
    let keys: Keys = create_workspace(&dir_a, "Shared Shop");
    let env = [("KAIROS_SECRET_KEY", base64_key(0x42))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = TestServer::serve(&dir_a, Some(tmp_a), keys.clone(), &[], &env);
    assert!(!dir_a.join("secret-key").exists(), "a key from the environment writes no key file");
    let (wk, sk) = (keys.write_key.as_str(), keys.secret_key.as_str());

    let mut ca = a.client().await;
    flows(&mut ca, sk, &format!("http://{}/erp", hook.addr)).await;
    shop(&mut ca, wk, "ann").await;
    let click = click_path(&mut ca, sk, "ann").await;
    hook.wait_for(1).await;
    let secret = webhook_secret(&mut ca, sk).await;
    let secret = secret.as_str().expect("generated at the first webhook call").to_string();

    // Node B: the same database, its own data directory and kairos.toml, the same key.
    let db = format!("sqlite:{}", dir_a.join("kairos.db").display());
    let b = TestServer::serve(&dir_b, Some(tmp_b), keys.clone(), &["--database-url", &db], &env);
    let mut cb = b.client().await;
    assert_eq!(follow(&mut cb, &click).await, (302, Some("https://shop.example/p1".to_string())), "A's link");
    assert_eq!(webhook_secret(&mut cb, sk).await, json!(secret));
    shop(&mut cb, wk, "bo").await;
    let calls = hook.wait_for(2).await;
    for (call, order) in calls.iter().zip(["ann", "bo"]) {
        assert_eq!(call.json()["event"]["order_id"], order);
        let sig = call.header("x-kairos-signature").expect("signed");
        assert!(kairos_channels::verify_webhook_signature(&secret, sig, &call.body), "{order}: {sig}");
    }
    let m = wait_status(&mut cb, sk, "bo@example.com", "sent").await;
    assert!(m["html"].as_str().unwrap().contains("http://node-b.example/c/"), "B's own kairos.toml: {m}");
    assert!(!dir_b.join("secret-key").exists() && !dir_b.join("kairos.db").exists(), "B keeps no copy");
}

/// A master key that does not open the stored secrets stops the server with a message naming the key, and so
/// does a missing key once secrets exist: it never makes new secrets that would invalidate links already sent.
#[tokio::test]
async fn a_wrong_or_missing_master_key_stops_a_sqlite_server() {
    let (mut s, dir) = stopped_server_with_a_contact().await;

    let err = serve_refused(&dir, &[], &[("KAIROS_SECRET_KEY", &base64_key(7))]);
    assert!(err.contains("wrong master key: KAIROS_SECRET_KEY does not decrypt"), "{err}");
    let err = serve_refused(&dir, &[], &[("KAIROS_SECRET_KEY", "not-a-key")]);
    assert!(err.contains("KAIROS_SECRET_KEY must be 32 bytes in base64"), "{err}");

    let moved = dir.join("kept-elsewhere.key");
    std::fs::rename(dir.join("secret-key"), &moved).unwrap();
    let err = serve_refused(&dir, &[], &[]);
    assert!(err.contains("holds encrypted secrets but no master key was given"), "{err}");
    assert!(!dir.join("secret-key").exists(), "no new key is made beside existing secrets");
    let other = dir.join("other.key");
    std::fs::write(&other, format!("{}\n", base64_key(9))).unwrap();
    let err = serve_refused(&dir, &["--secret-key-file", other.to_str().unwrap()], &[]);
    assert!(err.contains(&format!("wrong master key: the key file {}", other.display())), "{err}");

    // The right key, from a file named by the flag, serves the same data.
    s.restart_with(&["--secret-key-file", moved.to_str().unwrap()], &[]);
    let mut c = s.client().await;
    let r = c.get("/api/v1/contacts?limit=5", &s.keys.secret_key).await.unwrap();
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
}

/// The DKIM key named in kairos.toml is stored (encrypted) at start; a node without the file signs with it.
#[tokio::test]
async fn a_node_without_the_dkim_file_signs_with_the_key_stored_in_sqlite() {
    let sink = support::SmtpSink::start(support::SinkOptions::default());
    let port = sink.port;
    let (pem, txt) = support::dkim_test_key();
    let mut s = TestServer::start_with(|dir| {
        std::fs::write(dir.join("dkim.pem"), &pem).unwrap();
        std::fs::write(
            dir.join("kairos.toml"),
            format!(
                "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
                 from = \"Velo Shop <shop@velo.example>\"\n[email.dkim]\ndomain = \"velo.example\"\n\
                 selector = \"k1\"\nprivate_key_file = \"dkim.pem\"\n"
            ),
        )
        .unwrap();
    });
    s.terminate();
    std::fs::remove_file(s.dir.join("dkim.pem")).unwrap();
    let pem_line = pem.lines().nth(1).expect("a base64 line of the key");
    assert!(!contains(&database_bytes(&s.dir.join("kairos.db")), pem_line.as_bytes()), "stored encrypted");

    s.restart();
    let mut c = s.client().await;
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    flows(&mut c, &sk, "https://erp.example/hook").await;
    shop(&mut c, &wk, "ann").await;
    let mail = &sink.wait_for(1)[0];
    assert!(support::dkim_verify(&mail.path, &txt), "signed with the stored key");
}

/// On PostgreSQL (a shared database) the master key must be given: none, or one that does not open the stored
/// secrets, stops the server with a message saying so; the right key serves the same data. (Skipped on SQLite,
/// where `a_wrong_or_missing_master_key_stops_a_sqlite_server` covers the embedded key file.)
#[tokio::test]
async fn a_shared_database_needs_the_right_master_key() {
    if !common::postgres_mode() {
        eprintln!("on SQLite, a_wrong_or_missing_master_key_stops_a_sqlite_server covers this");
        return;
    }
    let (mut s, dir) = stopped_server_with_a_contact().await;
    // The harness keeps this node's key in the data directory; without it nothing else names one.
    let kept = dir.join("kept-elsewhere.key");
    std::fs::rename(dir.join("secret-key"), &kept).unwrap();
    let err = serve_refused(&dir, &[], &[]);
    assert!(err.contains("a shared database needs a master key"), "{err}");
    assert!(!dir.join("secret-key").exists(), "a shared database never gets a key made up");
    let err = serve_refused(&dir, &[], &[("KAIROS_SECRET_KEY", &base64_key(7))]);
    assert!(err.contains("wrong master key: KAIROS_SECRET_KEY does not decrypt"), "{err}");
    s.restart_with(&["--secret-key-file", kept.to_str().unwrap()], &[]);
    let mut c = s.client().await;
    let r = c.get("/api/v1/contacts?limit=5", &s.keys.secret_key).await.unwrap();
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
}

/// A server that stored a contact (and with it its secrets), stopped: its data directory.
async fn stopped_server_with_a_contact() -> (TestServer, std::path::PathBuf) {
    let mut s = TestServer::start();
    let mut c = s.client().await;
    let wk = s.keys.write_key.clone();
    c.post_json("/v1/identify", &wk, &json!({"userId": "u1", "traits": {"email": "u1@example.com"}})).await.unwrap();
    s.terminate();
    let dir = s.dir.clone();
    (s, dir)
}

/// Issue 18: the README sends the admin to `GET /api/v1/settings` for the webhook signing secret, so a workspace
/// that has none yet is shown one there (made once, whoever asks first), and webhook calls sign with it.
#[tokio::test]
async fn the_signing_secret_is_shown_before_the_first_webhook_call_and_signs_it() {
    let hook = Recorder::start(|_, _| (200, "{}".into())).await;
    let s = TestServer::start_with(|dir| {
        std::fs::write(dir.join("kairos.toml"), "[network]\noutbound_allow = [\"127.0.0.1\"]\n").unwrap();
    });
    let (wk, sk) = (s.keys.write_key.as_str(), s.keys.secret_key.as_str());
    let (mut c1, mut c2) = (s.client().await, s.client().await);
    let (a, b) = tokio::join!(webhook_secret(&mut c1, sk), webhook_secret(&mut c2, sk));
    let secret = a.as_str().expect("a secret before any webhook call").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(b, a, "two first reads at once are shown the same secret");
    assert_eq!(webhook_secret(&mut c1, sk).await, a, "kept");
    flows(&mut c1, sk, &format!("http://{}/erp", hook.addr)).await;
    shop(&mut c1, wk, "ann").await;
    let call = &hook.wait_for(1).await[0];
    let sig = call.header("x-kairos-signature").expect("signed");
    assert!(kairos_channels::verify_webhook_signature(&secret, sig, &call.body), "{sig}");
}
