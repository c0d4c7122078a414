//! The schema, as numbered migrations applied in order at start. Never edit a released entry: append one.

use kairos_store::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

use crate::Db;

/// The schema version this build writes (the last migration).
pub const SCHEMA_VERSION: i64 = 24;

/// Schema versions, applied in order at start. Never edit a released entry: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE workspaces (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE api_keys (
        key_hash BLOB PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        merged_into INTEGER,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX contacts_merged ON contacts (merged_into) WHERE merged_into IS NOT NULL;
    CREATE TABLE identities (
        workspace_id INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        value TEXT NOT NULL,
        contact_id INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_contact ON events (contact_id, ts);
    CREATE TABLE products (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;",
    ),
    (
        2,
        "CREATE INDEX events_by_name ON events (workspace_id, name, seq);
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE segment_members (
        segment_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        entered_at INTEGER NOT NULL,
        PRIMARY KEY (segment_id, contact_id)
    ) WITHOUT ROWID;
    CREATE TABLE segment_sizes (
        segment_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (segment_id, at)
    ) WITHOUT ROWID;",
    ),
    (
        3,
        "CREATE TABLE templates (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE template_versions (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id, version)
    ) WITHOUT ROWID;
    CREATE TABLE flows (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE flow_versions (
        flow_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (flow_id, version)
    ) WITHOUT ROWID;",
    ),
    (
        4,
        "CREATE TABLE flow_runs (
        id INTEGER PRIMARY KEY,
        flow_id INTEGER NOT NULL,
        version INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        run_key TEXT NOT NULL,
        step TEXT,
        due_at INTEGER,
        status TEXT NOT NULL,
        end_reason TEXT,
        entered_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        trigger TEXT NOT NULL
    );
    CREATE INDEX flow_runs_active ON flow_runs (status) WHERE status = 'active';
    CREATE INDEX flow_runs_entry ON flow_runs (flow_id, contact_id, run_key, entered_at);
    CREATE TABLE flow_step_counts (
        flow_id INTEGER NOT NULL,
        step TEXT NOT NULL,
        counter TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (flow_id, step, counter)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        to_addr TEXT,
        flow_id TEXT,
        campaign_id TEXT,
        step_id TEXT,
        status TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_workspace ON messages (workspace_id);
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        flow_id TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );",
    ),
    (
        5,
        "CREATE TABLE suppressions (
        workspace_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        address TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, channel, address)
    ) WITHOUT ROWID;
    CREATE INDEX messages_by_contact ON messages (contact_id);
    CREATE INDEX messages_by_to ON messages (workspace_id, to_addr);
    CREATE TABLE provider_ids (
        provider_id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL
    ) WITHOUT ROWID;",
    ),
    (
        6,
        "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (workspace_id, email)
    );
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    ),
    (
        7,
        "CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        definition TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE campaign_recipients (
        campaign_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        variant INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_recipients_due ON campaign_recipients (campaign_id, done, due_at);
    CREATE INDEX messages_by_campaign ON messages (campaign_id) WHERE campaign_id IS NOT NULL;",
    ),
    (
        8,
        "CREATE TABLE coupon_pools (
        workspace_id INTEGER NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE coupon_codes (
        workspace_id INTEGER NOT NULL,
        code TEXT NOT NULL,
        pool_id TEXT NOT NULL,
        contact_id INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        redeemed_at INTEGER,
        order_id TEXT,
        PRIMARY KEY (workspace_id, code, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX coupon_codes_by_contact ON coupon_codes (workspace_id, pool_id, contact_id);",
    ),
    // Fields that queries filter or aggregate on become columns, filled on write (before: json_extract over the
    // serialized structs, so renaming a domain field silently broke reports). Existing rows are backfilled here,
    // the one place that still reads the old serialized shapes.
    (
        9,
        "ALTER TABLE contacts ADD COLUMN first_order_at INTEGER;
    ALTER TABLE contacts ADD COLUMN email_consent TEXT;
    ALTER TABLE contacts ADD COLUMN email_consent_at INTEGER;
    ALTER TABLE contacts ADD COLUMN sms_consent TEXT;
    ALTER TABLE contacts ADD COLUMN sms_consent_at INTEGER;
    UPDATE contacts SET
        first_order_at = CASE WHEN json_type(data, '$.computed.orders.first_at') = 'integer'
            THEN json_extract(data, '$.computed.orders.first_at') END,
        email_consent = CASE WHEN json_type(data, '$.consent.email.status') = 'text'
            THEN json_extract(data, '$.consent.email.status') END,
        email_consent_at = CASE WHEN json_type(data, '$.consent.email.updated_at') = 'integer'
            THEN json_extract(data, '$.consent.email.updated_at') END,
        sms_consent = CASE WHEN json_type(data, '$.consent.sms.status') = 'text'
            THEN json_extract(data, '$.consent.sms.status') END,
        sms_consent_at = CASE WHEN json_type(data, '$.consent.sms.updated_at') = 'integer'
            THEN json_extract(data, '$.consent.sms.updated_at') END
    WHERE merged_into IS NULL AND json_valid(data);

    ALTER TABLE events ADD COLUMN system INTEGER;
    UPDATE events SET system = 1 WHERE json_valid(data) AND json_extract(data, '$.system') IS NOT NULL;
    CREATE TABLE event_messages (
        seq INTEGER PRIMARY KEY,
        message_id TEXT,
        flow_id TEXT,
        step_id TEXT,
        campaign_id TEXT,
        channel TEXT,
        machine INTEGER NOT NULL
    );
    INSERT INTO event_messages (seq, message_id, flow_id, step_id, campaign_id, channel, machine)
    SELECT seq,
        CASE WHEN json_type(data, '$.properties.message_id') = 'text' THEN json_extract(data, '$.properties.message_id') END,
        CASE WHEN json_type(data, '$.properties.flow_id') = 'text' THEN json_extract(data, '$.properties.flow_id') END,
        CASE WHEN json_type(data, '$.properties.step_id') = 'text' THEN json_extract(data, '$.properties.step_id') END,
        CASE WHEN json_type(data, '$.properties.campaign_id') = 'text'
            THEN json_extract(data, '$.properties.campaign_id') END,
        CASE WHEN json_type(data, '$.properties.channel') = 'text' THEN json_extract(data, '$.properties.channel') END,
        json_type(data, '$.properties.machine') IS 'true'
    FROM events
    WHERE name IN ('Message Sent', 'Email Opened', 'Email Clicked', 'Unsubscribed', 'Email Bounced',
        'Email Marked as Spam') AND json_valid(data);

    ALTER TABLE messages ADD COLUMN variant INTEGER;
    ALTER TABLE messages ADD COLUMN opens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN statuses TEXT NOT NULL DEFAULT ' ';
    UPDATE messages SET
        variant = CASE WHEN json_type(data, '$.variant') IN ('integer', 'real', 'text')
            THEN CAST(json_extract(data, '$.variant') AS INTEGER) END,
        opens = CASE WHEN json_type(data, '$.counts.opened') IN ('integer', 'real')
            THEN CAST(json_extract(data, '$.counts.opened') AS INTEGER) ELSE 0 END,
        clicks = CASE WHEN json_type(data, '$.counts.clicked') IN ('integer', 'real')
            THEN CAST(json_extract(data, '$.counts.clicked') AS INTEGER) ELSE 0 END,
        statuses = ' ' || (SELECT group_concat(s, ' ') FROM (
            SELECT json_extract(h.value, '$.status') AS s FROM json_each(messages.data, '$.history') AS h
                WHERE json_type(messages.data, '$.history') = 'array' AND json_type(h.value, '$.status') = 'text'
            UNION SELECT messages.status)) || ' '
    WHERE json_valid(data);

    ALTER TABLE templates ADD COLUMN channel TEXT;
    UPDATE templates SET channel = json_extract(data, '$.channel')
        WHERE json_valid(data) AND json_type(data, '$.channel') = 'text';",
    ),
    (
        10,
        // Secrets sealed by `kairos_store::SecretBox` (issue 11): only ciphertext here. Webhook calls no longer
        // carry their workspace's secret in the message row (it is added when the call is handed to the
        // transport), so the copies older rows hold are removed.
        "CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        sealed BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    UPDATE messages SET data = json_remove(data, '$.webhook.secret')
        WHERE channel = 'webhook' AND json_valid(data) AND json_type(data, '$.webhook.secret') IS NOT NULL;",
    ),
    (
        11,
        // Flow simulation replays a workspace's events in time order from a read connection, a page at a time
        // (issue 11: reads off the writer); without this index every page would scan and sort the log.
        "CREATE INDEX events_by_time ON events (workspace_id, ts);",
    ),
    (
        12,
        // Issue 13. Data rights: keyed hashes of erased addresses, so a backfill or an import does not bring
        // an erased person back, and the audit log of exports and erasures; erasure finds a person's messages,
        // runs and tasks by contact. Store platforms: the state of their syncs (`kairos_store::sync`).
        "CREATE TABLE erasures (
        workspace_id INTEGER NOT NULL,
        hash BLOB NOT NULL,
        erased_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, hash)
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);
    CREATE INDEX flow_runs_by_contact ON flow_runs (contact_id);
    CREATE INDEX tasks_by_contact ON tasks (contact_id);
    CREATE TABLE sync_state (
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE forms (
        id TEXT PRIMARY KEY,
        workspace_id INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX forms_by_workspace ON forms (workspace_id, id);",
    ),
    (
        13,
        // Issue 14: forms, quizzes and landing pages share one table of site items, told apart by kind.
        "ALTER TABLE forms RENAME TO site_items;
    ALTER TABLE site_items ADD COLUMN kind TEXT NOT NULL DEFAULT 'form';
    DROP INDEX forms_by_workspace;
    CREATE INDEX site_items_by_workspace ON site_items (workspace_id, kind, id);",
    ),
    // Issue 15: team tasks are assigned to a user and closed.
    (
        14,
        "ALTER TABLE tasks ADD COLUMN assignee TEXT;
    ALTER TABLE tasks ADD COLUMN closed_at INTEGER;",
    ),
    // A workspace's newest events (`GET /api/v1/events`) by sequence without sorting the whole log, as on
    // PostgreSQL.
    (15, "CREATE INDEX events_by_workspace ON events (workspace_id, seq);"),
    // Issue 16: the subject line (A/B within one template) a message was given, for the per-variant numbers of
    // the templates report (read with every message of a range: a column, not a key of `data`).
    (16, "ALTER TABLE messages ADD COLUMN subject_variant INTEGER;"),
    // Issue 17: waiting runs live in the store, not in the engine's memory. The engine reads the timers due next
    // by (due time, id) into a bounded window (`flow_runs_due`, covering), and an event reads its contact's
    // runs that an event can move (`flow_runs_listening`). Existing runs count as listening until next saved
    // (the flag needs their flow's definition): an event then merely looks. The index of all active runs served
    // the start-up load of every run, which is gone.
    (
        17,
        "ALTER TABLE flow_runs ADD COLUMN listening INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX flow_runs_due ON flow_runs (due_at, id, flow_id) WHERE status = 'active' AND due_at IS NOT NULL;
    CREATE INDEX flow_runs_listening ON flow_runs (workspace_id, contact_id)
        WHERE status = 'active' AND listening = 1;
    DROP INDEX flow_runs_active;",
    ),
    // Issue 17: the start reads the message ids of the de-duplication window (7 days) from this narrow index,
    // received times first, instead of walking every event row backwards (1.6 – 1.9 s of a restart with 2 M
    // events in the window). It grows at its right edge, as events arrive in receive order.
    (18, "CREATE INDEX events_received ON events (received_at, workspace_id, message_id);"),
    // Issue 17: each profile's packed form beside its JSON (`kairos_store::packed`), so a start does not decode
    // every profile's JSON. Rows written before stay NULL until next written: their JSON is decoded.
    (19, "ALTER TABLE contacts ADD COLUMN packed BLOB;"),
    // Issue 17: a contact's events are found through lists its row carries (`crate::contact_events`), not an
    // index whose entries land at random places; Kairos's own events keep a partial index by contact. The lists
    // are built from the log ([`POST_STEPS`]) before the index they replace is dropped.
    (
        20,
        "ALTER TABLE contacts ADD COLUMN events BLOB;
    CREATE TABLE contact_event_chunks (
        contact_id INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        seqs BLOB NOT NULL,
        PRIMARY KEY (contact_id, first_seq)
    ) WITHOUT ROWID;
    CREATE INDEX events_by_contact_system ON events (contact_id) WHERE system = 1;",
    ),
    // Issue 17: time order through the day of the timestamp then the sequence (`crate::time_index`), whose
    // entries arrive in key order within each day, instead of the timestamp itself.
    (
        21,
        "CREATE INDEX events_by_day ON events (workspace_id, ts / 86400000000, seq, ts);
    DROP INDEX events_by_time;",
    ),
    // Issue 17: contacts whose row the committer writes later (`crate::written_later`); the sequence after which
    // a start replays the events not yet in their contact's row. No row: nothing to replay.
    (22, "CREATE TABLE replay_from (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);"),
    // Issue 17: one index fewer to maintain per event. A workspace's events by sequence also carry their receive
    // time and message id, so the start reads the de-duplication window from it (each workspace's entries from
    // the first sequence received shortly before the window) and `events_received` goes.
    (
        23,
        "DROP INDEX events_by_workspace;
    DROP INDEX events_received;
    CREATE INDEX events_by_workspace ON events (workspace_id, seq, received_at, message_id);",
    ),
    // Issue 17: events by day and by name in runs filed a batch at a time (`crate::event_keys`) instead of
    // indexes every commit inserted each event into; read through views that add the log's unfiled tail. The runs
    // are filed from the log ([`POST_STEPS`]) before the indexes they replace are dropped.
    (
        24,
        "CREATE TABLE event_day_runs (
        workspace_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        base_seq INTEGER NOT NULL,
        keys TEXT NOT NULL,
        PRIMARY KEY (workspace_id, day, base_seq)
    ) WITHOUT ROWID;
    CREATE TABLE event_keys_through (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
    INSERT INTO event_keys_through VALUES (1, 0);
    CREATE VIEW events_dated AS
        SELECT r.workspace_id AS workspace_id, r.day AS day, r.base_seq + (k.value >> 38) AS seq,
            r.day * 86400000000 - 86400000000 + (k.value & 274877906943) AS ts
        FROM event_day_runs r, json_each(r.keys) k
        UNION ALL
        SELECT workspace_id, ts / 86400000000, seq, ts FROM events WHERE seq > (SELECT seq FROM event_keys_through);
    CREATE TABLE event_name_runs (
        workspace_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        seqs TEXT NOT NULL,
        PRIMARY KEY (workspace_id, name, first_seq)
    ) WITHOUT ROWID;
    CREATE VIEW events_named AS
        SELECT r.workspace_id AS workspace_id, r.name AS name, j.value AS seq, r.last_seq AS run_last
        FROM event_name_runs r, json_each(r.seqs) j
        UNION ALL
        SELECT workspace_id, name, seq, seq FROM events
        WHERE seq > (SELECT seq FROM event_keys_through) AND name IS NOT NULL;",
    ),
];

/// Work a migration needs beyond SQL, run right after that version's statements in the same transaction.
const POST_STEPS: &[(i64, PostStep)] = &[(20, contact_lists_replace_index), (24, runs_replace_indexes)];

type PostStep = fn(&Connection) -> Result<()>;

fn contact_lists_replace_index(conn: &Connection) -> Result<()> {
    crate::contact_events::rebuild(conn)?;
    conn.execute_batch("DROP INDEX events_by_contact").db()
}

fn runs_replace_indexes(conn: &Connection) -> Result<()> {
    crate::event_keys::refile(conn)?;
    conn.execute_batch("DROP INDEX events_by_day; DROP INDEX events_by_name;").db()
}

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    // Rows a migration rewrites are zeroed where they were (FAST: inside their pages, no extra I/O): migration 10
    // removes secrets that must not linger in the file's free space. Only this connection, used for migrating.
    conn.pragma_update(None, "secure_delete", "FAST").db()?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .db()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).db()?;
    // As on PostgreSQL: a newer build's tables may mean what this build cannot know (an older build would write
    // rows the newer one misreads), so the store is refused, untouched (the transaction only read).
    if current > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {current}, written by a newer Kairos; this build knows up to \
             {SCHEMA_VERSION}: upgrade Kairos (the database was not changed)"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql).db()?;
        post_steps(&tx, *version)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))", [version])
            .db()?;
        tracing::info!(schema.version = version, "applied migration");
    }
    tx.commit().db()?;
    Ok(())
}

/// What migration `version` does beyond its SQL.
pub(crate) fn post_steps(conn: &Connection, version: i64) -> Result<()> {
    POST_STEPS.iter().filter(|(v, _)| *v == version).try_for_each(|(_, step)| step(conn))
}

/// The migrations up to and including `version`, for tests that build an older database.
pub(crate) fn up_to(version: i64) -> impl Iterator<Item = &'static str> {
    MIGRATIONS.iter().filter(move |(v, _)| *v <= version).map(|(_, sql)| *sql)
}
