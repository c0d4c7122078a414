//! PostgreSQL specifics of campaigns the shared suite does not reach: recipients inserted many per statement
//! (an audience larger than one statement's batch, with a contact listed twice), and order amounts read from
//! free-form event properties the way the SQLite store reads them.

use kairos_domain::{ContactId, Event, JsonMap, MessageStatus, Timestamp, WorkspaceId};
use kairos_store::{Recipient, Store, StoredMessage, WriteTx};
use kairos_store_postgres::PgStore;
use kairos_store_postgres::testing::TestDatabase;
use serde_json::json;

const SEC: i64 = 1_000_000;

fn open() -> (PgStore, TestDatabase) {
    let db = TestDatabase::fresh();
    (PgStore::open(&db.url).expect("open the store"), db)
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_micros(1_900_000_000 * SEC + s * SEC)
}

fn write<T>(store: &dyn Store, f: impl FnOnce(&mut dyn WriteTx) -> kairos_store::Result<T>) -> T {
    let mut w = store.writer().expect("writer");
    let mut tx = w.transaction().expect("begin");
    let out = f(&mut *tx).expect("write");
    tx.commit().expect("commit");
    out
}

fn workspace(store: &dyn Store) -> WorkspaceId {
    let created = store.create_workspace("Shop", at(0)).expect("create workspace");
    store.workspaces().expect("list").into_iter().find(|w| w.1 == created.id).expect("listed").0
}

fn campaign(ws: WorkspaceId) -> kairos_store::StoredCampaign {
    kairos_store::StoredCampaign {
        row: 0,
        public_id: "cmp_big".into(),
        workspace: ws,
        name: "Big".into(),
        status: kairos_domain::CampaignStatus::Scheduled,
        definition: "{}".into(),
        state: "{}".into(),
        created_at: at(1),
        updated_at: at(1),
    }
}

/// More recipients than one statement takes, a contact listed twice in the same call (the first row is kept,
/// also when the second falls in a later batch), and one already listed by an earlier call.
#[test]
fn recipients_insert_in_batches_and_keep_first_rows() {
    let (store, _db) = open();
    let ws = workspace(&store);
    let n = 25_000;
    let (row, due) = write(&store, |w| {
        let row = w.save_campaign(&campaign(ws))?;
        w.insert_recipients(row, &[Recipient { contact: ContactId(7), due_at: at(1), variant: 2 }])?;
        let mut list: Vec<Recipient> =
            (1..=n).map(|c| Recipient { contact: ContactId(c), due_at: at(10 + c), variant: 0 }).collect();
        list.insert(1, Recipient { contact: ContactId(3), due_at: at(5), variant: 1 }); // before contact 3's own row
        list.push(Recipient { contact: ContactId(2), due_at: at(4), variant: 1 }); // in the last batch
        w.insert_recipients(row, &list)?;
        Ok((row, w.due_recipients(row, at(13), 100)?))
    });
    let due: Vec<(i64, Timestamp, i64)> = due.iter().map(|r| (r.contact.0, r.due_at, r.variant)).collect();
    assert_eq!(due, [(7, at(1), 2), (3, at(5), 1), (1, at(11), 0), (2, at(12), 0)], "first rows kept, earliest first");
    let counts = store.reader().unwrap().recipient_counts(row).unwrap();
    assert_eq!(counts, (n as u64, 0, 0));
}

fn message(id: &str, ws: WorkspaceId, contact: i64, variant: i64) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        workspace: ws,
        contact: ContactId(contact),
        channel: kairos_domain::Channel::Email,
        to: Some(format!("c{contact}@shop.example")),
        flow_id: None,
        campaign_id: Some("cmp_big".into()),
        step_id: None,
        status: MessageStatus::Sent,
        data: "{}".into(),
        created_at: at(10),
        variant: Some(variant),
        subject_variant: None,
    }
}

/// The amount of an order is the first of total, revenue and value that is present and not null; numbers and
/// numeric strings count, other values count 0, and a huge amount cannot make the report fail.
#[test]
fn campaign_revenue_reads_free_form_amounts() {
    let (store, _db) = open();
    let ws = workspace(&store);
    let orders: [(i64, i64, serde_json::Value); 8] = [
        (0, 1, json!({"total": 10.5})),
        (0, 1, json!({"total": null, "revenue": 2})),
        (0, 1, json!({"revenue": " 3.25 "})),
        (0, 1, json!({"value": "4abc"})),
        (0, 1, json!({"total": "not a number", "value": 100})),
        (0, 1, json!({"total": {"amount": 9}, "value": true})),
        (1, 2, json!({"total": "1e308"})),
        (1, 2, json!({"total": "1e9999", "price": 1})),
    ];
    write(&store, |w| {
        let row = w.save_campaign(&campaign(ws))?;
        w.insert_recipients(row, &[])?; // nothing to insert: no statement
        w.insert_message(&message("a", ws, 1, 0))?;
        w.insert_message(&message("b", ws, 2, 1))?;
        for (i, (_, contact, props)) in orders.iter().enumerate() {
            let mut e = Event::system("Order Completed", format!("o{i}"), JsonMap::new(), at(20 + i as i64));
            e.system = false;
            e.properties = props.as_object().cloned().unwrap_or_default();
            let data = serde_json::to_string(&e).expect("serialize");
            w.insert_event(ws, ContactId(*contact), i as i64 + 1, &e, &data)?;
        }
        Ok(())
    });
    let mut revenue = store.reader().unwrap().campaign_revenue("cmp_big").unwrap();
    revenue.sort_by_key(|r| r.0);
    // Past the range of a double: the largest one (SQLite's sum would be infinite).
    assert_eq!(revenue, [(0, 10.5 + 2.0 + 3.25 + 4.0), (1, f64::MAX)]);
}
