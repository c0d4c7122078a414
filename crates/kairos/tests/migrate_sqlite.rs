//! `kairos migrate` from a SQLite data directory to PostgreSQL (issue 12): the copy is verified, a second run is
//! harmless, and a server on the new database answers as the old one did (with the same master key).
//! The file's name says sqlite: it always starts from an embedded store, whatever backend the suite runs on.

mod common;

use std::process::Command;

use common::{BIN, TestServer};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

fn migrate(from: &str, to: &str) -> (bool, String, String) {
    let out = Command::new(BIN).args(["migrate", "--from", from, "--to", to]).output().expect("run kairos migrate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

async fn snapshot(c: &mut HttpClient, sk: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in ["/api/v1/contacts?limit=100", "/api/v1/segments", "/api/v1/events?limit=100", "/api/v1/flows"] {
        let r = c.get(path, sk).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {:?}", r.json());
        out.push(r.json());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_migrates_to_postgres_verified_and_twice_harmlessly() {
    let server = kairos_store_postgres::testing::test_server_url().expect("KAIROS_TEST_DATABASE_URL is set");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sqlite");
    std::fs::create_dir_all(&dir).unwrap();
    // An embedded store, whatever backend the rest of the suite runs on.
    let keys = {
        let out = Command::new(BIN)
            .args(["workspace", "create", "--name", "Shop", "--json", "--data-dir"])
            .arg(&dir)
            .env_remove("KAIROS_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        common::Keys {
            id: v["id"].as_str().unwrap().into(),
            write_key: v["write_key"].as_str().unwrap().into(),
            secret_key: v["secret_key"].as_str().unwrap().into(),
        }
    };
    let (wk, sk) = (keys.write_key.clone(), keys.secret_key.clone());
    let mut s = TestServer::serve(&dir, None, keys.clone(), &[], &[]);
    let mut c = s.client().await;
    for (i, user) in ["ann", "bob", "cid"].iter().enumerate() {
        let body = json!({"batch": [
            {"type": "identify", "userId": user, "traits": {"email": format!("{user}@example.com"), "email_consent": "subscribed"}},
            {"type": "track", "userId": user, "event": "Order Completed", "properties": {"order_id": format!("o{i}"), "total": 40 * (i + 1)}}]});
        assert_eq!(c.post_json("/v1/batch", &wk, &body).await.unwrap().status, 200);
    }
    let r = c
        .post_json("/api/v1/segments", &sk, &json!({"name": "Buyers over 50", "definition": "orders.total_spent > 50"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let r = c.post_json("/api/v1/flows/library/welcome_series/install", &sk, &json!({})).await.unwrap();
    assert!(r.status == 201 || r.status == 200, "{:?}", r.json());
    let before = snapshot(&mut c, &sk).await;
    drop(c);
    s.terminate();

    let db = kairos_store_postgres::testing::TestDatabase::create(&server).unwrap();
    let (ok, out, err) = migrate(dir.to_str().unwrap(), &db.url);
    assert!(ok, "migrate failed: {err}");
    assert!(out.contains("counts and checksums match"), "{out}");
    let (ok, out, err) = migrate(dir.to_str().unwrap(), &db.url);
    assert!(ok && out.contains("counts and checksums match"), "a second run is harmless: {out} {err}");
    // A directory that holds no store is refused, naming it.
    let (ok, _, err) = migrate(tmp.path().join("nothing").to_str().unwrap(), &db.url);
    assert!(!ok && err.contains("has no Kairos database"), "{err}");

    // A node on the new database, with the old master key, answers the same.
    let node_dir = tmp.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let key_file = dir.join("secret-key");
    let env = [("KAIROS_DATABASE_URL", db.url.as_str()), ("KAIROS_SECRET_KEY_FILE", key_file.to_str().unwrap())];
    let node = TestServer::serve(&node_dir, None, keys, &[], &env);
    let mut c = node.client().await;
    assert_eq!(snapshot(&mut c, &sk).await, before);
    // And goes on: new ids do not collide with the copied ones.
    let r = c.post_json("/api/v1/segments", &sk, &json!({"name": "Everyone", "definition": "orders.count >= 0"})).await;
    assert_eq!(r.unwrap().status, 201);
    let body = json!({"userId": "dan", "event": "Order Completed", "properties": {"order_id": "o9", "total": 5}});
    assert_eq!(c.post_json("/v1/track", &wk, &body).await.unwrap().status, 200);
}
