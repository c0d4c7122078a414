//! What the demo's marketer set up: segments, the campaigns' emails and when each campaign went out (one of
//! them an A/B test of two subject lines).

use kairos_domain::Channel;
use kairos_engine::templates::{TemplateKind, TemplateSource};
use kairos_flow::library::{email_parts, product_cards, product_lines};
use kairos_template::TemplateParts;
use serde_json::{Value, json};

/// Segments a marketer would start with: (name, definition).
pub const SEGMENTS: &[(&str, &str)] = &[
    ("Repeat buyers", "orders.count >= 2"),
    ("VIP", "orders.total_spent > 2000"),
    ("Abandoned checkout (24h)", "did \"Checkout Started\" within 24h and not did \"Order Completed\" within 24h"),
    ("Bike buyers", "did \"Order Completed\" where products.category contains \"bicycles\""),
    (
        "Browsing helmets",
        "count(\"Product Viewed\" where category = \"helmets\", within 14d) >= 2 and orders.count = 0",
    ),
    ("Lapsed customers", "orders.count >= 1 and orders.last_at before 30d ago"),
    ("Email subscribers", "subscribed email"),
    (
        "Unengaged subscribers (30 days)",
        "subscribed email and did \"Message Sent\" within 30d and not did \"Email Opened\" where machine != true within 30d",
    ),
    ("Helsinki", "trait.city = \"Helsinki\""),
];

/// One campaign of the demo's history: sent on the day at `at` (this share of the history) at 09:00 UTC.
pub struct DemoCampaign {
    pub at: f64,
    /// The campaign as `POST /api/v1/campaigns` takes it; segments by name (replaced by their ids).
    pub document: fn() -> Value,
}

pub const CAMPAIGNS: &[DemoCampaign] = &[
    DemoCampaign {
        at: 0.3,
        document: || {
            json!({"name": "Spring service week", "channel": "email", "template": "demo-service-week",
                   "segments": ["Email subscribers"], "exclude_segments": ["Unengaged subscribers (30 days)"]})
        },
    },
    DemoCampaign {
        at: 0.55,
        document: || {
            json!({"name": "New gravel bikes", "channel": "email", "template": "demo-gravel-a",
                   "segments": ["Email subscribers"],
                   "ab": {"variants": [{"template": "demo-gravel-a"}, {"template": "demo-gravel-b"}],
                          "test_share": 0.3, "metric": "opens", "wait": "4h"}})
        },
    },
    DemoCampaign {
        at: 0.85,
        document: || {
            json!({"name": "Weekend sale for returning riders", "channel": "email", "template": "demo-weekend-sale",
                   "segments": ["Repeat buyers", "Lapsed customers"]})
        },
    },
];

/// What happens to the catalog during the history.
#[derive(Debug, Clone, Copy)]
pub enum CatalogMoment {
    /// Sold-out products come back (the back-in-stock flow tells those who looked at them).
    Restock,
    /// A few products get 15% cheaper (the price-drop flow tells those who looked at them).
    PriceDrop,
}

/// The catalog's moments, each on the day at this share of the history.
pub const CATALOG_MOMENTS: &[(f64, CatalogMoment)] = &[(0.4, CatalogMoment::Restock), (0.65, CatalogMoment::PriceDrop)];

/// The campaigns' emails, in the library's layout: (id, subject, html body, text body).
const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "demo-service-week",
        "Spring service week: your bike, ready for the season",
        "<p>Spring is here. Bring your bike in this week for a full check-up, or tune it yourself with our \
         workshop favourites.</p>",
        "Spring is here. Bring your bike in this week for a full check-up, or tune it yourself with our workshop \
         favourites.",
    ),
    (
        "demo-gravel-a",
        "New gravel bikes have landed",
        "<p>Our new gravel bikes are in: light, fast and ready for any road.</p>",
        "Our new gravel bikes are in: light, fast and ready for any road.",
    ),
    (
        "demo-gravel-b",
        "{{ contact.first_name | default: \"Rider\" }}, where will gravel take you?",
        "<p>Our new gravel bikes are in: light, fast and ready for any road.</p>",
        "Our new gravel bikes are in: light, fast and ready for any road.",
    ),
    (
        "demo-weekend-sale",
        "This weekend only: riders' favourites, picked for you",
        "<p>Thanks for riding with us. This weekend, these are on every rider's list:</p>",
        "Thanks for riding with us. This weekend, these are on every rider's list:",
    ),
];

/// The campaigns' templates, ready to save: each shows what is trending in the store under its text.
pub fn templates() -> Vec<(String, TemplateSource)> {
    TEMPLATES
        .iter()
        .map(|(id, subject, html, text)| {
            let html = format!("{html}{}", product_cards("recommendations.trending", 3));
            let text = format!("{text}\n\n{}", product_lines("recommendations.trending", 3));
            let v = email_parts(id, subject, &html, &text);
            let part = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let source = TemplateSource {
                name: Some(subject.replace("{{ contact.first_name | default: \"Rider\" }}", "Rider")),
                kind: TemplateKind::Message(Channel::Email),
                parts: TemplateParts::email(&part("subject"), &part("html"), Some(&part("text"))),
                blocks: None,
                winner: None,
            };
            (id.to_string(), source)
        })
        .collect()
}

/// A campaign document with its segment names replaced by ids (`id_of` answers None for an unknown name).
pub fn with_segment_ids(mut doc: Value, id_of: impl Fn(&str) -> Option<String>) -> Value {
    for key in ["segments", "exclude_segments"] {
        if let Some(list) = doc.get_mut(key).and_then(Value::as_array_mut) {
            for s in list.iter_mut() {
                if let Some(id) = s.as_str().and_then(&id_of) {
                    *s = Value::from(id);
                }
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_campaign_parses_and_names_known_templates_and_segments() {
        let ids: Vec<String> = templates().into_iter().map(|(id, _)| id).collect();
        for c in CAMPAIGNS {
            let doc = with_segment_ids((c.document)(), |n| {
                SEGMENTS.iter().any(|(s, _)| *s == n).then(|| format!("seg_{}", n.len()))
            });
            assert!(ids.iter().any(|t| doc["template"] == t.as_str()), "{doc}");
            assert!(doc["segments"].as_array().unwrap().iter().all(|s| s.as_str().unwrap().starts_with("seg_")));
            kairos_engine::campaigns::CampaignDocument::parse(doc).expect("a valid campaign");
            assert!((0.0..1.0).contains(&c.at));
        }
        for (_, definition) in SEGMENTS {
            kairos_segment::parse::parse(definition).expect("a valid segment");
        }
    }
}
