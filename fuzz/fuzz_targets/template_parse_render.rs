//! Liquid templates (SPEC 9): any source compiles or gives an error naming the part, and a compiled template
//! renders for a realistic contact (or gives an error), never a panic, a stack overflow or a runaway render.
//! An input with a NUL byte is a partial (before it, included as `p`) and a template (after it).
#![no_main]

use std::sync::LazyLock;

use kairos_template::{Globals, Renderer, TemplateParts};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

static GLOBALS: LazyLock<Globals> = LazyLock::new(|| {
    let items = json!([
        {"product_id": "p1", "name": "Desk <Lamp>", "price": 1234.5, "quantity": 1, "url": "https://shop.example/p1?a=1&b=2"},
        {"product_id": "p2", "name": "Bulb", "price": "4.99", "quantity": 3, "tags": ["led", "warm"]},
    ]);
    Globals::builder("2026-03-29T10:00:00Z".parse().expect("instant"))
        .contact(json!({"first_name": "Ana", "email": "ana@example.com", "orders": {"count": 3, "total_spent": 120.5},
                        "prefs": {"sizes": ["S", "M"], "deep": {"a": {"b": {"c": 1}}}}, "birthday": "1990-04-01"}))
        .event(json!({"items": items, "value": 42.5, "cart_id": "c1", "checkout_url": "https://shop.example/c"}))
        .cart(json!({"items": items, "value": 1249.47, "free_shipping_remaining": 0}))
        .products(items.clone())
        .coupon(json!({"code": "SAVE10", "expires_at": "2026-04-05T21:30:00Z"}))
        .store(&json!({"name": "Lamps & Co", "currency": "EUR", "url": "https://shop.example"}))
        .unsubscribe_url("https://k.example/u/abc")
        .timezone(Some("Europe/Helsinki"))
        .build()
});

fuzz_target!(|data: &[u8]| {
    kairos_fuzz::report_caught_panics();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (partial, source) = text.split_once('\0').unwrap_or(("", text));
    let renderer = if partial.is_empty() {
        Renderer::new()
    } else {
        match Renderer::builder().partial("p", partial).layout("l", "<main>{{ content }}</main>").build() {
            Ok(r) => r,
            Err(e) => {
                assert!(e.field().starts_with("partials.") || e.field().starts_with("layouts."), "{e}");
                return;
            }
        }
    };
    let parts = if data.first().is_some_and(|b| b % 2 == 0) {
        TemplateParts::email("Hi {{ contact.first_name }}", source, None)
    } else {
        TemplateParts::message(source)
    };
    let template = match renderer.compile(&parts) {
        Ok(t) => t,
        Err(e) => {
            assert!(["subject", "html", "body", "layout"].contains(&e.field()), "{e}");
            return;
        }
    };
    let _ = template.render(&GLOBALS);
});
