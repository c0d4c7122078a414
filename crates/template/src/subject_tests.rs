//! Preview text and subject-line variants, rendered through the public API.

use serde_json::{Value, json};

use crate::*;

fn globals(contact: Value) -> Globals {
    Globals::builder("2026-03-29T10:00:00Z".parse().unwrap()).contact(&contact).build()
}

fn with_variants() -> TemplateParts {
    TemplateParts {
        preview_text: Some("{{ contact.first_name }}, {% if contact.vip %}\n a gift {% endif %} inside".into()),
        variants: vec![
            SubjectVariant { subject: "B: {{ contact.first_name }}".into(), preview_text: Some("Only B's".into()) },
            SubjectVariant { subject: "C for {{ contact.first_name }}".into(), preview_text: None },
        ],
        ..TemplateParts::email("A for {{ contact.first_name }}", "<html><body><p>Hi</p></body></html>", None)
    }
}

#[test]
fn each_variant_has_its_subject_and_preview_text() {
    let t = Renderer::new().compile(&with_variants()).unwrap();
    assert_eq!(t.variant_count(), 3);
    let g = globals(json!({"first_name": "Ana <3", "vip": true}));
    let a = t.render(&g).unwrap();
    assert_eq!(a, t.render_variant(&g, 0).unwrap());
    assert_eq!(a.subject.as_deref(), Some("A for Ana <3"));
    // Plain text like the subject (data as it is), one line.
    assert_eq!(a.preview_text.as_deref(), Some("Ana <3, a gift inside"));
    let html = a.html.unwrap();
    // Escaped once, right after <body>, hidden.
    assert!(html.starts_with("<html><body><div style=\"display:none;"), "{html}");
    assert!(html.contains(">Ana &lt;3, a gift inside&#847;"), "{html}");
    // The text part is derived from the html without the hidden preview text.
    assert_eq!(a.text.as_deref(), Some("Hi"));

    let b = t.render_variant(&g, 1).unwrap();
    assert_eq!((b.subject.as_deref(), b.preview_text.as_deref()), (Some("B: Ana <3"), Some("Only B's")));
    assert!(b.html.unwrap().contains(">Only B&#39;s&#847;"));
    // C has no preview text of its own: the template's.
    let c = t.render_variant(&g, 2).unwrap();
    assert_eq!((c.subject.as_deref(), c.preview_text.as_deref()), (Some("C for Ana <3"), a.preview_text.as_deref()));
    // A variant the template does not have renders as A.
    assert_eq!(t.render_variant(&g, 9).unwrap().subject.as_deref(), Some("A for Ana <3"));
}

#[test]
fn a_preview_text_that_renders_empty_adds_nothing() {
    let parts = TemplateParts {
        preview_text: Some("{{ contact.nothing }}".into()),
        ..TemplateParts::email("Hi", "<body><p>x</p></body>", None)
    };
    let out = Renderer::new().compile(&parts).unwrap().render(&globals(json!({}))).unwrap();
    assert_eq!((out.preview_text, out.html.as_deref()), (None, Some("<body><p>x</p></body>")));
}

#[test]
fn a_layout_gets_the_preheader_inside_its_body() {
    let r = Renderer::builder().layout("shell", "<html><body style=\"m\">{{ content }}</body></html>").build().unwrap();
    let parts = TemplateParts { preview_text: Some("Soon".into()), ..TemplateParts::email("Hi", "<p>x</p>", None) }
        .with_layout("shell");
    let html = r.compile(&parts).unwrap().render(&globals(json!({}))).unwrap().html.unwrap();
    assert!(html.starts_with("<html><body style=\"m\"><div style=\"display:none"), "{html}");
    assert!(html.ends_with("</div><p>x</p></body></html>"), "{html}");
}

#[test]
fn errors_name_the_variant() {
    let mut parts = with_variants();
    parts.variants[1].subject = "Hi {{ contact.first_name | shout }}".into();
    assert_eq!(validate(&parts).unwrap_err().field(), "variants[1].subject");
    let mut parts = with_variants();
    parts.variants[0].preview_text = Some("{% if %}".into());
    assert_eq!(validate(&parts).unwrap_err().field(), "variants[0].preview_text");
    let mut parts = with_variants();
    parts.preview_text = Some("{{ x | nope }}".into());
    assert_eq!(validate(&parts).unwrap_err().field(), "preview_text");
    let mut parts = with_variants();
    parts.variants = vec![SubjectVariant { subject: "x".into(), preview_text: None }; SUBJECT_VARIANTS_MAX + 1];
    assert_eq!(validate(&parts).unwrap_err().field(), "variants");
    parts.variants.pop();
    assert!(validate(&parts).is_ok());
}

#[test]
fn stored_form_round_trips() {
    let parts = with_variants();
    let v = serde_json::to_value(&parts).unwrap();
    assert_eq!(v["variants"][1], json!({"subject": "C for {{ contact.first_name }}"}));
    assert_eq!(serde_json::from_value::<TemplateParts>(v).unwrap(), parts);
    // A template stored before variants existed reads back without any.
    let old: TemplateParts = serde_json::from_value(json!({"subject": "Hi", "html": "x", "blocks": []})).unwrap();
    assert_eq!((old.variants.len(), old.preview_text), (0, None));
}
