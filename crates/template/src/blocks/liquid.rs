//! Text typed into a block, written into Liquid: escaped for HTML outside `{{ ... }}` outputs, which are kept
//! as they are (the renderer escapes their values as data).

use super::COLLECTIONS_PER_TEMPLATE_MAX;
use crate::escape::html_escape;
use crate::renderer::{TemplateParts, validate};

/// A piece of a block's text: written text, or a `{{ ... }}` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Output(&'a str),
}

/// The end of an output opened at `from` (just after `{{`): the index of its `}}`, skipping quoted strings.
fn output_end(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'"' | b'\'')) => quote = Some(c),
            (None, b'}') if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The pieces of `s`, in order. An output without its `}}` runs to the end (the Liquid check refuses it).
pub(crate) fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let end = output_end(rest, open + 2).map_or(rest.len(), |e| e + 2);
        out.push(Piece::Output(&rest[open..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Why `s` cannot be a block's Liquid text: a `{% %}` tag, or an output that does not compile.
pub(crate) fn liquid_problem(s: &str) -> Option<String> {
    if s.contains("{%") {
        return Some("tags ({% ... %}) are not allowed in a block: use {{ ... }} to insert a value".into());
    }
    if !s.contains("{{") {
        return None;
    }
    let e = validate(&TemplateParts::message(s)).err()?;
    // The error names the part it was checked as ("body (line 1): ..."); the caller names the block's field.
    let text = e.to_string();
    Some(text.split_once(": ").map_or_else(|| text.clone(), |(_, m)| m.to_string()))
}

/// `s` for HTML: written text escaped, outputs kept.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for p in pieces(s) {
        match p {
            Piece::Text(t) => out.push_str(&html_escape(t)),
            Piece::Output(o) => out.push_str(o),
        }
    }
    out
}

/// `s` as paragraphs with `style`: a blank line starts a new one, a single line break is a `<br>`.
pub(crate) fn paragraphs(s: &str, style: &str) -> String {
    let s = s.replace("\r\n", "\n");
    let mut out = String::with_capacity(s.len() + 64);
    for para in s.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str(&format!("<p style=\"{style}\">"));
        let lines: Vec<String> = para.split('\n').map(|l| escaped(l.trim())).collect();
        out.push_str(&lines.join("<br>"));
        out.push_str("</p>");
    }
    out
}

/// Whether an address is acceptable: `http(s)://` with something after it, or starting with a Liquid output;
/// no spaces or control characters outside outputs.
pub(crate) fn address_ok(u: &str) -> bool {
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    let http = (lower.starts_with("https://") && u.len() > 8) || (lower.starts_with("http://") && u.len() > 7);
    let blank = |t: &str| t.chars().any(|c| c.is_whitespace() || c.is_control());
    let text_ok = pieces(u).iter().all(|p| !matches!(p, Piece::Text(t) if blank(t)));
    (http || u.starts_with("{{")) && text_ok
}

/// The collections (catalog categories) a template source reads: `collections["Road bikes"]`,
/// `collections['sale']` or `collections.sale`, literal names only, each once, at most
/// [`COLLECTIONS_PER_TEMPLATE_MAX`] (later ones read as empty lists).
pub fn collection_names(src: &str) -> Vec<String> {
    const VAR: &str = "collections";
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(rel) = src[from..].find(VAR) {
        let at = from + rel;
        from = at + VAR.len();
        // The variable itself, not the end of a longer name (`my_collections`).
        let part_of_name = src[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let after = src[from..].trim_start();
        let name = if part_of_name {
            None
        } else if let Some(dotted) = after.strip_prefix('.') {
            let len = dotted.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(dotted.len());
            Some(&dotted[..len])
        } else if let Some(bracket) = after.strip_prefix('[') {
            let bracket = bracket.trim_start();
            let quote = bracket.chars().next().filter(|c| *c == '"' || *c == '\'');
            quote.and_then(|q| bracket[1..].find(q).map(|end| &bracket[1..1 + end]))
        } else {
            None
        };
        if let Some(n) = name.filter(|n| !n.is_empty())
            && !out.iter().any(|x| x == n)
        {
            if out.len() == COLLECTIONS_PER_TEMPLATE_MAX {
                break;
            }
            out.push(n.to_string());
        }
    }
    out
}
