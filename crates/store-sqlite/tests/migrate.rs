//! A database written by the build before migration 9 (fields read through `json_extract` of the serialized
//! structs) keeps working: the migration fills the new columns from the old rows, and every report row reads
//! the same as before.
#![expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "this test writes rows the way an older build did"
)]

use kairos_domain::{ConsentStatus, Contact, ContactId, Event, JsonMap, SystemEvent, Timestamp, WorkspaceId};
use kairos_store::Store;
use kairos_store::reports::{Cohort, ConsentChange};
use kairos_store_sqlite::{DB_FILE_NAME, SCHEMA_VERSION, SqliteStore};
use rusqlite::{Connection, params};
use serde_json::json;

const SEC: i64 = 1_000_000;

fn at(s: i64) -> Timestamp {
    Timestamp::from_micros(1_900_000_000 * SEC + s * SEC)
}

fn event(name: &str, id: &str, t: i64, system: bool, props: serde_json::Value) -> Event {
    let mut e = Event::system(name, id.into(), props.as_object().cloned().unwrap_or_else(JsonMap::new), at(t));
    e.system = system;
    e
}

/// The rows of an older build: a workspace, two contacts (one merged away), events, messages and templates.
fn write_old_rows(conn: &Connection) {
    conn.execute("INSERT INTO workspaces (id, public_id, name, created_at) VALUES (1, 'ws_old', 'Old', 0)", [])
        .unwrap();
    let ws = WorkspaceId(1);
    let mut ann = Contact::new(ContactId(1), ws, at(0));
    ann.computed.orders.first_at = Some(at(5));
    ann.consent.email.status = ConsentStatus::Subscribed;
    ann.consent.email.updated_at = Some(at(100));
    ann.consent.sms.status = ConsentStatus::Unsubscribed;
    ann.consent.sms.updated_at = Some(at(200));
    let insert_contact =
        "INSERT INTO contacts (id, workspace_id, merged_into, data, updated_at) VALUES (?1, 1, ?2, ?3, 0)";
    conn.execute(insert_contact, params![1, None::<i64>, serde_json::to_string(&ann).unwrap()]).unwrap();
    conn.execute(insert_contact, params![2, Some(1), "{}"]).unwrap();

    let events = [
        (1, event("Order Completed", "o1", 100, false, json!({"total": 20, "order_id": "A-1"}))),
        (
            1,
            event(
                "Message Sent",
                "k1",
                90,
                true,
                json!({"message_id": "m1", "flow_id": "flow_a", "step_id": "s1", "channel": "sms"}),
            ),
        ),
        (1, event("Email Opened", "k2", 95, true, json!({"message_id": "m2", "machine": true}))),
        (
            1,
            event(
                "Email Clicked",
                "k3",
                96,
                true,
                json!({"message_id": "m2", "campaign_id": "cmp_a", "machine": false}),
            ),
        ),
        (1, event("Segment Entered", "k4", 97, true, json!({"segment_id": "seg_a"}))),
    ];
    for (seq, (contact, e)) in events.iter().enumerate() {
        conn.execute(
            "INSERT INTO events (seq, workspace_id, contact_id, message_id, kind, name, ts, received_at, data)
             VALUES (?1, 1, ?2, ?3, 'track', ?4, ?5, ?5, ?6)",
            params![
                seq as i64 + 1,
                contact,
                e.message_id.as_str(),
                e.name,
                e.timestamp.as_micros(),
                serde_json::to_string(e).unwrap()
            ],
        )
        .unwrap();
    }
    let history = |statuses: &[&str]| -> Vec<serde_json::Value> {
        statuses.iter().map(|s| json!({"status": s, "at": "2030-03-17T00:00:00Z", "reason": null})).collect()
    };
    let messages = [
        (
            "m1",
            Some("flow_a"),
            None,
            "opened",
            json!({"flow_id": "flow_a", "history": history(&["queued", "sent", "opened"])}),
        ),
        (
            "m2",
            None,
            Some("cmp_a"),
            "unsubscribed",
            json!({"campaign_id": "cmp_a", "variant": 1, "counts": {"opened": 2, "clicked": 1},
                   "history": history(&["sent", "clicked", "unsubscribed"])}),
        ),
        ("m3", None, Some("cmp_a"), "sent", json!({"campaign_id": "cmp_a", "variant": 0})),
    ];
    for (i, (id, flow, campaign, status, data)) in messages.iter().enumerate() {
        conn.execute(
            "INSERT INTO messages (id, workspace_id, contact_id, channel, to_addr, flow_id, campaign_id, step_id, status,
                 data, created_at)
             VALUES (?1, 1, 1, 'email', 'ann@shop.example', ?2, ?3, 's1', ?4, ?5, ?6)",
            params![id, flow, campaign, status, data.to_string(), at(80 + i as i64).as_micros()],
        )
        .unwrap();
    }
    for (id, channel) in [("footer", "partial"), ("welcome", "email")] {
        conn.execute(
            "INSERT INTO templates (workspace_id, id, version, data, created_at, updated_at) VALUES (1, ?1, 1, ?2, 0, 0)",
            params![id, json!({"channel": channel, "html": "x"}).to_string()],
        )
        .unwrap();
    }
}

#[test]
fn a_database_of_the_previous_schema_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DB_FILE_NAME);
    kairos_store_sqlite::testing::create_at_version(&file, 8).unwrap();
    write_old_rows(&Connection::open(&file).unwrap());

    let store = SqliteStore::open(dir.path()).unwrap();
    let version: i64 = Connection::open(&file)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let ws = WorkspaceId(1);
    let r = store.reader().unwrap();

    // Each contact's events, listed by the layout of migration 20 (the customer's in lists built from the log,
    // Kairos's own through their partial index), newest first.
    let history: Vec<String> = r
        .contact_events(ContactId(1), None, 10)
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.event.message_id.as_str().to_string())
        .collect();
    assert_eq!(history, ["o1", "k4", "k3", "k2", "k1"]);

    // Contacts: first order and consent changes, from the profiles' JSON.
    assert_eq!(r.first_orders(&[ContactId(1)]).unwrap(), [(ContactId(1), Some(at(5)))]);
    let change = |c: &str, s: &str| ConsentChange { channel: c.into(), status: s.into() };
    assert_eq!(r.consent_changes(ws, at(0), at(150)).unwrap(), [change("email", "subscribed")]);
    assert_eq!(r.consent_changes(ws, at(150), at(300)).unwrap(), [change("sms", "unsubscribed")]);
    assert_eq!(r.contact(ws, ContactId(2)).unwrap().map(|c| c.id), Some(ContactId(1)), "merges still followed");

    // Events: Kairos's own are not activity; the message each event refers to is found.
    assert_eq!(r.active_contacts(ws, at(0), at(1_000)).unwrap(), [ContactId(1)]);
    assert!(r.active_contacts(ws, at(90), at(99)).unwrap().is_empty(), "only system events then");
    let sent = r.message_event_rows(ws, SystemEvent::MessageSent, at(0), at(1_000), true).unwrap();
    assert_eq!(
        (sent[0].message.message_id.as_deref(), sent[0].message.flow_id.as_deref(), sent[0].message.step_id.as_deref()),
        (Some("m1"), Some("flow_a"), Some("s1"))
    );
    let opened = r.message_event_rows(ws, SystemEvent::EmailOpened, at(0), at(1_000), false).unwrap();
    assert!(opened[0].message.machine);
    let clicked = r.message_event_rows(ws, SystemEvent::EmailClicked, at(0), at(1_000), false).unwrap();
    assert_eq!((clicked[0].message.campaign_id.as_deref(), clicked[0].message.machine), (Some("cmp_a"), false));
    assert!(r.message_event_rows(ws, SystemEvent::SegmentEntered, at(0), at(1_000), false).unwrap().is_empty());
    assert_eq!(r.order_rows(ws, at(0), at(1_000)).unwrap()[0].properties.get("order_id"), Some(&json!("A-1")));

    // Messages: every status of the history, the variant, and the counted opens and clicks.
    let rows = r.message_rows(ws, at(0), at(1_000), &Cohort::Flows(None)).unwrap();
    let mut statuses = rows[0].statuses.clone();
    statuses.sort();
    assert_eq!(statuses, ["opened", "queued", "sent"]);
    let campaign = r.message_rows(ws, at(0), at(1_000), &Cohort::Campaigns).unwrap();
    let variants: Vec<(&str, Option<i64>)> = campaign.iter().map(|m| (m.id.as_str(), m.variant)).collect();
    assert_eq!(variants, [("m2", Some(1)), ("m3", Some(0))]);
    let results = r.variant_results("cmp_a").unwrap();
    let got: Vec<(i64, u64, u64, u64)> = results.iter().map(|v| (v.variant, v.sent, v.opened, v.clicked)).collect();
    assert_eq!(got, [(0, 1, 0, 0), (1, 1, 1, 1)], "m2's open and click counts, though its status moved on");

    // Templates: partials found by channel.
    assert_eq!(r.templates_of_channel(ws, "partial").unwrap().len(), 1);
    assert_eq!(r.templates_of_channel(ws, "partial").unwrap()[0].0, "footer");
    drop(r);

    // New writes after the migration fill the columns as usual.
    let mut w = store.writer().unwrap();
    w.begin().unwrap();
    w.update_message("m3", kairos_domain::MessageStatus::Opened, "{}").unwrap();
    w.commit().unwrap();
    let results = store.reader().unwrap().variant_results("cmp_a").unwrap();
    assert_eq!((results[0].variant, results[0].opened), (0, 1));
}

/// Migration 10: webhook calls queued by an older build no longer keep their workspace's secret in the row (it
/// is added when the call is handed to its transport); everything else in the row stays.
#[test]
fn webhook_rows_of_the_previous_schema_lose_their_plaintext_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DB_FILE_NAME);
    kairos_store_sqlite::testing::create_at_version(&file, 9).unwrap();
    let conn = Connection::open(&file).unwrap();
    conn.execute("INSERT INTO workspaces (id, public_id, name, created_at) VALUES (1, 'ws_old', 'Old', 0)", [])
        .unwrap();
    let data = json!({"webhook": {"url": "https://erp.example/hook", "secret": "whsec_plaintext_of_old", "timestamp": 1},
        "history": [{"status": "queued", "at": "2030-03-17T00:00:00Z", "reason": null}]});
    for id in ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"] {
        conn.execute(
            "INSERT INTO messages (id, workspace_id, contact_id, channel, to_addr, status, data, created_at)
             VALUES (?1, 1, 1, 'webhook', 'https://erp.example/hook', 'queued', ?2, 0)",
            [id, &data.to_string()],
        )
        .unwrap();
    }
    drop(conn);

    let store = SqliteStore::open(dir.path()).unwrap();
    let m = store.reader().unwrap().message_of(WorkspaceId(1), "w1").unwrap().expect("kept");
    let stored: serde_json::Value = serde_json::from_str(&m.data).unwrap();
    assert_eq!(stored["webhook"], json!({"url": "https://erp.example/hook", "timestamp": 1}));
    assert_eq!(stored["history"], data["history"]);
    assert!(store.reader().unwrap().secret_names().unwrap().is_empty(), "the secrets table exists, empty");
    drop(store);
    let bytes = std::fs::read(&file).unwrap();
    // Rewritten rows are zeroed where they were (`secure_delete`), not left in the pages' free space.
    assert!(!bytes.windows(22).any(|w| w == b"whsec_plaintext_of_old"), "the old secret is gone from the file");
}

/// A settings row rewritten without the plaintext webhook secret an older build kept there (the binary moves it
/// into `secrets` at start) leaves no copy in the file's free space.
#[test]
fn settings_rewritten_without_a_plaintext_secret_leave_no_copy_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let marker = "whsec_plaintext_in_settings_0042";
    let spaces: Vec<WorkspaceId> = (0..8)
        .map(|i| {
            let id = store.create_workspace(&format!("Shop {i}"), at(i)).unwrap().id;
            store.workspaces().unwrap().into_iter().find(|w| w.1 == id).unwrap().0
        })
        .collect();
    let mut w = store.writer().unwrap();
    for with_secret in [true, false] {
        let mut tx = w.transaction().unwrap();
        for ws in &spaces {
            let mut settings = json!({"store": {"url": "https://shop.example", "name": "Velo"}});
            if with_secret {
                settings["webhook_secret"] = json!(marker);
            }
            tx.save_workspace_settings(*ws, &settings.to_string()).unwrap();
        }
        tx.commit().unwrap();
    }
    drop(w);
    drop(store);
    let bytes = std::fs::read(dir.path().join(DB_FILE_NAME)).unwrap();
    assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "the old settings are zeroed");
}

#[test]
fn a_database_of_a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let file = dir.path().join(DB_FILE_NAME);
    let newer = SCHEMA_VERSION + 1;
    Connection::open(&file)
        .unwrap()
        .execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)", [newer])
        .unwrap();
    let before = std::fs::read(&file).unwrap();
    let Err(err) = SqliteStore::open(dir.path()) else { panic!("a newer schema is refused") };
    let err = err.to_string();
    assert!(err.contains(&format!("schema version {newer}")) && err.contains("upgrade Kairos"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "the database was not changed");
}
