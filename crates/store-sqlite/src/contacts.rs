//! Contacts (the profile as JSON, plus the fields reports filter on as columns) and identities.

use kairos_domain::{Contact, ContactId, Timestamp, WorkspaceId};
use kairos_store::read::ContactReads;
use kairos_store::write::ContactWrites;
use kairos_store::{IdentityKind, Page, Result};
use rusqlite::{OptionalExtension, params};

use kairos_store::codec::{MERGE_HOPS_MAX, SEARCH_ROWS_MAX, matches_search, search_pattern};
use kairos_store::packed::{ContactRow, LoadedContact, stored_packed};

use crate::{Db, SqliteReader, SqliteWriter, corrupt, cursor_number, to_json};

/// A contact's row written whole; its list of events (`crate::contact_events`) only when ?12 says the group
/// brought it new ones (?11), else left as it is.
const UPSERT: &str = "INSERT INTO contacts (id, workspace_id, merged_into, data, updated_at, first_order_at,
         email_consent, email_consent_at, sms_consent, sms_consent_at, packed, events)
     VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at,
         first_order_at = excluded.first_order_at, email_consent = excluded.email_consent,
         email_consent_at = excluded.email_consent_at, sms_consent = excluded.sms_consent,
         sms_consent_at = excluded.sms_consent_at, packed = excluded.packed,
         events = CASE WHEN ?12 THEN excluded.events ELSE contacts.events END";

impl ContactWrites for SqliteWriter {
    fn writes_contacts_later(&self) -> bool {
        true
    }

    fn write_later(&mut self, contacts: &[ContactId]) -> Result<()> {
        self.keeps_rows = true;
        for &c in contacts {
            self.pending.keep(c);
        }
        Ok(())
    }

    fn unwritten_events(&mut self, after: Option<i64>, max: usize) -> Result<kairos_store::write::UnwrittenEvents> {
        // The committer's connection: from now on its commits record the replay mark (clearing this one).
        self.keeps_rows = true;
        crate::written_later::unwritten(&self.conn, &mut self.replay_listed, after, max)
    }

    fn relist_event(&mut self, contact: ContactId, seq: i64) -> Result<()> {
        self.pending.note(contact, seq);
        Ok(())
    }

    fn max_contact_id(&mut self) -> Result<i64> {
        self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM contacts", [], |r| r.get(0)).db()
    }

    fn load_contact(&mut self, id: ContactId) -> Result<Option<Contact>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT data FROM contacts WHERE id = ?1 AND merged_into IS NULL").db()?;
        let data: Option<String> = stmt.query_row([id.0], |r| r.get(0)).optional().db()?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("contact", e))).transpose()
    }

    fn upsert_contact(&mut self, c: &Contact) -> Result<()> {
        // The events this group stored for the contact join its list in the same row write
        // (`crate::contact_events`); without any, the list is left as it is.
        let list = match self.pending.take(c.id) {
            Some(new) => Some(crate::contact_events::row_list_with(&self.conn, c.id, new)?),
            None => None,
        };
        let mut stmt = self.conn.prepare_cached(UPSERT).db()?;
        // A status without a change time is the default (`never_subscribed`): stored as NULL, which keeps the rows
        // of most contacts (rewritten on every commit that touches them) as short as before these columns.
        let consent = |c: &kairos_domain::Consent| {
            (c.updated_at.map(|_| c.status.as_str()), c.updated_at.map(Timestamp::as_micros))
        };
        let ((email, email_at), (sms, sms_at)) = (consent(&c.consent.email), consent(&c.consent.sms));
        let json = to_json(c);
        let packed = stored_packed(c, &json);
        stmt.execute(params![
            c.id.0,
            c.workspace.0,
            json,
            c.updated_at.as_micros(),
            c.computed.orders.first_at.map(Timestamp::as_micros),
            email,
            email_at,
            sms,
            sms_at,
            packed,
            list.as_ref().and_then(Option::as_deref),
            list.is_some(),
        ])
        .db()?;
        Ok(())
    }

    fn mark_merged(&mut self, loser: ContactId, survivor: ContactId, at: Timestamp) -> Result<()> {
        // A replay would bind the loser's claims by the survivor's fields: the kept bindings go in first.
        self.bindings.write(&self.conn)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE contacts SET merged_into = ?2, data = '{}', packed = NULL, updated_at = ?3 WHERE id = ?1",
            )
            .db()?;
        stmt.execute(params![loser.0, survivor.0, at.as_micros()]).db()?;
        // Contacts that were merged into the loser earlier now point at the survivor directly.
        self.conn
            .prepare_cached("UPDATE contacts SET merged_into = ?2 WHERE merged_into = ?1")
            .db()?
            .execute([loser.0, survivor.0])
            .db()?;
        Ok(())
    }

    fn all_contacts(&mut self, f: &mut dyn FnMut(LoadedContact)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT id, data, packed FROM contacts WHERE merged_into IS NULL").db()?;
        let mut rows = stmt.query([]).db()?;
        kairos_store::packed::decode_contacts_beside(
            &mut |row| {
                while let Some(r) = rows.next().db()? {
                    // Borrowed from the row: only what the load keeps is copied (the packed bytes, or the JSON
                    // when they do not verify).
                    let json = r.get_ref(1).db()?.as_bytes().map_err(|e| corrupt("contact", e))?;
                    let packed = r.get_ref(2).db()?.as_blob_or_null().map_err(|e| corrupt("contact", e))?;
                    row(ContactRow::of(ContactId(r.get(0).db()?), json, packed)?)?;
                }
                Ok(())
            },
            f,
        )
    }

    fn merged_contacts(&mut self, f: &mut dyn FnMut(ContactId, ContactId)) -> Result<()> {
        let mut stmt = self.conn.prepare("SELECT id, merged_into FROM contacts WHERE merged_into IS NOT NULL").db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            f(ContactId(r.get(0).db()?), ContactId(r.get(1).db()?));
        }
        Ok(())
    }

    fn lookup_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<Option<ContactId>> {
        // A kept binding names a live contact: a merge writes the kept ones first (`crate::bindings`).
        if let Some(c) = self.bindings.get(ws, kind, value) {
            return Ok(Some(c));
        }
        // A new shopper's identities: no descent of the table (`crate::known`).
        if !self.known.may_hold(ws, kind, value) {
            return Ok(None);
        }
        // Identity rows are not rewritten on merge: follow the (flattened) merge pointer instead.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(c.merged_into, i.contact_id) FROM identities i LEFT JOIN contacts c ON c.id = i.contact_id
                 WHERE i.workspace_id = ?1 AND i.kind = ?2 AND i.value = ?3",
            )
            .db()?;
        Ok(stmt.query_row(params![ws.0, kind.code(), value], |r| r.get(0)).optional().db()?.map(ContactId))
    }

    fn set_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str, contact: ContactId) -> Result<()> {
        self.known.add(ws, kind, value);
        let mut stmt = self.conn.prepare_cached(crate::bindings::UPSERT_IDENTITY).db()?;
        stmt.execute(params![ws.0, kind.code(), value, contact.0]).db()?;
        Ok(())
    }

    fn bind_identity_later(
        &mut self,
        ws: WorkspaceId,
        kind: IdentityKind,
        value: &str,
        contact: ContactId,
    ) -> Result<()> {
        self.keeps_rows = true;
        let last = match self.last_seq {
            Some(s) => s,
            None => self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0)).db()?,
        };
        self.last_seq = Some(last);
        self.known.add(ws, kind, value);
        self.bindings.bind(ws, kind, value, contact, last);
        Ok(())
    }

    fn identities_waiting(&self) -> usize {
        self.bindings.len()
    }

    fn write_identities(&mut self) -> Result<()> {
        self.bindings.write(&self.conn)
    }

    fn remove_identity(&mut self, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Result<()> {
        self.bindings.remove(ws, kind, value);
        self.conn
            .prepare_cached("DELETE FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")
            .db()?
            .execute(params![ws.0, kind.code(), value])
            .db()?;
        Ok(())
    }
}

impl SqliteReader<'_> {
    fn resolve_merged(&self, id: ContactId) -> Result<Option<(i64, Option<i64>, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT workspace_id, merged_into, data FROM contacts WHERE id = ?1").db()?;
        stmt.query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional().db()
    }
}

fn parse_contacts(rows: &[String]) -> Result<Vec<Contact>> {
    rows.iter().map(|d| serde_json::from_str(d).map_err(|e| corrupt("contact", e))).collect()
}

impl ContactReads for SqliteReader<'_> {
    fn contact(&self, ws: WorkspaceId, id: ContactId) -> Result<Option<Contact>> {
        let mut id = id;
        for _ in 0..MERGE_HOPS_MAX {
            match self.resolve_merged(id)? {
                Some((row_ws, _, _)) if row_ws != ws.0 => return Ok(None),
                Some((_, Some(survivor), _)) => id = ContactId(survivor),
                Some((_, None, data)) => {
                    return Ok(Some(serde_json::from_str(&data).map_err(|e| corrupt("contact", e))?));
                }
                None => return Ok(None),
            }
        }
        Err(corrupt("contact", "merge chain too long"))
    }

    fn contacts(&self, ws: WorkspaceId, cursor: Option<&str>, limit: usize) -> Result<Page<Contact>> {
        let before = cursor_number(cursor, i64::MAX)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT data FROM contacts WHERE workspace_id = ?1 AND id < ?2 AND merged_into IS NULL
                 ORDER BY id DESC LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(params![ws.0, before, (limit + 1) as i64], |r| r.get::<_, String>(0))
            .db()?
            .collect::<Result<Vec<_>, _>>()
            .db()?;
        let items = parse_contacts(&rows)?;
        Ok(Page::from_rows(items, limit, |c| c.id.0.to_string()))
    }

    fn search_contacts(&self, ws: WorkspaceId, q: &str, limit: usize) -> Result<Vec<Contact>> {
        let (needle, pattern) = search_pattern(q);
        // LIKE narrows the rows (ASCII case-insensitive over the stored JSON); the fields are checked after.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT data FROM contacts WHERE workspace_id = ?1 AND merged_into IS NULL AND data LIKE ?2 ESCAPE '!'
                 ORDER BY id DESC LIMIT ?3",
            )
            .db()?;
        let rows = stmt.query_map(params![ws.0, pattern, SEARCH_ROWS_MAX], |r| r.get::<_, String>(0)).db()?;
        let mut out = Vec::new();
        for d in rows {
            let c: Contact = serde_json::from_str(&d.db()?).map_err(|e| corrupt("contact", e))?;
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
        // The committer's bindings not yet in the table first (`crate::bindings`): once removed from there, the
        // table has them, for a statement that starts after.
        if let Some(id) = self.conn.pool().bindings.get(ws, kind, value) {
            return self.contact(ws, id);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT contact_id FROM identities WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3")
            .db()?;
        let id: Option<i64> = stmt.query_row(params![ws.0, kind.code(), value], |r| r.get(0)).optional().db()?;
        match id {
            Some(id) => self.contact(ws, ContactId(id)),
            None => Ok(None),
        }
    }
}
