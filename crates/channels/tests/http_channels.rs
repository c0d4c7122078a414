//! SMS (Twilio shape), webhooks and Telegram against a local recording HTTP server.

mod support;

use std::time::Duration;

use base64::Engine as _;
use kairos_channels::{HttpClient, SendError, Sms, SmsConfig, Telegram, Webhook, verify_webhook_signature};
use support::HttpRecorder;

fn form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn sms(server: &HttpRecorder, callback: Option<&str>) -> Sms {
    Sms::new(
        SmsConfig {
            provider_url: format!("{}/", server.base_url),
            account_sid: "AC0123456789".into(),
            auth_token: "tok&en".into(),
            from: "+15005550006".into(),
            status_callback_url: callback.map(str::to_owned),
        },
        HttpClient::new(Duration::from_secs(5)),
    )
}

#[tokio::test]
async fn sms_posts_twilio_form_with_basic_auth() {
    let server = HttpRecorder::start().await;
    server.respond(201, r#"{"sid": "SM9f2c", "status": "queued"}"#);
    let sms = sms(&server, Some("https://kairos.example/sms/status?x=1"));
    let sid = sms.send("+4915112345678", "Your cart misses you — 10% off & free shipping").await.unwrap();
    assert_eq!(sid, "SM9f2c");

    let requests = server.requests();
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/2010-04-01/Accounts/AC0123456789/Messages.json");
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    let basic = r.header("authorization").unwrap().strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic).unwrap();
    assert_eq!(decoded, b"AC0123456789:tok&en");
    assert_eq!(
        form(&r.body),
        [
            ("To".to_owned(), "+4915112345678".to_owned()),
            ("From".to_owned(), "+15005550006".to_owned()),
            ("Body".to_owned(), "Your cart misses you — 10% off & free shipping".to_owned()),
            ("StatusCallback".to_owned(), "https://kairos.example/sms/status?x=1".to_owned()),
        ]
    );
}

#[tokio::test]
async fn sms_errors_are_classified_without_phone_numbers() {
    let server = HttpRecorder::start().await;
    let sms = sms(&server, None);
    server.respond(
        400,
        r#"{"code": 21211, "message": "The 'To' number +4915112345678 is not a valid phone number.", "status": 400}"#,
    );
    let err = sms.send("+4915112345678", "hi").await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("21211") && !err.to_string().contains("4915112345678"), "{err}");

    server.respond(429, r#"{"code": 20429, "message": "Too Many Requests"}"#);
    assert!(sms.send("+4915112345678", "hi").await.unwrap_err().is_transient());
    server.respond(500, "oops");
    assert!(sms.send("+4915112345678", "hi").await.unwrap_err().is_transient());
    server.respond(401, r#"{"code": 20003, "message": "Authenticate"}"#);
    assert!(!sms.send("+4915112345678", "hi").await.unwrap_err().is_transient());
    // No StatusCallback when none is configured.
    assert!(form(&server.requests()[0].body).iter().all(|(k, _)| k != "StatusCallback"));
    // Refused before any request.
    assert!(!sms.send("+4915112345678", "").await.unwrap_err().is_transient());
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn webhook_is_signed_and_classified() {
    let server = HttpRecorder::start().await;
    let hook = Webhook::new(HttpClient::new(Duration::from_secs(5)));
    let url = format!("{}/hooks/kairos?team=1", server.base_url);
    let body = serde_json::json!({"event": "Order Completed", "contact": {"id": "c_1"}, "value": 129.5});

    server.respond(204, "");
    assert_eq!(hook.post(&url, "whsec_abc", "msg_12_webhook", &body, 1_767_225_600).await.unwrap(), 204);
    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/kairos?team=1");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("idempotency-key"), Some("msg_12_webhook"));
    assert_eq!(r.header("user-agent"), Some("Kairos"));
    let signature = r.header("x-kairos-signature").unwrap();
    assert!(signature.starts_with("t=1767225600,v1="), "{signature}");
    assert!(verify_webhook_signature("whsec_abc", signature, &r.body));
    assert!(!verify_webhook_signature("whsec_other", signature, &r.body));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&r.body).unwrap(), body);

    for (status, transient) in
        [(500, true), (503, true), (429, true), (408, true), (400, false), (404, false), (410, false), (302, false)]
    {
        server.respond(status, "{}");
        let err = hook.post(&url, "whsec_abc", "msg_12_webhook", &body, 1).await.unwrap_err();
        assert_eq!(err.is_transient(), transient, "HTTP {status}: {err:?}");
    }

    // Only http(s), and a dead endpoint is transient.
    for bad in ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "not a url"] {
        assert!(!hook.post(bad, "s", "m", &body, 1).await.unwrap_err().is_transient(), "{bad}");
    }
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = hook.post(&format!("http://127.0.0.1:{free}/x"), "s", "m", &body, 1).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    // https goes through rustls: a plain-HTTP peer fails the handshake (transient), nothing panics.
    let https = server.base_url.replace("http://", "https://");
    let err = hook.post(&format!("{https}/x"), "s", "m", &body, 1).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn http_timeout_is_transient() {
    // Accepts and reads but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let hook = Webhook::new(HttpClient::new(Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let err = hook.post(&format!("http://{addr}/slow"), "s", "m", &serde_json::json!({}), 1).await.unwrap_err();
    assert!(err.is_transient() && err.to_string().contains("timed out"), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn telegram_send_message() {
    let server = HttpRecorder::start().await;
    let telegram = Telegram::new(server.base_url.clone(), "123456:ABC-def".into(), HttpClient::default());

    server.respond(200, r#"{"ok": true, "result": {"message_id": 5}}"#);
    telegram.send("987654321", "Your order has shipped 🚲").await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/bot123456:ABC-def/sendMessage");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, serde_json::json!({"chat_id": "987654321", "text": "Your order has shipped 🚲"}));

    server.respond(403, r#"{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}"#);
    let err = telegram.send("987654321", "hi").await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)) && err.to_string().contains("blocked"), "{err:?}");
    assert!(!err.to_string().contains("ABC-def"), "the token never appears in errors: {err}");

    server.respond(429, r#"{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}}"#);
    assert!(telegram.send("987654321", "hi").await.unwrap_err().is_transient());
    server.respond(502, "Bad Gateway");
    assert!(telegram.send("987654321", "hi").await.unwrap_err().is_transient());
    assert!(!format!("{telegram:?}").contains("ABC-def"));
}
