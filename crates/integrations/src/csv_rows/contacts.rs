//! A contacts row as one identify call: identities, profile traits, and consent with its time, source and
//! evidence (trusted like a secret key: the importer speaks for the store).

use kairos_domain::{Email, Event, Phone};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::cells::{check_row, consent, read, time};
use super::{Mapping, Rejection, RowContext, Target};
use crate::common::iso;

/// The consent source recorded when the file names none.
pub const CSV_CONSENT_SOURCE: &str = "csv_import";

/// Traits copied from their own columns as written.
const TEXT_TRAITS: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "city",
    "state",
    "country",
    "postal_code",
    "company",
    "address1",
    "address2",
    "timezone",
    "locale",
    "birthday",
    "consent_form",
    "consent_text",
];

/// The identify call of one contacts row (a one-element list: one record per row), or why the row is refused.
pub fn contact_events(m: &Mapping, row: &[&str], cx: &RowContext) -> Result<Vec<Event>, Rejection> {
    check_row(m, row)?;
    let email = read(m, row, "email", |c| Email::parse(c).ok_or_else(|| format!("{c:?} is not an email address")))?;
    let phone = read(m, row, "phone", |c| Phone::parse(c).ok_or_else(|| format!("{c:?} is not a phone number")))?;
    let user_id =
        read(m, row, "user_id", |c| kairos_domain::ids::parse_identifier(c, "user_id").map_err(|e| e.message))?;
    if email.is_none() && phone.is_none() && user_id.is_none() {
        let column = ["email", "phone", "user_id"].iter().find(|f| m.has(f)).map_or(String::new(), |f| m.column(f));
        return Err(Rejection::new(column, "the row has no email, phone or customer id"));
    }
    let mut traits = Map::new();
    if let Some(e) = &email {
        traits.insert("email".into(), json!(e.as_str()));
    }
    if let Some(p) = &phone {
        traits.insert("phone".into(), json!(p.as_str()));
    }
    for field in TEXT_TRAITS {
        if let Some(v) = m.get(row, field) {
            traits.insert((*field).into(), json!(v));
        }
    }
    if let Some(tags) = m.get(row, "tags") {
        let tags: Vec<&str> = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        traits.insert("tags".into(), json!(tags));
    }
    for (i, target) in m.targets.iter().enumerate() {
        if let (Target::Trait(name), Some(v)) = (target, row.get(i).map(|s| s.trim()).filter(|s| !s.is_empty())) {
            traits.insert(name.clone(), json!(v));
        }
    }
    if let Some(ip) = m.get(row, "consent_ip") {
        let ip: std::net::IpAddr =
            ip.parse().map_err(|_| Rejection::new(m.column("consent_ip"), format!("{ip:?} is not an IP address")))?;
        traits.insert("consent_ip".into(), json!(ip.to_string()));
    }
    let mut at = read(m, row, "updated_at", |c| time(c, cx.now))?.unwrap_or(cx.as_of);
    let mut consented = false;
    for channel in ["email", "sms"] {
        let key = format!("{channel}_consent");
        let Some(status) = read(m, row, &key, consent)?.flatten() else { continue };
        traits.insert(key.clone(), json!(status.as_str()));
        if let Some(given) = read(m, row, &format!("{key}_at"), |c| time(c, cx.now))? {
            traits.insert(format!("{key}_at"), json!(iso(given)));
            // The domain reads a consent time only up to the identify's own time.
            at = at.max(given);
        }
        consented = true;
    }
    if consented {
        let source = match m.get(row, "consent_source") {
            Some(s) if s.len() <= kairos_domain::contact::CONSENT_SOURCE_CHARS_MAX && s.is_ascii() => s,
            Some(_) => {
                return Err(Rejection::new(
                    m.column("consent_source"),
                    format!(
                        "a consent source is at most {} ASCII characters",
                        kairos_domain::contact::CONSENT_SOURCE_CHARS_MAX
                    ),
                ));
            }
            None => CSV_CONSENT_SOURCE,
        };
        traits.insert("consent_source".into(), json!(source));
    }
    let mut message = json!({
        "type": "identify",
        "messageId": format!("csv-contact-{}", digest(&user_id, &traits)),
        "timestamp": iso(at.min(cx.now)),
        "traits": traits,
    });
    match (&user_id, email.as_ref().map(Email::as_str).or(phone.as_ref().map(Phone::as_str))) {
        (Some(u), _) => message["userId"] = json!(u),
        (None, Some(who)) => message["anonymousId"] = json!(format!("csv-contact:{}", &hex(who.as_bytes())[..24])),
        (None, None) => unreachable!("checked above: the row names someone"),
    }
    let event = Event::from_segment(message, None, cx.now, &mut String::new)
        .map_err(|e| Rejection::new("", format!("the row does not make a valid contact: {}", e.message)))?;
    Ok(vec![event])
}

/// The row's content, normalised (user id and traits in key order), as a message id: the same row imported
/// again is the same message, which the engine stores once.
fn digest(user_id: &Option<String>, traits: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = traits.keys().collect();
    keys.sort();
    let mut canonical = format!("{:?}", user_id);
    for k in keys {
        canonical.push('\u{1f}');
        canonical.push_str(k);
        canonical.push('=');
        canonical.push_str(&traits[k].to_string());
    }
    hex(canonical.as_bytes())[..32].to_string()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_rows::{Kind, map_header};

    use crate::csv_rows::test_cx as cx;

    const HEADER: &[&str] = &[
        "Email",
        "Phone",
        "First Name",
        "Email Consent",
        "Email Consent At",
        "Consent Source",
        "IP",
        "Consent Text",
        "Loyalty Tier",
        "Tags",
    ];

    #[test]
    fn a_row_becomes_an_identify_with_consent_and_evidence() {
        let m = map_header(Kind::Contacts, HEADER).unwrap();
        let row = [
            " Ann@Example.com ",
            "+358 40 123 4567",
            "Ann",
            "yes",
            "2026-04-02T10:00:00Z",
            "popup",
            "203.0.113.9",
            "Send me offers",
            "gold",
            "vip, cyclist",
        ];
        let events = contact_events(&m, &row, &cx()).unwrap();
        let t = &events[0].traits;
        assert_eq!(t["email"], "ann@example.com");
        assert_eq!(t["phone"], "+358401234567");
        assert_eq!(t["email_consent"], "subscribed");
        assert_eq!(t["email_consent_at"], "2026-04-02T10:00:00Z");
        assert_eq!(t["consent_source"], "popup");
        assert_eq!(t["consent_ip"], "203.0.113.9");
        assert_eq!(t["consent_text"], "Send me offers");
        assert_eq!(t["loyalty_tier"], "gold");
        assert_eq!(t["tags"], json!(["vip", "cyclist"]));
        assert_eq!(events[0].timestamp, cx().as_of, "dated by the file when the row has no time of its own");
        assert!(events[0].message_id.as_str().starts_with("csv-contact-"));
        // The same row again is the same message; another row is another.
        let again = contact_events(&m, &row, &cx()).unwrap();
        assert_eq!(again[0].message_id, events[0].message_id);
        let mut other = row;
        other[2] = "Anna";
        assert_ne!(contact_events(&m, &other, &cx()).unwrap()[0].message_id, events[0].message_id);
    }

    #[test]
    fn no_consent_given_changes_nothing_and_a_source_defaults() {
        let m = map_header(Kind::Contacts, &["email", "sms_consent", "accepts email marketing", "phone"]).unwrap();
        let e = contact_events(&m, &["a@x.com", "unsubscribed", "no", "+15005550006"], &cx()).unwrap();
        let t = &e[0].traits;
        assert_eq!(t["sms_consent"], "unsubscribed");
        assert!(!t.contains_key("email_consent"), "{t:?}");
        assert_eq!(t["consent_source"], CSV_CONSENT_SOURCE);
    }

    #[test]
    fn bad_rows_are_rejected_naming_the_column() {
        let m = map_header(Kind::Contacts, HEADER).unwrap();
        let good = ["a@x.com", "", "", "", "", "", "", "", "", ""];
        let cases: &[(usize, &str, &str, &str)] = &[
            (0, "not-an-email", "Email", "not an email address"),
            (1, "12", "Phone", "not a phone number"),
            (3, "perhaps", "Email Consent", "not a consent"),
            (6, "300.1.1.1", "IP", "not an IP address"),
        ];
        for (i, value, column, reason) in cases {
            let mut row = good;
            row[*i] = value;
            if *i == 6 || *i == 3 {
                row[3] = if *i == 3 { value } else { "yes" };
            }
            let r = contact_events(&m, &row, &cx()).unwrap_err();
            assert_eq!(r.column, *column, "{value}: {r:?}");
            assert!(r.reason.contains(reason), "{value}: {r:?}");
        }
        let mut row = good;
        row[3] = "yes";
        row[4] = "yesterday";
        let r = contact_events(&m, &row, &cx()).unwrap_err();
        assert_eq!((r.column.as_str(), r.reason.contains("not a date")), ("Email Consent At", true), "{r:?}");
        let long = "x".repeat(41);
        row[4] = "";
        row[5] = &long;
        assert_eq!(contact_events(&m, &row, &cx()).unwrap_err().column, "Consent Source");
        let r = contact_events(&m, &["", "", "", "", "", "", "", "", "", ""], &cx()).unwrap_err();
        assert_eq!((r.column.as_str(), r.reason.as_str()), ("Email", "the row has no email, phone or customer id"));
        let r = contact_events(&m, &["a@x.com"], &cx()).unwrap_err();
        assert!(r.reason.contains("the row has 1 cells"), "{r:?}");
    }
}
