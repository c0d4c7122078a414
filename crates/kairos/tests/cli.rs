//! The `kairos` command line (SPEC 14): help texts, `workspace create --json`, clear failures, and a graceful
//! SIGTERM that keeps everything acknowledged.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, TestServer};
use kairos_bench::client::HttpClient;
use serde_json::{Value, json};

/// Runs `kairos ARGS` to completion, killing it (and failing) if it runs longer than `limit`.
fn run_with_limit(args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("KAIROS_DATA_DIR").env_remove("KAIROS_DATABASE_URL").env_remove("KAIROS_LISTEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn kairos");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "kairos {args:?} still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(args: &[&str]) -> Output {
    run_with_limit(args, &[], Duration::from_secs(30))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_of_every_command_exits_0_with_usage() {
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["--help"], "Usage: kairos", &["serve", "demo", "workspace", "bench"]),
        (&["help"], "Usage: kairos", &["serve", "demo", "workspace", "bench"]),
        (&["serve", "--help"], "Usage: kairos serve", &["--data-dir", "--listen", "--database-url", "--dev-clock"]),
        (&["demo", "--help"], "Usage: kairos demo", &["--data-dir", "--listen"]),
        (&["workspace", "--help"], "Usage: kairos workspace", &["create"]),
        (
            &["workspace", "create", "--help"],
            "Usage: kairos workspace create",
            &["--name", "--json", "--data-dir", "--database-url"],
        ),
        (&["bench", "--help"], "Usage: kairos bench", &["ingest", "segments", "flows", "render", "all"]),
    ];
    for (args, usage, mentions) in cases {
        let out = run(args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "kairos {args:?}: {}", text(&out.stderr));
        assert!(stdout.contains(usage), "kairos {args:?} prints {usage:?}:\n{stdout}");
        for m in *mentions {
            assert!(stdout.contains(m), "kairos {args:?} mentions {m}:\n{stdout}");
        }
    }
    // The env variables of SPEC 14 are documented where they apply.
    let serve = text(&run(&["serve", "--help"]).stdout);
    for env in ["KAIROS_DATA_DIR", "KAIROS_LISTEN", "KAIROS_DATABASE_URL"] {
        assert!(serve.contains(env), "serve --help mentions {env}:\n{serve}");
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version.stdout).starts_with("kairos "), "{}", text(&version.stdout));
}

#[test]
fn no_or_unknown_subcommand_fails_with_usage() {
    for args in [&[][..], &["frobnicate"][..], &["serve", "--no-such-flag"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "kairos {args:?}");
        assert!(text(&out.stderr).contains("Usage:"), "kairos {args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
}

fn create(dir: &std::path::Path, name: &str) -> (Output, Option<Value>) {
    let out = run(&["workspace", "create", "--name", name, "--data-dir", dir.to_str().unwrap(), "--json"]);
    let v = serde_json::from_slice(&out.stdout).ok();
    (out, v)
}

#[test]
fn workspace_create_json_prints_exactly_id_and_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (out1, v1) = create(tmp.path(), "Velo Shop");
    assert_eq!(out1.status.code(), Some(0), "{}", text(&out1.stderr));
    let stdout = text(&out1.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout:?}");
    let v1 = v1.expect("stdout is JSON");
    let obj = v1.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "secret_key", "write_key"]);
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} is a string: {v}")).to_string();
    assert!(s(&v1, "id").starts_with("ws_") && s(&v1, "id").len() > 3, "{v1}");
    assert!(s(&v1, "write_key").starts_with("wk_") && s(&v1, "write_key").len() >= 16, "{v1}");
    assert!(s(&v1, "secret_key").starts_with("sk_") && s(&v1, "secret_key").len() >= 16, "{v1}");
    assert_ne!(s(&v1, "write_key"), s(&v1, "secret_key"));

    let (out2, v2) = create(tmp.path(), "Velo Shop");
    assert_eq!(out2.status.code(), Some(0), "{}", text(&out2.stderr));
    let v2 = v2.expect("stdout is JSON");
    for k in ["id", "write_key", "secret_key"] {
        assert_ne!(s(&v1, k), s(&v2, k), "two workspaces never share {k}");
    }

    // Without --json: human-readable, and the keys are printed.
    let out3 = run(&["workspace", "create", "--name", "Plain", "--data-dir", tmp.path().to_str().unwrap()]);
    assert_eq!(out3.status.code(), Some(0));
    let plain = text(&out3.stdout);
    assert!(serde_json::from_str::<Value>(&plain).is_err(), "{plain}");
    assert!(plain.contains("wk_") && plain.contains("sk_") && plain.contains("ws_"), "{plain}");

    // KAIROS_DATA_DIR works like --data-dir (SPEC 14).
    let env_dir = tempfile::tempdir().unwrap();
    let out4 = run_with_limit(
        &["workspace", "create", "--name", "Env", "--json"],
        &[("KAIROS_DATA_DIR", env_dir.path().to_str().unwrap())],
        Duration::from_secs(30),
    );
    assert_eq!(out4.status.code(), Some(0), "{}", text(&out4.stderr));
    assert!(std::fs::read_dir(env_dir.path()).unwrap().next().is_some(), "the database went into KAIROS_DATA_DIR");
}

#[tokio::test]
async fn created_workspace_keys_work_against_the_server() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let r = c.get("/api/v1/contacts", &s.keys.secret_key).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json(), json!({"items": [], "next_cursor": null}));
    let r = c.post_json("/v1/track", &s.keys.write_key, &json!({"userId": "u", "event": "E"})).await.unwrap();
    assert_eq!(r.status, 200);
    let r = c.get("/api/v1/contacts", &s.keys.write_key).await.unwrap();
    assert_eq!(r.status, 403, "the write key is a write key");
}

#[test]
fn workspace_create_rejects_an_empty_name() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["", "   "] {
        let (out, _) = create(tmp.path(), name);
        assert_ne!(out.status.code(), Some(0), "--name {name:?} must fail");
        assert!(out.status.code().is_some(), "exited, not killed");
        let err = text(&out.stderr);
        assert!(err.contains("--name"), "the message names the option: {err}");
        assert!(out.stdout.is_empty(), "no keys printed: {}", text(&out.stdout));
    }
    let out = run(&["workspace", "create", "--data-dir", tmp.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "--name is required");
    assert!(text(&out.stderr).contains("--name"));
}

#[test]
fn serve_with_an_unreachable_or_unsupported_database_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_with_limit(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "--database-url",
            "postgres://x",
        ],
        &[("KAIROS_LOG", "warn")],
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c != 0), "non-zero exit: {:?} {err}", out.status);
    assert!(err.contains("cannot connect to PostgreSQL at x:5432"), "the message names the server: {err}");
    assert!(!text(&out.stdout).contains("listening on"), "it never listened");
    // Through the environment too.
    let out = run_with_limit(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", tmp.path().to_str().unwrap()],
        &[("KAIROS_DATABASE_URL", "mysql://y"), ("KAIROS_LOG", "warn")],
        Duration::from_secs(30),
    );
    assert!(out.status.code().is_some_and(|c| c != 0));
    assert!(text(&out.stderr).contains("unsupported database url \"mysql://y\""), "{}", text(&out.stderr));
}

#[test]
fn serve_on_a_busy_address_fails_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = run_with_limit(
        &["serve", "--listen", &addr, "--data-dir", tmp.path().to_str().unwrap()],
        &[("KAIROS_LOG", "warn")],
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a clean error exit, not a panic: {err}");
    assert!(err.contains(&addr), "the message names the address: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bench_render_and_send_print_their_figures() {
    let out =
        run_with_limit(&["bench", "render", "--messages", "2000"], &[("KAIROS_LOG", "warn")], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "bench render: {}", text(&out.stderr));
    assert!(stdout.contains("renders/s") && stdout.contains("p99"), "bench render: {stdout}");
    let args = ["bench", "send", "--messages", "300", "--dkim"];
    let out = run_with_limit(&args, &[("KAIROS_LOG", "warn")], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "bench send: {}", text(&out.stderr));
    assert!(stdout.contains("messages/s") && stdout.contains("300 accepted, 0 failed"), "bench send: {stdout}");
    let out = run(&["bench", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_segments_prints_its_figures() {
    let out = run_with_limit(
        &["bench", "segments", "--contacts", "20000"],
        &[("KAIROS_LOG", "warn")],
        Duration::from_secs(120),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for figure in ["full evaluation:", "incremental update per event:", "bytes per contact"] {
        assert!(stdout.contains(figure), "missing {figure}: {stdout}");
    }
}

async fn lookup(c: &mut HttpClient, key: &str, query: &str) -> Value {
    let r = c.get(&format!("/api/v1/contacts?{query}"), key).await.unwrap();
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    r.json()["items"][0].clone()
}

#[tokio::test]
async fn sigterm_exits_0_and_the_data_survives_a_restart() {
    let mut s = TestServer::start();
    let (wk, sk) = (s.keys.write_key.clone(), s.keys.secret_key.clone());
    let mut c = s.client().await;
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.push(json!({"type": "track", "userId": format!("u{}", i % 20), "event": "Product Viewed",
                          "messageId": format!("m-{i}"), "timestamp": "2026-11-01T10:00:00Z",
                          "properties": {"product_id": format!("p{}", i % 7), "price": 10}}));
    }
    let r = c.post_json("/v1/batch", &wk, &json!({ "batch": batch })).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c
        .post_json(
            "/v1/identify",
            &wk,
            &json!({"userId": "u3", "traits": {"email": "u3@example.com", "first_name": "Kai"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = c.put_json("/api/v1/products/cat-1", &sk, &json!({"title": "Catalog", "price": 9.5})).await.unwrap();
    assert_eq!(r.status, 200);
    let before = lookup(&mut c, &sk, "user_id=u3").await;
    let product_before = c.get("/api/v1/products/cat-1", &sk).await.unwrap().json();
    drop(c);

    let status = s.terminate();
    assert_eq!(status.code(), Some(0), "graceful exit on SIGTERM: {status:?}");

    s.restart();
    let mut c = s.client().await;
    let after = lookup(&mut c, &sk, "email=u3%40example.com").await;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["traits"]["first_name"], "Kai");
    assert_eq!(after, before, "the whole profile survives");
    let r = c.get("/api/v1/events?limit=1000", &sk).await.unwrap();
    let events = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(events.len(), 201, "every acknowledged event is there once");
    let r = c.get("/api/v1/contacts?limit=1000", &sk).await.unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 20);
    assert_eq!(c.get("/api/v1/products/cat-1", &sk).await.unwrap().json(), product_before);
    let r = c.get("/api/v1/products?limit=1000", &sk).await.unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 8, "p0..p6 learned from events, plus cat-1");

    // Re-sending the same message ids after the restart stores nothing twice.
    let r = c.post_json("/v1/batch", &wk, &json!({ "batch": batch })).await.unwrap();
    assert_eq!(r.status, 200);
    let r = c.get("/api/v1/events?limit=1000", &sk).await.unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 201);

    // And a second graceful stop works as well.
    drop(c);
    assert_eq!(s.terminate().code(), Some(0));
}

#[test]
fn bench_flows_prints_its_figures() {
    let out =
        run_with_limit(&["bench", "flows", "--contacts", "500"], &[("KAIROS_LOG", "warn")], Duration::from_secs(120));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for figure in
        ["event -> send decision", "restart with 500 waiting runs", "to load and resume", "step transitions/s"]
    {
        assert!(stdout.contains(figure), "missing {figure}: {stdout}");
    }
}
