//! The closed vocabulary is spelled once: statuses (of messages, runs, flows and campaigns) and the names of
//! the events Kairos emits are written as string literals only in `crates/domain` (`vocab.rs`,
//! `system_event.rs`); everything else names them through the domain's enums (`MessageStatus::Sent`,
//! `SystemEvent::EmailClicked.as_str()`), so a renamed status or event cannot leave a stale spelling behind.
//!
//! A literal counts when its whole text is a wire name (`"sent"`, `"Email Clicked"`); SQL that filters on a
//! stored status (`WHERE status = 'active'`, which a partial index must match as written) is the backend's schema
//! and is not a literal of that kind. Test code may spell names (it checks what the API shows): files under
//! `tests/` or `benches/`, `#[cfg(test)]` modules, and the backend test suite (`crates/store/src/suite`).
//! Comments are not literals. The check runs on planted violations too (`planted_spellings_are_found`).

mod scan;

use kairos_domain::system_event::ALIASES;
use kairos_domain::{CampaignStatus, FlowStatus, MessageStatus, RunStatus, SystemEvent};
use scan::{root, sources, string_literals};

/// Literals that are a wire name by coincidence, with the reason they stay.
const ALLOWED: [(&str, &str, &str); 21] = [
    // The segment language's keywords `subscribed` / `unsubscribed` are consent statuses (the domain's
    // `ConsentStatus`), matched in the parser's patterns.
    ("crates/segment/src/parse.rs", "unsubscribed", "a keyword of the segment language"),
    ("crates/segment/src/json.rs", "unsubscribed", "a consent status in the segment JSON form"),
    ("crates/segment/src/ast.rs", "unsubscribed", "a consent status in the segment JSON form"),
    // A library flow's `update_profile` step sets the consent trait to this value (the flow definition format).
    ("crates/flow/src/library.rs", "unsubscribed", "a consent value in a flow definition"),
    // A step id of the post-purchase library flow (it waits for the store's `Order Delivered`).
    ("crates/flow/src/library.rs", "delivered", "a step id of a library flow"),
    // Other systems' vocabularies, read at the edge: RFC 3464's `Action:` field, Twilio's `MessageStatus`, and
    // an email provider's bounce event type.
    ("crates/channels/src/bounce.rs", "delivered", "an Action value of RFC 3464"),
    ("crates/channels/src/bounce.rs", "failed", "an Action value of RFC 3464"),
    ("crates/channels/src/sms.rs", "delivered", "a Twilio MessageStatus value"),
    ("crates/channels/src/sms.rs", "failed", "a Twilio MessageStatus value"),
    ("crates/server/src/routes/messages.rs", "deferred", "a bounce type of email providers' webhooks"),
    ("crates/integrations/src/shopify.rs", "delivered", "a Shopify fulfillment's shipment_status value"),
    ("crates/integrations/src/shopify.rs", "unsubscribed", "a Shopify marketing consent state"),
    ("crates/integrations/src/shopify.rs", "active", "a Shopify product status"),
    ("crates/integrations/src/shopify.rs", "cancelled", "Shopify's orders/cancelled topic"),
    ("crates/integrations/src/woocommerce.rs", "cancelled", "a WooCommerce order status"),
    ("crates/integrations/src/magento.rs", "cancelled", "the suffix of a Magento order's message id"),
    ("crates/integrations/src/csv_rows/cells.rs", "unsubscribed", "a consent written in a CSV cell"),
    ("crates/integrations/src/csv_rows/cells.rs", "active", "a product status in Shopify's product export"),
    ("crates/integrations/src/csv_rows/cells.rs", "draft", "a product status in Shopify's product export"),
    // A key of the flow simulation's report (SPEC 16), which the bench prints.
    ("crates/bench/src/simulate.rs", "converted", "a key of the simulation report"),
    // The title of the page a one-click unsubscribe answers with.
    ("crates/server/src/routes/links.rs", "Unsubscribed", "a page title"),
];

/// Every wire name the check looks for.
fn names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    out.extend(MessageStatus::ALL.iter().map(|s| s.as_str()));
    out.extend(RunStatus::ALL.iter().map(|s| s.as_str()));
    out.extend(FlowStatus::ALL.iter().map(|s| s.as_str()));
    out.extend(CampaignStatus::ALL.iter().map(|s| s.as_str()));
    out.extend(SystemEvent::ALL.iter().map(|s| s.as_str()));
    out.extend(ALIASES.iter().map(|(a, _)| *a));
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a file is test code or the domain crate, where names may be spelled.
fn exempt(path: &str) -> bool {
    path.starts_with("crates/domain/")
        || path.contains("/tests/")
        || path.contains("/benches/")
        || path.starts_with("crates/store/src/suite/")
        || !path.ends_with(".rs")
}

/// The source before its `#[cfg(test)]` module (test modules close the files of this code base).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if ["mod ", "pub mod ", "pub(crate) mod "].iter().any(|m| rest.starts_with(m)) {
            return &text[..start];
        }
        at = start + 1;
    }
    text
}

/// `path:line: "name"` for each literal spelling a wire name outside the places allowed.
fn spellings(files: &[(String, String)], names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| !exempt(p)) {
        for (line, lit) in string_literals(without_tests(text)) {
            if names.contains(&lit.as_str()) && !ALLOWED.iter().any(|(p, l, _)| p == path && *l == lit) {
                found.push(format!("{path}:{line}: {lit:?}"));
            }
        }
    }
    found
}

#[test]
fn statuses_and_system_events_are_spelled_only_in_the_domain() {
    let files = sources(&root());
    assert!(files.iter().filter(|(p, _)| p.starts_with("crates/engine/src/")).count() > 10, "the engine is scanned");
    let names = names();
    assert!(names.contains(&"soft_bounced") && names.contains(&"Email Clicked") && names.contains(&"Message Clicked"));
    let found = spellings(&files, &names);
    assert!(
        found.is_empty(),
        "statuses or system events spelled outside crates/domain (use the domain's enums):\n{}",
        found.join("\n")
    );
}

#[test]
fn allowed_spellings_still_exist() {
    // An allowance that no longer matches anything is stale: remove it.
    let files = sources(&root());
    for (path, lit, why) in ALLOWED {
        let text = files.iter().find(|(p, _)| p == path).map(|(_, t)| t.as_str()).unwrap_or_default();
        assert!(
            string_literals(without_tests(text)).iter().any(|(_, l)| l == lit),
            "{path} no longer spells {lit:?} ({why}): drop the allowance"
        );
    }
}

#[test]
fn planted_spellings_are_found() {
    let names = names();
    let files = vec![
        (
            "crates/engine/src/x.rs".to_string(),
            "// \"sent\" in a comment is fine\nlet a = \"sent\";\nlet b = \"sent \";\nlet c = r\"Email Clicked\";\n"
                .to_string(),
        ),
        ("crates/server/src/y.rs".to_string(), "let q = \"Message Clicked\"; let k = \"status\";\n".to_string()),
        ("crates/domain/src/vocab.rs".to_string(), "Sent = \"sent\",\n".to_string()),
        ("crates/kairos/tests/flows.rs".to_string(), "assert_eq!(s, \"sent\");\n".to_string()),
        (
            "crates/analytics/src/z.rs".to_string(),
            "let s = \"paused\";\n#[cfg(test)]\nmod tests {\n    const X: &str = \"paused\";\n}\n".to_string(),
        ),
        ("crates/segment/src/parse.rs".to_string(), "\"unsubscribed\" => 1,\n\"active\" => 2,\n".to_string()),
    ];
    assert_eq!(
        spellings(&files, &names),
        [
            "crates/engine/src/x.rs:2: \"sent\"",
            "crates/engine/src/x.rs:4: \"Email Clicked\"",
            "crates/server/src/y.rs:1: \"Message Clicked\"",
            "crates/analytics/src/z.rs:1: \"paused\"",
            "crates/segment/src/parse.rs:2: \"active\"",
        ]
    );
}
