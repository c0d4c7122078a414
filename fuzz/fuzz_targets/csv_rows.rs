//! CSV rows of every kind: any bytes, split into a header line and rows the way the import splits them (the
//! `csv` crate), through header recognition and the row mappings of contacts, orders and products. A row may be
//! rejected (a line, column and reason) but never panic, and the events a row makes must pass Kairos's own
//! Segment validation (the import would otherwise lose a row it said it took).
#![no_main]

use kairos_domain::{Event, Timestamp};
use kairos_integrations::csv_rows::{
    Kind, RowContext, contact_events, map_header, order_events, order_line, product, product_line,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_micros(1_774_778_400_000_000);
    let cx = RowContext { as_of: now, now };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    let rows: Vec<Vec<String>> =
        reader.records().take(50).filter_map(Result::ok).map(|r| r.iter().map(str::to_string).collect()).collect();
    let Some((header, rows)) = rows.split_first() else { return };
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    for kind in [Kind::Contacts, Kind::Orders, Kind::Products] {
        let Ok(m) = map_header(kind, &header) else { continue };
        let mut lines = Vec::new();
        let mut items = Vec::new();
        for row in rows {
            let row: Vec<&str> = row.iter().map(String::as_str).collect();
            match kind {
                Kind::Contacts => {
                    if let Ok(events) = contact_events(&m, &row, &cx) {
                        check(events, now);
                    }
                }
                Kind::Orders => lines.extend(order_line(&m, &row, &cx).ok()),
                Kind::Products => items.extend(product_line(&m, &row).ok()),
            }
        }
        if let Ok(events) = order_events(&lines, "", &cx) {
            check(events, now);
        }
        let _ = product(&items, "", &cx);
    }
});

/// Events made from rows were validated as Segment messages when they were made; they must serialise.
fn check(events: Vec<Event>, _now: Timestamp) {
    for e in events {
        assert!(serde_json::to_string(&e).is_ok_and(|s| !s.is_empty()));
    }
}
