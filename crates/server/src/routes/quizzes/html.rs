//! The hosted quiz's pages: plain HTML forms that work without JavaScript (each answer is a submit button, so one
//! tap answers), one column that fits a 390 px phone, every text escaped, headings and groups named for screen
//! readers. No script at all; the style sheet is in the page (the pages' CSP allows inline styles, nothing else).

use kairos_domain::quiz::{EmailStep, Question, Quiz};
use kairos_template::html_escape;
use serde_json::Value;

fn e(s: &str) -> String {
    html_escape(s).into_owned()
}

const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f7f7f5;color:#1c1c1a;line-height:1.5}\
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem 3rem}\
h1{font-size:1.55rem;line-height:1.25;margin:.75rem 0 1rem}\
p.lead{white-space:pre-line}\
.step{color:#55554f;font-size:.9rem;margin:0}\
progress{width:100%;height:.5rem;accent-color:#1f4fd1}\
.choices{display:grid;gap:.75rem;margin:1.25rem 0}\
.choices button,.primary,.secondary{font:inherit;cursor:pointer;border-radius:.6rem;min-height:3rem}\
.choices button{display:block;width:100%;padding:.85rem 1rem;font-size:1.05rem;text-align:left;background:#fff;\
color:inherit;border:2px solid #c7c7c0}\
.choices button:hover{border-color:#1f4fd1}\
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #1f4fd1;outline-offset:2px}\
.primary{background:#1f4fd1;color:#fff;border:0;padding:.75rem 1.5rem;font-weight:600}\
.secondary{background:transparent;color:#1f4fd1;border:2px solid #1f4fd1;padding:.65rem 1.25rem;margin-left:.5rem}\
label{display:block;margin:.25rem 0;font-weight:600}\
input[type=email]{width:100%;padding:.75rem;font:inherit;border:2px solid #c7c7c0;border-radius:.5rem;background:#fff}\
.consent{display:flex;gap:.6rem;align-items:flex-start;margin:1rem 0}\
.consent input{width:1.25rem;height:1.25rem;margin-top:.2rem;flex:none}\
.consent label{font-weight:400;margin:0}\
.error{color:#b3001b;font-weight:600}\
.products{list-style:none;padding:0;margin:1.25rem 0;display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:1rem}\
.products li{background:#fff;border:1px solid #deded8;border-radius:.6rem;overflow:hidden}\
.products a{display:block;color:inherit;text-decoration:none;padding:.75rem;height:100%}\
.products img{display:block;width:100%;height:auto;aspect-ratio:1;object-fit:cover;border-radius:.4rem;background:#eee;margin-bottom:.5rem}\
.name{display:block;font-weight:600}\
.price{display:block;color:#3d3d38}\
.note{color:#55554f}";

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<link rel=\"icon\" href=\"data:,\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        e(title)
    )
}

/// A step's form: posted to the page's own address (`/q/{id}`, behind whatever prefix serves Kairos).
fn form(hidden: &str, inner: &str) -> String {
    format!("<form method=\"post\">{hidden}{inner}</form>")
}

/// The first page: the quiz's name, its intro and the start button.
pub fn intro(quiz: &Quiz, hidden: &str) -> String {
    let intro = quiz.intro.as_deref().map(|t| format!("<p class=\"lead\">{}</p>", e(t))).unwrap_or_default();
    let start = "<input type=\"hidden\" name=\"action\" value=\"start\">\
<p><button type=\"submit\" class=\"primary\">Start the quiz</button></p>";
    page(&quiz.name, &format!("<h1>{}</h1>{intro}{}", e(&quiz.name), form(hidden, start)))
}

/// A question: its number, a progress bar (answered out of the longest way still possible), and one button per
/// answer.
pub fn question(quiz: &Quiz, q: &Question, hidden: &str, answered: usize) -> String {
    let number = answered + 1;
    let total = answered + quiz.longest_from(&q.id);
    let buttons: String = q
        .options
        .iter()
        .map(|c| format!("<button type=\"submit\" name=\"value\" value=\"{}\">{}</button>", e(&c.value), e(&c.label)))
        .collect();
    let inner = format!(
        "<input type=\"hidden\" name=\"action\" value=\"answer\"><input type=\"hidden\" name=\"question\" value=\"{}\">\
<p class=\"step\" id=\"step\">Question {number}</p>\
<progress max=\"{total}\" value=\"{answered}\" aria-labelledby=\"step\"></progress>\
<h1 id=\"question\">{}</h1><div class=\"choices\" role=\"group\" aria-labelledby=\"question\">{buttons}</div>",
        e(&q.id),
        e(&q.text)
    );
    page(&format!("{} · {}", q.text, quiz.name), &form(hidden, &inner))
}

/// The email step: the address (required or skippable) and the consent box with its exact text.
pub fn email(quiz: &Quiz, step: &EmailStep, hidden: &str, error: Option<&str>, typed: &str) -> String {
    let text = step.text.as_deref().map(|t| format!("<p class=\"lead\">{}</p>", e(t))).unwrap_or_default();
    let (invalid, message) = match error {
        Some(m) => (
            " aria-invalid=\"true\" aria-describedby=\"email-error\"",
            format!("<p class=\"error\" id=\"email-error\" role=\"alert\">{}</p>", e(m)),
        ),
        None => ("", String::new()),
    };
    let required = if step.required { " required" } else { "" };
    let consent = step
        .consent
        .as_ref()
        .map(|c| {
            format!(
                "<p class=\"consent\"><input type=\"checkbox\" id=\"consent\" name=\"consent\" value=\"yes\">\
<label for=\"consent\">{}</label></p>",
                e(&c.text)
            )
        })
        .unwrap_or_default();
    let skip = if step.required {
        String::new()
    } else {
        "<button type=\"submit\" class=\"secondary\" name=\"skip\" value=\"yes\" formnovalidate>Skip</button>".into()
    };
    let inner = format!(
        "<input type=\"hidden\" name=\"action\" value=\"email\"><h1>{}</h1>{text}\
<p><label for=\"email\">Email</label><input type=\"email\" id=\"email\" name=\"email\" value=\"{}\" \
autocomplete=\"email\"{required}{invalid}></p>{message}{consent}\
<p><button type=\"submit\" class=\"primary\">Show my results</button>{skip}</p>",
        e(&step.title),
        e(typed)
    );
    page(&format!("{} · {}", step.title, quiz.name), &form(hidden, &inner))
}

/// The result: the recommended products (the link back is relative: `/q/{id}` from `/q/{id}`) (JSON of `picks::product_json`), or a word when there are none.
pub fn result(quiz: &Quiz, products: &[Value], fallback: bool) -> String {
    let text = quiz.result.text.as_deref().map(|t| format!("<p class=\"lead\">{}</p>", e(t))).unwrap_or_default();
    let note = if products.is_empty() {
        "<p class=\"note\">Nothing is in stock for these answers right now: come back soon.</p>"
    } else if fallback {
        "<p class=\"note\">Nothing in stock matched every answer, so here are our best sellers.</p>"
    } else {
        ""
    };
    let items: String = products
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().map(e);
            let name = s("name").unwrap_or_default();
            let image = s("image_url")
                .map(|src| format!("<img src=\"{src}\" alt=\"\" loading=\"lazy\" width=\"300\" height=\"300\">"))
                .unwrap_or_default();
            let price = s("price_text").map(|t| format!("<span class=\"price\">{t}</span>")).unwrap_or_default();
            let card = format!("{image}<span class=\"name\">{name}</span>{price}");
            match s("url") {
                Some(href) => format!("<li><a href=\"{href}\" target=\"_top\">{card}</a></li>"),
                None => format!("<li><div>{card}</div></li>"),
            }
        })
        .collect();
    let list = if items.is_empty() { String::new() } else { format!("<ul class=\"products\">{items}</ul>") };
    let body = format!(
        "<h1>{}</h1>{text}{note}{list}<p><a href=\"{}\">Take the quiz again</a></p>",
        e(&quiz.result.title),
        e(&quiz.id)
    );
    page(&format!("{} · {}", quiz.result.title, quiz.name), &body)
}

/// A short page for a visitor: not found, too many attempts, a stale form.
pub fn notice(title: &str, text: &str) -> String {
    page(title, &format!("<h1>{}</h1><p role=\"alert\">{}</p>", e(title), e(text)))
}
