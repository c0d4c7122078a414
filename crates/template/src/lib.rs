//! Liquid templates for Kairos (SPEC 9): compile once, render per contact.
//!
//! ```
//! use kairos_template::{Globals, Renderer, TemplateParts};
//! use serde_json::json;
//!
//! let renderer = Renderer::builder().partial("footer", "<p>{{ store.name }}</p>").build()?;
//! let template = renderer.compile(&TemplateParts::email(
//!     "{{ contact.first_name | default: 'Hi' }}, your cart is waiting",
//!     "<h1>{{ contact.first_name }}</h1>{% for item in cart.items %}{{ item.name }} {{ item.price | money }}{% endfor %}\
//!      {% include 'footer' %}",
//!     None,
//! ))?;
//! let globals = Globals::builder("2026-03-29T10:00:00Z".parse()?)
//!     .contact(&json!({"first_name": "<Ana>"}))
//!     .cart(&json!({"items": [{"name": "Lamp", "price": 1234.5}]}))
//!     .store(&json!({"name": "Shop", "currency": "USD"}))
//!     .timezone(Some("Europe/Paris"))
//!     .build();
//! let out = template.render(&globals)?;
//! assert_eq!(out.subject.as_deref(), Some("<Ana>, your cart is waiting"));
//! assert_eq!(out.html.as_deref(), Some("<h1>&lt;Ana&gt;</h1>Lamp $1,234.50<p>Shop</p>"));
//! assert_eq!(out.text.as_deref(), Some("<Ana>\nLamp $1,234.50\nShop"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Parse once, render many.** A [`Renderer`] holds the language (stdlib + Kairos filters) and a workspace's
//!   partials and layouts; [`Renderer::compile`] gives a [`Template`] that renders from any thread.
//! - **Lenient like Shopify.** A missing variable or key is nil (`default` works), not an error.
//! - **Escaping (SPEC 18).** In the html part every data string (contact traits, event properties, products, ...)
//!   is HTML-escaped; text written in the template is not. `{{ x | raw }}` outputs a data value unescaped. Subject,
//!   text and body are never escaped. In html, data strings compare and filter in their escaped form
//!   (`contact.company == "A&B"` is false there; compare in the subject or text, or against `"A&amp;B"`).
//! - **Filters.** Every stdlib filter, plus `money` (major units → `$1,234.50` in the store currency),
//!   `date` (in the contact's time zone, DST-correct), `raw`.
//! - **Limits.** [`SOURCE_BYTES_MAX`] per part, [`OUTPUT_BYTES_MAX`] of output per part, literal ranges only and
//!   at most [`RANGE_ITERATIONS_MAX`] iterations of nested range loops, no partial cycles, a budget for assigned
//!   text. Liquid has no timeout and this crate reads no clock: these bounds are what keeps a render short.
//!   Blocks nest at most [`TEMPLATE_NESTING_MAX`] deep (through partials too) and an expression has at most
//!   [`TEMPLATE_EXPRESSION_TERMS_MAX`] terms: liquid parses, renders and drops both recursively, so these keep
//!   any thread's stack safe. All are checked by a scan of the source before liquid's parser sees it.
//! - **Preview text and subject lines.** An email's `preview_text` renders like the subject and goes, escaped and
//!   hidden, at the top of the html; its `variants` (at most [`SUBJECT_VARIANTS_MAX`]) are other subjects and
//!   preview texts, rendered with [`Template::render_variant`]; [`pick_variant`] spreads contacts evenly over them.
//! - **Pure.** No I/O, no clock (`"now"` is what [`Globals::builder`] was given), no environment.

pub mod blocks;
mod context;
mod data;
mod error;
mod escape;
mod filters;
mod globals;
mod preheader;
mod products;
mod renderer;
mod runtime;
mod scan;
mod text;
mod variants;

pub use error::TemplateError;
pub use escape::{html_escape, html_unescape};
pub use filters::money::money_text;
pub use globals::{Data, Globals, GlobalsBuilder};
pub use products::{NOTHING_PROMOTABLE, cart_json, promotable_items, promotable_or_skip};
pub use renderer::{
    OUTPUT_BYTES_MAX, Rendered, Renderer, RendererBuilder, SOURCE_BYTES_MAX, Template, TemplateParts, validate,
};
pub use runtime::ASSIGNED_BYTES_MAX;
pub use scan::{RANGE_ITERATIONS_MAX, TEMPLATE_EXPRESSION_TERMS_MAX, TEMPLATE_NESTING_MAX};
pub use text::html_to_text;
pub use variants::{SUBJECT_VARIANTS_MAX, SubjectVariant, pick_variant, variant_index, variant_letter};

#[cfg(test)]
mod subject_tests;
#[cfg(test)]
mod tests;
