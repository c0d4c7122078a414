//! Click tracking of an HTML body: which `href`s become signed `/c/` links. Kairos redirects only to
//! destinations stored with a message, but a destination taken from event data (`{{ item.url }}`) would still
//! turn a Kairos link into a redirect to anywhere; so only hosts of the store's own domain and the workspace's
//! allowed domains are tracked, whatever the link's source. Other web links stay as written (untracked) with a
//! render warning naming the host; links with a scheme that runs code (`javascript:`, `data:`...) are dropped.

use crate::links::{Link, LinkKey};

/// Schemes kept as written without tracking.
const PLAIN_SCHEMES: [&str; 3] = ["mailto", "tel", "sms"];

/// The rewritten body, the tracked destinations by index (stored with the message) and the render warnings.
#[derive(Debug, Default, PartialEq)]
pub struct Tracked {
    pub html: String,
    pub links: Vec<String>,
    pub warnings: Vec<String>,
}

/// What to do with one link.
enum Action {
    /// A signed click link to this (normalised) URL.
    Track(String),
    Keep,
    /// Kept untracked; the warning says why.
    Warn(String),
    /// The attribute is removed; the warning says why.
    Drop(String),
}

/// Whether `host` is one of `domains` or a subdomain of one.
pub fn host_allowed(host: &str, domains: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    domains.iter().any(|d| host == *d || host.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.')))
}

/// The decision for one `href` value (still HTML-encoded). `public_url` links (unsubscribe, preferences) stay.
fn classify(raw: &str, public_url: &str, domains: &[String]) -> Action {
    // What a browser makes of the value: character references decoded, surrounding controls and spaces
    // trimmed, tabs and newlines removed anywhere (WHATWG URL parsing).
    let decoded = decode_entities(raw);
    let url: String =
        decoded.trim_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let Some((scheme, _)) = url.split_once(':') else { return Action::Keep };
    let scheme_like = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_like {
        return Action::Keep; // relative (`/x`, `#top`, `?a=b:c`)
    }
    let scheme = scheme.to_ascii_lowercase();
    if PLAIN_SCHEMES.contains(&scheme.as_str()) {
        return Action::Keep;
    }
    if scheme != "http" && scheme != "https" {
        return Action::Drop(format!("a link with the {scheme}: scheme was removed"));
    }
    if url == public_url || url.starts_with(&format!("{public_url}/")) {
        return Action::Keep;
    }
    match url::Url::parse(&url) {
        Ok(u) => match u.host_str() {
            Some(host) if host_allowed(host, domains) => Action::Track(u.to_string()),
            Some(host) => Action::Warn(format!(
                "the link to {host} is not tracked: only the store's domain and tracking.allowed_domains are"
            )),
            None => Action::Warn("a link without a host is not tracked".into()),
        },
        Err(e) => Action::Warn(format!("a link that is not a valid URL ({e}) is not tracked")),
    }
}

/// Applies the link rules to `html`. With `key`, allowed links become signed click links and the open pixel is
/// added (a send); without, links are only checked (a preview).
pub fn track_html(html: &str, key: Option<&LinkKey>, public_url: &str, message: &str, domains: &[String]) -> Tracked {
    let mut t = Tracked { html: String::with_capacity(html.len() + 256), ..Tracked::default() };
    let mut copied = 0;
    for a in hrefs(html) {
        let action = classify(&html[a.value.0..a.value.1], public_url, domains);
        let replacement = match (&action, key) {
            (Action::Track(url), Some(key)) => {
                let token = key.token(&Link::Click { message: message.to_string(), index: t.links.len() });
                t.links.push(url.clone());
                Some(format!("href=\"{public_url}/c/{token}\""))
            }
            (Action::Drop(_), _) => Some(String::new()),
            _ => None,
        };
        if let Action::Warn(w) | Action::Drop(w) = action
            && !t.warnings.contains(&w)
        {
            t.warnings.push(w);
        }
        if let Some(r) = replacement {
            t.html.push_str(&html[copied..a.attr.0]);
            t.html.push_str(&r);
            copied = a.attr.1;
        }
    }
    t.html.push_str(&html[copied..]);
    if let Some(key) = key {
        let pixel = format!(
            "<img src=\"{public_url}/o/{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
            key.token(&Link::Open { message: message.to_string() })
        );
        match t.html.rfind("</body>") {
            Some(at) => t.html.insert_str(at, &pixel),
            None => t.html.push_str(&pixel),
        }
    }
    t
}

/// An `href` attribute: byte ranges of the whole attribute and of its value (without quotes).
struct Href {
    attr: (usize, usize),
    value: (usize, usize),
}

/// Every `href` attribute inside a tag, quoted or not (a small tokenizer: attribute values and comments are
/// skipped whole, so `href=` in text or inside another attribute's value is not taken for one).
fn hrefs(html: &str) -> Vec<Href> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i = html[i..].find("-->").map_or(b.len(), |e| i + e + 3);
            continue;
        }
        if !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        // The tag name, then attributes up to `>`.
        i += 1;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let name_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
                i += 1;
            }
            let name = &html[name_start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if b.get(j) != Some(&b'=') {
                continue; // an attribute without a value
            }
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let (value, end) = match b.get(j) {
                Some(q @ (b'"' | b'\'')) => {
                    let close = html[j + 1..].find(*q as char).map_or(b.len(), |e| j + 1 + e);
                    ((j + 1, close), (close + 1).min(b.len()))
                }
                _ => {
                    let mut e = j;
                    while e < b.len() && !b[e].is_ascii_whitespace() && b[e] != b'>' {
                        e += 1;
                    }
                    ((j, e), e)
                }
            };
            if name.eq_ignore_ascii_case("href") {
                out.push(Href { attr: (name_start, end), value });
            }
            i = end;
        }
        i += 1;
    }
    out
}

/// Decodes HTML character references the way a browser does in an attribute value: numeric ones, and the
/// named ones that can spell a URL scheme or separator. Others stay as written (as in browsers, where an
/// unknown reference is literal text).
fn decode_entities(s: &str) -> String {
    const NAMED: [(&str, char); 13] = [
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("colon", ':'),
        ("Tab", '\t'),
        ("NewLine", '\n'),
        ("period", '.'),
        ("plus", '+'),
        ("sol", '/'),
        ("quest", '?'),
        ("num", '#'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(num) = rest.strip_prefix('#') {
            let (hex, digits) = match num.strip_prefix(['x', 'X']) {
                Some(h) => (true, h),
                None => (false, num),
            };
            let len = digits.find(|c: char| !(if hex { c.is_ascii_hexdigit() } else { c.is_ascii_digit() }));
            let len = len.unwrap_or(digits.len());
            if len > 0 {
                let n = u32::from_str_radix(&digits[..len.min(8)], if hex { 16 } else { 10 }).unwrap_or(0xFFFD);
                out.push(char::from_u32(n).filter(|c| *c != '\0').unwrap_or('\u{FFFD}'));
                let used = num.len() - digits.len() + len;
                rest = num[used..].strip_prefix(';').unwrap_or(&num[used..]);
                continue;
            }
        } else if let Some((name, c)) = NAMED.iter().find(|(n, _)| rest.starts_with(&format!("{n};"))) {
            out.push(*c);
            rest = &rest[name.len() + 1..];
            continue;
        }
        out.push('&');
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["shop.example".to_string()]
    }

    #[test]
    fn store_links_are_tracked_others_kept_and_scripts_dropped() {
        let key = LinkKey([1; 32]);
        let html = "<body><a href=\"https://shop.example/p?a=1&amp;b=2\">P</a> <a href='mailto:x@y'>m</a> \
                    <a HREF=\"https://k.example/u/abc\">u</a><a href=https://cdn.shop.example/i>i</a>\
                    <a class=x href = \"https://evil.example/phish\">e</a><a href=\"java&#x73;cript&colon;alert(1)\">j</a>\
                    <p>href=\"https://shop.example/text\"</p><a title='href=\"https://shop.example/t\"' href=\"#top\">t</a>\
                    <a href=\"https://shop.example.evil.example/\">s</a><a href=\" data:text/html,x\">d</a></body>";
        let t = track_html(html, Some(&key), "https://k.example", "msg_5_s", &domains());
        assert_eq!(t.links, vec!["https://shop.example/p?a=1&b=2", "https://cdn.shop.example/i"]);
        let out = &t.html;
        assert!(out.contains("href=\"https://k.example/c/"), "{out}");
        assert!(out.contains("href='mailto:x@y'") && out.contains("https://k.example/u/abc"), "{out}");
        assert!(out.contains("href = \"https://evil.example/phish\""), "left as written: {out}");
        assert!(!out.contains("cript") && !out.contains("data:"), "dropped: {out}");
        assert!(out.contains("<p>href=\"https://shop.example/text\"</p>"), "text is not a link: {out}");
        assert!(out.contains("title='href=\"https://shop.example/t\"' href=\"#top\""), "{out}");
        assert!(out.contains("https://shop.example.evil.example/"), "not a subdomain of the store: {out}");
        let click = out.split("https://k.example/c/").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(key.verify(click), Some(Link::Click { message: "msg_5_s".into(), index: 0 }));
        assert!(out.ends_with("</body>") && out.contains("/o/"), "{out}");
        let w = t.warnings.join("\n");
        assert!(w.contains("evil.example") && w.contains("shop.example.evil.example"), "{w}");
        assert!(w.contains("javascript:") && w.contains("data:"), "{w}");
    }

    #[test]
    fn a_preview_only_checks() {
        let html = "<a href=\"https://evil.example/\">e</a><a href=\"https://shop.example/\">s</a>";
        let t = track_html(html, None, "https://k.example", "preview", &domains());
        assert_eq!((t.html.as_str(), t.links.len()), (html, 0));
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    }

    #[test]
    fn hosts_match_whole_labels() {
        let d = vec!["velo.example".to_string()];
        assert!(host_allowed("velo.example", &d) && host_allowed("WWW.velo.example.", &d));
        assert!(!host_allowed("evilvelo.example", &d) && !host_allowed("velo.example.evil", &d));
    }

    #[test]
    fn entities_decode_like_a_browser() {
        assert_eq!(decode_entities("a&amp;b&#58;&#x3A;&colon&unknown;&#;"), "a&b::&colon&unknown;&#;");
        assert_eq!(decode_entities("&#0;&#x110000;"), "\u{FFFD}\u{FFFD}");
    }
}
