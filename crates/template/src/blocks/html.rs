//! Blocks → the email's html part (Liquid). One centred column of at most [`EMAIL_WIDTH_PX`], tables and inline
//! styles only (what mail apps keep); product cards are inline blocks that wrap on narrow screens.

use super::liquid::{escaped, paragraphs};
use super::*;

/// Side padding of the column's content, in CSS pixels.
const SIDE_PX: u16 = 24;
/// Padding around each product card, in CSS pixels.
const CARD_PAD_PX: u16 = 8;
/// The store's colour, else Kairos blue.
const STORE_COLOR: &str = "{{ store.color | default: '#1a56db' }}";
const HEADING_STYLE: &str = "margin:0 0 8px;font-size:22px;line-height:1.3;font-weight:bold";
const PARAGRAPH_STYLE: &str = "margin:0 0 12px";

const HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"x-apple-disable-message-reformatting\"><title>{{ store.name }}</title></head>\
<body style=\"margin:0;padding:0;background:#f4f4f5\">";
const OPEN: &str = "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
style=\"background:#f4f4f5\"><tr><td align=\"center\" style=\"padding:16px 8px\">\
<table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
style=\"width:100%;max-width:600px;background:#ffffff;font:16px/1.5 Helvetica,Arial,sans-serif;color:#1f2937\">";
const CLOSE: &str = "</table></td></tr></table></body></html>";

/// The html part of an email made of `blocks`.
pub fn blocks_html(blocks: &[Block]) -> String {
    let mut out = String::from(HEAD);
    // Inboxes show the first text of the body after the subject: the preheader goes first, hidden.
    let preheader = blocks.iter().find_map(|b| match b {
        Block::Header(Header { preheader: Some(p), .. }) => Some(p),
        _ => None,
    });
    if let Some(p) = preheader {
        out.push_str("<div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">");
        out.push_str(&escaped(p));
        out.push_str("</div>");
    }
    out.push_str(OPEN);
    for (i, b) in blocks.iter().enumerate() {
        out.push_str(&block(i, b));
    }
    out.push_str(CLOSE);
    out
}

/// A row of the column holding `inner`, with `style` on its cell.
fn row(style: &str, inner: &str) -> String {
    format!("<tr><td style=\"{style}\">{inner}</td></tr>")
}

fn pad(v: u16) -> String {
    format!("padding:{v}px {SIDE_PX}px")
}

fn heading(h: Option<&str>) -> String {
    h.map(|h| format!("<h2 style=\"{HEADING_STYLE}\">{}</h2>", escaped(h))).unwrap_or_default()
}

fn link(url: Option<&str>, inner: &str) -> String {
    match url {
        Some(u) => format!("<a href=\"{}\" style=\"text-decoration:none\">{inner}</a>", escaped(u)),
        None => inner.to_string(),
    }
}

fn block(i: usize, b: &Block) -> String {
    match b {
        Block::Header(h) => header(h),
        Block::Text(t) => {
            let inner = format!("{}{}", heading(t.heading.as_deref()), paragraphs(&t.text, PARAGRAPH_STYLE));
            row(&format!("{};text-align:{}", pad(8), t.align.as_str()), &inner)
        }
        Block::Image(img) => image(img),
        Block::Button(btn) => button(btn),
        Block::Products(p) => products(i, p),
        Block::Coupon(c) => coupon(i, c),
        Block::Footer(f) => footer(f),
        Block::Divider => row(&pad(8), "<hr style=\"border:0;border-top:1px solid #e5e7eb;margin:0\">"),
        Block::Spacer(s) => {
            format!("<tr><td style=\"height:{h}px;line-height:{h}px;font-size:0\">&nbsp;</td></tr>", h = s.height)
        }
    }
}

fn header(h: &Header) -> String {
    let alt = h.alt.as_deref().map_or_else(|| "{{ store.name }}".to_string(), escaped);
    let logo = match &h.logo_url {
        Some(u) => format!(
            "<img src=\"{}\" alt=\"{alt}\" width=\"200\" style=\"max-width:200px;height:auto;border:0\">",
            escaped(u)
        ),
        None => format!(
            "{{% if store.logo_url %}}<img src=\"{{{{ store.logo_url }}}}\" alt=\"{alt}\" width=\"200\" \
             style=\"max-width:200px;max-height:64px;height:auto;border:0\">{{% else %}}\
             <strong style=\"font-size:22px;color:#1f2937\">{{{{ store.name }}}}</strong>{{% endif %}}"
        ),
    };
    let target = h.link_url.clone().unwrap_or_else(|| "{{ store.url }}".to_string());
    let style = format!("padding:20px {SIDE_PX}px 12px;text-align:center;border-top:4px solid {STORE_COLOR}");
    row(&style, &link(Some(target.as_str()), &logo))
}

fn image(img: &Image) -> String {
    // Edge to edge at full width; otherwise inside the column's padding, never wider than it.
    let (full, inner) = (img.width >= EMAIL_WIDTH_PX, EMAIL_WIDTH_PX - 2 * SIDE_PX);
    let width = if full { EMAIL_WIDTH_PX } else { img.width.min(inner) };
    let pic = format!(
        "<img src=\"{}\" alt=\"{}\" width=\"{width}\" style=\"display:block;margin:0 auto;width:100%;\
         max-width:{width}px;height:auto;border:0\">",
        escaped(&img.url),
        escaped(&img.alt)
    );
    let padding = if full { "padding:0".to_string() } else { pad(8) };
    row(&format!("{padding};text-align:center"), &link(img.link_url.as_deref(), &pic))
}

fn button(b: &Button) -> String {
    let color = b.color.clone().unwrap_or_else(|| STORE_COLOR.to_string());
    let cell = format!(
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" align=\"{align}\" \
         style=\"margin:0 {auto}\"><tr><td align=\"center\" bgcolor=\"{color}\" style=\"border-radius:4px;\
         background:{color}\"><a href=\"{url}\" style=\"display:inline-block;padding:12px 24px;\
         font:bold 16px/1.2 Helvetica,Arial,sans-serif;color:#ffffff;text-decoration:none;border-radius:4px\">\
         {label}</a></td></tr></table>",
        align = b.align.as_str(),
        auto = if b.align == Align::Center { "auto" } else { "0" },
        url = escaped(&b.url),
        label = escaped(&b.label),
    );
    row(&format!("{};text-align:{}", pad(12), b.align.as_str()), &cell)
}

/// The Liquid list a `products` block reads; a cart falls back to the trigger event's products (a checkout's).
fn product_list(i: usize, p: &Products) -> (String, String) {
    let var = format!("kb{i}_products");
    let assign = match p.source {
        ProductSource::Cart => format!(
            "{{% if cart.items.size > 0 %}}{{% assign {var} = cart.items %}}{{% elsif event.products.size > 0 %}}\
             {{% assign {var} = event.products %}}{{% else %}}{{% assign {var} = event.items %}}{{% endif %}}"
        ),
        ProductSource::Event => format!("{{% assign {var} = products %}}"),
        ProductSource::Recommendations => {
            let list = p.recommendation.unwrap_or(Recommendation::Trending).as_str();
            format!("{{% assign {var} = recommendations.{list} %}}")
        }
        ProductSource::Collection => {
            format!("{{% assign {var} = collections[\"{}\"] %}}", p.collection.as_deref().unwrap_or_default())
        }
    };
    (var, assign)
}

fn products(i: usize, p: &Products) -> String {
    let (var, assign) = product_list(i, p);
    // Cart items have no currency of their own. Only a cart grid reads `cart`: the engine treats a template that
    // does as a message about the cart, not about its trigger's one product (which must then still be in stock).
    let cart_currency =
        if p.source == ProductSource::Cart { " | default: cart.currency | default: event.currency" } else { "" };
    // Cards of equal width that wrap: three across at 600 px, fewer on a phone.
    let card = (EMAIL_WIDTH_PX - 2 * 12) / u16::from(p.columns.max(1));
    let picture = card - 2 * CARD_PAD_PX;
    let more = p.button_label.as_ref().map_or_else(String::new, |l| {
        format!(
            "<br><a href=\"{{{{ p.url | default: store.url }}}}\" style=\"color:{STORE_COLOR};font-weight:bold\">{}</a>",
            escaped(l)
        )
    });
    let cards = format!(
        "{assign}<div style=\"text-align:center;font-size:0\">{{% for p in {var} limit: {count} %}}\
         {{% assign cur = p.currency{cart_currency} %}}\
         <div style=\"display:inline-block;width:100%;max-width:{card}px;vertical-align:top;font-size:15px;\
         line-height:1.4\"><div style=\"padding:{CARD_PAD_PX}px\"><a href=\"{{{{ p.url | default: store.url }}}}\" \
         style=\"color:#1f2937;text-decoration:none\">{{% if p.image_url %}}<img src=\"{{{{ p.image_url }}}}\" \
         alt=\"{{{{ p.title | default: p.name }}}}\" width=\"{picture}\" style=\"display:block;margin:0 auto 8px;\
         width:100%;max-width:{picture}px;height:auto;border:0\">{{% endif %}}<strong>{{{{ p.title | default: p.name }}}}\
         </strong></a>{{% if p.price %}}<br>{{{{ p.price | money: cur }}}}{{% endif %}}{more}</div></div>{{% endfor %}}</div>",
        count = p.count,
    );
    row("padding:8px 12px", &format!("<div style=\"padding:0 12px\">{}</div>{cards}", heading(p.heading.as_deref())))
}

fn coupon(i: usize, c: &Coupon) -> String {
    let var = format!("kb{i}_code");
    let fallback = c.code.as_deref().unwrap_or_default();
    let inner = format!(
        "{}{}<p style=\"margin:0 0 8px;font-size:22px;letter-spacing:2px;padding:12px;border:2px dashed {STORE_COLOR};\
         text-align:center\"><strong>{{{{ {var} }}}}</strong></p>{{% if coupon.code and coupon.expires_at %}}\
         <p style=\"margin:0;font-size:14px;color:#6b7280;text-align:center\">Valid until \
         {{{{ coupon.expires_at | date: \"%B %-d, %Y\" }}}}.</p>{{% endif %}}",
        heading(c.heading.as_deref()),
        c.text.as_deref().map(|t| paragraphs(t, PARAGRAPH_STYLE)).unwrap_or_default(),
    );
    // The run's code when it has one (a flow's `issue_coupon` step), else the block's code for everyone.
    format!(
        "{{% assign {var} = coupon.code | default: \"{fallback}\" %}}{{% if {var} != \"\" %}}{}{{% endif %}}",
        row(&pad(12), &inner)
    )
}

fn footer(f: &Footer) -> String {
    let line = f.text.as_deref().map(|t| format!("{}<br>", escaped(t))).unwrap_or_default();
    let inner = format!(
        "{line}{{{{ store.name }}}}{{% if store.address %}} · {{{{ store.address }}}}{{% endif %}}<br>\
         <a href=\"{{{{ preferences_url }}}}\" style=\"color:#6b7280\">Email preferences</a> · \
         <a href=\"{{{{ unsubscribe_url }}}}\" style=\"color:#6b7280\">Unsubscribe</a>"
    );
    let style = format!(
        "padding:16px {SIDE_PX}px;font-size:12px;line-height:1.5;color:#6b7280;border-top:1px solid #e5e7eb;\
         text-align:center"
    );
    row(&style, &inner)
}
