//! RFC 5322 formatting of an [`EmailMessage`]: every header (Content-Type included) lives in the message's
//! own header block, so DKIM can cover it.

use lettre::Message;
use lettre::message::header::{self, ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart};

use super::{DkimConfig, DkimSigner, EmailMessage};
use crate::ConfigError;

/// Longest accepted custom header value, in bytes (the line limit of RFC 5322 is 998).
const HEADER_VALUE_BYTES_MAX: usize = 990;
/// Longest accepted deterministic message id, in bytes.
const MESSAGE_ID_BYTES_MAX: usize = 200;

/// Headers set by Kairos itself; custom headers may not replace them.
const RESERVED_HEADERS: [&str; 14] = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "dkim-signature",
    "sender",
];

/// The formatted, and DKIM-signed when `dkim` is given, RFC 5322 bytes of `m`.
///
/// This parses the DKIM keys on every call; [`Smtp`](super::Smtp) parses them once.
pub fn build_email(m: &EmailMessage, dkim: Option<&DkimConfig>) -> Result<Vec<u8>, ConfigError> {
    let signer = dkim.map(DkimSigner::new).transpose()?;
    formatted(&compose(m)?, signer.as_ref())
}

/// The bytes of `message`, signed by `signer` (if any) now.
pub(crate) fn formatted(message: &Message, signer: Option<&DkimSigner>) -> Result<Vec<u8>, ConfigError> {
    let bytes = message.formatted();
    match signer {
        None => Ok(bytes),
        Some(signer) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            signer.sign(&bytes, now).map_err(|e| ConfigError::new("dkim", e.to_string()))
        }
    }
}

/// The lettre message (headers, body and envelope), unsigned.
pub(crate) fn compose(m: &EmailMessage) -> Result<Message, ConfigError> {
    let from: Mailbox = m.from.parse().map_err(|e| ConfigError::new("from", format!("{e}")))?;
    let to: Mailbox = m.to.parse().map_err(|e| ConfigError::new("to", format!("{e}")))?;
    check_message_id(&m.message_id)?;
    let message_id = format!("<{}@{}>", m.message_id, from.email.domain());

    let mut builder = Message::builder().from(from).to(to).subject(m.subject.as_str()).message_id(Some(message_id));
    if let Some(url) = &m.list_unsubscribe_url {
        check_unsubscribe_url(url)?;
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    for (name, value) in &m.headers {
        builder = builder.raw_header(custom_header(name, value)?);
    }
    builder = builder.header(header::MIME_VERSION_1_0);

    let built = match (&m.text, &m.html) {
        (Some(text), Some(html)) => {
            // Format the multipart ourselves and lift its Content-Type into the message headers: lettre keeps a
            // MIME part's headers out of the message's header list, where its DKIM signer would not see them.
            let part = MultiPart::alternative_plain_html(text.clone(), html.clone());
            let content_type = part
                .headers()
                .get::<ContentType>()
                .ok_or_else(|| ConfigError::new("body", "multipart without a Content-Type"))?;
            let formatted = part.formatted();
            let body_at = find(&formatted, b"\r\n\r\n").map(|i| i + 4).unwrap_or(0);
            let mut body = formatted[body_at..].to_vec();
            if !body.ends_with(b"\r\n") {
                body.extend_from_slice(b"\r\n");
            }
            builder.header(content_type).body(Body::dangerous_pre_encoded(body, ContentTransferEncoding::SevenBit))
        }
        (Some(text), None) => builder.header(ContentType::TEXT_PLAIN).body(text.clone()),
        (None, Some(html)) => builder.header(ContentType::TEXT_HTML).body(html.clone()),
        (None, None) => return Err(ConfigError::new("body", "an email needs a text or an html part")),
    };
    built.map_err(|e| ConfigError::new("message", format!("{e}")))
}

fn check_message_id(id: &str) -> Result<(), ConfigError> {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if id.is_empty() || id.len() > MESSAGE_ID_BYTES_MAX || !id.chars().all(atext) {
        return Err(ConfigError::new(
            "message_id",
            "needs 1-200 characters of letters, digits and !#$%&'*+-/=?^_`{|}~.",
        ));
    }
    Ok(())
}

fn check_unsubscribe_url(url: &str) -> Result<(), ConfigError> {
    let scheme_ok = ["https://", "http://", "mailto:"].iter().any(|s| url.starts_with(s));
    let chars_ok = url.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>' && c != ',');
    if !scheme_ok || !chars_ok || url.len() > HEADER_VALUE_BYTES_MAX {
        return Err(ConfigError::new(
            "list_unsubscribe_url",
            "needs an http(s) or mailto URL without spaces, <, > or ,",
        ));
    }
    Ok(())
}

fn custom_header(name: &str, value: &str) -> Result<HeaderValue, ConfigError> {
    // RFC 5322 field-name: printable ASCII except ':'.
    let name_ok = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !name_ok {
        return Err(ConfigError::new("headers", format!("{name:?} is not a header name")));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ConfigError::new("headers", format!("{name} is set by Kairos and cannot be overridden")));
    }
    if value.contains(['\r', '\n']) || value.len() > HEADER_VALUE_BYTES_MAX {
        return Err(ConfigError::new("headers", format!("the value of {name} has a line break or is too long")));
    }
    let name = HeaderName::new_from_ascii(name.to_owned()).map_err(|e| ConfigError::new("headers", format!("{e}")))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> EmailMessage {
        EmailMessage {
            message_id: "msg_12_email".into(),
            from: "Velo Shop <shop@velo.example>".into(),
            to: "Ann Example <ann@example.com>".into(),
            subject: "Your cart — still there?".into(),
            html: Some("<p>Hello Ann, your <b>bike</b> is waiting.</p>".into()),
            text: Some("Hello Ann, your bike is waiting.".into()),
            list_unsubscribe_url: Some("https://mail.velo.example/u/abc123".into()),
            headers: vec![("X-Kairos-Flow".into(), "abandoned-cart".into())],
        }
    }

    fn text(m: &EmailMessage) -> String {
        String::from_utf8(build_email(m, None).unwrap()).unwrap()
    }

    #[test]
    fn multipart_with_headers() {
        let out = text(&message());
        assert!(out.contains("Message-ID: <msg_12_email@velo.example>\r\n"), "{out}");
        assert!(out.contains("List-Unsubscribe: <https://mail.velo.example/u/abc123>\r\n"));
        assert!(out.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(out.contains("X-Kairos-Flow: abandoned-cart\r\n"));
        assert!(out.contains("MIME-Version: 1.0\r\n"));
        assert!(out.contains("Content-Type: multipart/alternative;"));
        assert!(out.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(out.contains("Content-Type: text/html; charset=utf-8"));
        assert!(out.contains("Subject: Your cart =?utf-8?b?"), "non-ASCII subject is encoded: {out}");
        let head = &out[..out.find("\r\n\r\n").unwrap()];
        assert_eq!(head.matches("Content-Type:").count(), 1, "one Content-Type in the message header block");
    }

    #[test]
    fn single_parts_and_no_unsubscribe() {
        let mut m = message();
        m.html = None;
        m.list_unsubscribe_url = None;
        let out = text(&m);
        assert!(out.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(!out.contains("multipart"));
        assert!(!out.contains("List-Unsubscribe"));
        let mut m = message();
        m.text = None;
        assert!(text(&m).contains("Content-Type: text/html; charset=utf-8\r\n"));
        m.html = None;
        assert_eq!(build_email(&m, None).unwrap_err().field, "body");
    }

    #[test]
    fn same_message_id_on_every_build() {
        let a = text(&message());
        let b = text(&message());
        let id = |s: &str| s.lines().find(|l| l.starts_with("Message-ID:")).unwrap().to_owned();
        assert_eq!(id(&a), id(&b));
    }

    #[test]
    fn rejects_bad_input() {
        let field = |m: EmailMessage| build_email(&m, None).unwrap_err().field;
        assert_eq!(field(EmailMessage { to: "not an address".into(), ..message() }), "to");
        assert_eq!(field(EmailMessage { from: "".into(), ..message() }), "from");
        assert_eq!(field(EmailMessage { message_id: "a b".into(), ..message() }), "message_id");
        assert_eq!(field(EmailMessage { message_id: "x@y".into(), ..message() }), "message_id");
        assert_eq!(
            field(EmailMessage { list_unsubscribe_url: Some("javascript:alert(1)".into()), ..message() }),
            "list_unsubscribe_url"
        );
        assert_eq!(field(EmailMessage { headers: vec![("From".into(), "x@y.z".into())], ..message() }), "headers");
        assert_eq!(
            field(EmailMessage { headers: vec![("X-A".into(), "1\r\nBcc: x@y.z".into())], ..message() }),
            "headers"
        );
        assert_eq!(field(EmailMessage { headers: vec![("X A".into(), "1".into())], ..message() }), "headers");
    }
}
