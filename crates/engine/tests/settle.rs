//! Rows that wait for a later commit (`row_wait.rs`) are written before a reader of those contacts reads them,
//! however many it names: more than a commit's slice settle every waiting row, a slice a commit.

mod common;

use kairos_domain::event::EventKind;
use kairos_domain::{Event, Timestamp};
use serde_json::json;

/// More contacts than one commit writes for readers (`SETTLE_ROWS_PER_COMMIT`, 2 048).
const CONTACTS: usize = 2_100;

fn identify(n: usize, who: usize, plan: &str, at: Timestamp) -> Event {
    let mut e = common::event(n, EventKind::Identify, (Some(format!("u{who}")), None), at, at);
    e.traits = json!({"plan": plan}).as_object().unwrap().clone();
    e
}

#[test]
fn a_reader_of_more_contacts_than_a_slice_reads_every_row_as_acknowledged() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let (_dir, ws, _clock, engine) = common::engine_on_sqlite(t0);
    // Created (rows written at once), then changed only by folding their own events: those rows wait, the clock
    // standing still.
    engine.ingest_blocking(ws, true, (0..CONTACTS).map(|i| identify(i, i, "free", t0)).collect()).unwrap();
    let gold: Vec<Event> = (0..CONTACTS).map(|i| identify(CONTACTS + i, i, "gold", t0)).collect();
    engine.ingest_blocking(ws, true, gold).unwrap();
    let stale = engine.read(|r| r.contacts(ws, None, CONTACTS + 1)).unwrap().items;
    assert_eq!(stale.len(), CONTACTS);
    assert!(stale.iter().any(|c| c.traits["plan"] == "free"), "the rows wait: the test would prove nothing");
    let ids = stale.iter().map(|c| c.id).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert!(rt.block_on(engine.settle_contacts(ws, ids)).unwrap());
    let rows = engine.read(|r| r.contacts(ws, None, CONTACTS + 1)).unwrap().items;
    let free = rows.iter().filter(|c| c.traits["plan"] != "gold").count();
    assert_eq!(free, 0, "every row as acknowledged");
    engine.shutdown();
}
