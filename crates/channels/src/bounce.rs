//! Bounce and complaint reports: RFC 3464 delivery status notifications and RFC 5965 (ARF) feedback reports.

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

use crate::redact_addresses;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// The address does not work (5.x.x): suppress it.
    Hard,
    /// Temporary (4.x.x, `Action: delayed`, or a full mailbox): retry later.
    Soft,
    /// The recipient reported the message as spam (ARF): suppress marketing to it.
    Complaint,
}

impl BounceKind {
    /// The name reports and events use: `hard`, `soft` or `complaint`.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Hard => "hard",
            BounceKind::Soft => "soft",
            BounceKind::Complaint => "complaint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The failed or complaining address. For a complaint whose report redacts it, this is empty and
    /// `message_id` is the way back to the send.
    pub recipient: String,
    pub kind: BounceKind,
    /// Enhanced status code (`5.1.1`) for DSNs; `None` for complaints.
    pub status: Option<String>,
    /// The remote server's diagnostic (`550 5.1.1 ... user unknown`, addresses redacted) for DSNs; the
    /// feedback type (`abuse`) for complaints.
    pub diagnostic: Option<String>,
    /// `Message-ID` of the original message (without `<>`) when the report includes its headers; for Kairos
    /// mail that is `<message_id>@<from-domain>` and leads back to the send record.
    pub message_id: Option<String>,
}

/// The bounces a DSN (`multipart/report; report-type=delivery-status`) or complaints an ARF report
/// (`multipart/report; report-type=feedback-report`) describes; empty for anything else (including
/// successful-delivery DSNs and non-standard bounce formats).
pub fn parse_dsn(raw: &[u8]) -> Vec<Bounce> {
    // mail-parser 0.11 asserts on some malformed nesting (a `debug_assert!`, so debug builds panic; found by the
    // `bounce_report` fuzz target). Reading is pure: a report that makes the parser panic is no report.
    std::panic::catch_unwind(|| read_report(raw)).unwrap_or_default()
}

fn read_report(raw: &[u8]) -> Vec<Bounce> {
    let Some(message) = MessageParser::default().parse(raw) else { return Vec::new() };
    let mut delivery_status: Option<&[u8]> = None;
    let mut feedback: Option<&[u8]> = None;
    let mut original = Original::default();
    for part in &message.parts {
        let Some(ct) = part.content_type() else { continue };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                delivery_status.get_or_insert(part.contents());
            }
            ("message", "feedback-report") => {
                feedback.get_or_insert(part.contents());
            }
            ("message", "rfc822" | "global") if original.is_empty() => match part.message() {
                Some(nested) => original = Original::from_message(nested),
                None => original = Original::from_headers(part.contents()),
            },
            ("text", "rfc822-headers") | ("message", "global-headers") if original.is_empty() => {
                original = Original::from_headers(part.contents());
            }
            _ => {}
        }
    }
    if let Some(fields) = delivery_status {
        dsn_bounces(fields, &original)
    } else if let Some(fields) = feedback {
        arf_complaints(fields, &original)
    } else {
        Vec::new()
    }
}

/// What the report quotes of the original message.
#[derive(Default)]
struct Original {
    message_id: Option<String>,
    to: Option<String>,
}

impl Original {
    fn is_empty(&self) -> bool {
        self.message_id.is_none() && self.to.is_none()
    }

    fn from_message(m: &Message<'_>) -> Self {
        Original { message_id: m.message_id().map(str::to_owned), to: m.to().and_then(first_address) }
    }

    fn from_headers(headers: &[u8]) -> Self {
        MessageParser::default().parse_headers(headers).map(|m| Original::from_message(&m)).unwrap_or_default()
    }
}

/// The first address of a header, if it is one: mail-parser also returns the text of a malformed header
/// (`To: Reader <rr 2026`), which must not become a complaint's recipient.
fn first_address(address: &Address<'_>) -> Option<String> {
    address.first().and_then(|a| a.address()).and_then(clean_address)
}

fn dsn_bounces(fields: &[u8], original: &Original) -> Vec<Bounce> {
    let groups = field_groups(fields);
    // The first group holds the per-message fields (Reporting-MTA, Arrival-Date); each later one a recipient.
    groups
        .iter()
        .skip(1)
        .filter_map(|group| {
            let recipient =
                address_field(group, "final-recipient").or_else(|| address_field(group, "original-recipient"))?;
            let action = field(group, "action").map(|a| a.to_ascii_lowercase());
            let status = field(group, "status").and_then(|s| s.split_whitespace().next()).map(str::to_owned);
            let class = status.as_deref().and_then(|s| s.chars().next());
            let mailbox_full = status.as_deref().is_some_and(|s| s.ends_with(".2.2"));
            let kind = match (action.as_deref(), class) {
                (Some("delivered" | "relayed" | "expanded"), _) => return None,
                (Some("delayed"), _) | (_, Some('4')) => BounceKind::Soft,
                // X.2.2 "mailbox full" is temporary in practice even when reported as 5.2.2 (RFC 3463).
                (_, Some('5')) if mailbox_full => BounceKind::Soft,
                (_, Some('5')) | (Some("failed"), _) => BounceKind::Hard,
                _ => return None,
            };
            let diagnostic = field(group, "diagnostic-code").map(|d| {
                // "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..."
                let text = d.split_once(';').map_or(d, |(_, rest)| rest).trim();
                redact_addresses(text)
            });
            Some(Bounce { recipient, kind, status, diagnostic, message_id: original.message_id.clone() })
        })
        .collect()
}

fn arf_complaints(fields: &[u8], original: &Original) -> Vec<Bounce> {
    let groups = field_groups(fields);
    let all: Vec<(String, String)> = groups.into_iter().flatten().collect();
    let feedback_type = field(&all, "feedback-type").map(|t| t.to_ascii_lowercase());
    // RFC 6591 auth-failure reports and not-spam reports are not complaints about our mail.
    if matches!(feedback_type.as_deref(), Some("auth-failure" | "not-spam")) {
        return Vec::new();
    }
    let mut recipients: Vec<String> = all
        .iter()
        .filter(|(name, _)| name == "original-rcpt-to")
        .filter_map(|(_, value)| clean_address(value))
        .collect();
    if recipients.is_empty() {
        match (&original.to, &original.message_id) {
            (Some(to), _) => recipients.push(to.clone()),
            (None, Some(_)) => recipients.push(String::new()),
            (None, None) => return Vec::new(),
        }
    }
    recipients
        .into_iter()
        .map(|recipient| Bounce {
            recipient,
            kind: BounceKind::Complaint,
            status: None,
            diagnostic: Some(feedback_type.clone().unwrap_or_else(|| "abuse".to_owned())),
            message_id: original.message_id.clone(),
        })
        .collect()
}

/// Header-style field groups separated by blank lines; names lower-cased, folded lines joined.
fn field_groups(raw: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(raw);
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// `rfc822; <user@example.com>` -> `user@example.com`.
fn address_field(group: &[(String, String)], name: &str) -> Option<String> {
    let value = field(group, name)?;
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    clean_address(address)
}

fn clean_address(value: &str) -> Option<String> {
    let address = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
    address.contains('@').then(|| address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_unfold_and_split() {
        let groups = field_groups(
            b"Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; x@y\r\nDiagnostic-Code: smtp; 550\r\n  more\r\n",
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(field(&groups[1], "diagnostic-code"), Some("smtp; 550 more"));
        assert_eq!(address_field(&groups[1], "final-recipient").as_deref(), Some("x@y"));
    }

    /// Found by the `bounce_report` fuzz target: a quoted message whose `To:` is cut short gave a complaint
    /// "recipient" that was not an address (`rr 2026 13:59:00 EDT`), which the endpoint would have suppressed.
    #[test]
    fn a_malformed_quoted_recipient_is_not_an_address() {
        let report = "From: <abuse@isp.example>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n\
            --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: <shop@velo.example>\r\n\
            To: Reader <rr 2026 13:59:00 EDT\r\nMessage-ID: <msg_90_email@velo.example>\r\n\r\nDeals\r\n--b--\r\n";
        let found = parse_dsn(report.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].recipient, "", "a redacted recipient, found by message id: {found:?}");
        assert_eq!(found[0].message_id.as_deref(), Some("msg_90_email@velo.example"));
    }

    /// Found by the `bounce_report` fuzz target: a quoted message that is itself only a `message/rfc822` header
    /// tripped mail-parser's "Invalid part ID" assertion (a panic in debug builds, in the request handler).
    #[test]
    fn a_report_that_trips_the_mime_parser_is_no_report() {
        let raw = b"From: a@b\r\nContent-Type: multipart/report; boundary=\"b\"\r\n\r\n--b\r\n\
            Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nx\r\n\r\n--b--\r\n";
        assert!(parse_dsn(raw).is_empty());
    }

    #[test]
    fn not_a_report() {
        assert!(parse_dsn(b"From: a@b\r\nSubject: hi\r\n\r\nhello\r\n").is_empty());
        assert!(parse_dsn(b"").is_empty());
        assert!(parse_dsn(&[0xff, 0x00, 0x13]).is_empty());
    }
}
