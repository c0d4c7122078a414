//! Magento REST search results and records: any bytes, read as a page (`items`, `total_count`) and as one
//! record of each kind (order, customer, product, credit memo), through the mapping onto Segment messages and
//! products. It may refuse a record (a named error) but never panic, and every message it makes must pass
//! Kairos's own Segment validation (the poller would otherwise drop the store's own data).
#![no_main]

use kairos_domain::{Event, Timestamp};
use kairos_integrations::magento::{credit_memo, customer, order, page, product, updated_at};
use kairos_integrations::{MapError, Mapped};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn map_all(record: &Value, now: Timestamp) -> [Result<Mapped, MapError>; 4] {
    let _ = updated_at(record);
    [
        order(record, now),
        customer(record, now),
        product(record, "https://shop.example.com", now),
        credit_memo(record, now),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let now = Timestamp::from_micros(1_774_778_400_000_000);
    let mut records = vec![&body];
    if let Ok((items, _next)) = page(&body) {
        records.extend(items);
    }
    for record in records {
        for mapped in map_all(record, now).into_iter().flatten() {
            for message in mapped.messages {
                let shown = message.to_string();
                if let Err(e) = Event::from_segment(message, None, now, &mut || "fuzz".into()) {
                    // Oversized values are the only refusal allowed: the mapping copies Magento's strings.
                    assert!(shown.len() > 4_096 || e.code == "too_large", "{e:?} for {shown}");
                }
            }
        }
    }
});
