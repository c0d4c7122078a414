//! Whole tables in key order, and inserts that leave existing keys alone, for `kairos migrate`
//! (`kairos_store::copy`).

use kairos_store::copy::{Cell, ColType, Row, RowCopy, Table};
use kairos_store::{Result, StoreError};
use rusqlite::types::{Value, ValueRef};

use crate::{Db, SqliteStore};

/// A copy session: one connection for reads and writes.
pub(crate) struct SqliteCopy {
    conn: rusqlite::Connection,
}

impl SqliteStore {
    pub(crate) fn copy_session(&self) -> Result<SqliteCopy> {
        Ok(SqliteCopy { conn: self.connect(false)? })
    }
}

/// A logical column's name here: the creation order PostgreSQL keeps in `messages.seq` is SQLite's rowid.
fn sql_name(t: &Table, column: &'static str) -> &'static str {
    if t.name == "messages" && column == "seq" { "rowid" } else { column }
}

fn columns(t: &Table) -> String {
    t.columns.iter().map(|(c, _)| sql_name(t, c)).collect::<Vec<_>>().join(", ")
}

/// `(a, b) > (?1, ?2)`: rows after a key, in both the one- and many-column case.
fn after_clause(t: &Table) -> String {
    let params: Vec<String> = (1..=t.key.len()).map(|i| format!("?{i}")).collect();
    format!("({}) > ({})", t.key.join(", "), params.join(", "))
}

fn to_sql(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::Integer(*i),
        Cell::Text(s) => Value::Text(s.clone()),
        Cell::Bytes(b) => Value::Blob(b.clone()),
        Cell::Bool(b) => Value::Integer(i64::from(*b)),
    }
}

fn from_sql(t: &Table, col: usize, v: ValueRef<'_>) -> Result<Cell> {
    let ty = t.columns[col].1;
    let bad = || StoreError::corrupt(t.name, format!("column {} does not hold {ty:?}", t.columns[col].0));
    Ok(match (v, ty) {
        (ValueRef::Null, _) => Cell::Null,
        (ValueRef::Integer(i), ColType::Int) => Cell::Int(i),
        (ValueRef::Integer(i), ColType::Bool) => Cell::Bool(i != 0),
        (ValueRef::Text(s), ColType::Text) => Cell::Text(String::from_utf8(s.to_vec()).map_err(|_| bad())?),
        (ValueRef::Blob(b), ColType::Bytes) => Cell::Bytes(b.to_vec()),
        _ => return Err(bad()),
    })
}

impl RowCopy for SqliteCopy {
    fn not_ready(&self) -> Result<Option<String>> {
        let waiting: i64 = self.conn.query_row("SELECT COUNT(*) FROM replay_from", [], |r| r.get(0)).db()?;
        Ok((waiting > 0).then(|| {
            "Kairos stopped without writing every contact profile (a crash or a kill); start `kairos serve` on \
             this data directory once and stop it, which completes them, then migrate"
                .to_string()
        }))
    }

    fn count(&self, t: &Table) -> Result<u64> {
        let n: i64 = self.conn.query_row(&format!("SELECT COUNT(*) FROM {}", t.name), [], |r| r.get(0)).db()?;
        Ok(n as u64)
    }

    fn read_page(&self, t: &Table, after: Option<&[Cell]>, limit: usize) -> Result<Vec<Row>> {
        let order = t.key.join(", ");
        let (sql, params): (String, Vec<Value>) = match after {
            None => (format!("SELECT {} FROM {} ORDER BY {order} LIMIT {limit}", columns(t), t.name), Vec::new()),
            Some(key) => (
                format!(
                    "SELECT {} FROM {} WHERE {} ORDER BY {order} LIMIT {limit}",
                    columns(t),
                    t.name,
                    after_clause(t)
                ),
                key.iter().map(to_sql).collect(),
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql).db()?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).db()?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().db()? {
            out.push((0..t.columns.len()).map(|i| from_sql(t, i, r.get_ref(i).db()?)).collect::<Result<Row>>()?);
        }
        Ok(out)
    }

    fn insert_rows(&self, t: &Table, rows: &[Row]) -> Result<()> {
        let params: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!("INSERT OR IGNORE INTO {} ({}) VALUES ({})", t.name, columns(t), params.join(", "));
        let tx = self.conn.unchecked_transaction().db()?;
        {
            let mut stmt = tx.prepare_cached(&sql).db()?;
            for row in rows {
                stmt.execute(rusqlite::params_from_iter(row.iter().map(to_sql))).db()?;
            }
        }
        tx.commit().db()
    }

    fn finish_copy(&self) -> Result<()> {
        // Generated ids continue after the largest one stored (INTEGER PRIMARY KEY): nothing to move. The lists
        // of each contact's events and the runs of events by day and by name are this backend's own (not in the
        // logical schema): built from the copied log.
        let tx = self.conn.unchecked_transaction().db()?;
        crate::contact_events::rebuild(&tx)?;
        crate::event_keys::refile(&tx)?;
        tx.commit().db()
    }
}

#[cfg(test)]
mod tests {
    use kairos_store::copy::TABLES;

    use super::*;

    /// The logical schema of `kairos_store::copy` is this database's: same tables, columns and types.
    #[test]
    fn the_database_matches_the_logical_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.connect(true).unwrap();
        let mut tables: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', {})",
                crate::contact_events::OWN_TABLES
                    .iter()
                    .chain(crate::event_keys::OWN_TABLES)
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.sort();
        let mut listed: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        listed.sort_unstable();
        assert_eq!(tables, listed);
        for t in TABLES {
            let cols: Vec<(String, String)> = conn
                .prepare(&format!(
                    "SELECT name, type FROM pragma_table_info('{}') WHERE NOT ('{}', name) IN (VALUES {}) ORDER BY cid",
                    t.name,
                    t.name,
                    crate::contact_events::OWN_COLUMNS
                        .iter()
                        .map(|(t, c)| format!("('{t}', '{c}')"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let want: Vec<(String, String)> = t
                .columns
                .iter()
                .filter(|(c, _)| sql_name(t, c) != "rowid")
                .map(|(c, ty)| {
                    let sql = match ty {
                        ColType::Int | ColType::Bool => "INTEGER",
                        ColType::Text => "TEXT",
                        ColType::Bytes => "BLOB",
                    };
                    (c.to_string(), sql.to_string())
                })
                .collect();
            assert_eq!(cols, want, "{}", t.name);
        }
    }
}
