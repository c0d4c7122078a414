//! A plain-text alternative derived from rendered HTML, for emails saved without a text part.
//!
//! One pass over the HTML, writing straight into the output (it runs on every such email, so it must cost little
//! next to the render itself).

/// Strips tags, drops `head`/`style`/`script`, turns blocks and `<br>` into line breaks, writes links as
/// `text (url)`, decodes entities, and collapses whitespace. Simple on purpose: a fallback, not a layout engine.
pub fn html_to_text(html: &str) -> String {
    let mut out = TextOut { buf: String::with_capacity(html.len() / 2), space: false, newlines: 0 };
    let mut rest = html;
    let mut link: Option<(&str, usize)> = None;
    loop {
        let lt = out.text(rest);
        rest = &rest[lt..];
        if rest.is_empty() {
            return out.finish();
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            out.visible("<");
            rest = &rest[1..];
            continue;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name_part = &tag[tag.bytes().take_while(|&c| c == b'/').count()..];
        let name_len = name_part.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &name_part[..name_len];
        match (Tag::of(name.as_bytes()), closing) {
            (Tag::Hidden, false) => rest = skip_element(rest, name),
            (Tag::A, true) => {
                if let Some((href, start)) = link.take() {
                    out.link_end(href, start);
                }
            }
            (Tag::A, false) => {
                link = attr(tag, "href")
                    .filter(|h| h.starts_with("http") || h.starts_with("mailto:"))
                    .map(|h| (h, out.buf.len()));
            }
            (Tag::Br, _) => out.newlines = (out.newlines + 1).min(2),
            (Tag::Block, _) => out.newlines = out.newlines.max(1),
            (Tag::Cell, true) => out.space = true,
            _ => {}
        }
    }
}

/// What an element does to the text, by the name of its tag (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// `head`, `style`, `script`, `title`: content dropped.
    Hidden,
    A,
    Br,
    /// Starts and ends on a line of its own.
    Block,
    /// `td`, `th`: a space after.
    Cell,
    Other,
}

/// A tag name of up to 8 ASCII letters and digits, lower-cased, as one integer: names compare as numbers instead
/// of strings (a message has hundreds of tags). Letters are lower-cased by setting their 0x20 bit, which leaves
/// digits as they are.
const fn packed(name: &[u8]) -> u64 {
    let mut key = 0u64;
    let mut i = 0;
    while i < name.len() {
        key = (key << 8) | (name[i] | 0x20) as u64;
        i += 1;
    }
    key
}

/// Longest name [`packed`] holds.
const PACKED_NAME_BYTES_MAX: usize = 8;

impl Tag {
    fn of(name: &[u8]) -> Tag {
        const HEAD: u64 = packed(b"head");
        const STYLE: u64 = packed(b"style");
        const SCRIPT: u64 = packed(b"script");
        const TITLE: u64 = packed(b"title");
        const A: u64 = packed(b"a");
        const BR: u64 = packed(b"br");
        const TD: u64 = packed(b"td");
        const TH: u64 = packed(b"th");
        const BLOCKS: [u64; 18] = [
            packed(b"p"),
            packed(b"div"),
            packed(b"tr"),
            packed(b"li"),
            packed(b"ul"),
            packed(b"ol"),
            packed(b"table"),
            packed(b"h1"),
            packed(b"h2"),
            packed(b"h3"),
            packed(b"h4"),
            packed(b"h5"),
            packed(b"h6"),
            packed(b"section"),
            packed(b"article"),
            packed(b"header"),
            packed(b"footer"),
            packed(b"hr"),
        ];
        if name.len() > PACKED_NAME_BYTES_MAX {
            return if name.eq_ignore_ascii_case(b"blockquote") { Tag::Block } else { Tag::Other };
        }
        match packed(name) {
            HEAD | STYLE | SCRIPT | TITLE => Tag::Hidden,
            A => Tag::A,
            BR => Tag::Br,
            TD | TH => Tag::Cell,
            k if BLOCKS.contains(&k) => Tag::Block,
            _ => Tag::Other,
        }
    }
}

/// The text after the end tag of element `name` (case-insensitive), or nothing when it never ends.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let b = rest.as_bytes();
    let mut from = 0;
    while let Some(i) = rest[from..].find("</").map(|i| from + i) {
        let after = &b[i + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]);
        }
        from = i + 2;
    }
    ""
}

/// The value of attribute `name` in a tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let b = tag.as_bytes();
    let pat = name.len() + 1;
    let i = (1..b.len().saturating_sub(pat - 1)).find(|&i| {
        b[i - 1].is_ascii_whitespace()
            && b[i..i + name.len()].eq_ignore_ascii_case(name.as_bytes())
            && b[i + name.len()] == b'='
    })?;
    let v = &tag[i + pat..];
    match v.as_bytes().first()? {
        q @ (b'"' | b'\'') => v[1..].find(*q as char).map(|e| &v[1..1 + e]),
        _ => v.split_ascii_whitespace().next(),
    }
}

/// True for the bytes that end a run of text other than a space: markup, entities, whitespace but the space.
/// Written as comparisons (whitespace other than the space is 9, 10, 12 and 13) so that a chunk of bytes is tested
/// with vector instructions.
fn is_break(b: u8) -> bool {
    (b == b'<') | (b == b'&') | ((b.wrapping_sub(b'\t') < 5) & (b != 0x0b))
}

/// Bytes examined at once when looking for the end of a run of text: a chunk where the run goes on is skipped
/// with a few vector instructions instead of a branch per byte.
const SCAN_CHUNK: usize = 16;

/// True where a run of text ends at `x` followed by `next`: a break, or a space that is not a single space between
/// two words (it collapses with others, and one before a tag may become a line break instead).
fn ends_run(x: u8, next: Option<u8>) -> bool {
    is_break(x) | ((x == b' ') & next.is_none_or(|y| (y == b' ') | is_break(y)))
}

/// The end of the run of text starting at `from` (not a space or a break).
fn run_end(b: &[u8], from: usize) -> usize {
    let mut k = from;
    while let (Some(x), Some(next)) = (b.get(k..k + SCAN_CHUNK), b.get(k + 1..k + 1 + SCAN_CHUNK)) {
        // `fold` rather than `any`: no early exit, so the whole chunk is compared at once.
        if x.iter().zip(next).fold(false, |hit, (&x, &y)| hit | ends_run(x, Some(y))) {
            break;
        }
        k += SCAN_CHUNK;
    }
    (k..b.len()).find(|&k| ends_run(b[k], b.get(k + 1).copied())).unwrap_or(b.len())
}

/// Output with whitespace collapsed as it is written: pending spaces and line breaks are emitted only before the
/// next visible character, so there is never trailing whitespace and at most one blank line.
struct TextOut {
    buf: String,
    space: bool,
    newlines: u8,
}

impl TextOut {
    /// Writes the text of `s` up to its first `<`, whose index it returns (`s.len()` when there is none).
    fn text(&mut self, s: &str) -> usize {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'<' => return i,
                c if c.is_ascii_whitespace() => {
                    self.space = true;
                    i += 1;
                }
                b'&' => match decode_entity(&s[i..]) {
                    Some((ch, len)) => {
                        if ch == '\u{a0}' {
                            self.space = true;
                        } else {
                            self.visible(ch.encode_utf8(&mut [0; 4]));
                        }
                        i += len;
                    }
                    None => {
                        self.visible("&");
                        i += 1;
                    }
                },
                _ => {
                    // A run of ordinary bytes and single spaces between words, copied at once. Its ends are
                    // ASCII, so the slice is on char boundaries.
                    let end = run_end(b, i);
                    self.visible(&s[i..end]);
                    i = end;
                }
            }
        }
        b.len()
    }

    fn visible(&mut self, s: &str) {
        if !self.buf.is_empty() {
            if self.newlines > 0 {
                for _ in 0..self.newlines {
                    self.buf.push('\n');
                }
            } else if self.space {
                self.buf.push(' ');
            }
        }
        self.newlines = 0;
        self.space = false;
        self.buf.push_str(s);
    }

    fn link_end(&mut self, href: &str, start: usize) {
        let shown = self.buf[start..].trim();
        let href = decode_all(href);
        if shown.is_empty() {
            self.space = true;
            self.visible(&href);
        } else if shown != href {
            self.space = true;
            self.visible(&format!("({href})"));
        }
    }

    fn finish(self) -> String {
        self.buf
    }
}

fn decode_all(s: &str) -> String {
    let mut out = TextOut { buf: String::with_capacity(s.len()), space: false, newlines: 0 };
    let mut rest = s;
    loop {
        rest = &rest[out.text(rest)..];
        match rest.strip_prefix('<') {
            Some(r) => {
                out.visible("<");
                rest = r;
            }
            None => return out.buf,
        }
    }
}

/// Decodes the entity at the start of `s` (`&amp;`, `&#39;`, `&#x20AC;`, ...): the character and the length read.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let end = s.as_bytes().iter().take(12).position(|&c| c == b';')?;
    let ent = &s[1..end];
    let c = match ent {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let n = match ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                Some(h) => u32::from_str_radix(h, 16).ok()?,
                None => ent.strip_prefix('#')?.parse().ok()?,
            };
            char::from_u32(n)?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_markup_to_readable_text() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head><body>\
            <h1>Hi Ana &amp; co</h1><p>Your   cart<br>is waiting.</p><!-- hidden -->\
            <p><a href=\"https://shop.example/cart?a=1&amp;b=2\">Return to cart</a></p>\
            <SCRIPT>alert(1)</SCRIPT><p>&lt;3&nbsp;&#8364;5 &#x41;&bogus; & x</p>\
            <table><tr><td><a href='https://x.example/i'><img src=\"i.png\"></a></td><td>Lamp</td><td>$5</td></tr></table>\
            <p>One<br><br>Two</p></body></html>";
        assert_eq!(
            html_to_text(html),
            "Hi Ana & co\nYour cart\nis waiting.\nReturn to cart (https://shop.example/cart?a=1&b=2)\n<3 €5 A&bogus; & x\n\
             https://x.example/i Lamp $5\nOne\n\nTwo"
        );
    }
}
