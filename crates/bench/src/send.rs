//! `kairos bench send`: SMTP hand-off throughput through the real transport (pooled sessions, per-domain limits,
//! optional DKIM) against a local SMTP sink started in-process on loopback, which accepts everything (like
//! Postfix's `smtp-sink`). Prints messages/s and per-message latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kairos_channels::{DkimConfig, EmailMessage, Smtp, SmtpConfig, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A minimal SMTP server: 250 to everything, reads DATA to the dot. Counts accepted messages.
async fn sink(listener: tokio::net::TcpListener, accepted: Arc<AtomicU64>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            if w.write_all(b"220 bench ESMTP\r\n").await.is_err() {
                return;
            }
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let cmd = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match cmd.as_str() {
                    "EHLO" => b"250-bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                    "DATA" => {
                        if w.write_all(b"354 go on\r\n").await.is_err() {
                            return;
                        }
                        loop {
                            line.clear();
                            match r.read_line(&mut line).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) if line == ".\r\n" => break,
                                Ok(_) => {}
                            }
                        }
                        accepted.fetch_add(1, Ordering::Relaxed);
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    }
                    _ => b"250 ok\r\n",
                };
                if w.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The 10 KB html of the send benchmark (and of the DKIM one).
pub(crate) fn html_body() -> String {
    let mut html = String::from("<html><body><h1>Your cart is waiting</h1>");
    while html.len() < 10_000 {
        html.push_str(
            "<p>Lorem ipsum dolor sit amet, <a href=\"https://k.example/c/token\">consectetur</a> adipiscing elit.</p>",
        );
    }
    html.push_str("</body></html>");
    html
}

/// Sends `n` 10 KB messages with `concurrency` in flight over a pool of `pool` sessions, with or without DKIM.
pub fn run(n: usize, concurrency: usize, pool: u32, dkim_key_pem: Option<String>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(AtomicU64::new(0));
        tokio::spawn(sink(listener, accepted.clone()));
        let dkim_on = dkim_key_pem.is_some();
        let mut cfg = SmtpConfig::new("127.0.0.1", port, TlsMode::None);
        cfg.pool_size = pool;
        cfg.per_domain_concurrency = concurrency;
        cfg.dkim = dkim_key_pem.map(|pem| DkimConfig::new("velo.example", "k1", pem));
        let smtp = Arc::new(Smtp::new(cfg).map_err(|e| anyhow::anyhow!("{e}"))?);
        let html = Arc::new(html_body());
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let bar = indicatif::ProgressBar::new(n as u64);
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let permit = limit.clone().acquire_owned().await?;
            let (smtp, html, bar) = (smtp.clone(), html.clone(), bar.clone());
            tasks.push(tokio::spawn(async move {
                let m = EmailMessage {
                    message_id: format!("bench_{i}"),
                    from: "Velo Shop <shop@velo.example>".into(),
                    to: format!("user{i}@example.com"),
                    subject: format!("Your cart is waiting, customer {i}"),
                    html: Some(html.to_string()),
                    text: Some("Your cart is waiting.".into()),
                    list_unsubscribe_url: Some(format!("https://k.example/u/{i}")),
                    headers: Vec::new(),
                };
                let t = Instant::now();
                let ok = smtp.send(&m).await.is_ok();
                drop(permit);
                bar.inc(1);
                (ok, t.elapsed())
            }));
        }
        let mut lat = Vec::with_capacity(n);
        let mut failed = 0;
        for t in tasks {
            let (ok, d) = t.await?;
            if !ok {
                failed += 1;
            }
            lat.push(d);
        }
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "send: {n} messages (10 KB, {}) in {secs:.2} s = {:.0} messages/s over {pool} pooled SMTP sessions, \
             {concurrency} in flight; p50 {:.2} ms, p99 {:.2} ms; {} accepted, {failed} failed",
            if dkim_on { "DKIM RSA-2048" } else { "no DKIM" },
            n as f64 / secs,
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            accepted.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(())
    })
}
