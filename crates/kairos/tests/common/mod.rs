//! Test harness: runs the real `kairos` binary on 127.0.0.1:0 with a temporary data directory.
#![allow(dead_code)] // each test file uses part of the harness

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use kairos_bench::client::HttpClient;
use serde_json::Value;

pub mod shopify;

pub const BIN: &str = env!("CARGO_BIN_EXE_kairos");

#[derive(Debug, Clone)]
pub struct Keys {
    pub id: String,
    pub write_key: String,
    pub secret_key: String,
}

/// Whether the suite runs on PostgreSQL (`KAIROS_TEST_BACKEND=postgres`, with the server
/// `KAIROS_TEST_DATABASE_URL` names); otherwise on SQLite in each data directory. `./test.sh` runs it both ways.
pub fn postgres_mode() -> bool {
    std::env::var("KAIROS_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Marks where a data directory's PostgreSQL database is recorded.
const DATABASE_URL_FILE: &str = ".test-database-url";

/// The environment every `kairos` command of a test on data directory `dir` runs with: on PostgreSQL, the URL
/// of a database of its own (created on first use and kept until the test cluster goes) and a master key file
/// (a shared database never makes one up).
pub fn backend_env(dir: &Path) -> Vec<(String, String)> {
    if !postgres_mode() {
        return Vec::new();
    }
    let marker = dir.join(DATABASE_URL_FILE);
    let url = match std::fs::read_to_string(&marker) {
        Ok(url) => url,
        Err(_) => {
            let server = kairos_store_postgres::testing::test_server_url().expect("KAIROS_TEST_DATABASE_URL is set");
            let url = kairos_store_postgres::testing::TestDatabase::create(&server).expect("test database").keep();
            std::fs::create_dir_all(dir).expect("data directory");
            std::fs::write(&marker, &url).expect("record the test database");
            let key: [u8; 32] = rand::random();
            let key_file = dir.join("secret-key");
            if !key_file.exists() {
                use base64::Engine as _;
                std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode(key)).expect("key file");
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let private = std::fs::Permissions::from_mode(0o600);
                    std::fs::set_permissions(&key_file, private).expect("a private key file");
                }
            }
            url
        }
    };
    vec![("KAIROS_DATABASE_URL".to_string(), url)]
}

/// Writes an unreadable (or any) stored event beside the first one, in whichever backend holds `dir`'s data.
/// The server must be stopped.
pub fn insert_raw_event_beside_first(dir: &Path, data: &str) {
    if postgres_mode() {
        let url = std::fs::read_to_string(dir.join(DATABASE_URL_FILE)).expect("the data directory's database");
        kairos_store_postgres::testing::insert_raw_event_beside_first(&url, data).expect("insert the raw event");
    } else {
        kairos_store_sqlite::testing::insert_raw_event_beside_first(dir, data).expect("insert the raw event");
    }
}

/// `kairos workspace create --json` against a data directory.
pub fn create_workspace(dir: &Path, name: &str) -> Keys {
    let out = Command::new(BIN)
        .args(["workspace", "create", "--name", name, "--json", "--data-dir"])
        .arg(dir)
        .envs(backend_env(dir))
        .output()
        .expect("run kairos workspace create");
    assert!(out.status.success(), "workspace create failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("workspace create prints JSON");
    Keys {
        id: v["id"].as_str().unwrap().to_string(),
        write_key: v["write_key"].as_str().unwrap().to_string(),
        secret_key: v["secret_key"].as_str().unwrap().to_string(),
    }
}

/// `kairos user create`: a UI login for `workspace` in the data directory.
pub fn create_user(dir: &Path, workspace: &str, email: &str, password: &str) {
    let out = Command::new(BIN)
        .args(["user", "create", "--workspace", workspace, "--email", email, "--password", password])
        .arg("--data-dir")
        .arg(dir)
        .env("KAIROS_LOG", "warn")
        .envs(backend_env(dir))
        .output()
        .expect("run kairos user create");
    assert!(out.status.success(), "user create failed: {}", String::from_utf8_lossy(&out.stderr));
}

pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub keys: Keys,
    /// Extra `serve` arguments and environment, kept for [`TestServer::restart`].
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl TestServer {
    /// A fresh data directory with one workspace, served with `--dev-clock`.
    pub fn start() -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let keys = create_workspace(&dir, "Test Shop");
        let (child, addr) = spawn(&dir);
        TestServer { child: Some(child), addr, dir, _tmp: Some(tmp), keys, args: Vec::new(), env: Vec::new() }
    }

    /// Like [`TestServer::start`], with `setup` run on the data directory first (to write a `kairos.toml`).
    pub fn start_with(setup: impl FnOnce(&Path)) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let keys = create_workspace(&dir, "Test Shop");
        setup(&dir);
        let (child, addr) = spawn(&dir);
        TestServer { child: Some(child), addr, dir, _tmp: Some(tmp), keys, args: Vec::new(), env: Vec::new() }
    }

    /// Serves the data directory `dir` (whose workspace has `keys`) with extra `serve` arguments and
    /// environment variables; `tmp` is kept until the server is dropped.
    pub fn serve(
        dir: &Path,
        tmp: Option<tempfile::TempDir>,
        keys: Keys,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, addr) = spawn_with(dir, &args, &env);
        TestServer { child: Some(child), addr, dir: dir.to_path_buf(), _tmp: tmp, keys, args, env }
    }

    /// Like [`TestServer::restart`], with other extra arguments and environment from now on.
    pub fn restart_with(&mut self, args: &[&str], env: &[(&str, &str)]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.restart();
    }

    /// Starts the server again on the same data directory (after `kill` or `terminate`). On PostgreSQL a node
    /// killed on another port left its lease behind: the new one forwards until it takes the lease over (a few
    /// seconds), so this waits until the engine answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let (child, addr) = spawn_with(&self.dir, &self.args, &self.env);
        self.child = Some(child);
        self.addr = addr;
        if postgres_mode() {
            wait_until_healthy(addr);
        }
    }

    pub async fn client(&self) -> HttpClient {
        HttpClient::connect(self.addr).await.expect("connect")
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Waits up to `limit` for the server to exit by itself: its exit status, or None if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.as_mut()?.try_wait().expect("wait") {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("server running");
        let status = Command::new("kill").args(["-TERM", &c.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        for _ in 0..200 {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        panic!("server did not exit within 10 s of SIGTERM");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &Path) -> (Child, SocketAddr) {
    spawn_with(dir, &[], &[])
}

/// `kairos serve --dev-clock` on `dir` with extra arguments and environment variables.
fn spawn_with(dir: &Path, args: &[String], env: &[(String, String)]) -> (Child, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--dev-clock", "--data-dir"])
        .arg(dir)
        .args(args)
        .env("KAIROS_LOG", "warn")
        .env_remove("KAIROS_SECRET_KEY")
        .env_remove("KAIROS_SECRET_KEY_FILE")
        .envs(backend_env(dir))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kairos serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>().expect("address"));
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("server printed its address");
    (child, addr)
}

/// Waits (up to 30 s) until `GET /healthz` on `addr` answers 200: the node's engine (or the one it forwards to)
/// runs.
pub fn wait_until_healthy(addr: SocketAddr) {
    use std::io::{Read, Write};
    for _ in 0..300 {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server on {addr} never became healthy");
}

/// Runs `kairos serve` on `dir` expecting it to refuse to start (within 30 s): its stderr.
pub fn serve_refused(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(args)
        .env("KAIROS_LOG", "warn")
        .env_remove("KAIROS_SECRET_KEY")
        .env_remove("KAIROS_SECRET_KEY_FILE")
        .envs(backend_env(dir))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kairos serve");
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            assert!(!status.success(), "kairos serve exited 0");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(!stdout.contains("listening on"), "it must not serve: {stdout}");
            return String::from_utf8_lossy(&out.stderr).to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("kairos serve did not refuse to start within 30 s");
}

/// `Authorization: Basic base64(key:)`, Segment's convention.
pub fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

pub fn body(v: &Value) -> Option<bytes::Bytes> {
    Some(bytes::Bytes::from(serde_json::to_vec(v).unwrap()))
}

/// Every item of a list endpoint, following `next_cursor`. `path` already has its query (`...?limit=100`).
pub async fn all_items(c: &mut kairos_bench::client::HttpClient, key: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cur) => format!("{path}&cursor={cur}"),
            None => path.to_string(),
        };
        let r = c.get(&url, key).await.expect("request");
        assert_eq!(r.status, 200, "{url}: {:?}", r.body);
        let v = r.json();
        out.extend(v["items"].as_array().expect("items").iter().cloned());
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => return out,
        }
    }
}

/// One request a [`Recorder`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A local HTTP server that records every request (a store's webhook receiver, an SMS provider). It answers
/// with the status `answer(path, n)` gives for the n-th request (0-based) to that path, and `body` as JSON.
pub struct Recorder {
    pub addr: SocketAddr,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
}

/// A recorder's answer: status, extra headers, JSON body.
pub type Answer = (u16, Vec<(String, String)>, String);
/// What answers a recorder's requests: (path with its query, how many requests that path had before).
pub type Answering = std::sync::Arc<dyn Fn(&str, usize) -> Answer + Send + Sync>;
/// Like [`Answering`], with the request's body (a fake API that echoes what it created).
pub type AnsweringBodies = std::sync::Arc<dyn Fn(&str, usize, &[u8]) -> Answer + Send + Sync>;

impl Recorder {
    pub async fn start(answer: fn(&str, usize) -> (u16, String)) -> Recorder {
        Recorder::start_with_headers(std::sync::Arc::new(move |path: &str, n: usize| {
            let (status, body) = answer(path, n);
            (status, Vec::new(), body)
        }))
        .await
    }

    /// Like [`Recorder::start`], answering with headers too (a paginating API's `Link`, a `Retry-After`).
    pub async fn start_with_headers(answer: Answering) -> Recorder {
        Recorder::start_with_bodies(std::sync::Arc::new(move |path: &str, n: usize, _: &[u8]| answer(path, n))).await
    }

    /// Like [`Recorder::start_with_headers`], the answer seeing the request's body.
    pub async fn start_with_bodies(answer: AnsweringBodies) -> Recorder {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind recorder");
        let addr = listener.local_addr().unwrap();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Recorded>::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { break };
                let log = log.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // Read one request (headers, then Content-Length bytes), answer, repeat (keep-alive).
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i;
                            }
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let mut lines = head.split("\r\n");
                        let mut first = lines.next().unwrap_or_default().split(' ');
                        let (method, path) = (
                            first.next().unwrap_or_default().to_string(),
                            first.next().unwrap_or_default().to_string(),
                        );
                        let headers: Vec<(String, String)> = lines
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                            .collect();
                        let len = headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                            .and_then(|(_, v)| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + 4 + len {
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = buf[head_end + 4..head_end + 4 + len].to_vec();
                        buf.drain(..head_end + 4 + len);
                        let (status, extra, reply) = {
                            let mut log = log.lock().unwrap();
                            let n = log.iter().filter(|r| r.path == path).count();
                            let reply = answer(&path, n, &body);
                            log.push(Recorded { method, path: path.clone(), headers, body });
                            reply
                        };
                        let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{reply}",
                            reply.len()
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Recorder { addr, requests }
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits up to 10 s for at least `n` requests.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} requests, got {:?}", self.received());
    }
}

/// Messages to `to`, newest first (`GET /api/v1/messages?to=`).
pub async fn messages_to(c: &mut HttpClient, sk: &str, to: &str) -> Vec<Value> {
    let r = c.get(&format!("/api/v1/messages?to={}", to.replace('@', "%40").replace('+', "%2B")), sk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()["items"].as_array().unwrap().clone()
}

/// Polls until the newest message to `to` has `status` (deliveries settle after the request that caused them).
pub async fn wait_status(c: &mut HttpClient, sk: &str, to: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        if let Some(first) = messages_to(c, sk, to).await.first() {
            last = first.clone();
            if first["status"] == status {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message to {to} never reached {status}: {last}");
}

/// Polls the list at `path` until it has at least `n` items (up to 5 s), then waits `settle` more and answers
/// the count then (to see that no more arrive).
pub async fn count_after(c: &mut HttpClient, sk: &str, path: &str, n: usize, settle: Duration) -> usize {
    for _ in 0..100 {
        if all_items(c, sk, path).await.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(settle).await;
    all_items(c, sk, path).await.len()
}

/// `POST /ui/login` (JSON) to `addr` from the local address `from` (any 127.x.y.z), with extra header lines:
/// the status and the whole answer, lowercased.
pub async fn login_from(
    addr: SocketAddr,
    from: [u8; 4],
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((from, 0))).unwrap();
    let mut sock = sock.connect(addr).await.unwrap();
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let req = format!(
        "POST /ui/login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         {extra}connection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, out.to_ascii_lowercase())
}
