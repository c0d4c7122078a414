//! Real SMTP sends through `Smtp` into the aiosmtpd sink (tests/support/smtp_sink.py).

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kairos_channels::{DkimConfig, DkimSecondKey, EmailMessage, SendError, Smtp, SmtpConfig, TlsMode};
use support::{SinkOptions, SmtpSink, dkim_test_key, dkim_verify};

fn dkim() -> DkimConfig {
    let (pem, _) = dkim_test_key();
    DkimConfig::new("velo.example", "k1", pem)
}

fn config(sink: &SmtpSink) -> SmtpConfig {
    let mut cfg = SmtpConfig::new("127.0.0.1", sink.port, TlsMode::None);
    cfg.dkim = Some(dkim());
    cfg.timeout = Duration::from_secs(10);
    cfg
}

fn message(n: u32, to: &str) -> EmailMessage {
    EmailMessage {
        message_id: format!("msg_{n}_email"),
        from: "Velo Shop <shop@velo.example>".into(),
        to: to.into(),
        subject: format!("Your cart is waiting — #{n}"),
        html: Some(format!(
            "<html><body><p>Hi Ann,</p><p>Your <b>Velo Pro</b> is still in the cart (#{n}).</p></body></html>"
        )),
        text: Some(format!("Hi Ann,\n\nYour Velo Pro is still in the cart (#{n}).\n")),
        list_unsubscribe_url: Some(format!("https://mail.velo.example/u/tok{n}")),
        headers: vec![("X-Kairos-Flow".into(), "abandoned-cart".into())],
    }
}

#[tokio::test]
async fn delivers_signed_multipart_with_unsubscribe_headers() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = Smtp::new(config(&sink)).unwrap();
    smtp.send(&message(12, "Ann Example <ann@example.com>")).await.unwrap();

    let got = sink.wait_for(1);
    let mail = &got[0];
    assert_eq!(mail.mail_from, "shop@velo.example");
    assert_eq!(mail.rcpt_tos, ["ann@example.com"]);
    assert_eq!(mail.header("Message-ID").as_deref(), Some("<msg_12_email@velo.example>"));
    assert_eq!(mail.header("List-Unsubscribe").as_deref(), Some("<https://mail.velo.example/u/tok12>"));
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert_eq!(mail.header("X-Kairos-Flow").as_deref(), Some("abandoned-cart"));
    assert!(mail.header("Date").is_some());
    assert!(mail.header("Content-Type").unwrap().starts_with("multipart/alternative;"));
    let text = mail.text();
    assert!(text.contains("Content-Type: text/plain; charset=utf-8"));
    assert!(text.contains("Content-Type: text/html; charset=utf-8"));
    assert!(text.contains("<b>Velo Pro</b>"));

    let signature = mail.header("DKIM-Signature").expect("DKIM-Signature");
    assert!(signature.contains("d=velo.example"), "{signature}");
    assert!(signature.contains("s=k1"));
    assert!(signature.contains("a=rsa-sha256"));
    assert!(signature.contains("c=relaxed/relaxed"));
    let signed: HashSet<String> = signature
        .split(';')
        .find_map(|t| t.trim().strip_prefix("h="))
        .unwrap()
        .split(':')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for h in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
    ] {
        assert!(signed.contains(h), "{h} not signed: {signature}");
    }

    let (_, txt) = dkim_test_key();
    assert!(dkim_verify(&mail.path, &txt), "DKIM signature must verify");

    // Any change to a signed header or to the body breaks it.
    let tampered_subject = sink.dir.path().join("tampered-subject.eml");
    std::fs::write(&tampered_subject, text.replacen("Subject: Your cart", "Subject: Our cart", 1)).unwrap();
    assert!(!dkim_verify(&tampered_subject, &txt));
    let tampered_body = sink.dir.path().join("tampered-body.eml");
    std::fs::write(&tampered_body, text.replacen("Velo Pro</b>", "Velo Max</b>", 1)).unwrap();
    assert!(!dkim_verify(&tampered_body, &txt));
    let tampered_unsub = sink.dir.path().join("tampered-unsub.eml");
    std::fs::write(&tampered_unsub, text.replacen("/u/tok12>", "/u/evil>", 1)).unwrap();
    assert!(!dkim_verify(&tampered_unsub, &txt));
}

#[tokio::test]
async fn single_part_messages_verify_too() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = Smtp::new(config(&sink)).unwrap();
    let mut text_only = message(1, "ann@example.com");
    text_only.html = None;
    text_only.list_unsubscribe_url = None;
    text_only.text = Some("Ünïcödé text, long enough to need quoted-printable: ".repeat(5));
    let mut html_only = message(2, "bob@example.com");
    html_only.text = None;
    smtp.send(&text_only).await.unwrap();
    smtp.send(&html_only).await.unwrap();
    let got = sink.wait_for(2);
    let (_, txt) = dkim_test_key();
    assert!(got[0].header("Content-Type").unwrap().starts_with("text/plain"));
    assert!(got[0].header("List-Unsubscribe").is_none());
    assert!(got[1].header("Content-Type").unwrap().starts_with("text/html"));
    for mail in &got {
        assert!(dkim_verify(&mail.path, &txt), "{}", mail.text());
    }
}

#[tokio::test]
async fn retry_reuses_the_message_id() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = Smtp::new(config(&sink)).unwrap();
    let m = message(7, "ann@example.com");
    smtp.send(&m).await.unwrap();
    smtp.send(&m).await.unwrap();
    let got = sink.wait_for(2);
    assert_eq!(got[0].header("Message-ID"), got[1].header("Message-ID"));
    assert_eq!(got[0].header("Message-ID").as_deref(), Some("<msg_7_email@velo.example>"));
}

#[tokio::test]
async fn pooled_sessions_carry_many_messages() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut cfg = config(&sink);
    cfg.pool_size = 3;
    cfg.per_domain_concurrency = 3;
    let smtp = Smtp::new(cfg).unwrap();
    let sends = (0..30).map(|n| {
        let smtp = smtp.clone();
        tokio::spawn(async move { smtp.send(&message(n, &format!("user{n}@example.com"))).await })
    });
    for send in sends {
        send.await.unwrap().unwrap();
    }
    let got = sink.wait_for(30);
    let sessions: HashSet<u16> = got.iter().filter_map(|m| m.peer_port).collect();
    assert!(!sessions.is_empty() && sessions.len() <= 3, "30 messages over {} sessions", sessions.len());
    let ids: HashSet<String> = got.iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 30);
    // Sequential sends reuse one idle session.
    let before = sessions.len();
    for n in 100..105 {
        smtp.send(&message(n, "ann@example.com")).await.unwrap();
    }
    let got = sink.wait_for(35);
    let sessions: HashSet<u16> = got.iter().filter_map(|m| m.peer_port).collect();
    assert!(sessions.len() <= before.max(3), "sequential sends opened new sessions");
}

#[tokio::test]
async fn tempfail_is_transient_and_reject_is_permanent() {
    let sink = SmtpSink::start(SinkOptions {
        reject: vec!["unknown".into()],
        tempfail: vec!["busy".into()],
        ..Default::default()
    });
    let smtp = Smtp::new(config(&sink)).unwrap();

    let err = smtp.send(&message(1, "busy@example.com")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("451"), "{err}");

    let err = smtp.send(&message(2, "unknown@example.com")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("550"), "{err}");
    assert!(!err.to_string().contains("unknown@example.com"), "addresses are redacted: {err}");

    // The pool recovers: a good recipient still goes through.
    smtp.send(&message(3, "ann@example.com")).await.unwrap();
    let got = sink.wait_for(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["ann@example.com"]);
}

#[tokio::test]
async fn a_message_withdrawn_before_its_conversation_is_not_sent() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = Smtp::new(config(&sink)).unwrap();
    assert_eq!(smtp.send_unless(&message(1, "gone@example.com"), || true).await, Ok(false));
    assert_eq!(smtp.send_unless(&message(2, "ann@example.com"), || false).await, Ok(true));
    let got = sink.wait_for(1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(sink.messages().len(), 1, "only the message still wanted was sent");
    assert_eq!(got[0].rcpt_tos, ["ann@example.com"]);
}

#[tokio::test]
async fn authenticates_when_configured() {
    let sink = SmtpSink::start(SinkOptions { auth: Some(("kairos".into(), "s3cret".into())), ..Default::default() });

    let mut cfg = config(&sink);
    cfg.username = Some("kairos".into());
    cfg.password = Some("s3cret".into());
    Smtp::new(cfg).unwrap().send(&message(1, "ann@example.com")).await.unwrap();
    let got = sink.wait_for(1);
    assert_eq!(got[0].auth.as_deref(), Some("kairos"));

    // Wrong password: our configuration problem, not the recipient's, so transient.
    let mut cfg = config(&sink);
    cfg.username = Some("kairos".into());
    cfg.password = Some("wrong".into());
    let err = Smtp::new(cfg).unwrap().send(&message(2, "ann@example.com")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    // No credentials where the server requires them: 530 at MAIL, also transient.
    let err = Smtp::new(config(&sink)).unwrap().send(&message(3, "ann@example.com")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn connection_refused_and_silent_server_are_transient() {
    // A port with nothing listening.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cfg = SmtpConfig::new("127.0.0.1", free, TlsMode::None);
    cfg.timeout = Duration::from_secs(2);
    let err = Smtp::new(cfg).unwrap().send(&message(1, "ann@example.com")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    // A server that accepts but never greets: the send timeout fires.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut cfg = SmtpConfig::new("127.0.0.1", port, TlsMode::None);
    cfg.timeout = Duration::from_millis(500);
    let start = Instant::now();
    let err = Smtp::new(cfg).unwrap().send(&message(1, "ann@example.com")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn tls_modes_against_a_plain_server_fail_transiently() {
    let sink = SmtpSink::start(SinkOptions::default());
    for tls in [TlsMode::StartTls, TlsMode::Tls] {
        let mut cfg = config(&sink);
        cfg.tls = tls;
        cfg.timeout = Duration::from_secs(3);
        let err = Smtp::new(cfg).unwrap().send(&message(1, "ann@example.com")).await.unwrap_err();
        assert!(err.is_transient(), "{tls:?}: {err:?}");
    }
    assert!(sink.messages().is_empty(), "nothing is sent without the TLS asked for");
}

#[tokio::test]
async fn per_domain_rate_paces_sends() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut cfg = config(&sink);
    cfg.dkim = None;
    cfg.per_domain_per_second = Some(4.0);
    let smtp = Smtp::new(cfg).unwrap();
    let start = Instant::now();
    // Four go at once (one second's burst), the next four at 250 ms intervals; other domains are not held up.
    let sends: Vec<_> = (0..8)
        .map(|n| {
            let smtp = smtp.clone();
            tokio::spawn(async move { smtp.send(&message(n, &format!("u{n}@slow.example"))).await })
        })
        .collect();
    let other = Instant::now();
    smtp.send(&message(99, "ann@fast.example")).await.unwrap();
    let other = other.elapsed();
    for s in sends {
        s.await.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "8 sends at 4/s took {elapsed:?}");
    assert!(other < Duration::from_millis(900), "another domain waited {other:?}");
    sink.wait_for(9);
}

#[tokio::test]
async fn malformed_messages_are_permanent() {
    let sink = SmtpSink::start(SinkOptions::default());
    let smtp = Smtp::new(config(&sink)).unwrap();
    let err = smtp.send(&message(1, "not an address")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    let mut bad_header = message(2, "ann@example.com");
    bad_header.headers.push(("Bcc".into(), "spy@example.com".into()));
    assert!(!smtp.send(&bad_header).await.unwrap_err().is_transient());
    assert!(sink.messages().is_empty());
}

#[test]
fn config_validation() {
    assert_eq!("StartTLS".parse::<TlsMode>().unwrap(), TlsMode::StartTls);
    assert_eq!("tls".parse::<TlsMode>().unwrap(), TlsMode::Tls);
    assert_eq!("none".parse::<TlsMode>().unwrap(), TlsMode::None);
    assert!("ssl".parse::<TlsMode>().is_err());

    let cfg = SmtpConfig::new("smtp.example.com", 587, TlsMode::StartTls);
    assert_eq!((cfg.pool_size, cfg.per_domain_concurrency), (10, 5));
    assert!(Smtp::new(cfg.clone()).is_ok());
    assert!(Smtp::new(SmtpConfig::new("smtp.example.com", 465, TlsMode::Tls)).is_ok());
    assert_eq!(Smtp::new(SmtpConfig { pool_size: 0, ..cfg.clone() }).err().unwrap().field, "pool_size");
    assert_eq!(
        Smtp::new(SmtpConfig { per_domain_per_second: Some(0.0), ..cfg.clone() }).err().unwrap().field,
        "per_domain_per_second"
    );
    let bad_key = DkimConfig { private_key_pem: "nope".into(), ..dkim() };
    assert_eq!(Smtp::new(SmtpConfig { dkim: Some(bad_key), ..cfg.clone() }).err().unwrap().field, "dkim.private_key");
    let debug = format!("{:?}", SmtpConfig { password: Some("hunter2".into()), dkim: Some(dkim()), ..cfg });
    assert!(!debug.contains("hunter2") && !debug.contains("PRIVATE KEY"), "{debug}");
}

#[test]
fn ed25519_signing() {
    // openssl genpkey -algorithm ed25519 (test-only)
    let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO41blH7d+fk76cQtek+W1WGSBHlhjnOHwJk7uwsFRPG\n-----END PRIVATE KEY-----\n";
    let dkim = DkimConfig::new("velo.example", "ed1", key);
    let raw = kairos_channels::build_email(&message(1, "ann@example.com"), Some(&dkim)).unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains("DKIM-Signature: v=1; a=ed25519-sha256; d=velo.example; s=ed1;"), "{text}");
}

/// Dual signing (RFC 8463 §1): an RSA and an Ed25519 signature on every message; a receiver that does not know
/// Ed25519 (dkimpy here, without PyNaCl) checks the RSA one, first in the header block. (The Ed25519 signature is
/// verified with ring in the unit tests, against RFC 8463's published example too.)
#[tokio::test]
async fn dual_signed_messages_verify() {
    let sink = SmtpSink::start(SinkOptions::default());
    let mut cfg = config(&sink);
    let ed25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO41blH7d+fk76cQtek+W1WGSBHlhjnOHwJk7uwsFRPG\n-----END PRIVATE KEY-----\n";
    cfg.dkim = Some(DkimConfig {
        ed25519: Some(DkimSecondKey { selector: "ed1".into(), private_key_pem: ed25519.into() }),
        ..dkim()
    });
    let smtp = Smtp::new(cfg).unwrap();
    smtp.send(&message(1, "ann@example.com")).await.unwrap();
    let mail = sink.wait_for(1).remove(0);
    let text = mail.text();
    let rsa = text.find("DKIM-Signature: v=1; a=rsa-sha256; d=velo.example; s=k1;").expect("the RSA signature");
    let ed = text.find("DKIM-Signature: v=1; a=ed25519-sha256; d=velo.example; s=ed1;").expect("the Ed25519 one");
    assert!(rsa < ed, "{text}");
    let (_, txt) = dkim_test_key();
    assert!(dkim_verify(&mail.path, &txt), "the RSA signature of a dual-signed message verifies: {text}");
}
