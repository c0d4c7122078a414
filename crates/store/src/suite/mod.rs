//! The test suite every storage backend runs (feature `suite`): each case gets a fresh, empty store and drives
//! the traits of this crate only, so the SQLite backend today and the PostgreSQL backend later run the same
//! checks. A backend's tests call [`store_suite!`](crate::store_suite) with a function opening a fresh store:
//!
//! ```ignore
//! kairos_store::store_suite!(|| Opened::new(Box::new(my_store()), Box::new(guard)));
//! ```
//!
//! which makes one `#[test]` per case; [`run_all`] runs them in a loop instead.
//!
//! The cases cover every trait method and the edge cases the engine relies on: the de-duplication window rebuilt
//! from the log, merges (identities and events follow the survivor, chains flatten), late events and the
//! (timestamp, sequence) order, cursors on every paged listing (no row skipped or repeated, a foreign cursor
//! refused), idempotent sends, campaign recipients and A/B numbers, coupon uniqueness, suppression, session
//! expiry, segment members and sizes, flow versions and runs, settings, the rows of reports, and sealed secrets
//! (inserted once across writers, stored as ciphertext only).

use kairos_domain::{Contact, ContactId, Event, JsonMap, Timestamp, WorkspaceId};

use crate::{Page, Store, StoreError, WriteTx};

mod campaigns;
mod contacts;
mod coupons;
mod erasure;
mod events;
mod flows;
mod histories;
mod messages;
mod reports;
mod secrets;
mod segments;
mod users;

pub use campaigns::*;
pub use contacts::*;
pub use coupons::*;
pub use erasure::*;
pub use events::*;
pub use flows::*;
pub use histories::*;
pub use messages::*;
pub use reports::*;
pub use secrets::*;
pub use segments::*;
pub use users::*;

/// A fresh store and whatever must outlive it (a temporary directory); the store is dropped first.
pub struct Opened {
    pub store: Box<dyn Store>,
    _keep: Box<dyn std::any::Any>,
}

impl Opened {
    pub fn new(store: Box<dyn Store>, keep: Box<dyn std::any::Any>) -> Self {
        Opened { store, _keep: keep }
    }
}

/// One `#[test]` per case, each on a fresh store from `$open` (an expression callable as `Fn() -> Opened`).
/// The list of cases is here, once.
#[macro_export]
macro_rules! store_suite {
    (@cases $mode:ident $($open:tt)*) => {
        $crate::store_suite!(@$mode [$($open)*]
            transactions_commit_and_roll_back,
            workspaces_and_api_keys,
            users_log_in_and_sessions_expire,
            events_keep_time_order_and_page_with_cursors,
            events_replay_in_time_order_up_to_a_bound,
            dedupe_window_is_rebuilt_from_the_log,
            merges_follow_survivors,
            contact_histories_follow_every_write,
            time_order_spans_hours,
            contacts_page_and_search,
            contacts_load_packed_as_last_written,
            segments_members_and_sizes,
            templates_versions_and_channels,
            flows_versions_runs_and_tasks,
            flow_run_timers_and_listening,
            sends_are_idempotent_and_messages_filtered,
            subject_variants_are_kept,
            suppression_per_workspace_and_channel,
            campaign_recipients_and_variants,
            campaign_lifecycle,
            coupons_are_issued_and_redeemed_once,
            settings_and_products,
            report_rows,
            secrets_insert_once_and_round_trip,
            secrets_created_once_across_writers,
            erasure_rewrites_a_persons_rows,
            sync_state_per_workspace,
            site_items_are_found_by_id_across_workspaces,
        );
    };
    (@tests [$open:expr] $($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                let opened: $crate::suite::Opened = ($open)();
                $crate::suite::$case(&*opened.store);
            }
        )*
    };
    (@run [$open:expr] $($case:ident,)*) => {
        $(
            let opened: $crate::suite::Opened = ($open)();
            $crate::suite::$case(&*opened.store);
        )*
    };
    ($open:expr) => {
        $crate::store_suite!(@cases tests $open);
    };
}

/// Runs every case, each on a fresh store from `open`.
pub fn run_all(open: impl Fn() -> Opened) {
    crate::store_suite!(@cases run open);
}

// Helpers shared by the cases.

const SEC: i64 = 1_000_000;

/// An instant `s` seconds after a fixed day in 2030.
pub(crate) fn at(s: i64) -> Timestamp {
    Timestamp::from_micros(1_900_000_000 * SEC + s * SEC)
}

/// A new workspace's internal id.
pub(crate) fn workspace(store: &dyn Store, name: &str) -> WorkspaceId {
    let created = store.create_workspace(name, at(0)).expect("create workspace");
    store.workspaces().expect("list workspaces").into_iter().find(|w| w.1 == created.id).expect("listed").0
}

/// Runs `f` in one committed write transaction.
pub(crate) fn write<T>(store: &dyn Store, f: impl FnOnce(&mut dyn WriteTx) -> crate::Result<T>) -> T {
    let mut w = store.writer().expect("writer");
    let mut tx = w.transaction().expect("begin");
    let out = f(&mut *tx).expect("write");
    tx.commit().expect("commit");
    out
}

/// A track event named `name`, timestamped `ts` and received `received` (seconds), with `props`.
pub(crate) fn track(id: &str, name: &str, ts: i64, received: i64, props: serde_json::Value) -> Event {
    let mut e = Event::system(name, id.to_string(), JsonMap::new(), at(ts));
    e.system = false;
    e.context = JsonMap::new();
    e.user_id = Some("u".into());
    e.received_at = at(received);
    e.properties = props.as_object().cloned().unwrap_or_default();
    e
}

pub(crate) fn json(e: &Event) -> String {
    serde_json::to_string(e).expect("serialize event")
}

/// A contact with an email and a name.
pub(crate) fn contact(id: i64, ws: WorkspaceId, email: &str, name: &str) -> Contact {
    let mut c = Contact::new(ContactId(id), ws, at(id));
    c.email = kairos_domain::Email::parse(email);
    c.traits.insert("name".into(), serde_json::json!(name));
    c
}

/// Every item of a paged listing, following cursors (bounded: a cursor loop fails the test).
pub(crate) fn all_pages<T>(mut page: impl FnMut(Option<&str>) -> crate::Result<Page<T>>) -> Vec<T> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let p = page(cursor.as_deref()).expect("page");
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("the listing's cursors never end");
}

/// Whether a listing refuses a cursor it did not hand out.
pub(crate) fn refuses<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(StoreError::InvalidCursor(_)))
}
