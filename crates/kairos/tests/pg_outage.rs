//! A node on PostgreSQL survives the database going away (issue 12): while it is down, requests (and
//! `GET /healthz`) answer 503 with `Retry-After` and nothing is acknowledged; once it is back the node goes on by itself, and every event it
//! acknowledged before, during and after the outage is stored exactly once.
//!
//! The test runs its own throwaway cluster (`scripts/pg.sh`), since it stops the server.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use kairos_bench::client::HttpClient;
use serde_json::json;

/// How long the node may take to accept writes again once the database is back.
const RECOVERY_MAX: Duration = Duration::from_secs(20);

fn pg(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
    // Durable (fsync, synchronous_commit): an immediate stop must lose nothing that was committed.
    let out =
        Command::new("bash").arg(script).args(args).env("KAIROS_PG_DURABLE", "1").output().expect("run scripts/pg.sh");
    assert!(out.status.success(), "pg.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Stops the cluster when the test ends, however it ends.
struct Cluster(String);

impl Drop for Cluster {
    fn drop(&mut self) {
        pg(&["stop", &self.0]);
    }
}

async fn track(c: &mut HttpClient, wk: &str, id: &str) -> (u16, Option<String>) {
    let body = json!({"userId": "ann", "event": "Product Viewed", "messageId": id, "properties": {"n": id}});
    match c.post_json("/v1/track", wk, &body).await {
        Ok(r) => (r.status, r.header("retry-after").map(str::to_string)),
        Err(_) => (0, None),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_answers_503_while_postgres_is_away_and_recovers_by_itself() {
    let pg_dir = tempfile::tempdir().unwrap();
    let cluster_dir = pg_dir.path().join("cluster");
    let env = pg(&["start", cluster_dir.to_str().unwrap()]);
    let _cluster = Cluster(cluster_dir.to_str().unwrap().to_string());
    let server = env
        .lines()
        .find_map(|l| l.strip_prefix("export KAIROS_TEST_DATABASE_URL="))
        .expect("pg.sh prints the url")
        .to_string();
    let db = kairos_store_postgres::testing::TestDatabase::create(&server).unwrap().keep();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let key: [u8; 32] = rand::random();
    std::fs::write(dir.join("secret-key"), key.iter().map(|b| format!("{b:02x}")).collect::<String>()).unwrap();
    let url_env = [("KAIROS_DATABASE_URL", db.as_str())];
    // The workspace is made on this test's own database (the suite's helper would use the suite's backend).
    let keys = {
        let out = Command::new(common::BIN)
            .args(["workspace", "create", "--name", "Shop", "--json", "--data-dir"])
            .arg(&dir)
            .env("KAIROS_DATABASE_URL", &db)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        common::Keys {
            id: v["id"].as_str().unwrap().into(),
            write_key: v["write_key"].as_str().unwrap().into(),
            secret_key: v["secret_key"].as_str().unwrap().into(),
        }
    };
    let s = TestServer::serve(&dir, Some(tmp), keys.clone(), &[], &url_env);
    let (wk, sk) = (keys.write_key.as_str(), keys.secret_key.as_str());
    let mut c = s.client().await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let id = format!("before-{i}");
        assert_eq!(track(&mut c, wk, &id).await.0, 200);
        acknowledged.push(id);
    }

    // The database goes away: nothing is acknowledged, and the answer says when to retry.
    pg(&["down", cluster_dir.to_str().unwrap()]);
    let mut refused = 0;
    for i in 0..10 {
        let id = format!("during-{i}");
        let mut c = s.client().await;
        match track(&mut c, wk, &id).await {
            (200, _) => acknowledged.push(id),
            (503, retry) => {
                assert_eq!(retry.as_deref(), Some("1"), "a 503 says when to retry");
                refused += 1;
            }
            (status, _) => panic!("unexpected status {status} while the database is away"),
        }
    }
    assert!(refused >= 9, "requests are refused while the database is away ({refused} of 10)");
    // The health check says so too (a load balancer sends traffic elsewhere).
    let health = s.client().await.get("/healthz", "").await.unwrap();
    assert_eq!((health.status, health.header("retry-after")), (503, Some("1")), "{:?}", health.json());

    // It comes back: the node accepts writes again without a restart.
    pg(&["up", cluster_dir.to_str().unwrap()]);
    let back = Instant::now();
    let mut n = 0;
    loop {
        let id = format!("after-{n}");
        let mut c = s.client().await;
        if track(&mut c, wk, &id).await.0 == 200 {
            acknowledged.push(id);
            break;
        }
        assert!(back.elapsed() < RECOVERY_MAX, "the node did not recover within {RECOVERY_MAX:?}");
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(s.client().await.get("/healthz", "").await.unwrap().status, 200, "healthy again");
    for i in 0..20 {
        let id = format!("later-{i}");
        assert_eq!(track(&mut s.client().await, wk, &id).await.0, 200);
        acknowledged.push(id);
    }

    // Every acknowledged event is stored, once.
    let mut c = s.client().await;
    let items = common::all_items(&mut c, sk, "/api/v1/events?limit=100").await;
    let mut stored: Vec<String> = items.iter().filter_map(|e| e["message_id"].as_str().map(str::to_string)).collect();
    stored.sort();
    acknowledged.sort();
    assert_eq!(stored, acknowledged);
}
