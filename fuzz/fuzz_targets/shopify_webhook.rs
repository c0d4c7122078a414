//! Shopify webhook payloads: any bytes, under any known topic, through the mapping onto Segment messages and
//! products. It may refuse a payload (a named error) but never panic, and every message it makes must pass
//! Kairos's own Segment validation (the webhook answers 400 otherwise, which would refuse Shopify's own data).
#![no_main]

use kairos_domain::{Event, Timestamp};
use kairos_integrations::shopify::{Context, TOPICS, map};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let now = Timestamp::from_micros(1_774_778_400_000_000);
    let cx = Context { store_url: "https://velo.myshopify.com", now };
    let topic = TOPICS[data.len() % TOPICS.len()];
    if let Ok(Some(mapped)) = map(topic, &payload, &cx) {
        for message in mapped.messages {
            let shown = message.to_string();
            if let Err(e) = Event::from_segment(message, None, now, &mut || "fuzz".into()) {
                // Oversized values are the only refusal allowed: the mapping copies Shopify's strings.
                assert!(shown.len() > 4_096 || e.code == "too_large", "{topic}: {e:?} for {shown}");
            }
        }
    }
});
