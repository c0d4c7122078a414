//! Copying a whole store from one backend to another (`kairos migrate`, issue 12): the logical schema both
//! backends share (every table, its columns with their types, and its key), a backend-neutral cell, and the
//! trait each backend implements to page through a table in key order and to insert rows it does not have yet.
//!
//! Both backends keep the same tables and columns (their migrations differ only in types: SQLite stores flags as
//! 0/1 integers, PostgreSQL as booleans); each backend's tests check that its database matches [`TABLES`], so a
//! migration that adds a column without adding it here fails there.

use sha2::{Digest, Sha256};

use crate::Result;

/// What a column holds, in both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bytes,
    Bool,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// A table of the logical schema.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Every column, in order.
    pub columns: &'static [(&'static str, ColType)],
    /// The key columns: unique, and the order rows are paged and checksummed in.
    pub key: &'static [&'static str],
    /// The column a backend generates (identity, or SQLite's rowid): its counter must move past the copied rows.
    pub generated: Option<&'static str>,
}

impl Table {
    /// Positions of the key columns in a row.
    pub fn key_positions(&self) -> Vec<usize> {
        self.key.iter().map(|k| self.columns.iter().position(|(c, _)| c == k).expect("key column listed")).collect()
    }
}

use ColType::{Bool, Bytes, Int, Text};

/// Every table, parents before children (workspaces first), so a partial copy never holds a row whose parent is
/// missing.
pub const TABLES: &[Table] = &[
    Table {
        name: "workspaces",
        columns: &[("id", Int), ("public_id", Text), ("name", Text), ("settings", Text), ("created_at", Int)],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "api_keys",
        columns: &[("key_hash", Bytes), ("workspace_id", Int), ("kind", Text), ("created_at", Int)],
        key: &["key_hash"],
        generated: None,
    },
    Table {
        name: "users",
        columns: &[("id", Int), ("workspace_id", Int), ("email", Text), ("password_hash", Text), ("created_at", Int)],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Bytes),
            ("user_id", Int),
            ("workspace_id", Int),
            ("csrf", Text),
            ("created_at", Int),
            ("expires_at", Int),
        ],
        key: &["token_hash"],
        generated: None,
    },
    Table {
        name: "secrets",
        columns: &[("name", Text), ("sealed", Bytes), ("created_at", Int), ("updated_at", Int)],
        key: &["name"],
        generated: None,
    },
    Table {
        name: "erasures",
        columns: &[("workspace_id", Int), ("hash", Bytes), ("erased_at", Int)],
        key: &["workspace_id", "hash"],
        generated: None,
    },
    Table {
        name: "sync_state",
        columns: &[("workspace_id", Int), ("name", Text), ("value", Text), ("updated_at", Int)],
        key: &["workspace_id", "name"],
        generated: None,
    },
    Table {
        name: "site_items",
        columns: &[
            ("id", Text),
            ("workspace_id", Int),
            ("data", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("kind", Text),
        ],
        key: &["id"],
        generated: None,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("subject", Text),
            ("detail", Text),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "contacts",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("merged_into", Int),
            ("data", Text),
            ("updated_at", Int),
            ("first_order_at", Int),
            ("email_consent", Text),
            ("email_consent_at", Int),
            ("sms_consent", Text),
            ("sms_consent_at", Int),
            ("packed", Bytes),
        ],
        key: &["id"],
        generated: None,
    },
    Table {
        name: "identities",
        columns: &[("workspace_id", Int), ("kind", Int), ("value", Text), ("contact_id", Int)],
        key: &["workspace_id", "kind", "value"],
        generated: None,
    },
    Table {
        name: "events",
        columns: &[
            ("seq", Int),
            ("workspace_id", Int),
            ("contact_id", Int),
            ("message_id", Text),
            ("kind", Text),
            ("name", Text),
            ("ts", Int),
            ("received_at", Int),
            ("data", Text),
            ("system", Bool),
        ],
        key: &["seq"],
        generated: None,
    },
    Table {
        name: "event_messages",
        columns: &[
            ("seq", Int),
            ("message_id", Text),
            ("flow_id", Text),
            ("step_id", Text),
            ("campaign_id", Text),
            ("channel", Text),
            ("machine", Bool),
        ],
        key: &["seq"],
        generated: None,
    },
    Table {
        name: "products",
        columns: &[("workspace_id", Int), ("id", Text), ("data", Text), ("updated_at", Int)],
        key: &["workspace_id", "id"],
        generated: None,
    },
    Table {
        name: "segments",
        columns: &[
            ("id", Int),
            ("public_id", Text),
            ("workspace_id", Int),
            ("name", Text),
            ("definition", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("deleted", Bool),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "segment_members",
        columns: &[("segment_id", Int), ("contact_id", Int), ("entered_at", Int)],
        key: &["segment_id", "contact_id"],
        generated: None,
    },
    Table {
        name: "segment_sizes",
        columns: &[("segment_id", Int), ("at", Int), ("size", Int)],
        key: &["segment_id", "at"],
        generated: None,
    },
    Table {
        name: "templates",
        columns: &[
            ("workspace_id", Int),
            ("id", Text),
            ("version", Int),
            ("data", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("channel", Text),
        ],
        key: &["workspace_id", "id"],
        generated: None,
    },
    Table {
        name: "template_versions",
        columns: &[("workspace_id", Int), ("id", Text), ("version", Int), ("data", Text), ("created_at", Int)],
        key: &["workspace_id", "id", "version"],
        generated: None,
    },
    Table {
        name: "flows",
        columns: &[
            ("id", Int),
            ("public_id", Text),
            ("workspace_id", Int),
            ("name", Text),
            ("status", Text),
            ("version", Int),
            ("definition", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "flow_versions",
        columns: &[("flow_id", Int), ("version", Int), ("definition", Text), ("created_at", Int)],
        key: &["flow_id", "version"],
        generated: None,
    },
    Table {
        name: "flow_runs",
        columns: &[
            ("id", Int),
            ("flow_id", Int),
            ("version", Int),
            ("workspace_id", Int),
            ("contact_id", Int),
            ("run_key", Text),
            ("step", Text),
            ("due_at", Int),
            ("status", Text),
            ("end_reason", Text),
            ("entered_at", Int),
            ("updated_at", Int),
            ("trigger", Text),
            ("listening", Bool),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "flow_step_counts",
        columns: &[("flow_id", Int), ("step", Text), ("counter", Text), ("n", Int)],
        key: &["flow_id", "step", "counter"],
        generated: None,
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Text),
            ("workspace_id", Int),
            ("contact_id", Int),
            ("channel", Text),
            ("to_addr", Text),
            ("flow_id", Text),
            ("campaign_id", Text),
            ("step_id", Text),
            ("status", Text),
            ("data", Text),
            ("created_at", Int),
            ("variant", Int),
            ("opens", Int),
            ("clicks", Int),
            ("statuses", Text),
            ("subject_variant", Int),
            // Creation order (listings and their cursors): PostgreSQL's identity column, SQLite's rowid.
            ("seq", Int),
        ],
        key: &["id"],
        generated: Some("seq"),
    },
    Table {
        name: "tasks",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("contact_id", Int),
            ("flow_id", Text),
            ("message", Text),
            ("status", Text),
            ("created_at", Int),
            ("assignee", Text),
            ("closed_at", Int),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "suppressions",
        columns: &[("workspace_id", Int), ("channel", Text), ("address", Text), ("reason", Text), ("created_at", Int)],
        key: &["workspace_id", "channel", "address"],
        generated: None,
    },
    Table {
        name: "provider_ids",
        columns: &[("provider_id", Text), ("message_id", Text)],
        key: &["provider_id"],
        generated: None,
    },
    Table {
        name: "campaigns",
        columns: &[
            ("id", Int),
            ("public_id", Text),
            ("workspace_id", Int),
            ("name", Text),
            ("status", Text),
            ("definition", Text),
            ("state", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["id"],
        generated: Some("id"),
    },
    Table {
        name: "campaign_recipients",
        columns: &[("campaign_id", Int), ("contact_id", Int), ("due_at", Int), ("variant", Int), ("done", Bool)],
        key: &["campaign_id", "contact_id"],
        generated: None,
    },
    Table {
        name: "coupon_pools",
        columns: &[("workspace_id", Int), ("id", Text), ("data", Text), ("created_at", Int)],
        key: &["workspace_id", "id"],
        generated: None,
    },
    Table {
        name: "coupon_codes",
        columns: &[
            ("workspace_id", Int),
            ("code", Text),
            ("pool_id", Text),
            ("contact_id", Int),
            ("issued_at", Int),
            ("redeemed_at", Int),
            ("order_id", Text),
        ],
        key: &["workspace_id", "code", "contact_id"],
        generated: None,
    },
];

/// Rows read from or written to a table: cells in the table's column order.
pub type Row = Vec<Cell>;

/// What a backend offers `kairos migrate`.
pub trait RowCopy {
    /// Why this store cannot be copied as it is (None: it can). SQLite: contact rows a crash left unwritten
    /// (they are rebuilt by the next start of Kairos on it).
    fn not_ready(&self) -> Result<Option<String>> {
        Ok(None)
    }
    /// How many rows `table` holds.
    fn count(&self, table: &Table) -> Result<u64>;
    /// Up to `limit` rows of `table` whose key comes after `after` (None: from the start), in key order.
    fn read_page(&self, table: &Table, after: Option<&[Cell]>, limit: usize) -> Result<Vec<Row>>;
    /// Inserts rows, leaving alone those whose key is already there (a second run changes nothing); one
    /// transaction per call.
    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<()>;
    /// After a copy: moves the generated-id counters past the copied rows.
    fn finish_copy(&self) -> Result<()>;
}

/// The row count and a checksum (SHA-256 over every row in key order) of a table, as `kairos migrate` verifies
/// both sides; `progress` is told how many rows were read.
pub fn table_digest(
    src: &dyn RowCopy,
    table: &Table,
    page: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, [u8; 32])> {
    let keys = table.key_positions();
    let mut hash = Sha256::new();
    let mut count = 0u64;
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let rows = src.read_page(table, after.as_deref(), page)?;
        for row in &rows {
            encode_row(row, &mut hash);
        }
        count += rows.len() as u64;
        progress(rows.len() as u64);
        match rows.last() {
            Some(last) if rows.len() == page => after = Some(keys.iter().map(|&i| last[i].clone()).collect()),
            _ => return Ok((count, hash.finalize().into())),
        }
    }
}

/// An unambiguous encoding of a row (type tag, length, bytes), for checksums.
fn encode_row(row: &[Cell], hash: &mut Sha256) {
    for cell in row {
        match cell {
            Cell::Null => hash.update([0]),
            Cell::Int(i) => {
                hash.update([1]);
                hash.update(i.to_be_bytes());
            }
            Cell::Text(s) => {
                hash.update([2]);
                hash.update((s.len() as u64).to_be_bytes());
                hash.update(s.as_bytes());
            }
            Cell::Bytes(b) => {
                hash.update([3]);
                hash.update((b.len() as u64).to_be_bytes());
                hash.update(b);
            }
            Cell::Bool(b) => hash.update([4, u8::from(*b)]),
        }
    }
    hash.update([0xff]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_its_key_and_generated_columns() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len(), "a table is listed twice");
        for t in TABLES {
            assert_eq!(t.key_positions().len(), t.key.len(), "{}", t.name);
            if let Some(g) = t.generated {
                assert!(t.columns.iter().any(|(c, ty)| *c == g && *ty == Int), "{}: {g} is an integer column", t.name);
            }
        }
    }

    #[test]
    fn the_row_encoding_tells_cells_apart() {
        let digest = |row: Row| {
            let mut h = Sha256::new();
            encode_row(&row, &mut h);
            h.finalize()
        };
        assert_ne!(
            digest(vec![Cell::Text("ab".into()), Cell::Text("c".into())]),
            digest(vec![Cell::Text("a".into()), Cell::Text("bc".into())])
        );
        assert_ne!(digest(vec![Cell::Null]), digest(vec![Cell::Int(0)]));
        assert_ne!(digest(vec![Cell::Bool(false)]), digest(vec![Cell::Int(0)]));
    }
}
