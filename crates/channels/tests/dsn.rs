//! Bounce (RFC 3464 DSN) and complaint (RFC 5965 ARF) parsing on realistic reports.

use kairos_channels::{Bounce, BounceKind, parse_dsn};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces").join(name)).unwrap()
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8(raw.to_vec()).unwrap().replace('\n', "\r\n").into_bytes()
}

#[test]
fn postfix_hard_bounce() {
    for raw in [fixture("postfix-hard.eml"), crlf(&fixture("postfix-hard.eml"))] {
        let bounces = parse_dsn(&raw);
        assert_eq!(
            bounces,
            [Bounce {
                recipient: "gone@example.com".into(),
                kind: BounceKind::Hard,
                status: Some("5.1.1".into()),
                diagnostic: Some(
                    "550 5.1.1 <redacted> Recipient address rejected: User unknown in virtual mailbox table".into()
                ),
                message_id: Some("msg_12_email@velo.example".into()),
            }]
        );
    }
}

#[test]
fn several_recipients_failed_delayed_full_and_delivered() {
    let bounces = parse_dsn(&fixture("mixed-failed-delayed.eml"));
    let summary: Vec<(&str, BounceKind, Option<&str>)> =
        bounces.iter().map(|b| (b.recipient.as_str(), b.kind, b.status.as_deref())).collect();
    assert_eq!(
        summary,
        [
            ("nobody@example.org", BounceKind::Hard, Some("5.1.1")),
            ("slow@example.net", BounceKind::Soft, Some("4.4.1")),
            // 5.2.2 mailbox full: temporary in practice.
            ("full@example.org", BounceKind::Soft, Some("5.2.2")),
        ]
    );
    assert!(bounces[0].diagnostic.as_deref().unwrap().starts_with("550-5.1.1 The email account"));
    assert!(bounces[0].diagnostic.as_deref().unwrap().ends_with("for typos."), "folded lines are joined");
    assert!(bounces.iter().all(|b| b.message_id.as_deref() == Some("msg_40_email@velo.example")));
}

#[test]
fn base64_encoded_status_part() {
    let bounces = parse_dsn(&fixture("exchange-base64.eml"));
    assert_eq!(bounces.len(), 1, "{bounces:?}");
    assert_eq!(bounces[0].recipient, "ceo@contoso.example");
    assert_eq!(bounces[0].kind, BounceKind::Hard);
    assert_eq!(bounces[0].status.as_deref(), Some("5.4.1"));
    assert_eq!(bounces[0].message_id.as_deref(), Some("msg_77_email@velo.example"));
}

#[test]
fn arf_complaint_uses_original_rcpt_to() {
    let bounces = parse_dsn(&fixture("arf-abuse.eml"));
    assert_eq!(
        bounces,
        [Bounce {
            recipient: "Reader@mail-provider.example".into(),
            kind: BounceKind::Complaint,
            status: None,
            diagnostic: Some("abuse".into()),
            message_id: Some("msg_90_email@velo.example".into()),
        }]
    );
}

#[test]
fn arf_complaint_with_redacted_recipient_keeps_the_message_id() {
    let bounces = parse_dsn(&crlf(&fixture("arf-redacted.eml")));
    assert_eq!(bounces.len(), 1);
    assert_eq!(bounces[0].kind, BounceKind::Complaint);
    assert_eq!(bounces[0].recipient, "");
    assert_eq!(bounces[0].message_id.as_deref(), Some("msg_91_email@velo.example"));
}

#[test]
fn arf_complaint_falls_back_to_the_original_to() {
    let raw = String::from_utf8(fixture("arf-abuse.eml"))
        .unwrap()
        .replace("Original-Rcpt-To: <Reader@mail-provider.example>\n", "");
    let bounces = parse_dsn(raw.as_bytes());
    assert_eq!(bounces.len(), 1);
    assert_eq!(bounces[0].recipient, "reader@mail-provider.example");
}

#[test]
fn non_complaint_feedback_and_success_reports_are_ignored() {
    assert!(parse_dsn(&fixture("delivered.eml")).is_empty());
    let not_spam =
        String::from_utf8(fixture("arf-abuse.eml")).unwrap().replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
    assert!(parse_dsn(not_spam.as_bytes()).is_empty());
    let auth = String::from_utf8(fixture("arf-abuse.eml"))
        .unwrap()
        .replace("Feedback-Type: abuse", "Feedback-Type: auth-failure");
    assert!(parse_dsn(auth.as_bytes()).is_empty());
    // An ordinary message, and a human-written "bounce" without a machine-readable part.
    assert!(parse_dsn(b"From: a@b.example\r\nTo: c@d.example\r\nSubject: Re: hi\r\n\r\nthanks\r\n").is_empty());
    assert!(
        parse_dsn(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x--\r\n")
            .is_empty()
    );
}
