//! A light scan of Liquid source for what the parser does not check: literal partial names, bounded ranges,
//! nesting depth and expression size, and the line of an unknown filter (liquid reports the filter but not where
//! it is).

use crate::error::TemplateError;

/// Most iterations a loop over a literal range may make, nested loops multiplied
/// (`{% for i in (1..100) %}{% for j in (1..100) %}` is 10 000). Liquid materialises ranges in memory and has no
/// timeout, so this bounds both; a range whose bounds are not literals is rejected for the same reason.
pub const RANGE_ITERATIONS_MAX: i64 = 10_000;

/// Most blocks (`if`, `for`, `case`, `capture`, `comment`, ...) open at once. An `{% include %}` or
/// `{% render %}` counts as one more level plus the partial's own depth. liquid parses, renders and drops blocks
/// recursively (about 2 KB of stack a level in a debug build), so without a bound a template of nested `if`s
/// overflows the thread's stack and aborts the whole process. 100 is Shopify's own limit ("Nesting too deep").
pub const TEMPLATE_NESTING_MAX: usize = 100;

/// Most terms in one tag or output: conditions joined by `and` / `or` (`{% if a and b or c %}` has 3) and
/// lookups in brackets (`a[b[c]]` has 2 more). liquid evaluates, prints and drops a condition as a chain as long
/// as its terms, recursively; real templates use a handful.
pub const TEMPLATE_EXPRESSION_TERMS_MAX: usize = 100;

/// Block tags: each has its own `end...` tag and nests what is between.
const BLOCKS: &[&str] = &["if", "unless", "for", "tablerow", "case", "capture", "comment", "raw", "ifchanged"];

/// One `{{ ... }}` or `{% ... %}` with its inner text (whitespace-control dashes removed) and 1-based line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Markup<'a> {
    pub is_tag: bool,
    pub text: &'a str,
    pub line: u32,
    /// Between `{% raw %}` and `{% endraw %}`: liquid keeps it as text, without parsing tags.
    pub raw: bool,
    /// Between `{% comment %}` and `{% endcomment %}`: skipped by liquid (see `filters::comment`).
    pub commented: bool,
}

impl<'a> Markup<'a> {
    /// The tag name (`for`, `include`, ...), for tags.
    pub fn name(&self) -> &'a str {
        if self.is_tag { self.text.split_whitespace().next().unwrap_or("") } else { "" }
    }

    /// Markup that is rendered: neither raw text nor inside a comment.
    fn rendered(&self) -> bool {
        !self.raw && !self.commented
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

/// The markup of a template, in order, each marked when it is inside `{% raw %}` or `{% comment %}` (comments
/// nest).
pub(crate) fn markups(src: &str) -> Vec<Markup<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    // Lines are counted incrementally: counting from the start for every markup is quadratic in the source.
    let (mut line, mut counted) = (1u32, 0usize);
    let mut raw = false;
    let mut comments = 0usize;
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
        // Unterminated markup is text to liquid's grammar too (one invalid `{`): go on after it, so tags that follow
        // are still seen.
        let Some(end) = markup_end(src, start + 2, close) else {
            pos = start + 1;
            continue;
        };
        let text = src[start + 2..end].trim_start_matches('-').trim_end_matches('-').trim();
        line += src[counted..start].bytes().filter(|&b| b == b'\n').count() as u32;
        counted = start;
        pos = end + 2;
        let mut m = Markup { is_tag, text, line, raw, commented: comments > 0 };
        // As liquid reads them: raw text ends at the first bare `{% endraw %}`; a comment at its matching bare
        // `{% endcomment %}`, counting nested comments and nothing else (not even raw).
        match m.name() {
            "endraw" if raw && text == "endraw" => {
                raw = false;
                m.raw = false;
            }
            _ if raw => {}
            "raw" if comments == 0 => raw = true,
            "comment" => comments += 1,
            "endcomment" if text == "endcomment" => {
                comments = comments.saturating_sub(1);
                m.commented = comments > 0;
            }
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

/// A partial included by a part: its name, the blocks open around the include, and the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Include {
    pub name: String,
    pub depth: usize,
    pub line: u32,
}

/// What [`check`] learns about one part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The most blocks open at once in the part itself.
    pub depth: usize,
    /// Literal partial references, in order.
    pub includes: Vec<Include>,
}

impl Scanned {
    /// Checks the nesting of the part counting the partials it includes (`depths`: each partial's own total
    /// depth, see [`crate::renderer`]): an include is one level plus the partial's depth.
    pub fn check_through(&self, field: &str, depths: &dyn Fn(&str) -> usize) -> Result<usize, TemplateError> {
        let mut deepest = self.depth;
        for inc in &self.includes {
            let total = inc.depth + 1 + depths(&inc.name);
            if total > TEMPLATE_NESTING_MAX {
                return Err(too_complex(
                    field,
                    inc.line,
                    format!(
                        "blocks nest more than {TEMPLATE_NESTING_MAX} deep counting the partial `{}` included here",
                        inc.name
                    ),
                ));
            }
            deepest = deepest.max(total);
        }
        Ok(deepest)
    }
}

/// Checks ranges, partial references, nesting depth and expression size of one part.
pub(crate) fn check(field: &str, src: &str, partial_exists: &dyn Fn(&str) -> bool) -> Result<Scanned, TemplateError> {
    let mut scanned = Scanned::default();
    let mut blocks = Blocks::default();
    // Iterations multiplied along the stack of open `for`/`tablerow` blocks.
    let mut loops: Vec<i64> = Vec::new();
    for m in markups(src) {
        let plain = blank_strings(m.text);
        check_terms(field, &plain, m.line)?;
        if m.rendered() {
            check_integers(field, &plain, m.line)?;
        }
        let name = m.name();
        blocks.visit(field, &m)?;
        scanned.depth = scanned.depth.max(blocks.open.len());
        if !m.rendered() {
            continue;
        }
        let span = range_span(field, &plain, m.line)?;
        match name {
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
                let partial = partial_name(m.text).ok_or_else(|| TemplateError::Partial {
                    field: field.to_owned(),
                    message: format!("`{name}` needs the partial's name as a quoted string"),
                    line: Some(m.line),
                })?;
                if !partial_exists(partial) {
                    return Err(TemplateError::Partial {
                        field: field.to_owned(),
                        message: format!("unknown partial `{partial}`"),
                        line: Some(m.line),
                    });
                }
                scanned.includes.push(Include { name: partial.to_owned(), depth: blocks.open.len(), line: m.line });
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
    Ok(scanned)
}

/// The blocks open at a point of the source. Raw text and comments hold none: liquid parses neither.
#[derive(Default)]
struct Blocks<'a> {
    /// Name and line.
    open: Vec<(&'a str, u32)>,
}

impl<'a> Blocks<'a> {
    fn visit(&mut self, field: &str, m: &Markup<'a>) -> Result<(), TemplateError> {
        if !m.rendered() {
            return Ok(());
        }
        let name = m.name();
        if BLOCKS.contains(&name) {
            self.open.push((name, m.line));
            if self.open.len() > TEMPLATE_NESTING_MAX {
                return Err(too_complex(field, m.line, format!("blocks nest more than {TEMPLATE_NESTING_MAX} deep")));
            }
        } else if let Some(block) = name.strip_prefix("end")
            && self.open.last().is_some_and(|(open, _)| *open == block)
        {
            self.open.pop();
        }
        Ok(())
    }
}

/// Counts the terms of one markup (strings blanked): `and` / `or` words and `[` lookups.
fn check_terms(field: &str, plain: &str, line: u32) -> Result<(), TemplateError> {
    let joins = plain.split_whitespace().filter(|w| matches!(*w, "and" | "or")).count();
    let terms = 1 + joins + plain.bytes().filter(|&b| b == b'[').count();
    if terms > TEMPLATE_EXPRESSION_TERMS_MAX {
        return Err(too_complex(
            field,
            line,
            format!(
                "an expression may have at most {TEMPLATE_EXPRESSION_TERMS_MAX} terms (conditions joined by and/or, \
                 lookups in brackets); this one has {terms}"
            ),
        ));
    }
    Ok(())
}

/// Integer literals must fit in 64 bits: liquid-core 0.26 panics on a larger one (`expect` on `parse::<i64>`;
/// found by the `template_parse_render` fuzz target). Digits inside names (`item2`) and floats (`1.5`) are not
/// integer literals.
fn check_integers(field: &str, plain: &str, line: u32) -> Result<(), TemplateError> {
    let b = plain.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let after_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !b[i].is_ascii_digit() || after_word {
            i += 1;
            continue;
        }
        let start = if i > 0 && matches!(b[i - 1], b'-' | b'+') { i - 1 } else { i };
        let mut end = i;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let float = b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
        if !float && plain[start..end].parse::<i64>().is_err() {
            return Err(TemplateError::Syntax {
                field: field.to_owned(),
                message: format!(
                    "the number {} is too large for a whole number (at most {})",
                    &plain[i..end],
                    i64::MAX
                ),
                line: Some(line),
            });
        }
        // Skip the whole number, and a float's fraction.
        i = end;
        while i < b.len() && (b[i].is_ascii_digit() || (float && b[i] == b'.')) {
            i += 1;
        }
    }
    Ok(())
}

pub(crate) fn too_complex(field: &str, line: u32, message: String) -> TemplateError {
    TemplateError::TooComplex { field: field.to_owned(), message, line: Some(line) }
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
    markups(src).into_iter().filter(Markup::rendered).find_map(|m| {
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
        .filter(|m| m.rendered())
        .any(|m| !m.is_tag && m.text.split(|c: char| !(c.is_alphanumeric() || c == '_')).next() == Some("content"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markup_lines_and_skips_raw() {
        let src = "a {{ x }}\n{% raw %}{{ y }}{% endraw %}\n{%- for i in (1..3) -%}{{ '}}' }}{% endfor %}";
        let ms = markups(src);
        let texts: Vec<_> = ms.iter().filter(|m| m.rendered()).map(|m| (m.text, m.line)).collect();
        assert_eq!(texts, [("x", 1), ("raw", 2), ("endraw", 2), ("for i in (1..3)", 3), ("'}}'", 3), ("endfor", 3)]);
        assert!(ms[2].raw && !ms[1].raw && !ms[3].raw);
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

    fn nested(n: usize) -> String {
        format!("{}x{}", "{% if true %}".repeat(n), "{% endif %}".repeat(n))
    }

    #[test]
    fn bounds_nesting() {
        let none = |_: &str| false;
        assert_eq!(check("html", &nested(TEMPLATE_NESTING_MAX), &none).unwrap().depth, TEMPLATE_NESTING_MAX);
        let e = check("html", &nested(TEMPLATE_NESTING_MAX + 1), &none).unwrap_err();
        assert_eq!((e.field(), e.code(), e.line()), ("html", "template_too_complex", Some(1)));
        // Siblings do not add up; comments and raw text hold no blocks (liquid parses neither).
        let siblings = "{% if a %}{% endif %}".repeat(10 * TEMPLATE_NESTING_MAX);
        assert_eq!(check("html", &siblings, &none).unwrap().depth, 1);
        let comments = format!("{}{}", "{% comment %}{% if a %}".repeat(1000), "{% endcomment %}".repeat(1000));
        assert_eq!(check("html", &comments, &none).unwrap().depth, 1);
        let raw = format!("{{% raw %}}{}{{% endraw %}}", "{% if a %}".repeat(1000));
        assert_eq!(check("html", &raw, &none).unwrap().depth, 1);
        let mixed = "{% for i in x %}{% case i %}{% when 1 %}{% capture c %}{% unless d %}";
        assert_eq!(check("text", mixed, &none).unwrap().depth, 4);
    }

    /// Found by the `template_parse_render` fuzz target: liquid-lib's comment block parsed the tags inside it, and
    /// liquid-core panicked ("File shouldn't end before EOI") when one was left open. Comments are now skipped
    /// unparsed (`filters::comment`), and the scan reads them the same way.
    #[test]
    fn comments_are_skipped_not_parsed() {
        let none = |_: &str| false;
        for src in [
            "{% comment %}{% raw %}{% endcomment %}",
            "{% comment %}{% if x %}{% endcomment %}",
            "{% comment %}{{ 99999999999999999999 }}{% comment %}{% for %}{% endcomment %}{% endcomment %}",
        ] {
            assert_eq!(check("body", src, &none).unwrap().depth, 1, "{src}");
            let t = crate::Renderer::new().compile(&crate::TemplateParts::message(&format!("a{src}b"))).unwrap();
            let g = crate::Globals::builder("2026-03-29T10:00:00Z".parse().unwrap()).build();
            assert_eq!(t.render(&g).unwrap().body.as_deref(), Some("ab"), "{src}");
        }
        for src in ["{% comment %}\n{% if x %}", "{%comment%}{{%if x%}", "{% comment %}{% endcomment x %}"] {
            let e = crate::validate(&crate::TemplateParts::message(src)).unwrap_err();
            assert_eq!(e.code(), "template_syntax", "{src}");
        }
        // Tags after an unterminated `{{` are still seen (liquid's grammar reads that `{` as text).
        let hidden = format!("{{{{ {} {}", "{% if a %}".repeat(200), "{% endif %}".repeat(200));
        assert!(check("body", &hidden, &none).is_err());
    }

    /// Found by the `template_parse_render` fuzz target: liquid-core 0.26 panics on an integer literal over
    /// 64 bits ("Grammar ensures matches are parseable as integers").
    #[test]
    fn integers_fit_in_64_bits() {
        let none = |_: &str| false;
        for src in [
            "{{ 222222222222222222222222 }}",
            "{% if x > -9223372036854775809 %}{% endif %}",
            "{{ a[99999999999999999999] }}",
        ] {
            let e = check("html", src, &none).unwrap_err();
            assert_eq!((e.code(), e.line()), ("template_syntax", Some(1)), "{src}");
        }
        let fine = "{{ -9223372036854775808 }}{{ 9223372036854775807 }}{{ 99999999999999999999.5 }}{{ item12345678901234567890 }}\
                    {% for i in (1..3) %}{% endfor %}{{ '99999999999999999999' }}{% raw %}{{ 99999999999999999999 }}{% endraw %}";
        assert!(check("html", fine, &none).is_ok());
        assert!(crate::validate(&crate::TemplateParts::message(fine)).is_ok());
    }

    #[test]
    fn bounds_expression_terms() {
        let none = |_: &str| false;
        let cond = |n: usize| format!("{{% if a{} %}}x{{% endif %}}", " and a".repeat(n - 1));
        assert!(check("subject", &cond(TEMPLATE_EXPRESSION_TERMS_MAX), &none).is_ok());
        let e = check("subject", &cond(TEMPLATE_EXPRESSION_TERMS_MAX + 1), &none).unwrap_err();
        assert_eq!((e.field(), e.code()), ("subject", "template_too_complex"));
        let e = check("body", &format!("\n{{% elsif a{} %}}", " or b".repeat(20_000)), &none).unwrap_err();
        assert_eq!(e.line(), Some(2));
        let brackets = format!("{{{{ {}a{} }}}}", "a[".repeat(200), "]".repeat(200));
        assert!(check("body", &brackets, &none).is_err());
        // Words in strings are not terms.
        let quoted = format!("{{{{ x | default: '{}' }}}}", "a and b [".repeat(500));
        assert!(check("body", &quoted, &none).is_ok());
    }

    #[test]
    fn scan_is_linear() {
        // 256 KB of markup on many lines: counting lines from the start for each markup took seconds.
        let src = "{{ x }}\n".repeat(crate::SOURCE_BYTES_MAX / 8);
        let started = std::time::Instant::now();
        assert_eq!(markups(&src).last().map(|m| m.line), Some((crate::SOURCE_BYTES_MAX / 8) as u32));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn partial_references() {
        let known = |n: &str| n == "footer";
        let scanned = check("html", "{% if a %}{% include 'footer' %}{% endif %}", &known).unwrap();
        assert_eq!(scanned.includes, [Include { name: "footer".into(), depth: 1, line: 1 }]);
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
