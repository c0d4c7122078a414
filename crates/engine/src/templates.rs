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
        for (k, v) in
            [("subject", &p.subject), ("html", &p.html), ("text", &p.text), ("body", &p.body), ("layout", &p.layout)]
        {
            if let Some(v) = v {
                m.insert(k.into(), Value::from(v.as_str()));
            }
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
        };
        assert_eq!(
            t.to_json(),
            serde_json::json!({"name": "Cart", "channel": "email", "subject": "Hi", "html": "<p>x</p>",
                               "blocks": [{"type": "divider"}]})
        );
        for k in ["email", "sms", "chat", "webhook", "partial", "layout"] {
            assert_eq!(TemplateKind::parse(k).map(TemplateKind::as_str), Some(k));
        }
        assert_eq!(TemplateKind::parse("fax"), None);
    }
}
