//! The text language parser (SPEC 5; flow conditions in SPEC 16 use the same language).
//!
//! Grammar (pinned; extend it compatibly):
//!
//! ```text
//! expr       := or
//! or         := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | primary
//! primary    := "(" expr ")" | did | count | consent | in_segment | condition
//! did        := "did" STRING [filter] [window]          -- filter and window may come in either order
//! count      := "count" "(" STRING [filter] ["," window] ")" cmp_op INTEGER
//! filter     := "where" (condition | "(" expr ")")     -- one bare condition, or a parenthesized expression
//! window     := "within" DURATION | "before" DURATION "ago" | "after" DURATION "ago" | "since" "entry"
//! consent    := ("subscribed" | "unsubscribed") ("email" | "sms")
//! in_segment := "in" "segment" STRING
//! condition  := path cmp_op literal | path "exists" | path "in" "[" literal ("," literal)* "]"
//!             | path ("before" | "after") DURATION "ago" | path "within" DURATION
//!             | path "before" STRING   (=> Compare Lt)   | path "after" STRING   (=> Compare Gt)
//! cmp_op     := "=" | "==" | "!=" | ">" | ">=" | "<" | "<=" | "contains" | "starts_with"
//! literal    := STRING | NUMBER | "true" | "false" | "null"
//! path       := segment ("." segment)*
//! segment    := [A-Za-z_][A-Za-z0-9_]* | STRING          -- trait."first name"; a quoted segment is
//!                                                          -- non-empty and has no "."
//! STRING     := '"' ... '"' with the escapes \" \\ \n \t \r \u{1-6 hex digits}
//! NUMBER     := "-"? [0-9]+ ("." [0-9]+)? ([eE] [+-]? [0-9]+)?      -- must be finite
//! INTEGER    := [0-9]+                                   -- must fit u64
//! DURATION   := [0-9]+ ("s" | "m" | "h" | "d" | "w")     -- kairos_domain::Duration
//! ```
//!
//! Rules the grammar alone does not say:
//! - `--` starts a comment that runs to the end of the line; whitespace is insignificant.
//! - Keywords are lower case. At the start of a condition the words `and or not did count in subscribed
//!   unsubscribed` are always keywords, so a field whose first part is one of them is written quoted
//!   (`"count" > 2`); after a `.` any word is a field name (`orders.count`).
//! - `a and b and c` is one flat `And([a, b, c])`; parentheses keep structure (`(a and b) and c` is
//!   `And([And([a, b]), c])`) and a single parenthesized expression is just that expression.
//! - A filter takes one condition unless parenthesized: `did "X" where a = 1 and b = 2` is
//!   `And([Did { filter: a = 1 }, b = 2])`. A filter tests event properties only: `did`, `count`, consent
//!   and `in segment` are not allowed inside it.
//! - Each `did` has at most one filter and one window; `count` takes only `= != > >= < <=`.
//! - Limits (see `ast`): nesting at most [`DEPTH_MAX`] deep (counted on the tree; leaves are depth 1),
//!   at most [`CONDITIONS_MAX`] conditions (every node other than and / or / not, filters included), at
//!   most [`IN_VALUES_MAX`] values in one list, and at most [`TEXT_BYTES_MAX`] bytes of text, both as given
//!   and in canonical form (`print::to_text`), so every accepted definition round-trips through both forms.
//! - Errors carry the 1-based column, counted in characters from the start of the whole text (a
//!   newline counts as one character).

use kairos_domain::Duration;

use crate::ast::{
    CONDITIONS_MAX, Channel, CompareOp, ConsentIs, DEPTH_MAX, Expr, FieldPath, IN_VALUES_MAX, Literal, Relative,
    TEXT_BYTES_MAX, Window,
};
use crate::error::SegmentError;

/// Words that always act as keywords at the start of a condition; a field path starting with one of them
/// is printed with that part quoted.
pub(crate) const RESERVED: &[&str] = &["and", "or", "not", "did", "count", "in", "subscribed", "unsubscribed"];

pub(crate) const FILTER_ONLY_PROPERTIES: &str =
    "a where filter can only test event properties (not did, count, consent or in segment)";
const OPERATOR_EXPECTED: &str =
    "expected an operator (=, !=, >, >=, <, <=, contains, starts_with, in, exists, before, after, within)";
const VALUE_EXPECTED: &str = "expected a value (a string in double quotes, a number, true, false or null)";
const DURATION_EXPECTED: &str = "expected a duration like 4h";
const WINDOW_EXPECTED: &str = "expected a window (within D, before D ago, after D ago or since entry)";
const COUNT_OPS: &str = "count takes =, !=, >, >=, < or <=";

pub(crate) fn too_deep() -> String {
    format!("nesting is too deep (at most {DEPTH_MAX} levels)")
}
pub(crate) fn too_many_conditions() -> String {
    format!("too many conditions (at most {CONDITIONS_MAX})")
}
pub(crate) fn too_many_values() -> String {
    format!("too many values in the list (at most {IN_VALUES_MAX})")
}

/// Parses the text form into the expression tree.
pub fn parse(text: &str) -> Result<Expr, SegmentError> {
    if text.len() > TEXT_BYTES_MAX {
        return Err(SegmentError::plain(format!(
            "the definition is too long ({} bytes, at most {TEXT_BYTES_MAX})",
            text.len()
        )));
    }
    let mut p = Parser { src: text, toks: lex(text), pos: 0, level: 0, conditions: 0 };
    if p.peek().kind == Kind::Eof {
        return Err(SegmentError::at_column(1, "the definition is empty"));
    }
    let (e, _) = p.parse_or(false)?;
    let t = p.peek();
    match t.kind {
        Kind::Eof => {}
        Kind::Error(_) => return Err(p.expected("")),
        _ => return Err(p.err(t.start, format!("unexpected {}", p.describe(t)))),
    }
    // Safety net and the canonical-size rule; every other rule was already checked above with a column.
    crate::json::validate(&e)?;
    Ok(e)
}

// ---------------------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `[A-Za-z_][A-Za-z0-9_]*`; the text is the source slice.
    Word,
    /// A string literal, decoded.
    Str(String),
    /// A number as in the grammar.
    Num,
    /// Digits directly followed by letters (`4h`, `30d`, `4x`): a duration or a mistake.
    NumWord,
    Op(CompareOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eof,
    /// The lexer stopped here; the message says why. Always the last token.
    Error(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Byte offsets into the source.
    start: usize,
    end: usize,
}

fn lex(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    loop {
        // Whitespace and comments.
        while let Some(c) = src[i..].chars().next() {
            if c.is_whitespace() {
                i += c.len_utf8();
            } else if src[i..].starts_with("--") {
                i = src[i..].find('\n').map_or(src.len(), |n| i + n + 1);
            } else {
                break;
            }
        }
        let Some(c) = src[i..].chars().next() else {
            toks.push(Token { kind: Kind::Eof, start: src.len(), end: src.len() });
            return toks;
        };
        let start = i;
        let next = b.get(i + 1).copied();
        let (kind, end) = match c {
            '(' => (Kind::LParen, i + 1),
            ')' => (Kind::RParen, i + 1),
            '[' => (Kind::LBracket, i + 1),
            ']' => (Kind::RBracket, i + 1),
            ',' => (Kind::Comma, i + 1),
            '.' => (Kind::Dot, i + 1),
            '=' if next == Some(b'=') => (Kind::Op(CompareOp::Eq), i + 2),
            '=' => (Kind::Op(CompareOp::Eq), i + 1),
            '!' if next == Some(b'=') => (Kind::Op(CompareOp::Ne), i + 2),
            '>' if next == Some(b'=') => (Kind::Op(CompareOp::Ge), i + 2),
            '>' => (Kind::Op(CompareOp::Gt), i + 1),
            '<' if next == Some(b'=') => (Kind::Op(CompareOp::Le), i + 2),
            '<' => (Kind::Op(CompareOp::Lt), i + 1),
            '"' => match lex_string(src, i) {
                Ok((s, end)) => (Kind::Str(s), end),
                Err((at, msg)) => {
                    toks.push(Token { kind: Kind::Error(msg), start: at, end: at });
                    return toks;
                }
            },
            '0'..='9' => lex_number(b, i),
            '-' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(b, i),
            'a'..='z' | 'A'..='Z' | '_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                (Kind::Word, j)
            }
            _ => {
                let msg = format!("unexpected character \"{}\"", show_char(c));
                toks.push(Token { kind: Kind::Error(msg), start, end: start });
                return toks;
            }
        };
        toks.push(Token { kind, start, end });
        i = end;
    }
}

/// A character as shown in a message: itself when visible, `\u{..}` otherwise.
fn show_char(c: char) -> String {
    if c == ' ' || c.is_ascii_graphic() || c.is_alphanumeric() {
        c.to_string()
    } else {
        format!("\\u{{{:x}}}", c as u32)
    }
}

/// Lexes `"..."` starting at the opening quote; returns the decoded text and the offset after the closing
/// quote, or the offset and message of the problem.
fn lex_string(src: &str, open: usize) -> Result<(String, usize), (usize, String)> {
    let unterminated = || (open, "unterminated string".to_string());
    let mut out = String::new();
    let mut it = src[open + 1..].char_indices().map(|(o, c)| (open + 1 + o, c));
    while let Some((at, c)) = it.next() {
        match c {
            '"' => return Ok((out, at + 1)),
            '\\' => match it.next() {
                None => return Err(unterminated()),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 'u')) => {
                    let bad =
                        || (at, "invalid escape: \\u needs 1 to 6 hex digits in braces, like \\u{e9}".to_string());
                    if it.next().map(|(_, c)| c) != Some('{') {
                        return Err(bad());
                    }
                    let mut value: u32 = 0;
                    let mut digits = 0;
                    loop {
                        match it.next() {
                            None => return Err(unterminated()),
                            Some((_, '}')) if digits > 0 => break,
                            Some((_, h)) if h.is_ascii_hexdigit() && digits < 6 => {
                                value = value * 16 + h.to_digit(16).unwrap_or(0);
                                digits += 1;
                            }
                            Some(_) => return Err(bad()),
                        }
                    }
                    match char::from_u32(value) {
                        Some(c) => out.push(c),
                        None => return Err((at, format!("invalid escape: \\u{{{value:x}}} is not a character"))),
                    }
                }
                Some((_, other)) => {
                    return Err((
                        at,
                        format!(
                            "invalid escape \"\\{}\" (use \\\", \\\\, \\n, \\t, \\r or \\u{{..}})",
                            show_char(other)
                        ),
                    ));
                }
            },
            c => out.push(c),
        }
    }
    Err(unterminated())
}

/// Lexes a number (or digits followed by letters, `4h`) starting at `start` (a digit or `-` + digit).
fn lex_number(b: &[u8], start: usize) -> (Kind, usize) {
    let digit = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    while digit(i) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') && digit(i + 1) {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digit(j) {
            i = j;
            while digit(i) {
                i += 1;
            }
        }
    }
    let number_end = i;
    while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        i += 1;
    }
    (if i == number_end { Kind::Num } else { Kind::NumWord }, i)
}

// ---------------------------------------------------------------------------------------------------------
// Parser

type Parsed = Result<(Expr, usize), SegmentError>;

struct Parser<'a> {
    src: &'a str,
    /// Ends with `Eof` or `Error`; `pos` never moves past that last token.
    toks: Vec<Token>,
    pos: usize,
    /// Open parentheses and `not`s around the current position (bounds the recursion).
    level: usize,
    conditions: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }
    fn bump(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }
    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }
    fn is_word(&self, w: &str) -> bool {
        let t = self.peek();
        t.kind == Kind::Word && self.text(t) == w
    }
    fn peek_word(&self) -> Option<&'a str> {
        let t = self.peek();
        (t.kind == Kind::Word).then(|| self.text(t))
    }
    fn err(&self, byte: usize, msg: impl Into<String>) -> SegmentError {
        let byte = byte.min(self.src.len());
        SegmentError::at_column(self.src[..byte].chars().count() + 1, msg)
    }
    /// An error at the current token: the lexer's own message when the lexer stopped there.
    fn expected(&self, msg: &str) -> SegmentError {
        let t = self.peek();
        match &t.kind {
            Kind::Error(m) => self.err(t.start, m.clone()),
            _ => self.err(t.start, msg),
        }
    }
    fn describe(&self, t: &Token) -> String {
        let text = self.text(t);
        let short: String = text.chars().take(30).collect();
        let more = if short.len() < text.len() { "…" } else { "" };
        match t.kind {
            Kind::Eof => "end of input".to_string(),
            Kind::Str(_) => format!("string {short}{more}"),
            _ => format!("\"{short}{more}\""),
        }
    }
    fn enter(&mut self, at: usize) -> Result<(), SegmentError> {
        self.level += 1;
        if self.level > DEPTH_MAX { Err(self.err(at, too_deep())) } else { Ok(()) }
    }
    fn condition_at(&mut self, at: usize) -> Result<(), SegmentError> {
        self.conditions += 1;
        if self.conditions > CONDITIONS_MAX { Err(self.err(at, too_many_conditions())) } else { Ok(()) }
    }
    fn check_depth(&self, at: usize, depth: usize) -> Result<usize, SegmentError> {
        if depth > DEPTH_MAX { Err(self.err(at, too_deep())) } else { Ok(depth) }
    }

    fn parse_or(&mut self, in_filter: bool) -> Parsed {
        let start = self.peek().start;
        let (first, mut depth) = self.parse_and(in_filter)?;
        if !self.is_word("or") {
            return Ok((first, depth));
        }
        let mut items = vec![first];
        while self.is_word("or") {
            self.bump();
            let (x, d) = self.parse_and(in_filter)?;
            depth = depth.max(d);
            items.push(x);
        }
        Ok((Expr::Or(items), self.check_depth(start, depth + 1)?))
    }

    fn parse_and(&mut self, in_filter: bool) -> Parsed {
        let start = self.peek().start;
        let (first, mut depth) = self.parse_unary(in_filter)?;
        if !self.is_word("and") {
            return Ok((first, depth));
        }
        let mut items = vec![first];
        while self.is_word("and") {
            self.bump();
            let (x, d) = self.parse_unary(in_filter)?;
            depth = depth.max(d);
            items.push(x);
        }
        Ok((Expr::And(items), self.check_depth(start, depth + 1)?))
    }

    fn parse_unary(&mut self, in_filter: bool) -> Parsed {
        if !self.is_word("not") {
            return self.parse_primary(in_filter);
        }
        let start = self.peek().start;
        self.enter(start)?;
        self.bump();
        let (x, d) = self.parse_unary(in_filter)?;
        self.level -= 1;
        Ok((Expr::Not(Box::new(x)), self.check_depth(start, d + 1)?))
    }

    fn parse_paren(&mut self, in_filter: bool) -> Parsed {
        let start = self.peek().start;
        self.enter(start)?;
        self.bump();
        let inner = self.parse_or(in_filter)?;
        if self.peek().kind != Kind::RParen {
            return Err(self.expected("expected \")\""));
        }
        self.bump();
        self.level -= 1;
        Ok(inner)
    }

    fn parse_primary(&mut self, in_filter: bool) -> Parsed {
        let t = self.peek();
        let start = t.start;
        match &t.kind {
            Kind::LParen => self.parse_paren(in_filter),
            Kind::Str(_) => self.parse_condition(),
            Kind::Word => match self.text(t) {
                "did" | "count" | "subscribed" | "unsubscribed" | "in" if in_filter => {
                    Err(self.err(start, FILTER_ONLY_PROPERTIES))
                }
                "did" => self.parse_did(),
                "count" => self.parse_count(),
                "subscribed" | "unsubscribed" => self.parse_consent(),
                "in" => self.parse_in_segment(),
                "and" | "or" => Err(self.err(start, format!("unexpected {}", self.describe(t)))),
                _ => self.parse_condition(),
            },
            Kind::Eof => Err(self.err(start, "expected a condition")),
            Kind::Error(_) => Err(self.expected("")),
            _ => Err(self.err(start, format!("unexpected {}", self.describe(t)))),
        }
    }

    /// After `where`: one bare condition, or a parenthesized expression over event properties.
    fn parse_filter(&mut self) -> Parsed {
        let t = self.peek();
        match &t.kind {
            Kind::LParen => self.parse_paren(true),
            Kind::Str(_) => self.parse_condition(),
            Kind::Word => match self.text(t) {
                "did" | "count" | "subscribed" | "unsubscribed" | "in" => {
                    Err(self.err(t.start, FILTER_ONLY_PROPERTIES))
                }
                "not" | "and" | "or" => Err(self.err(
                    t.start,
                    "a where filter takes one condition; put \"not\", \"and\" and \"or\" in parentheses: where (...)",
                )),
                _ => self.parse_condition(),
            },
            _ => Err(self.expected("expected a condition after \"where\"")),
        }
    }

    fn event_name(&mut self, after: &str) -> Result<String, SegmentError> {
        let t = self.peek();
        match &t.kind {
            Kind::Str(s) if s.is_empty() => Err(self.err(t.start, "the event name cannot be empty")),
            Kind::Str(s) => {
                // SPEC 2's generic names (`Message Clicked`) mean the events Kairos emits (`Email Clicked`).
                let s = kairos_domain::system_event::canonical(s).to_string();
                self.bump();
                Ok(s)
            }
            _ => Err(self.expected(&format!("expected the event name in double quotes after \"{after}\""))),
        }
    }

    fn parse_did(&mut self) -> Parsed {
        let start = self.peek().start;
        self.condition_at(start)?;
        self.bump();
        let event = self.event_name("did")?;
        let mut filter = None;
        let mut window = None;
        let mut depth = 1;
        loop {
            let at = self.peek().start;
            match self.peek_word() {
                Some("where") => {
                    if filter.is_some() {
                        return Err(self.err(
                            at,
                            "only one where filter is allowed; combine conditions in parentheses: where (a and b)",
                        ));
                    }
                    self.bump();
                    let (f, d) = self.parse_filter()?;
                    depth = self.check_depth(start, d + 1)?;
                    filter = Some(Box::new(f));
                }
                Some("within" | "before" | "after" | "since") => {
                    if window.is_some() {
                        return Err(self.err(at, "only one window is allowed"));
                    }
                    window = Some(self.parse_window()?);
                }
                _ => break,
            }
        }
        Ok((Expr::Did { event, filter, window }, depth))
    }

    fn parse_count(&mut self) -> Parsed {
        let start = self.peek().start;
        self.condition_at(start)?;
        self.bump();
        if self.peek().kind != Kind::LParen {
            return Err(self.expected("expected \"(\" after \"count\""));
        }
        self.bump();
        let event = self.event_name("count(")?;
        let mut filter = None;
        let mut window = None;
        let mut depth = 1;
        if self.is_word("where") {
            self.bump();
            let (f, d) = self.parse_filter()?;
            depth = self.check_depth(start, d + 1)?;
            filter = Some(Box::new(f));
        }
        if self.peek().kind == Kind::Comma {
            self.bump();
            if !matches!(self.peek_word(), Some("within" | "before" | "after" | "since")) {
                return Err(self.expected(WINDOW_EXPECTED));
            }
            window = Some(self.parse_window()?);
            if self.peek().kind != Kind::RParen {
                return Err(self.expected("expected \")\""));
            }
        } else if self.peek().kind != Kind::RParen {
            return Err(self.expected("expected \",\" or \")\""));
        }
        self.bump();
        let t = self.peek();
        let op = match &t.kind {
            Kind::Op(op) => *op,
            Kind::Word if matches!(self.text(t), "contains" | "starts_with") => {
                return Err(self.err(t.start, COUNT_OPS));
            }
            _ => return Err(self.expected("count needs an operator (=, !=, >, >=, <, <=) after count(...)")),
        };
        self.bump();
        let t = self.peek();
        let text = self.text(t);
        if t.kind != Kind::Num || !text.bytes().all(|c| c.is_ascii_digit()) {
            return Err(self.expected("count needs a whole number after the operator"));
        }
        let Ok(value) = text.parse::<u64>() else {
            return Err(self.err(t.start, "the count is too large"));
        };
        self.bump();
        Ok((Expr::Count { event, filter, window, op, value }, depth))
    }

    /// At `within` / `before` / `after` / `since`.
    fn parse_window(&mut self) -> Result<Window, SegmentError> {
        let word = self.peek_word().unwrap_or("");
        self.bump();
        Ok(match word {
            "within" => Window::Within(self.parse_duration()?),
            "before" => Window::BeforeAgo(self.parse_duration_ago()?),
            "after" => Window::AfterAgo(self.parse_duration_ago()?),
            _ => {
                if !self.is_word("entry") {
                    return Err(self.expected("expected \"entry\" after \"since\""));
                }
                self.bump();
                Window::SinceEntry
            }
        })
    }

    fn parse_duration(&mut self) -> Result<Duration, SegmentError> {
        let t = self.peek();
        if matches!(t.kind, Kind::Num | Kind::NumWord) {
            let text = self.text(t);
            if let Some(d) = Duration::parse(text) {
                self.bump();
                return Ok(d);
            }
            let (digits, unit) = text.split_at(text.len() - 1);
            if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && "smhdw".contains(unit) {
                return Err(self.err(t.start, "the duration is too long"));
            }
        }
        Err(self.expected(DURATION_EXPECTED))
    }

    fn parse_duration_ago(&mut self) -> Result<Duration, SegmentError> {
        let d = self.parse_duration()?;
        if !self.is_word("ago") {
            return Err(self.expected("expected \"ago\" after the duration"));
        }
        self.bump();
        Ok(d)
    }

    fn parse_consent(&mut self) -> Parsed {
        let start = self.peek().start;
        self.condition_at(start)?;
        let word = self.peek_word().unwrap_or("");
        let status = if word == "subscribed" { ConsentIs::Subscribed } else { ConsentIs::Unsubscribed };
        self.bump();
        let Some(channel) = self.peek_word().and_then(Channel::parse) else {
            return Err(self.expected(&format!("expected \"email\" or \"sms\" after \"{word}\"")));
        };
        self.bump();
        Ok((Expr::Consent { channel, status }, 1))
    }

    fn parse_in_segment(&mut self) -> Parsed {
        let start = self.peek().start;
        self.condition_at(start)?;
        self.bump();
        if !self.is_word("segment") {
            return Err(self.expected("expected \"segment\" after \"in\""));
        }
        self.bump();
        let t = self.peek();
        match &t.kind {
            Kind::Str(s) if s.is_empty() => Err(self.err(t.start, "the segment name cannot be empty")),
            Kind::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok((Expr::InSegment(s), 1))
            }
            _ => Err(self.expected("expected the segment name in double quotes after \"in segment\"")),
        }
    }

    fn path_segment(&mut self, out: &mut String, first: bool) -> Result<(), SegmentError> {
        let t = self.peek();
        match &t.kind {
            Kind::Word if first && RESERVED.contains(&self.text(t)) => {
                Err(self.err(t.start, format!("\"{}\" is a keyword; quote it to use it as a field name", self.text(t))))
            }
            Kind::Word => {
                out.push_str(self.text(t));
                self.bump();
                Ok(())
            }
            Kind::Str(s) if s.is_empty() => Err(self.err(t.start, "a field name cannot be empty")),
            Kind::Str(s) if s.contains('.') => Err(self.err(t.start, "a quoted field name cannot contain \".\"")),
            Kind::Str(s) => {
                out.push_str(s);
                self.bump();
                Ok(())
            }
            _ if first => Err(self.expected("expected a field name")),
            _ => Err(self.expected("expected a field name after \".\"")),
        }
    }

    fn parse_condition(&mut self) -> Parsed {
        let start = self.peek().start;
        self.condition_at(start)?;
        let mut path = String::new();
        self.path_segment(&mut path, true)?;
        while self.peek().kind == Kind::Dot {
            self.bump();
            path.push('.');
            self.path_segment(&mut path, false)?;
        }
        let field = FieldPath(path);
        let t = self.peek();
        let op = match &t.kind {
            Kind::Op(op) => *op,
            Kind::Word => match self.text(t) {
                "contains" => CompareOp::Contains,
                "starts_with" => CompareOp::StartsWith,
                "exists" => {
                    self.bump();
                    return Ok((Expr::Exists { field }, 1));
                }
                "in" => {
                    self.bump();
                    let values = self.parse_list()?;
                    return Ok((Expr::In { field, values }, 1));
                }
                "within" => {
                    self.bump();
                    let d = self.parse_duration()?;
                    return Ok((Expr::Relative { field, rel: Relative::Within(d) }, 1));
                }
                w @ ("before" | "after") => {
                    let before = w == "before";
                    self.bump();
                    let t = self.peek();
                    return match &t.kind {
                        Kind::Str(s) => {
                            let value = Literal::Str(s.clone());
                            self.bump();
                            let op = if before { CompareOp::Lt } else { CompareOp::Gt };
                            Ok((Expr::Compare { field, op, value }, 1))
                        }
                        Kind::Num | Kind::NumWord => {
                            let d = self.parse_duration_ago()?;
                            let rel = if before { Relative::BeforeAgo(d) } else { Relative::AfterAgo(d) };
                            Ok((Expr::Relative { field, rel }, 1))
                        }
                        _ => Err(self.expected("expected a duration like 4h or a date in double quotes")),
                    };
                }
                _ => return Err(self.expected(OPERATOR_EXPECTED)),
            },
            _ => return Err(self.expected(OPERATOR_EXPECTED)),
        };
        self.bump();
        let value = self.parse_literal()?;
        Ok((Expr::Compare { field, op, value }, 1))
    }

    fn parse_literal(&mut self) -> Result<Literal, SegmentError> {
        let t = self.peek();
        let lit = match &t.kind {
            Kind::Str(s) => Literal::Str(s.clone()),
            Kind::Num => match self.text(t).parse::<f64>() {
                Ok(n) if n.is_finite() => Literal::Num(n),
                _ => return Err(self.err(t.start, "the number is too large")),
            },
            Kind::Word => match self.text(t) {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => return Err(self.expected(VALUE_EXPECTED)),
            },
            _ => return Err(self.expected(VALUE_EXPECTED)),
        };
        self.bump();
        Ok(lit)
    }

    /// `[ literal ("," literal)* ]`, at the `[`.
    fn parse_list(&mut self) -> Result<Vec<Literal>, SegmentError> {
        if self.peek().kind != Kind::LBracket {
            return Err(self.expected("expected \"[\" after \"in\""));
        }
        self.bump();
        let mut values = Vec::new();
        loop {
            if values.len() == IN_VALUES_MAX {
                return Err(self.err(self.peek().start, too_many_values()));
            }
            values.push(self.parse_literal()?);
            match self.peek().kind {
                Kind::Comma => self.bump(),
                Kind::RBracket => {
                    self.bump();
                    return Ok(values);
                }
                _ => return Err(self.expected("expected \",\" or \"]\"")),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::{from_json, to_json, validate};
    use crate::print::to_text;
    use proptest::prelude::*;

    fn f(p: &str) -> FieldPath {
        FieldPath(p.to_string())
    }
    fn cmp(p: &str, op: CompareOp, value: Literal) -> Expr {
        Expr::Compare { field: f(p), op, value }
    }
    fn num(n: f64) -> Literal {
        Literal::Num(n)
    }
    fn s(v: &str) -> Literal {
        Literal::Str(v.to_string())
    }
    fn d(v: &str) -> Duration {
        Duration::parse(v).unwrap()
    }
    fn did(event: &str, filter: Option<Expr>, window: Option<Window>) -> Expr {
        Expr::Did { event: event.to_string(), filter: filter.map(Box::new), window }
    }
    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }
    fn ok(text: &str) -> Expr {
        match parse(text) {
            Ok(e) => e,
            Err(e) => panic!("{text:?} did not parse: {e}"),
        }
    }

    #[test]
    fn spec_section_5_examples() {
        use CompareOp::*;
        let cases: Vec<(&str, Expr)> = vec![
            (
                "orders.count >= 3 and orders.total_spent > 10000",
                Expr::And(vec![cmp("orders.count", Ge, num(3.0)), cmp("orders.total_spent", Gt, num(10000.0))]),
            ),
            (
                r#"trait.city = "Helsinki" or trait.city = "Tampere""#,
                Expr::Or(vec![cmp("trait.city", Eq, s("Helsinki")), cmp("trait.city", Eq, s("Tampere"))]),
            ),
            (
                r#"did "Checkout Started" within 4h and not did "Order Completed" within 4h and cart.value > 20000"#,
                Expr::And(vec![
                    did("Checkout Started", None, Some(Window::Within(d("4h")))),
                    not(did("Order Completed", None, Some(Window::Within(d("4h"))))),
                    cmp("cart.value", Gt, num(20000.0)),
                ]),
            ),
            (
                r#"count("Product Viewed" where category = "bicycles", within 30d) >= 2"#,
                Expr::Count {
                    event: "Product Viewed".into(),
                    filter: Some(Box::new(cmp("category", Eq, s("bicycles")))),
                    window: Some(Window::Within(d("30d"))),
                    op: Ge,
                    value: 2,
                },
            ),
            (
                r#"did "Order Completed" where products.category contains "bicycles"      -- "bought a bicycle""#,
                did("Order Completed", Some(cmp("products.category", Contains, s("bicycles"))), None),
            ),
            (
                r#"did "Coupon Issued" within 7d                                             -- "coupon sent""#,
                did("Coupon Issued", None, Some(Window::Within(d("7d")))),
            ),
            (
                r#"in segment "VIP" and subscribed email and not unsubscribed sms"#,
                Expr::And(vec![
                    Expr::InSegment("VIP".into()),
                    Expr::Consent { channel: Channel::Email, status: ConsentIs::Subscribed },
                    not(Expr::Consent { channel: Channel::Sms, status: ConsentIs::Unsubscribed }),
                ]),
            ),
            (
                "last_seen_at before 90d ago and orders.count >= 1",
                Expr::And(vec![
                    Expr::Relative { field: f("last_seen_at"), rel: Relative::BeforeAgo(d("90d")) },
                    cmp("orders.count", Ge, num(1.0)),
                ]),
            ),
            (
                "predicted.churn_risk > 0.7 and predicted.clv > 500",
                Expr::And(vec![cmp("predicted.churn_risk", Gt, num(0.7)), cmp("predicted.clv", Gt, num(500.0))]),
            ),
            // SPEC 16 flow conditions.
            ("value > 100", cmp("value", Gt, num(100.0))),
            ("subscribed email", Expr::Consent { channel: Channel::Email, status: ConsentIs::Subscribed }),
            (r#"did "Order Completed" since entry"#, did("Order Completed", None, Some(Window::SinceEntry))),
            ("event.value > 20000", cmp("event.value", Gt, num(20000.0))),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text}");
            // Both forms round-trip.
            assert_eq!(parse(&to_text(&want)), Ok(want.clone()), "{text}");
            assert_eq!(from_json(&to_json(&want)), Ok(want.clone()), "{text}");
        }
    }

    #[test]
    fn other_forms() {
        use CompareOp::*;
        let cases: Vec<(&str, Expr)> = vec![
            (
                "a = 1 and b = 2 and c = 3",
                Expr::And(vec![cmp("a", Eq, num(1.0)), cmp("b", Eq, num(2.0)), cmp("c", Eq, num(3.0))]),
            ),
            (
                "(a = 1 and b = 2) and c = 3",
                Expr::And(vec![
                    Expr::And(vec![cmp("a", Eq, num(1.0)), cmp("b", Eq, num(2.0))]),
                    cmp("c", Eq, num(3.0)),
                ]),
            ),
            ("((a = 1))", cmp("a", Eq, num(1.0))),
            (
                "a = 1 or b = 2 and c = 3",
                Expr::Or(vec![cmp("a", Eq, num(1.0)), Expr::And(vec![cmp("b", Eq, num(2.0)), cmp("c", Eq, num(3.0))])]),
            ),
            (
                r#"did "X" where a = 1 and b = 2"#,
                Expr::And(vec![did("X", Some(cmp("a", Eq, num(1.0))), None), cmp("b", Eq, num(2.0))]),
            ),
            (
                r#"did "X" within 2d where (a = 1 or not b exists)"#,
                did(
                    "X",
                    Some(Expr::Or(vec![cmp("a", Eq, num(1.0)), not(Expr::Exists { field: f("b") })])),
                    Some(Window::Within(d("2d"))),
                ),
            ),
            (
                r#"did "X" where t within 1h before 2w ago"#,
                did(
                    "X",
                    Some(Expr::Relative { field: f("t"), rel: Relative::Within(d("1h")) }),
                    Some(Window::BeforeAgo(d("2w"))),
                ),
            ),
            (r#"did "X" after 15m ago"#, did("X", None, Some(Window::AfterAgo(d("15m"))))),
            (
                r#"count("X") != 0 or count("Y", since entry) < 18446744073709551615"#,
                Expr::Or(vec![
                    Expr::Count { event: "X".into(), filter: None, window: None, op: Ne, value: 0 },
                    Expr::Count {
                        event: "Y".into(),
                        filter: None,
                        window: Some(Window::SinceEntry),
                        op: Lt,
                        value: u64::MAX,
                    },
                ]),
            ),
            (r#"trait."first name" starts_with "Jo""#, cmp("trait.first name", StartsWith, s("Jo"))),
            (r#""count" == -1.5e3"#, cmp("count", Eq, num(-1500.0))),
            ("orders.count <= 2", cmp("orders.count", Le, num(2.0))),
            (r#"a.in.did != null"#, cmp("a.in.did", Ne, Literal::Null)),
            (
                "flag = true and other = false",
                Expr::And(vec![cmp("flag", Eq, Literal::Bool(true)), cmp("other", Eq, Literal::Bool(false))]),
            ),
            (r#"t before "2026-01-01""#, cmp("t", Lt, s("2026-01-01"))),
            (r#"t after "2026-01-01T00:00:00Z""#, cmp("t", Gt, s("2026-01-01T00:00:00Z"))),
            ("t after 30s ago", Expr::Relative { field: f("t"), rel: Relative::AfterAgo(d("30s")) }),
            (
                r#"trait.city in ["Helsinki", 2, true, null]"#,
                Expr::In {
                    field: f("trait.city"),
                    values: vec![s("Helsinki"), num(2.0), Literal::Bool(true), Literal::Null],
                },
            ),
            (r#"x = "a\"b\\c\n\t\r\u{e9}\u{1F600}""#, cmp("x", Eq, s("a\"b\\c\n\t\ré😀"))),
            ("not not a exists", not(not(Expr::Exists { field: f("a") }))),
            ("-- leading comment\n  a   =\n1 -- trailing", cmp("a", Eq, num(1.0))),
            ("within = 1", cmp("within", Eq, num(1.0))),
            ("exists exists", Expr::Exists { field: f("exists") }),
            ("x = -0", cmp("x", Eq, num(-0.0))),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text}");
        }
    }

    #[test]
    fn generic_message_events_mean_the_emitted_ones() {
        let text = parse(r#"did "Message Clicked" within 14d"#).unwrap();
        let json = from_json(&serde_json::json!({"did": "Message Opened"})).unwrap();
        assert!(matches!(text, Expr::Did { ref event, .. } if event == "Email Clicked"), "{text:?}");
        assert!(matches!(json, Expr::Did { ref event, .. } if event == "Email Opened"), "{json:?}");
        assert!(
            matches!(parse(r#"did "Order Completed""#).unwrap(), Expr::Did { ref event, .. } if event == "Order Completed")
        );
    }

    #[test]
    fn canonical_text_is_stable() {
        for text in [
            "orders.count >= 3 and orders.total_spent > 10000",
            r#"did "Checkout Started" within 4h"#,
            r#"count("Product Viewed" where category = "bicycles", within 30d) >= 2"#,
            r#"in segment "VIP""#,
            "subscribed email",
            "last_seen_at before 90d ago",
            r#"trait.city in ["Helsinki", "Tampere"]"#,
            r#"did "X" where (a = 1 or b = 2) within 4h and not (c = 1 or "and" exists)"#,
            "(a = 1 or b = 2) or c = 3",
            "predicted.churn_risk > 0.7",
        ] {
            assert_eq!(to_text(&ok(text)), text);
        }
        assert_eq!(to_text(&ok("a==1 and(b=2)--x")), "a = 1 and b = 2");
        assert_eq!(to_text(&ok("((a=1)or(b=2))or(c=3)")), "(a = 1 or b = 2) or c = 3");
        assert_eq!(
            to_text(&ok("x = 1.50 and y = 1e3 and z = 1e300 and w = 0.000001")),
            "x = 1.5 and y = 1000 and z = 1e300 and w = 0.000001"
        );
    }

    #[test]
    fn bad_inputs_name_column_and_expectation() {
        let cases: &[(&str, &str, usize)] = &[
            (r#"did "X" within soon"#, "expected a duration like 4h", 16),
            (r#"did "X" within 4x"#, "expected a duration like 4h", 16),
            (r#"did "X" within 99999999999999999999d"#, "the duration is too long", 16),
            ("a ~ 1", "unexpected character \"~\"", 3),
            ("a 1", OPERATOR_EXPECTED, 3),
            ("a", OPERATOR_EXPECTED, 2),
            ("a = \"abc", "unterminated string", 5),
            ("a = 1)", "unexpected \")\"", 6),
            ("()", "unexpected \")\"", 2),
            ("(a = 1", "expected \")\"", 7),
            (r#"in "VIP""#, "expected \"segment\" after \"in\"", 4),
            (r#"in segment VIP"#, "expected the segment name in double quotes after \"in segment\"", 12),
            (r#"count("X") >= 2.5"#, "count needs a whole number after the operator", 15),
            (r#"count("X") >= -1"#, "count needs a whole number after the operator", 15),
            (r#"count("X") >="#, "count needs a whole number after the operator", 14),
            (r#"count("X") > 18446744073709551616"#, "the count is too large", 14),
            (r#"count("X") contains 2"#, COUNT_OPS, 12),
            (r#"count("X") 2"#, "count needs an operator (=, !=, >, >=, <, <=) after count(...)", 12),
            (r#"count "X" > 2"#, "expected \"(\" after \"count\"", 7),
            (r#"count("X" within 4h) > 2"#, "expected \",\" or \")\"", 11),
            (r#"count("X", 4h) > 2"#, WINDOW_EXPECTED, 12),
            ("did X", "expected the event name in double quotes after \"did\"", 5),
            (r#"did """#, "the event name cannot be empty", 5),
            (r#"did "X" where did "Y""#, FILTER_ONLY_PROPERTIES, 15),
            (r#"did "X" where (a = 1 or subscribed email)"#, FILTER_ONLY_PROPERTIES, 25),
            (
                r#"did "X" where not a = 1"#,
                "a where filter takes one condition; put \"not\", \"and\" and \"or\" in parentheses: where (...)",
                15,
            ),
            (
                r#"did "X" where a = 1 where b = 2"#,
                "only one where filter is allowed; combine conditions in parentheses: where (a and b)",
                21,
            ),
            (r#"did "X" within 1h within 2h"#, "only one window is allowed", 19),
            (r#"did "X" before 4h"#, "expected \"ago\" after the duration", 18),
            (r#"did "X" since then"#, "expected \"entry\" after \"since\"", 15),
            ("subscribed push", "expected \"email\" or \"sms\" after \"subscribed\"", 12),
            ("a = b", VALUE_EXPECTED, 5),
            ("a = 1e999", "the number is too large", 5),
            ("a in 1", "expected \"[\" after \"in\"", 6),
            ("a in [1 2]", "expected \",\" or \"]\"", 9),
            ("a in []", VALUE_EXPECTED, 7),
            ("a before soon", "expected a duration like 4h or a date in double quotes", 10),
            ("a = 1 and", "expected a condition", 10),
            ("a = 1 b = 2", "unexpected \"b\"", 7),
            ("and a = 1", "unexpected \"and\"", 1),
            ("a.= 1", "expected a field name after \".\"", 3),
            (r#"a."" = 1"#, "a field name cannot be empty", 3),
            (r#"a."b.c" = 1"#, "a quoted field name cannot contain \".\"", 3),
            (r#"a = "x\q""#, "invalid escape \"\\q\" (use \\\", \\\\, \\n, \\t, \\r or \\u{..})", 7),
            (r#"a = "\u{110000}""#, "invalid escape: \\u{110000} is not a character", 6),
            (r#"a = "\u12""#, "invalid escape: \\u needs 1 to 6 hex digits in braces, like \\u{e9}", 6),
            ("ä = 1", "unexpected character \"ä\"", 1),
            ("x = 1 and ä = 1", "unexpected character \"ä\"", 11),
            ("a = 1 !", "unexpected character \"!\"", 7),
            ("", "the definition is empty", 1),
            ("  -- only a comment", "the definition is empty", 1),
            ("é = 1 and (", "unexpected character \"é\"", 1),
            ("x = \"é\" and (", "expected a condition", 14),
            ("a = 1\nand b", OPERATOR_EXPECTED, 12),
        ];
        for (text, message, column) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!((e.message.as_str(), e.column), (*message, Some(*column)), "{text}");
            assert_eq!(e.to_string(), format!("{message} at column {column}"));
        }
    }

    #[test]
    fn limits() {
        let deep = format!("{}a = 1{}", "(".repeat(40), ")".repeat(40));
        let e = parse(&deep).unwrap_err();
        assert_eq!((e.message, e.column), (too_deep(), Some(33)));
        let ok_deep = format!("{}a = 1{}", "(".repeat(DEPTH_MAX), ")".repeat(DEPTH_MAX));
        assert!(parse(&ok_deep).is_ok());

        let nots = format!("{}a = 1", "not ".repeat(40));
        let e = parse(&nots).unwrap_err();
        assert_eq!((e.message, e.column), (too_deep(), Some(32 * 4 + 1)));
        // 31 nots around a leaf is exactly DEPTH_MAX deep.
        assert!(parse(&format!("{}a = 1", "not ".repeat(DEPTH_MAX - 1))).is_ok());
        assert_eq!(parse(&format!("{}a = 1", "not ".repeat(DEPTH_MAX))).unwrap_err().message, too_deep());

        // Tree depth, not only parentheses: (x and (x and (...))).
        let mut t = "a = 1".to_string();
        for _ in 0..DEPTH_MAX {
            t = format!("a = 1 and ({t})");
        }
        assert_eq!(parse(&t).unwrap_err().message, too_deep());

        // Huge nesting never overflows the stack.
        for text in ["(".repeat(60_000), "not ".repeat(16_000), format!("did \"X\" where {}", "(".repeat(50_000))] {
            assert_eq!(parse(&text).unwrap_err().message, too_deep());
        }

        let values = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        assert!(parse(&format!("a in [{}]", values(IN_VALUES_MAX))).is_ok());
        let e = parse(&format!("a in [{}]", values(IN_VALUES_MAX + 1))).unwrap_err();
        assert_eq!(e.message, too_many_values());
        assert_eq!(e.column, Some(format!("a in [{}, ", values(IN_VALUES_MAX)).len() + 1));

        let conds = |n: usize| vec!["a = 1"; n].join(" or ");
        assert!(parse(&conds(CONDITIONS_MAX)).is_ok());
        let e = parse(&conds(CONDITIONS_MAX + 1)).unwrap_err();
        assert_eq!((e.message, e.column), (too_many_conditions(), Some(CONDITIONS_MAX * 9 + 1)));
        // Filters count too.
        let filtered = format!("did \"X\" where ({})", vec!["a = 1"; CONDITIONS_MAX].join(" or "));
        assert_eq!(parse(&filtered).unwrap_err().message, too_many_conditions());

        let long = format!("a = \"{}\"", "x".repeat(TEXT_BYTES_MAX));
        let e = parse(&long).unwrap_err();
        assert!(e.message.starts_with("the definition is too long"), "{e}");
        // Within the input limit but longer than the limit once printed canonically (1e22 prints as
        // 10000000000000000000000): rejected, so that every accepted text also round-trips.
        let mut big = String::from("a in [");
        while big.len() < TEXT_BYTES_MAX - 200 {
            big.push_str("1e22,");
        }
        big.push_str("1]");
        assert!(big.len() <= TEXT_BYTES_MAX);
        let e = parse(&big).unwrap_err();
        // Either the value count or the canonical size rule rejects it; both are clear.
        assert!(e.message.starts_with("too many values") || e.message.contains("too long"), "{e}");
        let mut big = String::from("a in [");
        for _ in 0..999 {
            big.push_str("1e22,");
        }
        big.push_str("1] or b in [");
        for _ in 0..999 {
            big.push_str("1e22,");
        }
        big.push_str("1] or c in [");
        for _ in 0..999 {
            big.push_str("1e22,");
        }
        big.push_str("1]");
        assert!(big.len() < TEXT_BYTES_MAX);
        let e = parse(&big).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
        assert_eq!(e.column, None);
    }

    // ----- proptests -----

    pub(crate) fn arb_ident() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_][a-z0-9_]{0,8}",
            Just("in".to_string()),
            Just("not".to_string()),
            Just("count".to_string()),
            Just("did".to_string()),
            Just("and".to_string()),
            Just("within".to_string()),
            Just("exists".to_string()),
            Just("true".to_string()),
            Just("where".to_string()),
            Just("subscribed".to_string()),
        ]
    }
    fn arb_segment() -> impl Strategy<Value = String> {
        prop_oneof![4 => arb_ident(), 1 => "[^.]{1,6}"]
    }
    fn arb_path() -> impl Strategy<Value = FieldPath> {
        proptest::collection::vec(arb_segment(), 1..4).prop_map(|v| FieldPath(v.join(".")))
    }
    fn arb_literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            ".{0,8}".prop_map(Literal::Str),
            (-1_000_000i64..1_000_000).prop_map(|n| Literal::Num(n as f64)),
            any::<f64>().prop_filter("finite", |n| n.is_finite()).prop_map(Literal::Num),
            any::<bool>().prop_map(Literal::Bool),
            Just(Literal::Null),
        ]
    }
    fn arb_duration() -> impl Strategy<Value = Duration> {
        (0i64..100_000, prop::sample::select(vec![1i64, 60, 3_600, 86_400, 604_800]))
            .prop_map(|(n, unit)| Duration::from_secs(n * unit))
    }
    fn arb_op() -> impl Strategy<Value = CompareOp> {
        prop::sample::select(CompareOp::ALL.to_vec())
    }
    fn arb_window() -> impl Strategy<Value = Window> {
        prop_oneof![
            arb_duration().prop_map(Window::Within),
            arb_duration().prop_map(Window::BeforeAgo),
            arb_duration().prop_map(Window::AfterAgo),
            Just(Window::SinceEntry),
        ]
    }
    /// Conditions on one field: the leaves of filters and of profile expressions.
    fn arb_condition() -> impl Strategy<Value = Expr> {
        prop_oneof![
            (arb_path(), arb_op(), arb_literal()).prop_map(|(field, op, value)| Expr::Compare { field, op, value }),
            arb_path().prop_map(|field| Expr::Exists { field }),
            (arb_path(), proptest::collection::vec(arb_literal(), 1..4))
                .prop_map(|(field, values)| Expr::In { field, values }),
            (arb_path(), arb_duration(), 0..3).prop_map(|(field, d, k)| Expr::Relative {
                field,
                rel: match k {
                    0 => Relative::BeforeAgo(d),
                    1 => Relative::AfterAgo(d),
                    _ => Relative::Within(d),
                }
            }),
        ]
    }
    fn boolean_over(leaf: BoxedStrategy<Expr>, depth: u32) -> BoxedStrategy<Expr> {
        leaf.prop_recursive(depth, 24, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                inner.prop_map(|x| Expr::Not(Box::new(x))),
            ]
        })
        .boxed()
    }
    fn arb_filter() -> BoxedStrategy<Expr> {
        boolean_over(arb_condition().boxed(), 2)
    }
    fn arb_event() -> impl Strategy<Value = String> {
        ".{1,10}"
    }
    fn arb_leaf() -> BoxedStrategy<Expr> {
        prop_oneof![
            4 => arb_condition(),
            2 => (arb_event(), proptest::option::of(arb_filter()), proptest::option::of(arb_window()))
                .prop_map(|(event, filter, window)| Expr::Did { event, filter: filter.map(Box::new), window }),
            2 => (arb_event(), proptest::option::of(arb_filter()), proptest::option::of(arb_window()), 0..6usize, any::<u64>())
                .prop_map(|(event, filter, window, op, value)| Expr::Count {
                    event,
                    filter: filter.map(Box::new),
                    window,
                    op: [CompareOp::Eq, CompareOp::Ne, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le][op],
                    value,
                }),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(email, sub)| Expr::Consent {
                channel: if email { Channel::Email } else { Channel::Sms },
                status: if sub { ConsentIs::Subscribed } else { ConsentIs::Unsubscribed },
            }),
            1 => ".{1,10}".prop_map(Expr::InSegment),
        ]
        .boxed()
    }
    /// Valid trees: non-empty and / or with at least two children, finite numbers, whole-second durations.
    pub(crate) fn arb_expr() -> BoxedStrategy<Expr> {
        boolean_over(arb_leaf(), 3)
    }

    fn fuzz_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "and",
            "or",
            "not",
            "(",
            ")",
            "did",
            "count",
            "\"X\"",
            "\"a b\"",
            "where",
            "within",
            "before",
            "after",
            "ago",
            "since",
            "entry",
            "4h",
            "30d",
            "0s",
            "4x",
            "in",
            "segment",
            "[",
            "]",
            ",",
            ".",
            "a",
            "trait",
            "=",
            "==",
            "!=",
            ">",
            ">=",
            "<",
            "<=",
            "contains",
            "starts_with",
            "exists",
            "1",
            "-2.5e3",
            "1e999",
            "true",
            "null",
            "subscribed",
            "email",
            "sms",
            "--",
            "\n",
            "\"",
            "\\",
            "\"\\u{",
            "é",
            "-",
            "!",
            "'",
        ]);
        // Valid canonical texts with a few random edits: mostly near-misses, some still valid.
        let mutated = (arb_expr(), proptest::collection::vec((any::<usize>(), 0..3u8, piece.clone()), 1..3)).prop_map(
            |(e, edits)| {
                let mut text: Vec<char> = to_text(&e).chars().collect();
                for (at, kind, piece) in edits {
                    let at = at % (text.len() + 1);
                    match kind {
                        0 => drop(text.drain(at..(at + 3).min(text.len()))),
                        1 => text.splice(at..at, piece.chars()).for_each(drop),
                        _ => text.splice(at..at, [' ']).for_each(drop),
                    }
                }
                text.into_iter().collect::<String>()
            },
        );
        prop_oneof![
            2 => proptest::collection::vec(piece.clone(), 0..30).prop_map(|v| v.join(" ")),
            1 => proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat()),
            1 => ".{0,60}",
            1 => "[a-z ()\\[\\],.=!<>\"\\\\0-9-]{0,60}",
            3 => mutated,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn text_round_trips(e in arb_expr()) {
            prop_assert_eq!(validate(&e), Ok(()));
            let text = to_text(&e);
            prop_assert_eq!(parse(&text), Ok(e.clone()), "{}", text);
        }

        #[test]
        fn parser_never_panics(text in fuzz_text()) {
            if let Ok(e) = parse(&text) {
                // Whatever parses is valid and round-trips through both forms.
                prop_assert_eq!(parse(&to_text(&e)), Ok(e.clone()));
                prop_assert_eq!(from_json(&to_json(&e)), Ok(e));
            } else if let Err(err) = parse(&text) {
                prop_assert!(err.column.is_some() || err.message.contains("too long"));
            }
        }
    }
}
