//! Contacts (the profile as JSON, plus the fields reports filter on as columns) and identities.

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::codec::{MERGE_HOPS_MAX, SEARCH_ROWS_MAX, from_json, matches_search, page_rows, search_pattern};
use kairos_store::packed::{self, LoadedContact};
use kairos_store::read::ContactReads;
use kairos_store::write::ContactWrites;
use kairos_store::{IdentityKind, Page, Result, StoreError};

use crate::{PgReader, PgWriter, cursor_number, get, to_json};

/// Identity changes of the open transaction, written together (the committer sets an identity for most events:
/// one round trip each was most of a group's time). The last change of a key wins, as it would have in order.
#[derive(Default)]
pub(crate) struct PendingIdentities {
    /// (workspace, kind, value) -> the contact it now names, or None when removed.
    ops: std::collections::HashMap<(i64, i64, String), Option<i64>>,
}

/// Identity keys (and, for changes that set one, the contact), one array per column (`UNNEST`).
#[derive(Default)]
struct IdentityColumns {
    ws: Vec<i64>,
    kind: Vec<i64>,
    value: Vec<String>,
    contact: Vec<i64>,
}

impl PendingIdentities {
    pub(crate) fn clear(&mut self) {
        self.ops.clear();
    }
}

impl PgWriter {
    /// Without an open transaction each statement commits on its own: nothing is held back.
    fn flush_identities_outside_a_transaction(&mut self) -> Result<()> {
        if self.open { Ok(()) } else { self.flush_identities() }
    }

    /// Writes the identity changes buffered in this transaction; `lookup_identity` and the commit call it first.
    pub(crate) fn flush_identities(&mut self) -> Result<()> {
        if self.pending_identities.ops.is_empty() {
            return Ok(());
        }
        let (mut set, mut gone) = (IdentityColumns::default(), IdentityColumns::default());
        for ((ws, kind, value), contact) in std::mem::take(&mut self.pending_identities.ops) {
            let to = if contact.is_some() { &mut set } else { &mut gone };
            to.ws.push(ws);
            to.kind.push(kind);
            to.value.push(value);
            to.contact.extend(contact);
        }
        if !gone.ws.is_empty() {
            self.conn.execute(
                "DELETE FROM identities WHERE (workspace_id, kind, value) IN
                     (SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[]))",
                &[&gone.ws, &gone.kind, &gone.value],
            )?;
        }
        if !set.ws.is_empty() {
            self.conn.execute(
                "INSERT INTO identities (workspace_id, kind, value, contact_id)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[])
                 ON CONFLICT (workspace_id, kind, value) DO UPDATE SET contact_id = EXCLUDED.contact_id",
                &[&set.ws, &set.kind, &set.value, &set.contact],
            )?;
        }
        Ok(())
    }
}

/// Contacts written by one statement.
const UPSERT_CONTACTS_MAX: usize = 5_000;

/// The columns of contacts to upsert, one array per column (`UNNEST`).
#[derive(Default)]
struct ContactColumns {
    id: Vec<i64>,
    ws: Vec<i64>,
    data: Vec<String>,
    updated_at: Vec<i64>,
    first_order_at: Vec<Option<i64>>,
    email: Vec<Option<&'static str>>,
    email_at: Vec<Option<i64>>,
    sms: Vec<Option<&'static str>>,
    sms_at: Vec<Option<i64>>,
    packed: Vec<Vec<u8>>,
}

impl ContactColumns {
    fn push(&mut self, c: &Contact) {
        // A status without a change time is the default (`never_subscribed`): stored as NULL, as in the SQLite
        // store.
        let consent = |c: &kairos_domain::Consent| {
            (c.updated_at.map(|_| c.status.as_str()), c.updated_at.map(Timestamp::as_micros))
        };
        let ((email, email_at), (sms, sms_at)) = (consent(&c.consent.email), consent(&c.consent.sms));
        self.id.push(c.id.0);
        self.ws.push(c.workspace.0);
        let json = to_json(c);
        self.packed.push(packed::stored_packed(c, &json));
        self.data.push(json);
        self.updated_at.push(c.updated_at.as_micros());
        self.first_order_at.push(c.computed.orders.first_at.map(Timestamp::as_micros));
        self.email.push(email);
        self.email_at.push(email_at);
        self.sms.push(sms);
        self.sms_at.push(sms_at);
    }
}

impl ContactWrites for PgWriter {
    fn max_contact_id(&mut self) -> Result<i64> {
        get(&self.conn.query_one("SELECT COALESCE(MAX(id), 0) FROM contacts", &[])?, 0)
    }

    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>> {
        let row = self.conn.query_opt("SELECT data FROM contacts WHERE id = $1 AND merged_into IS NULL", &[&id.0])?;
        row.map(|r| from_json("contact", get(&r, 0)?)).transpose()
    }

    fn upsert_contact(&mut self, c: &Contact) -> Result<()> {
        self.upsert_contacts(&[c])
    }

    fn upsert_contacts(&mut self, contacts: &[&Contact]) -> Result<()> {
        // One statement per chunk (a group commit changes hundreds of profiles: one round trip, not hundreds).
        for chunk in contacts.chunks(UPSERT_CONTACTS_MAX) {
            let mut cols = ContactColumns::default();
            for c in chunk {
                cols.push(c);
            }
            self.conn.execute(
                "INSERT INTO contacts (id, workspace_id, merged_into, data, updated_at, first_order_at, email_consent,
                     email_consent_at, sms_consent, sms_consent_at, packed)
                 SELECT id, ws, NULL, data, updated_at, first_order_at, email, email_at, sms, sms_at, packed
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[],
                     $7::BIGINT[], $8::TEXT[], $9::BIGINT[], $10::BYTEA[])
                     AS u (id, ws, data, updated_at, first_order_at, email, email_at, sms, sms_at, packed)
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at,
                     first_order_at = EXCLUDED.first_order_at, email_consent = EXCLUDED.email_consent,
                     email_consent_at = EXCLUDED.email_consent_at, sms_consent = EXCLUDED.sms_consent,
                     sms_consent_at = EXCLUDED.sms_consent_at, packed = EXCLUDED.packed",
                &[
                    &cols.id,
                    &cols.ws,
                    &cols.data,
                    &cols.updated_at,
                    &cols.first_order_at,
                    &cols.email,
                    &cols.email_at,
                    &cols.sms,
                    &cols.sms_at,
                    &cols.packed,
                ],
            )?;
        }
        Ok(())
    }

    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE contacts SET merged_into = $2, data = '{}', packed = NULL, updated_at = $3 WHERE id = $1",
            &[&loser.0, &survivor.0, &at.as_micros()],
        )?;
        // Contacts that were merged into the loser earlier now point at the survivor directly.
        self.conn.execute("UPDATE contacts SET merged_into = $2 WHERE merged_into = $1", &[&loser.0, &survivor.0])?;
        Ok(())
    }

    fn all_contacts(&mut self, f: &mut dyn FnMut(LoadedContact)) -> Result<()> {
        let conn = &mut self.conn;
        kairos_store::packed::decode_contacts_beside(
            &mut |row| {
                conn.for_each("SELECT id, data, packed FROM contacts WHERE merged_into IS NULL", &[], &mut |r| {
                    let (id, data, stored) = (get(r, 0)?, get::<&str>(r, 1)?, get::<Option<&[u8]>>(r, 2)?);
                    row(packed::ContactRow::of(ContactId(id), data.as_bytes(), stored)?)
                })
            },
            f,
        )
    }

    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()> {
        self.conn.for_each("SELECT id, merged_into FROM contacts WHERE merged_into IS NOT NULL", &[], &mut |r| {
            f(ContactId(get(r, 0)?), ContactId(get(r, 1)?));
            Ok(())
        })
    }

    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>> {
        self.flush_identities()?;
        // Identity rows are not rewritten on merge: follow the (flattened) merge pointer instead.
        let row = self.conn.query_opt(
            "SELECT COALESCE(c.merged_into, i.contact_id) FROM identities i LEFT JOIN contacts c ON c.id = i.contact_id
             WHERE i.workspace_id = $1 AND i.kind = $2 AND i.value = $3",
            &[&ws.0, &kind.code(), &value],
        )?;
        row.map(|r| Ok(ContactId(get(&r, 0)?))).transpose()
    }

    fn batches_identity_lookups(&self) -> bool {
        true
    }

    fn lookup_identities(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        values: &[&str],
    ) -> Result<Vec<(String, ContactId)>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        self.flush_identities()?;
        let rows = self.conn.query(
            "SELECT i.value, COALESCE(c.merged_into, i.contact_id) FROM identities i
             LEFT JOIN contacts c ON c.id = i.contact_id
             WHERE i.workspace_id = $1 AND i.kind = $2 AND i.value = ANY($3)",
            &[&ws.0, &kind.code(), &values],
        )?;
        rows.iter().map(|r| Ok((get(r, 0)?, ContactId(get(r, 1)?)))).collect()
    }

    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()> {
        self.pending_identities.ops.insert((ws.0, kind.code(), value.to_string()), Some(contact.0));
        self.flush_identities_outside_a_transaction()
    }

    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()> {
        self.pending_identities.ops.insert((ws.0, kind.code(), value.to_string()), None);
        self.flush_identities_outside_a_transaction()
    }
}

/// A contact row: its workspace, the survivor it was merged into, and its JSON.
type ContactRow = (i64, Option<i64>, String);

impl PgReader<'_> {
    fn resolve_merged(&self, id: ContactId) -> Result<Option<ContactRow>> {
        let row =
            self.conn().query_opt("SELECT workspace_id, merged_into, data FROM contacts WHERE id = $1", &[&id.0])?;
        row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?, get(&r, 2)?))).transpose()
    }
}

impl ContactReads for PgReader<'_> {
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        let mut id = id;
        for _ in 0..MERGE_HOPS_MAX {
            match self.resolve_merged(id)? {
                Some((row_ws, _, _)) if row_ws != ws.0 => return Ok(None),
                Some((_, Some(survivor), _)) => id = ContactId(survivor),
                Some((_, None, data)) => return Ok(Some(from_json("contact", &data)?)),
                None => return Ok(None),
            }
        }
        Err(StoreError::corrupt("contact", "merge chain too long"))
    }

    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let before = cursor_number(cursor, i64::MAX)?;
        let rows = self.conn().query(
            "SELECT data FROM contacts WHERE workspace_id = $1 AND id < $2 AND merged_into IS NULL
             ORDER BY id DESC LIMIT $3",
            &[&ws.0, &before, &page_rows(limit)],
        )?;
        let items = rows.iter().map(|r| from_json("contact", get(r, 0)?)).collect::<Result<Vec<Contact>>>()?;
        Ok(Page::from_rows(items, limit, |c| c.id.0.to_string()))
    }

    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>> {
        let (needle, pattern) = search_pattern(q);
        // ILIKE narrows the rows (case-insensitive over the stored JSON, as SQLite's LIKE is for ASCII); the
        // fields are checked after.
        let rows = self.conn().query(
            "SELECT data FROM contacts
             WHERE workspace_id = $1 AND merged_into IS NULL AND data ILIKE $2 ESCAPE '!'
             ORDER BY id DESC LIMIT $3",
            &[&ws.0, &pattern, &SEARCH_ROWS_MAX],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            let c: Contact = from_json("contact", get(r, 0)?)?;
            if matches_search(&c, &needle) {
                out.push(c);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn contact_by_identity(&self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<Contact>> {
        let row = self.conn().query_opt(
            "SELECT contact_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value = $3",
            &[&ws.0, &kind.code(), &value],
        )?;
        match row {
            Some(r) => self.contact(ws, ContactId(get(&r, 0)?)),
            None => Ok(None),
        }
    }
}
