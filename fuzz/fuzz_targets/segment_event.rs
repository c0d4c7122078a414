//! Segment payloads: one event through `Event::from_segment` (the kind fixed by the endpoint, or taken from
//! `type` as in a batch), and the whole body through the batch reader. Neither may panic, whatever the bytes.
#![no_main]

use kairos_domain::event::EventKind;
use kairos_domain::{Event, Timestamp};
use libfuzzer_sys::fuzz_target;

const KINDS: [Option<EventKind>; 7] = [
    None,
    Some(EventKind::Track),
    Some(EventKind::Identify),
    Some(EventKind::Page),
    Some(EventKind::Screen),
    Some(EventKind::Alias),
    Some(EventKind::Group),
];

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_micros(1_774_778_400_000_000);
    let _ = kairos_server::ingest::parse_batch(data, now);
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let kind = KINDS[data.len() % KINDS.len()];
    let mut n = 0u32;
    let mut new_id = || {
        n += 1;
        format!("fuzz-{n}")
    };
    if let Ok(event) = Event::from_segment(raw, kind, now, &mut new_id) {
        // The committer stores the event as JSON and reads it back (start-up, recomputations): an accepted event
        // must survive that, serde_json's depth limit included.
        let stored = serde_json::to_string(&event).expect("an accepted event serializes");
        let back: Event = serde_json::from_str(&stored).expect("a stored event reads back");
        assert_eq!(back.message_id, event.message_id);
    }
});
