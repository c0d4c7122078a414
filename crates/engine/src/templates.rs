//! A template as the API saves it, typed: what it is (a message of a channel, a partial, a layout) and its
//! Liquid parts. The engine stores it as the JSON the API shows back (`{"name", "channel", "subject", ...}`).

use kairos_domain::Channel;
use kairos_template::TemplateParts;
use serde_json::{Map, Value};

/// What a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// A message of this channel.
    Message(Channel),
    /// Included by other templates (`{% render 'name' %}`).
    Partial,
    /// Wraps an email's html (`{{ content }}`).
    Layout,
}

impl TemplateKind {
    /// The `channel` field as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Message(c) => c.as_str(),
            TemplateKind::Partial => "partial",
            TemplateKind::Layout => "layout",
        }
    }

    pub fn parse(s: &str) -> Option<TemplateKind> {
        match s {
            "partial" => Some(TemplateKind::Partial),
            "layout" => Some(TemplateKind::Layout),
            _ => Channel::parse(s).map(TemplateKind::Message),
        }
    }
}

/// A template to save (validated by the engine against the workspace's partials and layouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    pub name: Option<String>,
    pub kind: TemplateKind,
    pub parts: TemplateParts,
    /// A block email's blocks (checked, as stored); its `html` part is their rendering
    /// ([`kairos_template::blocks::blocks_html`]).
    pub blocks: Option<Value>,
    /// The subject line (0 is A, the template's own) the marketer picked from its `variants`: everyone gets it
    /// from now on; the variants stay for the record of the test.
    pub winner: Option<usize>,
}

impl TemplateSource {
    /// The stored JSON (what `GET /api/v1/templates/{id}` shows).
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(n) = &self.name {
            m.insert("name".into(), Value::from(n.as_str()));
        }
        m.insert("channel".into(), Value::from(self.kind.as_str()));
        let p = &self.parts;
        let parts = [
            ("subject", &p.subject),
            ("preview_text", &p.preview_text),
            ("html", &p.html),
            ("text", &p.text),
            ("body", &p.body),
            ("layout", &p.layout),
        ];
        for (k, v) in parts {
            if let Some(v) = v {
                m.insert(k.into(), Value::from(v.as_str()));
            }
        }
        if !p.variants.is_empty() {
            m.insert("variants".into(), serde_json::to_value(&p.variants).unwrap_or_default());
        }
        if let Some(w) = self.winner {
            m.insert("winner".into(), Value::from(kairos_template::variant_letter(w)));
        }
        if let Some(b) = &self.blocks {
            m.insert("blocks".into(), b.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_as_the_api_shows_it() {
        let t = TemplateSource {
            name: Some("Cart".into()),
            kind: TemplateKind::Message(Channel::Email),
            parts: TemplateParts::email("Hi", "<p>x</p>", None),
            blocks: Some(serde_json::json!([{"type": "divider"}])),
            winner: None,
        };
        assert_eq!(
            t.to_json(),
            serde_json::json!({"name": "Cart", "channel": "email", "subject": "Hi", "html": "<p>x</p>",
                               "blocks": [{"type": "divider"}]})
        );
        let mut tested = t.clone();
        tested.parts.preview_text = Some("Inside".into());
        tested.parts.variants = vec![
            kairos_template::SubjectVariant { subject: "Hey".into(), preview_text: Some("Look".into()) },
            kairos_template::SubjectVariant { subject: "Yo".into(), preview_text: None },
        ];
        tested.winner = Some(2);
        let v = tested.to_json();
        assert_eq!(v["preview_text"], "Inside");
        assert_eq!(v["variants"], serde_json::json!([{"subject": "Hey", "preview_text": "Look"}, {"subject": "Yo"}]));
        assert_eq!(v["winner"], "C");
        // What the renderer reads back from the stored JSON.
        assert_eq!(serde_json::from_value::<TemplateParts>(v).unwrap(), tested.parts);
        for k in ["email", "sms", "chat", "webhook", "partial", "layout"] {
            assert_eq!(TemplateKind::parse(k).map(TemplateKind::as_str), Some(k));
        }
        assert_eq!(TemplateKind::parse("fax"), None);
    }
}
