//! Flows, flow versions, runs, per-step counters and team tasks.

use kairos_domain::{ContactId, RunEnd, RunStatus, Timestamp, WorkspaceId};
use kairos_store::read::FlowReads;
use kairos_store::write::FlowWrites;
use kairos_store::{DueRun, FlowStats, Result, RunEntry, StoredFlow, StoredRun, Task};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{FLOW_COLUMNS, RUN_COLUMNS, flow_row, run_row};
use crate::{Db, SqliteReader, SqliteWriter};

/// Tasks listed at most.
const TASKS_LISTED_MAX: i64 = 1_000;

impl FlowWrites for SqliteWriter {
    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64> {
        let row: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO flows (public_id, workspace_id, name, status, version, definition, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                     version = excluded.version, definition = excluded.definition, updated_at = excluded.updated_at
                 RETURNING id",
            )
            .db()?
            .query_row(
                params![
                    f.public_id,
                    f.workspace.0,
                    f.name,
                    f.status.as_str(),
                    f.version,
                    f.definition,
                    f.created_at.as_micros(),
                    f.updated_at.as_micros()
                ],
                |r| r.get(0),
            )
            .db()?;
        self.conn
            .prepare_cached(
                "INSERT INTO flow_versions (flow_id, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )
            .db()?
            .execute(params![row, f.version, f.definition, f.updated_at.as_micros()])
            .db()?;
        Ok(row)
    }

    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        flow(&self.conn, ws, public_id)
    }

    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT definition FROM flow_versions WHERE flow_id = ?1 AND version = ?2")
            .db()?;
        stmt.query_row(params![flow_row, version], |r| r.get(0)).optional().db()
    }

    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT public_id FROM flows WHERE id = ?1").db()?;
        stmt.query_row([flow_row], |r| r.get(0)).optional().db()
    }

    fn active_flows(&mut self) -> Result<Vec<StoredFlow>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE status = 'active' ORDER BY id")).db()?;
        let rows = stmt.query_map([], flow_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn save_run(&mut self, r: &StoredRun) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO flow_runs (id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status,
                     end_reason, entered_at, updated_at, trigger, listening)
                 VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id, step = excluded.step,
                     due_at = excluded.due_at, status = excluded.status, end_reason = excluded.end_reason,
                     updated_at = excluded.updated_at, trigger = excluded.trigger, listening = excluded.listening
                 RETURNING id",
            )
            .db()?;
        stmt.query_row(
            params![
                r.id,
                r.flow_row,
                r.version,
                r.workspace.0,
                r.contact.0,
                r.key,
                r.step,
                r.due_at.map(Timestamp::as_micros),
                r.status.as_str(),
                r.end_reason.map(|e| e.as_str()),
                r.entered_at.as_micros(),
                r.updated_at.as_micros(),
                r.trigger,
                r.listening
            ],
            |row| row.get(0),
        )
        .db()
    }

    fn update_runs(&mut self, runs: &[StoredRun]) -> Result<()> {
        // One prepared statement per row: in-process, SQLite's cost is the B-tree work, not the statement. The
        // contact is set apart, only when it changed (a merge): an assigned column costs a delete and an insert in
        // each index holding it (three hold `contact_id`), even when its value stays.
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE flow_runs SET step = ?2, due_at = ?3, status = ?4, end_reason = ?5, updated_at = ?6,
                     trigger = ?7, listening = ?8
                 WHERE id = ?1",
            )
            .db()?;
        for r in runs {
            stmt.execute(params![
                r.id,
                r.step,
                r.due_at.map(Timestamp::as_micros),
                r.status.as_str(),
                r.end_reason.map(|e| e.as_str()),
                r.updated_at.as_micros(),
                r.trigger,
                r.listening
            ])
            .db()?;
        }
        let mut moved =
            self.conn.prepare_cached("UPDATE flow_runs SET contact_id = ?2 WHERE id = ?1 AND contact_id <> ?2").db()?;
        for r in runs {
            moved.execute(params![r.id, r.contact.0]).db()?;
        }
        Ok(())
    }

    fn runs_by_id(&mut self, ids: &[i64]) -> Result<Vec<StoredRun>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM flow_runs WHERE id = ?1")).db()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = stmt.query_row([id], run_row).optional().db()? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn due_runs(&mut self, after: (Timestamp, i64), until: Timestamp, limit: usize) -> Result<Vec<DueRun>> {
        // `flow_runs_due` holds exactly these rows in this order (a partial index: the query repeats its terms).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT due_at, id, flow_id FROM flow_runs
                 WHERE status = 'active' AND due_at IS NOT NULL AND (due_at, id) > (?1, ?2) AND due_at <= ?3
                 ORDER BY due_at, id LIMIT ?4",
            )
            .db()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![after.0.as_micros(), after.1, until.as_micros(), limit], |r| {
                Ok(DueRun { due_at: Timestamp::from_micros(r.get(0)?), id: r.get(1)?, flow_row: r.get(2)? })
            })
            .db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn listening_runs(&mut self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<StoredRun>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM flow_runs
                 WHERE workspace_id = ?1 AND contact_id = ?2 AND status = 'active' AND listening = 1 ORDER BY id"
            ))
            .db()?;
        let rows = stmt.query_map(params![ws.0, contact.0], run_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn listening_contacts(&mut self, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        let mut stmt =
            self.conn.prepare("SELECT contact_id FROM flow_runs WHERE status = 'active' AND listening = 1").db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(r) = rows.next().db()? {
            f(ContactId(r.get(0).db()?));
        }
        Ok(())
    }

    fn active_runs_of(&mut self, contact: ContactId) -> Result<Vec<StoredRun>> {
        active_runs(&self.conn, contact)
    }

    fn run_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<RunEntry> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT MAX(entered_at), COALESCE(MAX(status = 'active'), 0) FROM flow_runs
                 WHERE flow_id = ?1 AND contact_id = ?2 AND run_key = ?3",
            )
            .db()?;
        let (last, active): (Option<i64>, bool) =
            stmt.query_row(params![flow_row, contact.0, key], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
        Ok(RunEntry { active, last_entered: last.map(Timestamp::from_micros) })
    }

    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()> {
        self.count_step_by(flow_row, step, counter, 1)
    }

    fn count_step_by(&mut self, flow_row: i64, step: &str, counter: &str, n: u64) -> Result<()> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT INTO flow_step_counts (flow_id, step, counter, n) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (flow_id, step, counter) DO UPDATE SET n = n + excluded.n",
            )
            .db()?
            .execute(params![flow_row, step, counter, n])
            .db()?;
        Ok(())
    }

    fn insert_task(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        flow_id: &str,
        message: &str,
        at: Timestamp,
    ) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO tasks (workspace_id, contact_id, flow_id, message, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'open', ?5)",
            )
            .db()?
            .execute(params![ws.0, contact.0, flow_id, message, at.as_micros()])
            .db()?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_task(
        &mut self,
        ws: WorkspaceId,
        id: i64,
        assignee: Option<Option<&str>>,
        done: Option<bool>,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE tasks SET
                     assignee = CASE WHEN ?3 THEN ?4 ELSE assignee END,
                     status = CASE WHEN ?5 IS NULL THEN status WHEN ?5 THEN 'done' ELSE 'open' END,
                     closed_at = CASE WHEN ?5 IS NULL THEN closed_at WHEN ?5 THEN COALESCE(closed_at, ?6) ELSE NULL END
                 WHERE workspace_id = ?1 AND id = ?2",
            )
            .db()?
            .execute(params![ws.0, id, assignee.is_some(), assignee.flatten(), done, at.as_micros()])
            .db()?;
        Ok(n > 0)
    }
}

/// A contact's active runs, by id (the committer's and a read view's).
fn active_runs(conn: &Connection, contact: ContactId) -> Result<Vec<StoredRun>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE contact_id = ?1 AND status = 'active' ORDER BY id"
        ))
        .db()?;
    let rows = stmt.query_map([contact.0], run_row).db()?;
    rows.collect::<Result<Vec<_>, _>>().db()
}

fn flow(conn: &Connection, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE workspace_id = ?1 AND public_id = ?2"))
        .db()?;
    stmt.query_row(params![ws.0, public_id], flow_row).optional().db()
}

impl FlowReads for SqliteReader<'_> {
    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE workspace_id = ?1 ORDER BY id"))
            .db()?;
        let rows = stmt.query_map([ws.0], flow_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn flow(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        flow(&self.conn, ws, public_id)
    }

    fn contact_runs(&self, contact: ContactId) -> Result<Vec<StoredRun>> {
        active_runs(&self.conn, contact)
    }

    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats> {
        let mut out = FlowStats::default();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, COALESCE(end_reason, ''), COUNT(*) FROM flow_runs WHERE flow_id = ?1 GROUP BY 1, 2",
            )
            .db()?;
        let rows = stmt
            .query_map([flow_row], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
            .db()?;
        for row in rows {
            let (status, reason, n) = row.db()?;
            out.entered += n as u64;
            if RunStatus::parse(&status) == Some(RunStatus::Active) {
                out.active += n as u64;
            } else {
                *out.exited.entry(reason.clone()).or_default() += n as u64;
                if RunEnd::parse(&reason) == Some(RunEnd::Goal) {
                    out.converted += n as u64;
                }
            }
        }
        let mut stmt =
            self.conn.prepare_cached("SELECT step, counter, n FROM flow_step_counts WHERE flow_id = ?1").db()?;
        let rows = stmt
            .query_map([flow_row], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
            .db()?;
        for row in rows {
            let (step, counter, n) = row.db()?;
            out.steps.entry(step).or_default().insert(counter, n as u64);
        }
        Ok(out)
    }

    fn tasks(&self, ws: WorkspaceId, status: Option<&str>) -> Result<Vec<Task>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, contact_id, flow_id, message, status, created_at, assignee, closed_at FROM tasks
                 WHERE workspace_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT ?3",
            )
            .db()?;
        let rows = stmt.query_map(params![ws.0, status, TASKS_LISTED_MAX], task_row).db()?;
        rows.collect::<Result<Vec<_>, _>>().db()
    }

    fn task(&self, ws: WorkspaceId, id: i64) -> Result<Option<Task>> {
        self.conn
            .prepare_cached(
                "SELECT id, contact_id, flow_id, message, status, created_at, assignee, closed_at FROM tasks
                 WHERE workspace_id = ?1 AND id = ?2",
            )
            .db()?
            .query_row(params![ws.0, id], task_row)
            .optional()
            .db()
    }
}

fn task_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        contact: ContactId(r.get(1)?),
        flow_id: r.get(2)?,
        message: r.get(3)?,
        status: r.get(4)?,
        created_at: Timestamp::from_micros(r.get(5)?),
        assignee: r.get(6)?,
        closed_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_micros),
    })
}
