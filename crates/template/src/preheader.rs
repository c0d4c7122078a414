//! The preview text (preheader) of an email: the line inboxes show after the subject. They take it from the first
//! text of the body, so it goes at the very top of the html, hidden from the reader, followed by invisible
//! filler so that the inbox does not run on into the body's first words after a short preview text.

use crate::escape::html_escape;

/// Hides the preheader in every mail app (`mso-hide` for Outlook on Windows, the rest for the others).
const HIDDEN_STYLE: &str = "display:none;font-size:1px;color:transparent;line-height:1px;max-height:0;max-width:0;\
opacity:0;overflow:hidden;mso-hide:all";
/// One unit of invisible filler: a combining grapheme joiner, a zero-width non-joiner and a non-breaking space.
const FILLER: &str = "&#847;&zwnj;&nbsp;";
/// Filler units after the preview text: about 100 characters, what inboxes show at most.
const FILLER_REPEAT: usize = 100;

/// `html` with the hidden preheader `preview` (plain text, escaped here) right after its `<body>` tag, or first
/// when it has none. An empty preview text leaves the html as it is.
pub(crate) fn with_preheader(html: &str, preview: &str) -> String {
    let preview = preview.trim();
    if preview.is_empty() {
        return html.to_owned();
    }
    let escaped = html_escape(preview);
    let mut div = String::with_capacity(escaped.len() + HIDDEN_STYLE.len() + FILLER.len() * FILLER_REPEAT + 64);
    div.push_str("<div style=\"");
    div.push_str(HIDDEN_STYLE);
    div.push_str("\">");
    div.push_str(&escaped);
    div.push_str(&FILLER.repeat(FILLER_REPEAT));
    div.push_str("</div>");
    let at = body_content_start(html).unwrap_or(0);
    let mut out = String::with_capacity(html.len() + div.len());
    out.push_str(&html[..at]);
    out.push_str(&div);
    out.push_str(&html[at..]);
    out
}

/// Where the content of the `<body ...>` element starts: just after the tag's `>` (ASCII case-insensitive).
fn body_content_start(html: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut from = 0;
    while let Some(i) = find_ci(&bytes[from..], b"<body").map(|i| i + from) {
        let after = i + "<body".len();
        // `<body>` or `<body attr...>`, not `<bodyguard>`.
        if matches!(bytes.get(after), Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/')) {
            return tag_end(bytes, after).map(|end| end + 1);
        }
        from = after;
    }
    None
}

/// The index of the `>` closing a tag whose attributes start at `from` (a `>` inside a quoted value does not).
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, b) in bytes.iter().enumerate().skip(from) {
        match (quote, *b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'"' | b'\'')) => quote = Some(c),
            (None, b'>') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preheader_of(html: &str) -> &str {
        let start = html.find("<div style=\"display:none").expect("a preheader");
        let text = &html[start..];
        let open_end = text.find('>').unwrap() + 1;
        let end = text.find("&#847;").unwrap();
        &text[open_end..end]
    }

    #[test]
    fn goes_first_in_the_body_hidden_and_escaped() {
        let html =
            "<!doctype html><html><head><title>x</title></head><BODY class=\"a>b\" style='x'><p>Hi</p></BODY></html>";
        let out = with_preheader(html, "  Tom & <Jerry>'s \"sale\" ");
        assert!(out.starts_with("<!doctype html><html><head><title>x</title></head><BODY class=\"a>b\" style='x'><div style=\"display:none;"), "{out}");
        assert_eq!(preheader_of(&out), "Tom &amp; &lt;Jerry&gt;&#39;s &quot;sale&quot;");
        assert!(out.contains("mso-hide:all"));
        assert!(out.ends_with(&format!("{}</div><p>Hi</p></BODY></html>", FILLER)), "{out}");
        assert_eq!(out.matches("&#847;").count(), FILLER_REPEAT);
    }

    #[test]
    fn without_a_body_tag_it_goes_first() {
        let out = with_preheader("<bodyguard>no</bodyguard><p>Hi</p>", "Look inside");
        assert!(out.starts_with("<div style=\"display:none"), "{out}");
        assert_eq!(preheader_of(&out), "Look inside");
        assert!(out.ends_with("</div><bodyguard>no</bodyguard><p>Hi</p>"));
    }

    #[test]
    fn an_empty_preview_text_changes_nothing() {
        assert_eq!(with_preheader("<body><p>x</p></body>", " \n "), "<body><p>x</p></body>");
        // A body tag never closed: first, rather than nowhere.
        assert!(with_preheader("<body class=\"x", "Hi").starts_with("<div"));
    }
}
