//! `kairos bench dkim`: DKIM signatures per second on one core for a 10 KB message (the send bench's), with
//! RSA-2048, Ed25519, and both (dual signing); beside `openssl speed rsa2048` (its `sign/s`, one core) run in the
//! same window, alternating with ours, so the ratio compares the two on the same machine at the same moments.

use std::process::Command;
use std::time::{Duration, Instant};

use kairos_channels::{DkimConfig, DkimSecondKey, DkimSigner, EmailMessage};

/// The committed test-only keys (never for real mail).
const RSA_KEY: &str = include_str!("../../channels/tests/fixtures/dkim-test-only.pem");
const ED25519_KEY: &str = include_str!("../../channels/tests/fixtures/dkim-ed25519-test-only.pem");
/// Alternating rounds (ours, then OpenSSL) and how long each lasts.
const ROUNDS: usize = 3;
const ROUND: Duration = Duration::from_secs(5);
/// Signatures between two looks at the clock.
const BATCH: usize = 16;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// The CPU time this thread has run (Linux's schedstat, in nanoseconds), or None elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Signatures per second of CPU time (per wall-clock second where the CPU time cannot be read) of `signer` over
/// `message` for about `time`. CPU time, as `openssl speed` counts by default: the cores here are shared, and a
/// signer that waits for its turn should not count as a slow one.
fn rate(signer: &DkimSigner, message: &[u8], time: Duration) -> anyhow::Result<f64> {
    let (started, cpu) = (Instant::now(), thread_cpu());
    let mut n = 0;
    while started.elapsed() < time {
        for _ in 0..BATCH {
            std::hint::black_box(signer.sign(message, 1_800_000_000)?);
        }
        n += BATCH;
    }
    let spent = match (cpu, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => started.elapsed(),
    };
    Ok(n as f64 / spent.as_secs_f64())
}

/// `openssl speed -seconds S rsa2048`'s sign/s (per second of user CPU time), or None without an `openssl` command.
fn openssl_rsa2048(time: Duration) -> Option<f64> {
    let out = Command::new("openssl").args(["speed", "-seconds", &time.as_secs().to_string(), "rsa2048"]).output();
    let text = String::from_utf8(out.ok()?.stdout).ok()?;
    // "rsa 2048 bits 0.000256s 0.000014s   3902.5  71953.9": sign, verify, sign/s, verify/s.
    let line = text.lines().find(|l| l.starts_with("rsa 2048 bits"))?;
    line.split_whitespace().nth(5)?.parse().ok()
}

fn message() -> anyhow::Result<Vec<u8>> {
    let m = EmailMessage {
        message_id: "bench_dkim".into(),
        from: "Velo Shop <shop@velo.example>".into(),
        to: "ann@example.com".into(),
        subject: "Your cart is waiting".into(),
        html: Some(crate::send::html_body()),
        text: Some("Your cart is waiting.".into()),
        list_unsubscribe_url: Some("https://k.example/u/1".into()),
        headers: Vec::new(),
    };
    kairos_channels::build_email(&m, None).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn run() -> anyhow::Result<()> {
    let message = message()?;
    let rsa = DkimSigner::new(&DkimConfig::new("velo.example", "k1", RSA_KEY)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ed25519 =
        DkimSigner::new(&DkimConfig::new("velo.example", "ed1", ED25519_KEY)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dual = DkimSigner::new(&DkimConfig {
        ed25519: Some(DkimSecondKey { selector: "ed1".into(), private_key_pem: ED25519_KEY.into() }),
        ..DkimConfig::new("velo.example", "k1", RSA_KEY)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let kb = message.len() as f64 / 1024.0;
    println!(
        "dkim: one thread, {kb:.1} KB message, {ROUNDS} rounds of {} s alternating with openssl; per second of CPU",
        ROUND.as_secs()
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(rate(&rsa, &message, ROUND)?);
        if let Some(r) = openssl_rsa2048(ROUND) {
            theirs.push(r);
        }
    }
    let ours = median(ours);
    println!("  RSA-2048 (aws-lc-rs): {ours:.0} signatures/s per core ({:.0} µs each)", 1e6 / ours);
    match theirs.is_empty() {
        true => println!("  openssl speed rsa2048: no `openssl` command here"),
        false => {
            let theirs = median(theirs);
            println!(
                "  openssl speed -seconds {} rsa2048: {theirs:.0} sign/s per core; Kairos/OpenSSL {:.2}x",
                ROUND.as_secs(),
                ours / theirs
            );
        }
    }
    let ed = rate(&ed25519, &message, ROUND)?;
    println!("  Ed25519 (aws-lc-rs): {ed:.0} signatures/s per core ({:.0} µs each)", 1e6 / ed);
    let both = rate(&dual, &message, ROUND)?;
    println!("  dual (RSA-2048 + Ed25519): {both:.0} messages/s per core ({:.0} µs each)", 1e6 / both);
    Ok(())
}
