//! Signed links in messages (SPEC 8, 18): open pixel, click redirects, one-click unsubscribe, the preference
//! centre and double opt-in confirmation. A link carries only a token — what it acts on (a message, a link index) and an
//! HMAC-SHA256 tag under the server's link key — so a tampered token is rejected and a click can only lead to
//! a destination stored with the message: Kairos is never an open redirect. The same key derives message ids
//! (deterministic per send, but not guessable from row numbers). Which destinations get a click link at all is
//! decided in `tracking.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Open {
        message: String,
    },
    Click {
        message: String,
        index: usize,
    },
    /// `issued`: when the link was rendered (microseconds); a link issued before the contact's latest
    /// re-subscribe is stale. Links in mail sent before this field existed carry none.
    Unsubscribe {
        message: String,
        issued: Option<i64>,
    },
    Preferences {
        message: String,
    },
    /// A double opt-in confirmation: `message` is the confirmation email, which holds the request's evidence.
    Confirm {
        message: String,
    },
}

/// The server's link key: 32 random bytes, stored sealed in the store (`kairos_store::secrets::names::LINK_KEY`)
/// and resolved by the binary at start, so every node signs and verifies with the same key.
#[derive(Clone)]
pub struct LinkKey(pub [u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A 128-bit id for `label` under this key, as 32 hex digits: the same label always gives the same id (one
    /// per send, so retries reuse it), and without the key no one can compute another send's id.
    pub fn derive_id(&self, label: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = String::with_capacity(32);
        for b in self.tag(&format!("id|{label}")) {
            id.push(char::from(HEX[usize::from(b >> 4)]));
            id.push(char::from(HEX[usize::from(b & 15)]));
        }
        id
    }

    fn tag(&self, payload: &str) -> [u8; 16] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length works");
        mac.update(payload.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    pub fn token(&self, link: &Link) -> String {
        let payload = match link {
            Link::Open { message } => format!("o|{message}"),
            Link::Click { message, index } => format!("c|{message}|{index}"),
            Link::Unsubscribe { message, issued: Some(t) } => format!("u|{message}|{t}"),
            Link::Unsubscribe { message, issued: None } => format!("u|{message}"),
            Link::Preferences { message } => format!("p|{message}"),
            Link::Confirm { message } => format!("k|{message}"),
        };
        format!("{}.{}", B64.encode(payload.as_bytes()), B64.encode(self.tag(&payload)))
    }

    /// The link a token names, when its tag is valid.
    pub fn verify(&self, token: &str) -> Option<Link> {
        let (payload, tag) = token.split_once('.')?;
        let payload = String::from_utf8(B64.decode(payload).ok()?).ok()?;
        let tag = B64.decode(tag).ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(payload.as_bytes());
        mac.verify_truncated_left(&tag).ok()?;
        if tag.len() != 16 {
            return None;
        }
        let mut parts = payload.split('|');
        let kind = parts.next()?;
        let message = parts.next()?.to_string();
        let link = match kind {
            "o" => Link::Open { message },
            "c" => Link::Click { message, index: parts.next()?.parse().ok()? },
            "u" => Link::Unsubscribe {
                message,
                issued: match parts.next() {
                    Some(t) => Some(t.parse().ok()?),
                    None => None,
                },
            },
            "p" => Link::Preferences { message },
            "k" => Link::Confirm { message },
            _ => return None,
        };
        parts.next().is_none().then_some(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_tampering_fails() {
        let key = LinkKey([7; 32]);
        for link in [
            Link::Open { message: "msg_1_a".into() },
            Link::Click { message: "msg_1_a".into(), index: 3 },
            Link::Unsubscribe { message: "cmp_9_12".into(), issued: None },
            Link::Unsubscribe { message: "cmp_9_12".into(), issued: Some(1_900_000_000_000_000) },
            Link::Preferences { message: "m".into() },
            Link::Confirm { message: "m".into() },
        ] {
            let t = key.token(&link);
            assert_eq!(key.verify(&t), Some(link.clone()));
            let mut bad = t.clone().into_bytes();
            bad[2] ^= 1;
            assert_eq!(key.verify(&String::from_utf8_lossy(&bad)), None, "{t}");
            assert_eq!(LinkKey([8; 32]).verify(&t), None, "another key");
        }
        let forged = format!("{}.{}", B64.encode("c|msg_1_a|0"), B64.encode([0u8; 16]));
        assert_eq!(key.verify(&forged), None);
        assert_eq!(key.verify("garbage"), None);
    }

    #[test]
    fn derived_ids_are_stable_per_label_and_key() {
        let (a, b) = (LinkKey([1; 32]), LinkKey([2; 32]));
        let id = a.derive_id("msg|1|send");
        assert_eq!(id.len(), 32);
        assert_eq!(id, a.derive_id("msg|1|send"));
        assert_ne!(id, a.derive_id("msg|2|send"));
        assert_ne!(id, b.derive_id("msg|1|send"));
    }
}
