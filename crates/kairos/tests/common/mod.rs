//! Test harness: runs the real `kairos` binary on 127.0.0.1:0 with a temporary data directory.
#![allow(dead_code)] // each test file uses part of the harness

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use kairos::client::HttpClient;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kairos");

#[derive(Debug, Clone)]
pub struct Keys {
    pub id: String,
    pub write_key: String,
    pub secret_key: String,
}

/// `kairos workspace create --json` against a data directory.
pub fn create_workspace(dir: &Path, name: &str) -> Keys {
    let out = Command::new(BIN)
        .args(["workspace", "create", "--name", name, "--json", "--data-dir"])
        .arg(dir)
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

pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub keys: Keys,
}

impl TestServer {
    /// A fresh data directory with one workspace, served with `--dev-clock`.
    pub fn start() -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let keys = create_workspace(&dir, "Test Shop");
        let (child, addr) = spawn(&dir);
        TestServer { child: Some(child), addr, dir, _tmp: Some(tmp), keys }
    }

    /// Starts the server again on the same data directory (after `kill` or `terminate`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let (child, addr) = spawn(&self.dir);
        self.child = Some(child);
        self.addr = addr;
    }

    pub async fn client(&self) -> HttpClient {
        HttpClient::connect(self.addr).await.expect("connect")
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
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--dev-clock", "--data-dir"])
        .arg(dir)
        .env("KAIROS_LOG", "warn")
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

/// `Authorization: Basic base64(key:)`, Segment's convention.
pub fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

pub fn body(v: &Value) -> Option<bytes::Bytes> {
    Some(bytes::Bytes::from(serde_json::to_vec(v).unwrap()))
}

/// Every item of a list endpoint, following `next_cursor`. `path` already has its query (`...?limit=100`).
pub async fn all_items(c: &mut kairos::client::HttpClient, key: &str, path: &str) -> Vec<Value> {
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
