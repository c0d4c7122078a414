//! Test support shared by the integration tests (copy freely into other crates' tests).
//!
//! * [`SmtpSink::start`] runs `tests/support/smtp_sink.py` (aiosmtpd, installed into `.tools/pyenv` by
//!   `scripts/test-deps.sh`) on a free port and reads back what it received. It panics (failing the test)
//!   when the sink cannot start: nothing is skipped.
//! * [`dkim_verify`] checks a received message with dkimpy (`tests/support/dkim_verify.py`).
//! * [`HttpRecorder`] is a tiny HTTP/1.1 server that records requests and answers scripted responses.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Runs `scripts/test-deps.sh` once per process and answers the venv's python. Panics if it fails.
pub fn test_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = repo_root();
            let out = Command::new("bash")
                .arg(root.join("scripts/test-deps.sh"))
                .current_dir(&root)
                .output()
                .expect("running scripts/test-deps.sh");
            assert!(
                out.status.success(),
                "scripts/test-deps.sh failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            root.join(".tools/pyenv/bin/python")
        })
        .clone()
}

/// Options of the sink: RCPT substrings to reject (550) or defer (451), required AUTH credentials, and a
/// delay before each message is accepted (a slow receiving server).
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    pub reject: Vec<String>,
    pub tempfail: Vec<String>,
    pub auth: Option<(String, String)>,
    pub delay_ms: u64,
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub path: PathBuf,
    pub raw: Vec<u8>,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The AUTH login used by the session, if any.
    pub auth: Option<String>,
    /// Client port of the SMTP session: equal ports mean a reused connection.
    pub peer_port: Option<u16>,
    /// When the sink accepted it (just before its 250 reply), as Unix time.
    pub received_at: std::time::SystemTime,
}

impl ReceivedMail {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// The first header of that name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                found = Some(v.trim().to_owned());
            }
        }
        found
    }
}

/// A running `smtp_sink.py`; killed on drop.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    _stdin: ChildStdin,
}

impl SmtpSink {
    pub fn start(options: SinkOptions) -> SmtpSink {
        let python = test_python();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(python);
        cmd.arg(repo_root().join("tests/support/smtp_sink.py")).arg("--dir").arg(dir.path());
        for r in &options.reject {
            cmd.arg("--reject").arg(r);
        }
        for t in &options.tempfail {
            cmd.arg("--tempfail").arg(t);
        }
        if let Some((user, pass)) = &options.auth {
            cmd.arg("--auth").arg(format!("{user}:{pass}"));
        }
        if options.delay_ms > 0 {
            cmd.arg("--delay-ms").arg(options.delay_ms.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning smtp_sink.py");
        let stdin = child.stdin.take().expect("sink stdin");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut stderr = child.stderr.take().expect("sink stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line.strip_prefix("listening on 127.0.0.1:") {
                        break port.trim().parse::<u16>().expect("sink port");
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let mut err = String::new();
                    let _ = stderr.read_to_string(&mut err);
                    panic!("smtp_sink.py did not start:\n{err}");
                }
            }
        };
        // Keep draining stderr so aiosmtpd's logging can never block on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
        SmtpSink { port, dir, child, _stdin: stdin }
    }

    /// Messages received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| {
                let path = e.ok()?.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".eml")?.parse().ok()?;
                Some((n, path))
            })
            .collect();
        numbered.sort();
        numbered
            .into_iter()
            .map(|(_, path)| {
                let raw = std::fs::read(&path).expect("eml");
                let meta: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(path.with_extension("json")).expect("json")).expect("meta");
                ReceivedMail {
                    raw,
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: meta["rcpt_tos"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    auth: meta["auth"].as_str().map(str::to_owned),
                    peer_port: meta["peer_port"].as_u64().and_then(|p| u16::try_from(p).ok()),
                    received_at: std::time::UNIX_EPOCH
                        + Duration::from_secs_f64(meta["received_at"].as_f64().expect("received_at")),
                    path,
                }
            })
            .collect()
    }

    /// Waits (up to 10 s) until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() > deadline {
                assert!(got.len() >= n, "expected {n} messages, sink has {}", got.len());
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The committed test-only DKIM key pair: (PEM private key, DNS TXT value file path).
pub fn dkim_test_key() -> (String, PathBuf) {
    let dir = repo_root().join("crates/channels/tests/fixtures");
    let pem = std::fs::read_to_string(dir.join("dkim-test-only.pem")).expect("dkim-test-only.pem");
    (pem, dir.join("dkim-test-only.txt"))
}

/// Verifies the DKIM-Signature of the message in `eml` with dkimpy, the key answered from `txt_record_file`.
pub fn dkim_verify(eml: &Path, txt_record_file: &Path) -> bool {
    let out = Command::new(test_python())
        .arg(repo_root().join("tests/support/dkim_verify.py"))
        .arg(eml)
        .arg(txt_record_file)
        .output()
        .expect("running dkim_verify.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("dkim_verify.py: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success() && stdout.trim() == "pass"
}

/// One request seen by [`HttpRecorder`]; header names lower-cased.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1:0 that records every request and answers from a script: the
/// queued `(status, body)` responses in order, then `200 {}`. Supports keep-alive.
#[derive(Clone)]
pub struct HttpRecorder {
    pub base_url: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    responses: Arc<Mutex<std::collections::VecDeque<(u16, String)>>>,
}

impl HttpRecorder {
    pub async fn start() -> HttpRecorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let recorder = HttpRecorder {
            base_url,
            requests: Arc::new(Mutex::new(Vec::new())),
            responses: Arc::new(Mutex::new(Default::default())),
        };
        let r = recorder.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(r.clone().serve(stream));
            }
        });
        recorder
    }

    /// Queues the next response.
    pub fn respond(&self, status: u16, body: &str) {
        self.responses.lock().unwrap().push_back((status, body.to_owned()));
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }

    async fn serve(self, stream: tokio::net::TcpStream) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::io::BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((n, v)) = line.split_once(':') {
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if stream.read_exact(&mut body).await.is_err() {
                return;
            }
            self.requests.lock().unwrap().push(RecordedRequest { method, path, headers, body });
            let (status, body) = self.responses.lock().unwrap().pop_front().unwrap_or((200, "{}".to_owned()));
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.get_mut().write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}
