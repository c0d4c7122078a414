//! Text form printer: the canonical text of a tree, which `parse::parse` reads back to the same tree.
//!
//! Canonical form: single spaces around operators and keywords, `=` (not `==`), a `did` filter before
//! its window, the fewest parentheses that keep the exact tree (`(a and b) and c` stays nested), field path
//! parts quoted only when they are not identifiers (or, for the first part, a keyword), numbers in
//! Rust's shortest round-trip form (`3`, `0.7`, and exponent form `1e300` when the plain form would be
//! longer than 24 characters), strings escaped with `\" \\ \n \t \r \u{..}`.

use std::fmt::Write;

use crate::ast::{Expr, FieldPath, Literal, Relative, Window};
use crate::parse::RESERVED;

/// The canonical text of an expression.
pub fn to_text(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::And(xs) => write_list(out, xs, " and ", |x| matches!(x, Expr::And(_) | Expr::Or(_))),
        Expr::Or(xs) => write_list(out, xs, " or ", |x| matches!(x, Expr::Or(_))),
        Expr::Not(x) => {
            out.push_str("not ");
            write_maybe_paren(out, x, matches!(**x, Expr::And(_) | Expr::Or(_)));
        }
        Expr::Compare { field, op, value } => {
            write_path(out, field);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_literal(out, value);
        }
        Expr::Exists { field } => {
            write_path(out, field);
            out.push_str(" exists");
        }
        Expr::In { field, values } => {
            write_path(out, field);
            out.push_str(" in [");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_literal(out, v);
            }
            out.push(']');
        }
        Expr::Relative { field, rel } => {
            write_path(out, field);
            let _ = match rel {
                Relative::BeforeAgo(d) => write!(out, " before {d} ago"),
                Relative::AfterAgo(d) => write!(out, " after {d} ago"),
                Relative::Within(d) => write!(out, " within {d}"),
            };
        }
        Expr::Did { event, filter, window } => {
            out.push_str("did ");
            write_string(out, event);
            if let Some(f) = filter {
                write_filter(out, f);
            }
            if let Some(w) = window {
                out.push(' ');
                write_window(out, w);
            }
        }
        Expr::Count { event, filter, window, op, value } => {
            out.push_str("count(");
            write_string(out, event);
            if let Some(f) = filter {
                write_filter(out, f);
            }
            if let Some(w) = window {
                out.push_str(", ");
                write_window(out, w);
            }
            let _ = write!(out, ") {} {value}", op.as_str());
        }
        Expr::Consent { channel, status } => {
            out.push_str(status.as_str());
            out.push(' ');
            out.push_str(channel.as_str());
        }
        Expr::InSegment(name) => {
            out.push_str("in segment ");
            write_string(out, name);
        }
    }
}

fn write_list(out: &mut String, xs: &[Expr], sep: &str, needs_paren: fn(&Expr) -> bool) {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_maybe_paren(out, x, needs_paren(x));
    }
}

fn write_maybe_paren(out: &mut String, e: &Expr, paren: bool) {
    if paren {
        out.push('(');
        write_expr(out, e);
        out.push(')');
    } else {
        write_expr(out, e);
    }
}

/// ` where cond` for a single condition, ` where (expr)` otherwise.
fn write_filter(out: &mut String, f: &Expr) {
    out.push_str(" where ");
    let bare = matches!(f, Expr::Compare { .. } | Expr::Exists { .. } | Expr::In { .. } | Expr::Relative { .. });
    write_maybe_paren(out, f, !bare);
}

fn write_window(out: &mut String, w: &Window) {
    let _ = match w {
        Window::Within(d) => write!(out, "within {d}"),
        Window::BeforeAgo(d) => write!(out, "before {d} ago"),
        Window::AfterAgo(d) => write!(out, "after {d} ago"),
        Window::SinceEntry => write!(out, "since entry"),
    };
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write_path(out: &mut String, p: &FieldPath) {
    for (i, seg) in p.segments().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if is_identifier(seg) && !(i == 0 && RESERVED.contains(&seg)) {
            out.push_str(seg);
        } else {
            write_string(out, seg);
        }
    }
}

fn write_literal(out: &mut String, v: &Literal) {
    match v {
        Literal::Str(s) => write_string(out, s),
        Literal::Num(n) => out.push_str(&number_text(*n)),
        Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Literal::Null => out.push_str("null"),
    }
}

/// Shortest round-trip form; exponent form when the plain one would be long (`1e300`, `1.5e-20`).
pub(crate) fn number_text(n: f64) -> String {
    let plain = n.to_string();
    if plain.len() <= 24 { plain } else { format!("{n:e}") }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Channel, CompareOp, ConsentIs};
    use kairos_domain::Duration;

    fn f(p: &str) -> FieldPath {
        FieldPath(p.to_string())
    }

    #[test]
    fn prints_the_canonical_examples() {
        let d = |s: &str| Duration::parse(s).unwrap();
        let cases = vec![
            (
                Expr::And(vec![
                    Expr::Compare { field: f("orders.count"), op: CompareOp::Ge, value: Literal::Num(3.0) },
                    Expr::Compare { field: f("orders.total_spent"), op: CompareOp::Gt, value: Literal::Num(10000.0) },
                ]),
                "orders.count >= 3 and orders.total_spent > 10000",
            ),
            (
                Expr::Did { event: "Checkout Started".into(), filter: None, window: Some(Window::Within(d("4h"))) },
                r#"did "Checkout Started" within 4h"#,
            ),
            (
                Expr::Count {
                    event: "Product Viewed".into(),
                    filter: Some(Box::new(Expr::Compare {
                        field: f("category"),
                        op: CompareOp::Eq,
                        value: Literal::Str("bicycles".into()),
                    })),
                    window: Some(Window::Within(d("30d"))),
                    op: CompareOp::Ge,
                    value: 2,
                },
                r#"count("Product Viewed" where category = "bicycles", within 30d) >= 2"#,
            ),
            (Expr::InSegment("VIP".into()), r#"in segment "VIP""#),
            (Expr::Consent { channel: Channel::Email, status: ConsentIs::Subscribed }, "subscribed email"),
            (Expr::Consent { channel: Channel::Sms, status: ConsentIs::Unsubscribed }, "unsubscribed sms"),
            (
                Expr::Relative { field: f("last_seen_at"), rel: Relative::BeforeAgo(d("90d")) },
                "last_seen_at before 90d ago",
            ),
            (
                Expr::In {
                    field: f("trait.city"),
                    values: vec![Literal::Str("Helsinki".into()), Literal::Str("Tampere".into())],
                },
                r#"trait.city in ["Helsinki", "Tampere"]"#,
            ),
            (Expr::Exists { field: f("trait.first name") }, r#"trait."first name" exists"#),
            (Expr::Exists { field: f("count.in") }, r#""count".in exists"#),
            (
                Expr::Compare { field: f("x"), op: CompareOp::Eq, value: Literal::Str("a\"b\\c\n\u{1}é".into()) },
                r#"x = "a\"b\\c\n\u{1}é""#,
            ),
            (
                Expr::Not(Box::new(Expr::Or(vec![
                    Expr::Exists { field: f("a") },
                    Expr::Not(Box::new(Expr::Exists { field: f("b") })),
                ]))),
                "not (a exists or not b exists)",
            ),
            (
                Expr::Did {
                    event: "X".into(),
                    filter: Some(Box::new(Expr::Not(Box::new(Expr::Exists { field: f("a") })))),
                    window: Some(Window::SinceEntry),
                },
                r#"did "X" where (not a exists) since entry"#,
            ),
        ];
        for (e, text) in cases {
            assert_eq!(to_text(&e), text);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number_text(3.0), "3");
        assert_eq!(number_text(-0.5), "-0.5");
        assert_eq!(number_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(number_text(1e300), "1e300");
        assert_eq!(number_text(-1.5e-30), "-1.5e-30");
        assert_eq!(number_text(-1.5e-20), "-0.000000000000000000015");
        assert_eq!(number_text(1e20), "100000000000000000000");
        for n in [0.1, 1e-7, 123456.789, f64::MAX, f64::MIN_POSITIVE, 5e-324, -2.5e17] {
            assert_eq!(number_text(n).parse::<f64>(), Ok(n));
        }
    }
}
