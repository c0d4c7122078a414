//! HTML escaping of data values (SPEC 18) and its exact inverse, used by the `raw` filter.

use std::borrow::Cow;

/// The characters escaped in HTML bodies: enough for element content and quoted attribute values.
fn needs_escape(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// Escapes `& < > " '` as `&amp; &lt; &gt; &quot; &#39;`; borrows when nothing needs escaping.
pub fn html_escape(s: &str) -> Cow<'_, str> {
    let Some(first) = s.bytes().position(needs_escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

const ENTITIES: [(&str, char); 5] = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&#39;", '\'')];

/// Reverses [`html_escape`] exactly: `html_unescape(&html_escape(x)) == x` for every `x`. Only the five entities
/// `html_escape` writes are decoded; any other `&...` is left alone.
pub fn html_unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match ENTITIES.iter().find(|(e, _)| rest.starts_with(e)) {
            Some((e, c)) => {
                out.push(*c);
                rest = &rest[e.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            html_escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert!(matches!(html_escape("plain text é"), Cow::Borrowed(_)));
        assert_eq!(html_unescape("&lt;b&gt; &amp;amp; &nbsp; &"), "<b> &amp; &nbsp; &");
    }

    proptest! {
        #[test]
        fn unescape_inverts_escape(s in any::<String>()) {
            let escaped = html_escape(&s);
            prop_assert_eq!(html_unescape(&escaped), s.as_str());
        }
    }
}
