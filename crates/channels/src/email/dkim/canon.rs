//! RFC 6376 §3.4 "relaxed" canonicalisation of header fields and of the body, over the bytes of a formatted
//! message, and the folding of the `DKIM-Signature` field as lettre folds header fields.

const CRLF: &[u8] = b"\r\n";
/// Longest line the folding aims at, as lettre's header encoder (email-encoding's `MAX_LINE_LEN`).
const FOLD_LINE_BYTES: usize = 76;

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// One header field of a message: its name, and its value as written (after the colon, folding included).
pub(super) struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// Splits a message into its header fields and its body. `None` when there is no empty line ending the header
/// block. `header_end` is where the header block's last field ends (the empty line starts there).
pub(super) struct Parts<'a> {
    pub fields: Vec<Field<'a>>,
    pub header_end: usize,
    pub body: &'a [u8],
}

pub(super) fn split(message: &[u8]) -> Option<Parts<'_>> {
    let blank = if message.starts_with(CRLF) { 0 } else { message.windows(4).position(|w| w == b"\r\n\r\n")? + 2 };
    let (head, body) = (&message[..blank], &message[blank + 2..]);
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut start = 0;
    while start < head.len() {
        // A field runs to the CRLF that is not followed by white space (a folded continuation line).
        let mut end = start;
        loop {
            let crlf = head[end..].windows(2).position(|w| w == CRLF).map_or(head.len(), |i| end + i);
            end = crlf;
            if head.get(crlf + 2).is_some_and(|&b| is_wsp(b)) {
                end += 2;
                continue;
            }
            break;
        }
        let line = &head[start..end];
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        fields.push(Field { name: &line[..colon], value: line.get(colon + 1..).unwrap_or_default() });
        start = end + 2;
    }
    Some(Parts { fields, header_end: blank, body })
}

/// Appends `name:value\r\n` in relaxed form: the name lower-cased, the value unfolded, runs of white space made
/// one space, white space at its start and end removed.
pub(super) fn relaxed_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    relaxed_value(out, value);
    out.extend_from_slice(CRLF);
}

fn relaxed_value(out: &mut Vec<u8>, value: &[u8]) {
    let (mut space, mut started) = (false, false);
    for &b in value {
        match b {
            // Unfolding: a folded line's CRLF goes, the white space after it stays.
            b'\r' | b'\n' => {}
            b if is_wsp(b) => space = started,
            b => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
}

/// Bytes of the body looked at together: a chunk with nothing to change is copied whole.
const BODY_CHUNK: usize = 16;

/// True where the relaxed form differs from the bytes at `x` followed by `next`: a tab, or a space that starts a
/// run of white space or ends a line (a lone space between words stays as it is).
fn changes(x: u8, next: u8) -> bool {
    (x == b'\t') | ((x == b' ') & ((next == b' ') | (next == b'\t') | (next == b'\r')))
}

/// The body in relaxed form: white space at the end of each line removed, other runs of it made one space, empty
/// lines at the end removed, and a CRLF ending the last line. An empty body (or only empty lines) is empty.
pub(super) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while i < body.len() {
        // Most of a body is words with single spaces: those chunks go at once (`fold`, not `any`: no early exit,
        // so the chunk is compared with vector instructions).
        if let (Some(x), Some(next)) = (body.get(i..i + BODY_CHUNK), body.get(i + 1..i + 1 + BODY_CHUNK))
            && !x.iter().zip(next).fold(false, |hit, (&x, &y)| hit | changes(x, y))
        {
            out.extend_from_slice(x);
            i += BODY_CHUNK;
            continue;
        }
        let b = body[i];
        if is_wsp(b) {
            let run = body[i..].iter().take_while(|&&c| is_wsp(c)).count();
            i += run;
            if i < body.len() && !body[i..].starts_with(CRLF) {
                out.push(b' ');
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(CRLF) {
        out.extend_from_slice(CRLF);
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == CRLF {
        out.clear();
    }
    out
}

/// `name: value\r\n` folded as lettre folds a header field: before a word (values are split at single spaces)
/// that would take the line past [`FOLD_LINE_BYTES`], the line breaks and the next one starts with the space.
pub(super) fn folded(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + value.len() / FOLD_LINE_BYTES * 3 + 8);
    out.push_str(name);
    out.push_str(": ");
    let mut line = out.len();
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line + 1 + word.len() > FOLD_LINE_BYTES {
                out.push_str("\r\n");
                line = 0;
            }
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> String {
        let mut out = Vec::new();
        relaxed_header(&mut out, name.as_bytes(), value.as_bytes());
        String::from_utf8(out).unwrap()
    }

    fn body(b: &str) -> String {
        String::from_utf8(relaxed_body(b.as_bytes())).unwrap()
    }

    #[test]
    fn relaxed_headers() {
        assert_eq!(header("Subject", " Is  dinner\t ready? "), "subject:Is dinner ready?\r\n");
        assert_eq!(header("X", " a\r\n  b \r\n\tc"), "x:a b c\r\n");
        assert_eq!(header("X", "\r\n folded first"), "x:folded first\r\n");
        assert_eq!(header("X", ""), "x:\r\n");
    }

    #[test]
    fn relaxed_bodies() {
        // RFC 6376 §3.4.6's example.
        assert_eq!(body(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
        assert_eq!(body("a \t"), "a\r\n");
        assert_eq!(body("a\r\n"), "a\r\n");
        assert_eq!(body(""), "");
        assert_eq!(body("\r\n\r\n"), "");
        assert_eq!(body(" \r\n"), "");
        assert_eq!(body("\n x \n"), "\n x \n\r\n", "bare line feeds are not line ends");
    }

    /// The relaxed body byte by byte, without the chunked fast path: what `relaxed_body` must equal.
    fn relaxed_body_bytewise(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            if is_wsp(body[i]) {
                i += body[i..].iter().take_while(|&&c| is_wsp(c)).count();
                if i < body.len() && !body[i..].starts_with(CRLF) {
                    out.push(b' ');
                }
            } else {
                out.push(body[i]);
                i += 1;
            }
        }
        if !out.is_empty() && !out.ends_with(CRLF) {
            out.extend_from_slice(CRLF);
        }
        while out.ends_with(b"\r\n\r\n") {
            out.truncate(out.len() - 2);
        }
        if out == CRLF { Vec::new() } else { out }
    }

    proptest::proptest! {
        #[test]
        fn the_chunked_body_is_the_bytewise_one(parts in proptest::collection::vec(
            proptest::sample::select(vec!["a", "word", " ", "  ", "\t", " \t ", "\r\n", "\r", "\n", "é", "<p>"]), 0..120)
        ) {
            let body = parts.concat();
            proptest::prop_assert_eq!(relaxed_body(body.as_bytes()), relaxed_body_bytewise(body.as_bytes()));
        }
    }

    #[test]
    fn splits_fields_and_body() {
        let m = b"From: a@b.example\r\nSubject: one\r\n two\r\nTo:c@d.example\r\n\r\nbody\r\n";
        let parts = split(m).unwrap();
        let names: Vec<&[u8]> = parts.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, [&b"From"[..], b"Subject", b"To"]);
        assert_eq!(parts.fields[1].value, b" one\r\n two");
        assert_eq!(parts.body, b"body\r\n");
        assert_eq!(&m[..parts.header_end], &m[..m.len() - 8]);
        assert!(split(b"From: a\r\nno end").is_none());
        assert_eq!(split(b"\r\nonly body").unwrap().fields.len(), 0);
    }

    #[test]
    fn folding_keeps_lines_short_and_unfolds_to_the_value() {
        let value =
            format!("v=1; a=rsa-sha256; d=velo.example; s=k1; c=relaxed/relaxed; q=dns/txt; b={}", "x".repeat(100));
        let f = folded("DKIM-Signature", &value);
        assert!(f.starts_with("DKIM-Signature: v=1; ") && f.ends_with("\r\n"), "{f}");
        assert_eq!(f.trim_end().replace("\r\n ", " "), format!("DKIM-Signature: {value}"));
        let lines: Vec<&str> = f.trim_end().split("\r\n").collect();
        assert!(lines.len() >= 3, "{f}");
        for line in lines.iter().filter(|l| !l.contains("xxx")) {
            assert!(line.len() <= FOLD_LINE_BYTES, "{line}");
        }
    }
}
