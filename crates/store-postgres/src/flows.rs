//! Flows, flow versions, runs, per-step counters and team tasks.

use kairos_domain::{ContactId, FlowStatus, RunEnd, RunStatus, Timestamp, WorkspaceId};
use kairos_store::read::FlowReads;
use kairos_store::write::FlowWrites;
use kairos_store::{DueRun, FlowStats, Result, RunEntry, StoredFlow, StoredRun, Task};
use postgres::Row;

use crate::conn::Conn;
use crate::rows::wire;
use crate::{PgReader, PgWriter, get};

/// Tasks listed at most.
const TASKS_LISTED_MAX: i64 = 1_000;
/// Runs updated by one statement (arrays of this many rows per column).
const UPDATE_RUNS_MAX: usize = 5_000;

/// The columns of runs to update, one array per column (`UNNEST`).
#[derive(Default)]
struct RunColumns<'a> {
    id: Vec<i64>,
    contact: Vec<i64>,
    step: Vec<Option<&'a str>>,
    due: Vec<Option<i64>>,
    status: Vec<&'static str>,
    end_reason: Vec<Option<&'static str>>,
    updated_at: Vec<i64>,
    trigger: Vec<&'a str>,
    listening: Vec<bool>,
}

impl<'a> RunColumns<'a> {
    fn push(&mut self, r: &'a StoredRun) {
        self.id.push(r.id);
        self.contact.push(r.contact.0);
        self.step.push(r.step.as_deref());
        self.due.push(r.due_at.map(Timestamp::as_micros));
        self.status.push(r.status.as_str());
        self.end_reason.push(r.end_reason.map(|e| e.as_str()));
        self.updated_at.push(r.updated_at.as_micros());
        self.trigger.push(&r.trigger);
        self.listening.push(r.listening);
    }
}

/// The columns [`flow_row`] reads.
macro_rules! flow_columns {
    () => {
        "id, public_id, workspace_id, name, status, version, definition, created_at, updated_at"
    };
}

fn flow_row(r: &Row) -> Result<StoredFlow> {
    Ok(StoredFlow {
        row: get(r, 0)?,
        public_id: get(r, 1)?,
        workspace: WorkspaceId(get(r, 2)?),
        name: get(r, 3)?,
        status: wire(r, 4, FlowStatus::parse)?,
        version: get(r, 5)?,
        definition: get(r, 6)?,
        created_at: Timestamp::from_micros(get(r, 7)?),
        updated_at: Timestamp::from_micros(get(r, 8)?),
    })
}

/// The columns [`run_row`] reads.
macro_rules! run_columns {
    () => {
        "id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status, end_reason, entered_at, \
         updated_at, trigger, listening"
    };
}

fn run_row(r: &Row) -> Result<StoredRun> {
    Ok(StoredRun {
        id: get(r, 0)?,
        flow_row: get(r, 1)?,
        version: get(r, 2)?,
        workspace: WorkspaceId(get(r, 3)?),
        contact: ContactId(get(r, 4)?),
        key: get(r, 5)?,
        step: get(r, 6)?,
        due_at: get::<Option<i64>>(r, 7)?.map(Timestamp::from_micros),
        status: wire(r, 8, RunStatus::parse)?,
        end_reason: get::<Option<&str>>(r, 9)?.and_then(RunEnd::parse),
        entered_at: Timestamp::from_micros(get(r, 10)?),
        updated_at: Timestamp::from_micros(get(r, 11)?),
        trigger: get(r, 12)?,
        listening: get(r, 13)?,
    })
}

impl FlowWrites for PgWriter {
    fn save_flow(&mut self, f: &StoredFlow) -> Result<i64> {
        let row: i64 = get(
            &self.conn.query_one(
                "INSERT INTO flows (public_id, workspace_id, name, status, version, definition, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (public_id) DO UPDATE SET name = excluded.name, status = excluded.status,
                     version = excluded.version, definition = excluded.definition, updated_at = excluded.updated_at
                 RETURNING id",
                &[
                    &f.public_id,
                    &f.workspace.0,
                    &f.name,
                    &f.status.as_str(),
                    &f.version,
                    &f.definition,
                    &f.created_at.as_micros(),
                    &f.updated_at.as_micros(),
                ],
            )?,
            0,
        )?;
        // A version, once saved, keeps its definition (runs started on it continue on it).
        self.conn.execute(
            "INSERT INTO flow_versions (flow_id, version, definition, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&row, &f.version, &f.definition, &f.updated_at.as_micros()],
        )?;
        Ok(row)
    }

    fn flow(&mut self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        flow(&mut self.conn, ws, public_id)
    }

    fn flow_version(&mut self, flow_row: i64, version: i64) -> Result<Option<String>> {
        let row = self.conn.query_opt(
            "SELECT definition FROM flow_versions WHERE flow_id = $1 AND version = $2",
            &[&flow_row, &version],
        )?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn flow_public_id(&mut self, flow_row: i64) -> Result<Option<String>> {
        let row = self.conn.query_opt("SELECT public_id FROM flows WHERE id = $1", &[&flow_row])?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn active_flows(&mut self) -> Result<Vec<StoredFlow>> {
        let rows = self
            .conn
            .query(concat!("SELECT ", flow_columns!(), " FROM flows WHERE status = 'active' ORDER BY id"), &[])?;
        rows.iter().map(flow_row).collect()
    }

    fn save_run(&mut self, r: &StoredRun) -> Result<i64> {
        // Id 0 inserts a new run with the next generated id (an identity column takes no NULL, so the id is drawn
        // from its sequence here); another id updates that run, as the SQLite store's upsert does.
        let row = self.conn.query_one(
            "INSERT INTO flow_runs (id, flow_id, version, workspace_id, contact_id, run_key, step, due_at, status,
                 end_reason, entered_at, updated_at, trigger, listening)
             VALUES (COALESCE(NULLIF($1::BIGINT, 0), nextval(pg_get_serial_sequence('flow_runs', 'id'))),
                 $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id, step = excluded.step,
                 due_at = excluded.due_at, status = excluded.status, end_reason = excluded.end_reason,
                 updated_at = excluded.updated_at, trigger = excluded.trigger, listening = excluded.listening
             RETURNING id",
            &[
                &r.id,
                &r.flow_row,
                &r.version,
                &r.workspace.0,
                &r.contact.0,
                &r.key,
                &r.step,
                &r.due_at.map(Timestamp::as_micros),
                &r.status.as_str(),
                &r.end_reason.map(|e| e.as_str()),
                &r.entered_at.as_micros(),
                &r.updated_at.as_micros(),
                &r.trigger,
                &r.listening,
            ],
        )?;
        get(&row, 0)
    }

    fn update_runs(&mut self, runs: &[StoredRun]) -> Result<()> {
        // One statement per batch (one round trip), the rows as one array per column.
        for chunk in runs.chunks(UPDATE_RUNS_MAX) {
            let mut c = RunColumns::default();
            for r in chunk {
                c.push(r);
            }
            self.conn.execute(
                "UPDATE flow_runs SET contact_id = u.contact, step = u.step, due_at = u.due, status = u.status,
                     end_reason = u.end_reason, updated_at = u.updated_at, trigger = u.trigger, listening = u.listening
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[],
                     $7::BIGINT[], $8::TEXT[], $9::BOOLEAN[])
                     AS u (id, contact, step, due, status, end_reason, updated_at, trigger, listening)
                 WHERE flow_runs.id = u.id",
                &[
                    &c.id,
                    &c.contact,
                    &c.step,
                    &c.due,
                    &c.status,
                    &c.end_reason,
                    &c.updated_at,
                    &c.trigger,
                    &c.listening,
                ],
            )?;
        }
        Ok(())
    }

    fn runs_by_id(&mut self, ids: &[i64]) -> Result<Vec<StoredRun>> {
        let rows = self
            .conn
            .query(concat!("SELECT ", run_columns!(), " FROM flow_runs WHERE id = ANY($1::BIGINT[])"), &[&ids])?;
        rows.iter().map(run_row).collect()
    }

    fn due_runs(&mut self, after: (Timestamp, i64), until: Timestamp, limit: usize) -> Result<Vec<DueRun>> {
        // An index-only range scan of `flow_runs_due` (the row comparison follows its order).
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.conn.query(
            "SELECT due_at, id, flow_id FROM flow_runs
             WHERE status = 'active' AND due_at IS NOT NULL AND (due_at, id) > ($1, $2) AND due_at <= $3
             ORDER BY due_at, id LIMIT $4",
            &[&after.0.as_micros(), &after.1, &until.as_micros(), &limit],
        )?;
        rows.iter()
            .map(|r| Ok(DueRun { due_at: Timestamp::from_micros(get(r, 0)?), id: get(r, 1)?, flow_row: get(r, 2)? }))
            .collect()
    }

    fn listening_runs(&mut self, ws: WorkspaceId, contact: ContactId) -> Result<Vec<StoredRun>> {
        let rows = self.conn.query(
            concat!(
                "SELECT ",
                run_columns!(),
                " FROM flow_runs WHERE workspace_id = $1 AND contact_id = $2 AND status = 'active' AND listening
                 ORDER BY id"
            ),
            &[&ws.0, &contact.0],
        )?;
        rows.iter().map(run_row).collect()
    }

    fn listening_contacts(&mut self, f: &mut dyn FnMut(ContactId)) -> Result<()> {
        self.conn.for_each("SELECT contact_id FROM flow_runs WHERE status = 'active' AND listening", &[], &mut |r| {
            f(ContactId(get(r, 0)?));
            Ok(())
        })
    }

    fn active_runs_of(&mut self, contact: ContactId) -> Result<Vec<StoredRun>> {
        active_runs(&mut self.conn, contact)
    }

    fn run_entry(&mut self, flow_row: i64, contact: ContactId, key: &str) -> Result<RunEntry> {
        let row = self.conn.query_one(
            "SELECT MAX(entered_at), COALESCE(BOOL_OR(status = 'active'), FALSE) FROM flow_runs
             WHERE flow_id = $1 AND contact_id = $2 AND run_key = $3",
            &[&flow_row, &contact.0, &key],
        )?;
        Ok(RunEntry { active: get(&row, 1)?, last_entered: get::<Option<i64>>(&row, 0)?.map(Timestamp::from_micros) })
    }

    fn count_step(&mut self, flow_row: i64, step: &str, counter: &str) -> Result<()> {
        self.count_step_by(flow_row, step, counter, 1)
    }

    fn count_step_by(&mut self, flow_row: i64, step: &str, counter: &str, n: u64) -> Result<()> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.conn.execute(
            "INSERT INTO flow_step_counts (flow_id, step, counter, n) VALUES ($1, $2, $3, $4)
             ON CONFLICT (flow_id, step, counter) DO UPDATE SET n = flow_step_counts.n + EXCLUDED.n",
            &[&flow_row, &step, &counter, &n],
        )?;
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
        get(
            &self.conn.query_one(
                "INSERT INTO tasks (workspace_id, contact_id, flow_id, message, status, created_at)
                 VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
                &[&ws.0, &contact.0, &flow_id, &message, &at.as_micros()],
            )?,
            0,
        )
    }

    fn update_task(
        &mut self,
        ws: WorkspaceId,
        id: i64,
        assignee: Option<Option<&str>>,
        done: Option<bool>,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE tasks SET
                 assignee = CASE WHEN $3 THEN $4 ELSE assignee END,
                 status = CASE WHEN $5::BOOLEAN IS NULL THEN status WHEN $5 THEN 'done' ELSE 'open' END,
                 closed_at = CASE WHEN $5::BOOLEAN IS NULL THEN closed_at WHEN $5 THEN COALESCE(closed_at, $6)
                                  ELSE NULL END
             WHERE workspace_id = $1 AND id = $2",
            &[&ws.0, &id, &assignee.is_some(), &assignee.flatten(), &done, &at.as_micros()],
        )?;
        Ok(n > 0)
    }
}

fn flow(conn: &mut Conn, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
    let row = conn.query_opt(
        concat!("SELECT ", flow_columns!(), " FROM flows WHERE workspace_id = $1 AND public_id = $2"),
        &[&ws.0, &public_id],
    )?;
    row.as_ref().map(flow_row).transpose()
}

impl FlowReads for PgReader<'_> {
    fn flows(&self, ws: WorkspaceId) -> Result<Vec<StoredFlow>> {
        let rows = self
            .conn()
            .query(concat!("SELECT ", flow_columns!(), " FROM flows WHERE workspace_id = $1 ORDER BY id"), &[&ws.0])?;
        rows.iter().map(flow_row).collect()
    }

    fn flow(&self, ws: WorkspaceId, public_id: &str) -> Result<Option<StoredFlow>> {
        flow(&mut self.conn(), ws, public_id)
    }

    fn contact_runs(&self, contact: ContactId) -> Result<Vec<StoredRun>> {
        active_runs(&mut self.conn(), contact)
    }

    fn flow_stats(&self, flow_row: i64) -> Result<FlowStats> {
        let mut out = FlowStats::default();
        let runs = self.conn().query(
            "SELECT status, COALESCE(end_reason, ''), COUNT(*) FROM flow_runs WHERE flow_id = $1 GROUP BY 1, 2",
            &[&flow_row],
        )?;
        for r in &runs {
            let (status, reason, n): (&str, String, i64) = (get(r, 0)?, get(r, 1)?, get(r, 2)?);
            out.entered += n as u64;
            if RunStatus::parse(status) == Some(RunStatus::Active) {
                out.active += n as u64;
            } else {
                if RunEnd::parse(&reason) == Some(RunEnd::Goal) {
                    out.converted += n as u64;
                }
                *out.exited.entry(reason).or_default() += n as u64;
            }
        }
        let steps =
            self.conn().query("SELECT step, counter, n FROM flow_step_counts WHERE flow_id = $1", &[&flow_row])?;
        for r in &steps {
            let (step, counter, n): (String, String, i64) = (get(r, 0)?, get(r, 1)?, get(r, 2)?);
            out.steps.entry(step).or_default().insert(counter, n as u64);
        }
        Ok(out)
    }

    fn tasks(&self, ws: WorkspaceId, status: Option<&str>) -> Result<Vec<Task>> {
        let rows = self.conn().query(
            "SELECT id, contact_id, flow_id, message, status, created_at, assignee, closed_at FROM tasks
             WHERE workspace_id = $1 AND ($2::TEXT IS NULL OR status = $2) ORDER BY id DESC LIMIT $3",
            &[&ws.0, &status, &TASKS_LISTED_MAX],
        )?;
        rows.iter().map(task_row).collect()
    }

    fn task(&self, ws: WorkspaceId, id: i64) -> Result<Option<Task>> {
        let row = self.conn().query_opt(
            "SELECT id, contact_id, flow_id, message, status, created_at, assignee, closed_at FROM tasks
             WHERE workspace_id = $1 AND id = $2",
            &[&ws.0, &id],
        )?;
        row.as_ref().map(task_row).transpose()
    }
}

fn task_row(r: &postgres::Row) -> Result<Task> {
    Ok(Task {
        id: get(r, 0)?,
        contact: ContactId(get(r, 1)?),
        flow_id: get(r, 2)?,
        message: get(r, 3)?,
        status: get(r, 4)?,
        created_at: Timestamp::from_micros(get(r, 5)?),
        assignee: get(r, 6)?,
        closed_at: get::<Option<i64>>(r, 7)?.map(Timestamp::from_micros),
    })
}

/// A contact's active runs, by id (the committer's and a read view's).
fn active_runs(conn: &mut Conn, contact: ContactId) -> Result<Vec<StoredRun>> {
    let rows = conn.query(
        concat!("SELECT ", run_columns!(), " FROM flow_runs WHERE contact_id = $1 AND status = 'active' ORDER BY id"),
        &[&contact.0],
    )?;
    rows.iter().map(run_row).collect()
}
