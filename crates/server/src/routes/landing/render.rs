//! A landing page as HTML: every text and address escaped, no script (the coupon reveal and the signup form are
//! plain HTML forms, the static code a `<details>`), one column that fits a 390 px phone, landmarks, labels and
//! headings in order. What varies per visitor (products, the form's fields, a revealed code) is resolved by the
//! caller and handed in as a [`View`].

use std::collections::HashMap;

use kairos_template::html_escape;
use serde_json::Value;

/// A product as a `products` block shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub title: String,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub price: Option<String>,
}

/// What a pool-backed coupon block shows after the visitor asked for a code.
#[derive(Debug, Clone, PartialEq)]
pub enum CouponState {
    Revealed {
        code: String,
        expires_at: Option<String>,
    },
    /// The address given, and why it was not accepted (shown beside the field).
    Invalid {
        email: String,
        message: String,
    },
    /// Anything else to tell (the offer ended, a code already given).
    Told(String),
}

/// Everything a page shows beyond its stored document.
#[derive(Debug, Default)]
pub struct View {
    /// Products of each `products` block, by block index.
    pub products: HashMap<usize, Vec<Card>>,
    /// The form document of each `form` block, by block index (blocks whose form is gone are left out).
    pub forms: HashMap<usize, Value>,
    /// The address signups name as their `page` (the page's public address).
    pub page_url: String,
    /// The visitor's anonymous id, handed to the embedded forms so a signup keeps the visit history.
    pub anonymous_id: Option<String>,
    /// A coupon block's outcome after the visitor asked for a code.
    pub coupon: Option<(usize, CouponState)>,
}

/// The hidden field bots fill and people never see (the forms' own honeypot).
pub const HONEYPOT: &str = "website";

fn e(s: &str) -> String {
    html_escape(s).into_owned()
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:1.05rem/1.55 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#1d2433;background:#fff;overflow-wrap:anywhere}main{max-width:60rem;margin:0 auto;padding:1rem}\
section{margin:0 0 2.5rem}h1{font-size:clamp(1.7rem,6vw,2.6rem);line-height:1.15;margin:.5rem 0}h2{font-size:1.4rem;margin:0 0 .75rem}\
img{max-width:100%;height:auto;display:block}.hero{display:grid;gap:1rem}.hero img{border-radius:.5rem;width:100%}\
@media(min-width:48rem){.hero.with-image{grid-template-columns:1fr 1fr;align-items:center}}\
.button,button{display:inline-block;background:#1849a9;color:#fff;border:0;border-radius:.4rem;padding:.75rem 1.25rem;\
font:inherit;font-weight:600;text-decoration:none;cursor:pointer;min-height:44px}.button:hover,button:hover{background:#123a87}\
a{color:#1849a9}:focus-visible{outline:3px solid #f5a524;outline-offset:2px}\
.grid{list-style:none;padding:0;margin:0;display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr))}\
.card{border:1px solid #d6dbe4;border-radius:.5rem;padding:.75rem;display:flex;flex-direction:column;gap:.35rem}\
.card img{aspect-ratio:1;object-fit:cover;border-radius:.3rem;width:100%}.card .price{font-weight:600}\
form p{margin:0 0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}\
input[type=email],input[type=tel],input[type=text],textarea{width:100%;padding:.65rem;border:1px solid #8a93a6;border-radius:.3rem;font:inherit}\
.check{display:flex;gap:.5rem;align-items:flex-start}.check label{font-weight:400;margin:0}.check input{margin-top:.35rem}\
.error{color:#b3261e;font-weight:600}.code{font-size:1.2rem}.code strong{font-family:ui-monospace,monospace;letter-spacing:.05em;\
background:#f1f4f9;padding:.2rem .5rem;border-radius:.3rem}details summary{cursor:pointer;display:inline-block}\
.coupon,.signup{background:#f6f8fb;border-radius:.6rem;padding:1.25rem}.hp{position:absolute;left:-10000px}";

/// The whole page.
pub fn page_html(page: &Value, view: &View) -> String {
    let title = e(str_of(page, "title").or_else(|| str_of(page, "name")).unwrap_or("Welcome"));
    let blocks = page["blocks"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut body = String::new();
    // One h1 per page: the first hero's heading, else the page's title.
    let hero_first = blocks.first().is_some_and(|b| b["type"] == "hero");
    if !hero_first {
        body.push_str(&format!("<h1>{title}</h1>"));
    }
    for (i, b) in blocks.iter().enumerate() {
        let html = match b["type"].as_str().unwrap_or_default() {
            "hero" => hero(b, i, hero_first && i == 0),
            "text" => text(b, i),
            "products" => products(b, i, view.products.get(&i).map(Vec::as_slice).unwrap_or_default()),
            "form" => view.forms.get(&i).map(|f| form(b, i, f, view)).unwrap_or_default(),
            "coupon" => coupon(page, b, i, view.coupon.as_ref().filter(|(at, _)| *at == i).map(|(_, s)| s)),
            _ => String::new(),
        };
        body.push_str(&html);
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{CSS}</style></head>\
<body><main>{body}</main></body></html>"
    )
}

fn heading(b: &Value, i: usize, level: u8) -> (String, String) {
    match str_of(b, "heading") {
        Some(h) => (format!("<h{level} id=\"b{i}-h\">{}</h{level}>", e(h)), format!(" aria-labelledby=\"b{i}-h\"")),
        None => (String::new(), String::new()),
    }
}

/// Paragraphs split on blank lines; a single line break stays one.
fn paragraphs(t: &str) -> String {
    t.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.lines().map(e).collect::<Vec<_>>().join("<br>")))
        .collect()
}

fn hero(b: &Value, i: usize, first: bool) -> String {
    let (h, labelled) = heading(b, i, if first { 1 } else { 2 });
    let image = str_of(b, "image_url")
        .map(|u| format!("<img src=\"{}\" alt=\"{}\">", e(u), e(str_of(b, "image_alt").unwrap_or_default())))
        .unwrap_or_default();
    let button = match (str_of(b, "button_label"), str_of(b, "button_url")) {
        (Some(label), Some(url)) => format!("<p><a class=\"button\" href=\"{}\">{}</a></p>", e(url), e(label)),
        _ => String::new(),
    };
    let class = if image.is_empty() { "hero" } else { "hero with-image" };
    let text = str_of(b, "text").map(paragraphs).unwrap_or_default();
    format!("<section class=\"{class}\"{labelled}><div>{h}{text}{button}</div>{image}</section>")
}

fn text(b: &Value, i: usize) -> String {
    let (h, labelled) = heading(b, i, 2);
    format!("<section class=\"text\"{labelled}>{h}{}</section>", paragraphs(str_of(b, "text").unwrap_or_default()))
}

fn products(b: &Value, i: usize, cards: &[Card]) -> String {
    if cards.is_empty() {
        return String::new();
    }
    let (h, labelled) = heading(b, i, 2);
    let items: String = cards
        .iter()
        .map(|c| {
            let img = c
                .image_url
                .as_deref()
                .map(|u| format!("<img src=\"{}\" alt=\"\" loading=\"lazy\">", e(u)))
                .unwrap_or_default();
            let name = match &c.url {
                Some(u) => format!("<a href=\"{}\">{}</a>", e(u), e(&c.title)),
                None => e(&c.title),
            };
            let price =
                c.price.as_deref().map(|p| format!("<span class=\"price\">{}</span>", e(p))).unwrap_or_default();
            format!("<li class=\"card\">{img}<span class=\"name\">{name}</span>{price}</li>")
        })
        .collect();
    format!("<section class=\"products\"{labelled}>{h}<ul class=\"grid\">{items}</ul></section>")
}

fn honeypot(i: usize) -> String {
    format!(
        "<p class=\"hp\" aria-hidden=\"true\"><label for=\"b{i}-{HONEYPOT}\">Leave this empty</label>\
<input id=\"b{i}-{HONEYPOT}\" name=\"{HONEYPOT}\" tabindex=\"-1\" autocomplete=\"off\"></p>"
    )
}

/// A signup form of the workspace, posting to `/f/{id}` with the page named in `page`.
fn form(b: &Value, i: usize, f: &Value, view: &View) -> String {
    let title = str_of(b, "heading").or_else(|| str_of(f, "name")).unwrap_or("Sign up");
    let mut fields = String::new();
    for field in f["fields"].as_array().into_iter().flatten() {
        let name = e(str_of(field, "name").unwrap_or_default());
        let label = e(str_of(field, "label").unwrap_or(&name));
        let id = format!("b{i}-{name}");
        let required = if field["required"] == true { " required" } else { "" };
        let input = match str_of(field, "type").unwrap_or("text") {
            "textarea" => format!("<textarea id=\"{id}\" name=\"{name}\"{required}></textarea>"),
            "checkbox" => {
                fields.push_str(&format!(
                    "<p class=\"check\"><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"yes\"{required}>\
<label for=\"{id}\">{label}</label></p>"
                ));
                continue;
            }
            "email" => format!("<input type=\"email\" id=\"{id}\" name=\"{name}\" autocomplete=\"email\"{required}>"),
            "phone" => format!("<input type=\"tel\" id=\"{id}\" name=\"{name}\" autocomplete=\"tel\"{required}>"),
            _ => format!("<input type=\"text\" id=\"{id}\" name=\"{name}\"{required}>"),
        };
        fields.push_str(&format!("<p><label for=\"{id}\">{label}</label>{input}</p>"));
    }
    if let Some(consent) = f["consent"]["text"].as_str() {
        fields.push_str(&format!(
            "<p class=\"check\"><input type=\"checkbox\" id=\"b{i}-consent\" name=\"consent\" value=\"yes\">\
<label for=\"b{i}-consent\">{}</label></p>",
            e(consent)
        ));
    }
    let aid = view
        .anonymous_id
        .as_deref()
        .map(|a| format!("<input type=\"hidden\" name=\"anonymous_id\" value=\"{}\">", e(a)))
        .unwrap_or_default();
    format!(
        "<section class=\"signup\" aria-labelledby=\"b{i}-h\"><h2 id=\"b{i}-h\">{}</h2>\
<form method=\"post\" action=\"/f/{}\">{fields}<input type=\"hidden\" name=\"page\" value=\"{}\">{aid}{}\
<p><button type=\"submit\">Sign up</button></p></form></section>",
        e(title),
        e(str_of(f, "id").unwrap_or_default()),
        e(&view.page_url),
        honeypot(i),
    )
}

fn coupon(page: &Value, b: &Value, i: usize, state: Option<&CouponState>) -> String {
    let (h, labelled) = heading(b, i, 2);
    let intro = str_of(b, "text").map(paragraphs).unwrap_or_default();
    let shown = |code: &str, until: Option<&str>| {
        let until = until.map(|u| format!("<p>Valid until {}.</p>", e(u))).unwrap_or_default();
        format!("<p class=\"code\" role=\"status\">Your code: <strong>{}</strong></p>{until}", e(code))
    };
    let inner = if let Some(code) = str_of(b, "code") {
        let label = e(str_of(b, "button_label").unwrap_or("Show my code"));
        format!("<details><summary class=\"button\">{label}</summary>{}</details>", shown(code, None))
    } else {
        match state {
            Some(CouponState::Revealed { code, expires_at }) => shown(code, expires_at.as_deref()),
            Some(CouponState::Told(message)) => format!("<p role=\"status\">{}</p>", e(message)),
            other => {
                let (value, error) = match other {
                    Some(CouponState::Invalid { email, message }) => {
                        (e(email), format!("<p class=\"error\" id=\"b{i}-email-error\">{}</p>", e(message)))
                    }
                    _ => (String::new(), String::new()),
                };
                let described = if error.is_empty() {
                    String::new()
                } else {
                    format!(" aria-invalid=\"true\" aria-describedby=\"b{i}-email-error\"")
                };
                format!(
                    "<form method=\"post\" action=\"/p/{}/coupon\"><input type=\"hidden\" name=\"block\" value=\"{i}\">\
<p><label for=\"b{i}-email\">Email</label><input type=\"email\" id=\"b{i}-email\" name=\"email\" value=\"{value}\" \
autocomplete=\"email\" required{described}></p>{error}{}<p><button type=\"submit\">{}</button></p></form>",
                    e(str_of(page, "id").unwrap_or_default()),
                    honeypot(i),
                    e(str_of(b, "button_label").unwrap_or("Reveal my code")),
                )
            }
        }
    };
    format!("<section class=\"coupon\"{labelled}>{h}{intro}{inner}</section>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_text_is_escaped_and_no_script_is_written() {
        let evil = "<script>alert('x')</script>";
        let page = json!({"id": "sale", "name": evil, "title": evil, "blocks": [
            {"type": "hero", "heading": evil, "text": evil, "image_url": "https://x.example/a.png?\"><script>",
             "image_alt": evil, "button_label": evil, "button_url": "https://x.example/\"onmouseover=\"x"},
            {"type": "text", "heading": evil, "text": format!("{evil}\n\nsecond")},
            {"type": "products", "heading": evil},
            {"type": "form", "form": "f"},
            {"type": "coupon", "heading": evil, "text": evil, "pool": "p", "button_label": evil},
            {"type": "coupon", "code": "SAVE10", "button_label": evil}]});
        let mut view = View { page_url: "https://k.example/p/sale".into(), ..View::default() };
        view.products.insert(
            2,
            vec![Card {
                title: evil.into(),
                url: Some("https://x.example/\"".into()),
                image_url: None,
                price: Some(evil.into()),
            }],
        );
        view.forms.insert(
            3,
            json!({"id": "f", "name": evil, "fields": [{"name": "email", "type": "email", "label": evil}],
                                    "consent": {"text": evil}}),
        );
        view.anonymous_id = Some("\"><script>".into());
        view.coupon = Some((4, CouponState::Invalid { email: evil.into(), message: evil.into() }));
        let html = page_html(&page, &view);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\"onmouseover"), "attribute values stay quoted");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("<h1 id=\"b0-h\">") && html.matches("<h1").count() == 1, "one h1: the hero's");
        assert!(html.contains("action=\"/f/f\"") && html.contains("name=\"page\" value=\"https://k.example/p/sale\""));
        assert!(html.contains("action=\"/p/sale/coupon\"") && html.contains("aria-invalid=\"true\""));
        assert!(html.contains("<details>") && html.contains("SAVE10"));
    }

    #[test]
    fn a_page_without_a_hero_first_gets_its_title_as_h1_and_empty_product_blocks_vanish() {
        let page = json!({"id": "p", "name": "N", "title": "Spring", "blocks": [
            {"type": "products", "heading": "Bikes"}, {"type": "hero", "heading": "Later"}]});
        let html = page_html(&page, &View::default());
        assert!(html.contains("<h1>Spring</h1>") && html.contains("<h2 id=\"b1-h\">Later</h2>"), "{html}");
        assert!(!html.contains("Bikes"), "no products, no block");
    }
}
