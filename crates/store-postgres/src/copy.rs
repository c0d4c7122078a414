//! Whole tables in key order, and inserts that leave existing keys alone, for `kairos migrate`
//! (`kairos_store::copy`).

use std::cell::RefCell;

use kairos_store::copy::{Cell, ColType, Row, RowCopy, TABLES, Table};
use kairos_store::{Result, StoreError};
use postgres::types::ToSql;

use crate::conn::Conn;
use crate::{PgStore, get};

/// Most parameters one statement may carry (PostgreSQL's protocol limit is 65 535).
const STATEMENT_PARAMS_MAX: usize = 60_000;

/// A copy session: one connection for reads and writes.
pub(crate) struct PgCopy {
    conn: RefCell<Conn>,
}

impl PgStore {
    pub(crate) fn copy_session(&self) -> Result<PgCopy> {
        Ok(PgCopy { conn: RefCell::new(Conn::connect(&self.config)?) })
    }
}

fn columns(t: &Table) -> String {
    t.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
}

/// A cell as a parameter of the column's type (a NULL too: PostgreSQL checks the type of every parameter).
fn param(c: &Cell, ty: ColType) -> Box<dyn ToSql + Sync> {
    match (c, ty) {
        (Cell::Int(i), _) => Box::new(*i),
        (Cell::Text(s), _) => Box::new(s.clone()),
        (Cell::Bytes(b), _) => Box::new(b.clone()),
        (Cell::Bool(b), _) => Box::new(*b),
        (Cell::Null, ColType::Int) => Box::new(None::<i64>),
        (Cell::Null, ColType::Text) => Box::new(None::<String>),
        (Cell::Null, ColType::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, ColType::Bool) => Box::new(None::<bool>),
    }
}

fn cell(row: &postgres::Row, i: usize, ty: ColType) -> Result<Cell> {
    Ok(match ty {
        ColType::Int => get::<Option<i64>>(row, i)?.map_or(Cell::Null, Cell::Int),
        ColType::Text => get::<Option<String>>(row, i)?.map_or(Cell::Null, Cell::Text),
        ColType::Bytes => get::<Option<Vec<u8>>>(row, i)?.map_or(Cell::Null, Cell::Bytes),
        ColType::Bool => get::<Option<bool>>(row, i)?.map_or(Cell::Null, Cell::Bool),
    })
}

impl RowCopy for PgCopy {
    fn count(&self, t: &Table) -> Result<u64> {
        let row = self.conn.borrow_mut().query_one_dyn(&format!("SELECT COUNT(*) FROM {}", t.name), &[])?;
        Ok(get::<i64>(&row, 0)? as u64)
    }

    fn read_page(&self, t: &Table, after: Option<&[Cell]>, limit: usize) -> Result<Vec<Row>> {
        let order = t.key.join(", ");
        let key_types: Vec<ColType> = t.key_positions().iter().map(|&i| t.columns[i].1).collect();
        let (sql, params): (String, Vec<Box<dyn ToSql + Sync>>) = match after {
            None => (format!("SELECT {} FROM {} ORDER BY {order} LIMIT {limit}", columns(t), t.name), Vec::new()),
            Some(key) => {
                let marks: Vec<String> = (1..=key.len()).map(|i| format!("${i}")).collect();
                (
                    format!(
                        "SELECT {} FROM {} WHERE ({order}) > ({}) ORDER BY {order} LIMIT {limit}",
                        columns(t),
                        t.name,
                        marks.join(", ")
                    ),
                    key.iter().zip(&key_types).map(|(c, ty)| param(c, *ty)).collect(),
                )
            }
        };
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
        let rows = self.conn.borrow_mut().query_dyn(&sql, &refs)?;
        rows.iter()
            .map(|r| t.columns.iter().enumerate().map(|(i, (_, ty))| cell(r, i, *ty)).collect::<Result<Row>>())
            .collect()
    }

    fn insert_rows(&self, t: &Table, rows: &[Row]) -> Result<()> {
        let mut conn = self.conn.borrow_mut();
        conn.batch("BEGIN")?;
        let per_statement = (STATEMENT_PARAMS_MAX / t.columns.len()).max(1);
        let result = rows.chunks(per_statement).try_for_each(|chunk| {
            let mut values = Vec::with_capacity(chunk.len());
            let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(chunk.len() * t.columns.len());
            for row in chunk {
                if row.len() != t.columns.len() {
                    return Err(StoreError::corrupt(t.name, "a row with the wrong number of columns"));
                }
                let marks: Vec<String> = (0..row.len()).map(|i| format!("${}", params.len() + i + 1)).collect();
                values.push(format!("({})", marks.join(", ")));
                params.extend(row.iter().zip(t.columns).map(|(c, (_, ty))| param(c, *ty)));
            }
            let sql =
                format!("INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING", t.name, columns(t), values.join(", "));
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
            conn.execute_dyn(&sql, &refs).map(|_| ())
        });
        match result {
            Ok(()) => conn.batch("COMMIT"),
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn finish_copy(&self) -> Result<()> {
        let mut conn = self.conn.borrow_mut();
        for t in TABLES {
            if let Some(col) = t.generated {
                // The next generated id comes after the largest copied one.
                conn.execute_dyn(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), COALESCE(MAX({col}), 0) + 1, false) \
                         FROM {0}",
                        t.name
                    ),
                    &[],
                )?;
            }
        }
        Ok(())
    }
}
