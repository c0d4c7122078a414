//! Signed links in messages (SPEC 8, 18): open pixel, click redirects, one-click unsubscribe and the
//! preference centre. A link carries only a token — what it acts on (a message, a link index) and an
//! HMAC-SHA256 tag under the server's link key — so a tampered token is rejected and a click can only lead to
//! a destination stored with the message: Kairos is never an open redirect.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Open { message: String },
    Click { message: String, index: usize },
    Unsubscribe { message: String },
    Preferences { message: String },
}

/// The server's link key (32 random bytes kept in the data directory).
#[derive(Clone)]
pub struct LinkKey(pub [u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// Reads the key file in `dir`, creating it (mode 0600) on first use.
    pub fn load_or_create(dir: &std::path::Path) -> std::io::Result<LinkKey> {
        let path = dir.join("link-key");
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(k) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(LinkKey(k));
        }
        use rand::RngExt as _;
        let k: [u8; 32] = rand::rng().random();
        let tmp = dir.join("link-key.tmp");
        std::fs::write(&tmp, k)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(LinkKey(k))
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
            Link::Unsubscribe { message } => format!("u|{message}"),
            Link::Preferences { message } => format!("p|{message}"),
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
            "u" => Link::Unsubscribe { message },
            "p" => Link::Preferences { message },
            _ => return None,
        };
        parts.next().is_none().then_some(link)
    }
}

/// Rewrites `href="http(s)://..."` links of an HTML body into signed click links and appends the open pixel.
/// Returns the new HTML and the destinations by index (stored with the message). Links to `public_url` itself
/// (unsubscribe, preferences) are left alone.
pub fn track_html(html: &str, key: &LinkKey, public_url: &str, message: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(html.len() + 256);
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(i) = find_href(rest) {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let quote = after.as_bytes()[5] as char;
        let value_start = 6;
        let Some(len) = after[value_start..].find(quote) else {
            out.push_str(after);
            rest = "";
            break;
        };
        let url = &after[value_start..value_start + len];
        let decoded = url.replace("&amp;", "&");
        if (decoded.starts_with("http://") || decoded.starts_with("https://")) && !decoded.starts_with(public_url) {
            let token = key.token(&Link::Click { message: message.to_string(), index: links.len() });
            links.push(decoded);
            out.push_str(&format!("href={quote}{public_url}/c/{token}{quote}"));
        } else {
            out.push_str(&after[..value_start + len + 1]);
        }
        rest = &after[value_start + len + 1..];
    }
    out.push_str(rest);
    let pixel = format!(
        "<img src=\"{public_url}/o/{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
        key.token(&Link::Open { message: message.to_string() })
    );
    match out.rfind("</body>") {
        Some(at) => out.insert_str(at, &pixel),
        None => out.push_str(&pixel),
    }
    (out, links)
}

/// Position of the next `href="` or `href='` (ASCII case-insensitive).
fn find_href(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(5))
        .find(|&i| b[i..i + 5].eq_ignore_ascii_case(b"href=") && matches!(b[i + 5], b'"' | b'\''))
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
            Link::Unsubscribe { message: "cmp_9_12".into() },
            Link::Preferences { message: "m".into() },
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
    fn html_links_are_rewritten_and_the_pixel_added() {
        let key = LinkKey([1; 32]);
        let html = "<body><a href=\"https://shop.example/p?a=1&amp;b=2\">P</a> <a href='mailto:x@y'>m</a> \
                    <a HREF=\"https://k.example/u/abc\">u</a></body>";
        let (out, links) = track_html(html, &key, "https://k.example", "msg_5_s");
        assert_eq!(links, vec!["https://shop.example/p?a=1&b=2".to_string()]);
        assert!(out.contains("href=\"https://k.example/c/"), "{out}");
        assert!(out.contains("href='mailto:x@y'") && out.contains("https://k.example/u/abc"), "{out}");
        let click = out.split("https://k.example/c/").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(key.verify(click), Some(Link::Click { message: "msg_5_s".into(), index: 0 }));
        assert!(out.ends_with("</body>") && out.contains("/o/"), "{out}");
    }
}
