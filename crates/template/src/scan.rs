//! A light scan of Liquid source for what the parser does not check: literal partial names, bounded ranges, and
//! the line of an unknown filter (liquid reports the filter but not where it is).

use crate::error::TemplateError;

/// Most iterations a loop over a literal range may make, nested loops multiplied
/// (`{% for i in (1..100) %}{% for j in (1..100) %}` is 10 000). Liquid materialises ranges in memory and has no
/// timeout, so this bounds both; a range whose bounds are not literals is rejected for the same reason.
pub const RANGE_ITERATIONS_MAX: i64 = 10_000;

/// One `{{ ... }}` or `{% ... %}` with its inner text (whitespace-control dashes removed) and 1-based line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Markup<'a> {
    pub is_tag: bool,
    pub text: &'a str,
    pub line: u32,
}

impl<'a> Markup<'a> {
    /// The tag name (`for`, `include`, ...), for tags.
    pub fn name(&self) -> &'a str {
        if self.is_tag { self.text.split_whitespace().next().unwrap_or("") } else { "" }
    }
}

/// Finds the end of markup opened at `from` (just after `{{` / `{%`), skipping quoted strings.
fn markup_end(src: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// The markup of a template, in order, skipping the insides of `{% raw %}` and `{% comment %}`. Unterminated
/// markup ends the scan (the parser reports it).
pub(crate) fn markups(src: &str) -> Vec<Markup<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut skip_until: Option<&str> = None;
    while let Some(rel) = src[pos..].find('{') {
        let start = pos + rel;
        let rest = &src[start..];
        let (close, is_tag) = if rest.starts_with("{{") {
            ("}}", false)
        } else if rest.starts_with("{%") {
            ("%}", true)
        } else {
            pos = start + 1;
            continue;
        };
        let Some(end) = markup_end(src, start + 2, close) else { break };
        let text = src[start + 2..end].trim_start_matches('-').trim_end_matches('-').trim();
        let line = 1 + src[..start].bytes().filter(|&b| b == b'\n').count() as u32;
        pos = end + 2;
        let m = Markup { is_tag, text, line };
        if let Some(until) = skip_until {
            if m.name() == until {
                skip_until = None;
            }
            continue;
        }
        match m.name() {
            "raw" => skip_until = Some("endraw"),
            "comment" => skip_until = Some("endcomment"),
            _ => {}
        }
        out.push(m);
    }
    out
}

/// Splits markup text into its parts outside quoted strings: returns the text with string contents blanked out,
/// so searches for `|`, `(` or `..` never match inside a string.
fn blank_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push(' '),
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Checks ranges and partial references of one part; returns the literal partial names it uses.
pub(crate) fn check(
    field: &str,
    src: &str,
    partial_exists: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, TemplateError> {
    let mut used = Vec::new();
    // Iterations multiplied along the stack of open `for`/`tablerow` blocks.
    let mut loops: Vec<i64> = Vec::new();
    for m in markups(src) {
        let plain = blank_strings(m.text);
        let span = range_span(field, &plain, m.line)?;
        match m.name() {
            "for" | "tablerow" => {
                let outer = loops.last().copied().unwrap_or(1);
                let total = outer.saturating_mul(span.unwrap_or(1).max(1));
                if total > RANGE_ITERATIONS_MAX {
                    return Err(range_error(
                        field,
                        m.line,
                        format!(
                            "loops over ranges may make at most {RANGE_ITERATIONS_MAX} iterations (nested loops multiply)"
                        ),
                    ));
                }
                loops.push(total);
            }
            "endfor" | "endtablerow" => {
                loops.pop();
            }
            "include" | "render" => {
                let name = partial_name(m.text).ok_or_else(|| TemplateError::Partial {
                    field: field.to_owned(),
                    message: format!("`{}` needs the partial's name as a quoted string", m.name()),
                    line: Some(m.line),
                })?;
                if !partial_exists(name) {
                    return Err(TemplateError::Partial {
                        field: field.to_owned(),
                        message: format!("unknown partial `{name}`"),
                        line: Some(m.line),
                    });
                }
                used.push(name.to_owned());
            }
            _ if span.is_some_and(|s| s > RANGE_ITERATIONS_MAX) => {
                return Err(range_error(
                    field,
                    m.line,
                    format!("a range may hold at most {RANGE_ITERATIONS_MAX} numbers"),
                ));
            }
            _ => {}
        }
    }
    Ok(used)
}

fn range_error(field: &str, line: u32, message: String) -> TemplateError {
    TemplateError::Range { field: field.to_owned(), message, line: Some(line) }
}

/// The length of a `(a..b)` range in the markup, if any; an error when its bounds are not integer literals.
fn range_span(field: &str, plain: &str, line: u32) -> Result<Option<i64>, TemplateError> {
    let Some(dots) = plain.find("..") else { return Ok(None) };
    let open = plain[..dots].rfind('(');
    let close = plain[dots..].find(')').map(|c| dots + c);
    let (Some(open), Some(close)) = (open, close) else { return Ok(None) };
    let (a, b) = (plain[open + 1..dots].trim(), plain[dots + 2..close].trim());
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(a), Ok(b)) => Ok(Some(b.saturating_sub(a).saturating_add(1).max(0))),
        _ => Err(range_error(
            field,
            line,
            "range bounds must be whole-number literals, like (1..5): a bound from data could be huge".to_owned(),
        )),
    }
}

/// `include 'footer'`, `render "footer", x: y` → `footer`.
fn partial_name(text: &str) -> Option<&str> {
    let rest = text.split_once(char::is_whitespace)?.1.trim_start();
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = rest[1..].find(q)?;
    Some(&rest[1..1 + end])
}

/// The line of the first use of filter `name` (`| name`), for error messages.
pub(crate) fn filter_line(src: &str, name: &str) -> Option<u32> {
    markups(src).into_iter().find_map(|m| {
        let plain = blank_strings(m.text);
        let uses = plain.split('|').skip(1).any(|seg| {
            let seg = seg.trim_start();
            seg.strip_prefix(name).is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        });
        uses.then_some(m.line)
    })
}

/// True when a layout outputs `content`.
pub(crate) fn outputs_content(src: &str) -> bool {
    markups(src)
        .iter()
        .any(|m| !m.is_tag && m.text.split(|c: char| !(c.is_alphanumeric() || c == '_')).next() == Some("content"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markup_lines_and_skips_raw() {
        let src = "a {{ x }}\n{% raw %}{{ y }}{% endraw %}\n{%- for i in (1..3) -%}{{ '}}' }}{% endfor %}";
        let ms = markups(src);
        let texts: Vec<_> = ms.iter().map(|m| (m.text, m.line)).collect();
        assert_eq!(texts, [("x", 1), ("raw", 2), ("for i in (1..3)", 3), ("'}}'", 3), ("endfor", 3)]);
    }

    #[test]
    fn bounds_ranges() {
        let none = |_: &str| false;
        assert!(check("html", "{% for i in (1..10000) %}{% endfor %}", &none).is_ok());
        let e = check("html", "{% for i in (1..10001) %}{% endfor %}", &none).unwrap_err();
        assert_eq!((e.field(), e.line()), ("html", Some(1)));
        let nested = "{% for i in (1..200) %}\n{% for j in (1..200) %}{% endfor %}{% endfor %}";
        assert_eq!(check("text", nested, &none).unwrap_err().line(), Some(2));
        assert!(check("text", "{% for i in (1..n) %}{% endfor %}", &none).is_err());
        assert!(check("text", "{% for i in items %}{% for j in (1..5) %}{% endfor %}{% endfor %}", &none).is_ok());
        assert!(check("text", "{{ 'a (1..99999) b' }}", &none).is_ok());
    }

    #[test]
    fn partial_references() {
        let known = |n: &str| n == "footer";
        assert_eq!(check("html", "{% include 'footer' %}", &known).unwrap(), ["footer"]);
        assert!(check("html", "{% render \"header\" %}", &known).is_err());
        assert!(check("html", "{% include name %}", &known).is_err());
    }

    #[test]
    fn locates_filters() {
        let src = "{{ a | upcase }}\n\n{{ b | default: 'x|shout' | shout: 1 }}";
        assert_eq!(filter_line(src, "shout"), Some(3));
        assert_eq!(filter_line(src, "up"), None);
        assert!(outputs_content("<body>{{- content -}}</body>"));
        assert!(!outputs_content("<body>{{ contents }}</body>"));
    }
}
