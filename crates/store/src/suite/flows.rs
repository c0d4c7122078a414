//! Templates with their versions, flows with theirs, runs, step counters and tasks.

use kairos_domain::{ContactId, FlowStatus, RunEnd, RunStatus, Timestamp, WorkspaceId};

use super::{at, workspace, write};
use crate::{DueRun, RunEntry, Store, StoredFlow, StoredRun};

/// Each save is a new version; the current one is read back; partials and layouts are found by channel.
pub fn templates_versions_and_channels(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        assert_eq!(w.save_template(ws, "welcome", "email", "{\"v\":1}", at(1))?, 1);
        assert_eq!(w.save_template(ws, "welcome", "email", "{\"v\":2}", at(2))?, 2);
        assert_eq!(w.save_template(ws, "footer", "partial", "{\"p\":1}", at(3))?, 1);
        assert_eq!(w.save_template(ws, "base", "layout", "{\"l\":1}", at(3))?, 1);
        assert_eq!(w.save_template(ws, "a_header", "partial", "{\"p\":2}", at(4))?, 1);
        assert_eq!(w.save_template(other, "welcome", "email", "{\"theirs\":1}", at(4))?, 1, "versions per workspace");
        assert!(w.template_exists(ws, "welcome")?);
        assert!(!w.template_exists(ws, "nope")?);
        assert_eq!(w.template_data(ws, "welcome")?, Some((2, "{\"v\":2}".to_string())));
        let partials: Vec<String> = w.templates_of_channel(ws, "partial")?.into_iter().map(|(id, _)| id).collect();
        assert_eq!(partials, ["a_header", "footer"]);
        Ok(())
    });
    let r = store.reader().unwrap();
    let t = r.template(ws, "welcome").unwrap().expect("saved");
    assert_eq!((t.version, t.data.as_str(), t.created_at, t.updated_at), (2, "{\"v\":2}", at(1), at(2)));
    assert_eq!(r.template(other, "footer").unwrap(), None);
    let ids: Vec<String> = r.templates(ws).unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["a_header", "base", "footer", "welcome"]);
    assert_eq!(r.template_data(ws, "base").unwrap(), Some((1, "{\"l\":1}".to_string())));
    assert_eq!(r.template_data(ws, "nope").unwrap(), None);
    assert_eq!(r.templates_of_channel(ws, "layout").unwrap(), [("base".to_string(), "{\"l\":1}".to_string())]);
    assert!(r.templates_of_channel(other, "partial").unwrap().is_empty());
}

fn flow(public_id: &str, ws: WorkspaceId, status: &str, version: i64, definition: &str, t: i64) -> StoredFlow {
    StoredFlow {
        row: 0,
        public_id: public_id.into(),
        workspace: ws,
        name: format!("Flow {public_id}"),
        status: FlowStatus::parse(status).expect("a flow status"),
        version,
        definition: definition.into(),
        created_at: at(1),
        updated_at: at(t),
    }
}

fn run(flow_row: i64, ws: WorkspaceId, contact: i64, key: &str, entered: i64) -> StoredRun {
    StoredRun {
        id: 0,
        flow_row,
        version: 1,
        workspace: ws,
        contact: ContactId(contact),
        key: key.into(),
        step: Some("s1".into()),
        due_at: Some(at(entered + 60)),
        status: RunStatus::Active,
        end_reason: None,
        entered_at: at(entered),
        updated_at: at(entered),
        trigger: "{}".into(),
        listening: false,
    }
}

/// Flows keep every version's definition; runs insert then update; stats count runs and step counters.
pub fn flows_versions_runs_and_tasks(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (welcome, winback) = write(store, |w| {
        let welcome = w.save_flow(&flow("flow_welcome", ws, "draft", 1, "{\"v\":1}", 1))?;
        let again = w.save_flow(&flow("flow_welcome", ws, "active", 2, "{\"v\":2}", 2))?;
        assert_eq!(again, welcome, "saved by public id");
        // Saving a version again does not rewrite its definition.
        w.save_flow(&flow("flow_welcome", ws, "active", 2, "{\"v\":\"2b\"}", 3))?;
        let winback = w.save_flow(&flow("flow_winback", ws, "paused", 1, "{}", 1))?;
        w.save_flow(&flow("flow_theirs", other, "active", 1, "{}", 1))?;
        assert_eq!(w.flow_version(welcome, 1)?.as_deref(), Some("{\"v\":1}"));
        assert_eq!(w.flow_version(welcome, 2)?.as_deref(), Some("{\"v\":2}"));
        assert_eq!(w.flow_version(welcome, 3)?, None);
        assert_eq!(w.flow_public_id(winback)?.as_deref(), Some("flow_winback"));
        assert_eq!(w.flow_public_id(999)?, None);
        let f = w.flow(ws, "flow_welcome")?.expect("saved");
        assert_eq!(
            (f.row, f.status.as_str(), f.version, f.definition.as_str()),
            (welcome, "active", 2, "{\"v\":\"2b\"}")
        );
        assert_eq!(w.flow(other, "flow_welcome")?, None);
        let active: Vec<String> = w.active_flows()?.into_iter().map(|f| f.public_id).collect();
        assert_eq!(active, ["flow_welcome", "flow_theirs"]);
        Ok((welcome, winback))
    });
    let ids = write(store, |w| {
        let a = w.save_run(&run(welcome, ws, 1, "", 10))?;
        let b = w.save_run(&run(welcome, ws, 2, "", 20))?;
        let c = w.save_run(&run(welcome, ws, 1, "", 30))?; // re-entry
        let d = w.save_run(&run(winback, ws, 1, "order-7", 40))?;
        assert!(a > 0 && a != b && b != c && c != d);
        // Run a ends at the goal, run b is exited; the update keeps the id.
        let mut done = run(welcome, ws, 1, "", 10);
        done.id = a;
        done.status = RunStatus::Ended;
        done.end_reason = Some(RunEnd::Goal);
        done.step = None;
        done.due_at = None;
        assert_eq!(w.save_run(&done)?, a);
        let mut exited = run(welcome, ws, 2, "", 20);
        exited.id = b;
        exited.status = RunStatus::Ended;
        exited.end_reason = Some(RunEnd::ExitStep);
        w.save_run(&exited)?;
        let entry = |active, t| RunEntry { active, last_entered: Some(at(t)) };
        assert_eq!(w.run_entry(welcome, ContactId(1), "")?, entry(true, 30));
        assert_eq!(w.run_entry(welcome, ContactId(2), "")?, entry(false, 20), "its only run ended");
        assert_eq!(w.run_entry(winback, ContactId(1), "order-7")?, entry(true, 40));
        assert_eq!(w.run_entry(winback, ContactId(1), "order-8")?, RunEntry::default());
        for (step, counter) in [("s1", "sent"), ("s1", "sent"), ("s1", "skipped"), ("s2", "sent")] {
            w.count_step(welcome, step, counter)?;
        }
        let ann = w.insert_task(ws, ContactId(1), "flow_welcome", "Call Ann", at(50))?;
        let bo = w.insert_task(ws, ContactId(2), "flow_welcome", "Call Bo", at(51))?;
        let theirs = w.insert_task(other, ContactId(3), "flow_theirs", "Not ours", at(52))?;
        assert!(ann != bo && bo != theirs, "each task has its own id");
        Ok([a, b, c, d, ann, bo, theirs])
    });
    let mut w = store.writer().unwrap();
    let active: Vec<(i64, String, Option<Timestamp>)> =
        w.active_runs_of(ContactId(1)).unwrap().into_iter().map(|r| (r.id, r.key, r.due_at)).collect();
    assert_eq!(active, [(ids[2], String::new(), Some(at(90))), (ids[3], "order-7".into(), Some(at(100)))]);
    assert!(w.active_runs_of(ContactId(2)).unwrap().is_empty());
    drop(w);
    // A contact's runs in progress (a profile's "flows in progress"): contact 1's two, not its ended one.
    let r = store.reader().unwrap();
    let mine: Vec<(i64, i64)> = r.contact_runs(ContactId(1)).unwrap().iter().map(|x| (x.id, x.flow_row)).collect();
    assert_eq!(mine, [(ids[2], welcome), (ids[3], winback)]);
    assert!(r.contact_runs(ContactId(2)).unwrap().is_empty(), "its only run ended");
    drop(r);
    let [_, _, _, _, ann, bo, theirs] = ids;
    // Assigned and closed inside the workspace only; closing keeps its first time, reopening clears it.
    write(store, |w| {
        assert!(w.update_task(ws, ann, Some(Some("sam@shop.example")), Some(true), at(60))?);
        assert!(w.update_task(ws, ann, None, Some(true), at(61))?);
        assert!(w.update_task(ws, bo, Some(Some("sam@shop.example")), None, at(62))?);
        assert!(w.update_task(ws, bo, Some(None), None, at(63))?);
        assert!(!w.update_task(ws, theirs, Some(Some("sam@shop.example")), Some(true), at(64))?);
        assert!(!w.update_task(ws, 999_999, None, Some(true), at(64))?);
        Ok(())
    });

    let r = store.reader().unwrap();
    let listed: Vec<String> = r.flows(ws).unwrap().into_iter().map(|f| f.public_id).collect();
    assert_eq!(listed, ["flow_welcome", "flow_winback"], "creation order, this workspace only");
    assert_eq!(r.flow(ws, "flow_winback").unwrap().map(|f| f.row), Some(winback));
    assert_eq!(r.flow(ws, "flow_theirs").unwrap(), None);
    let stats = r.flow_stats(welcome).unwrap();
    assert_eq!((stats.entered, stats.active, stats.converted), (3, 1, 1));
    assert_eq!(stats.exited.get("goal"), Some(&1));
    assert_eq!(stats.exited.get("exit_step"), Some(&1));
    assert_eq!(stats.steps["s1"].get("sent"), Some(&2));
    assert_eq!(stats.steps["s1"].get("skipped"), Some(&1));
    assert_eq!(stats.steps["s2"].get("sent"), Some(&1));
    assert_eq!(r.flow_stats(999).unwrap(), crate::FlowStats::default());
    let tasks: Vec<(String, String)> = r.tasks(ws, None).unwrap().into_iter().map(|t| (t.message, t.status)).collect();
    assert_eq!(tasks, [("Call Bo".to_string(), "open".to_string()), ("Call Ann".to_string(), "done".to_string())]);
    assert_eq!(r.tasks(ws, Some("open")).unwrap().len(), 1);
    let done = r.tasks(ws, Some("done")).unwrap();
    assert_eq!((done.len(), done[0].id, done[0].contact), (1, ann, ContactId(1)));
    assert_eq!((done[0].assignee.as_deref(), done[0].closed_at), (Some("sam@shop.example"), Some(at(60))));
    let bo_task = r.task(ws, bo).unwrap().unwrap();
    assert_eq!((bo_task.assignee, bo_task.closed_at, bo_task.flow_id.as_str()), (None, None, "flow_welcome"));
    assert_eq!(r.task(ws, theirs).unwrap(), None, "another workspace's task is not found");
    drop(r);
    assert!(write(store, |w| w.update_task(ws, ann, None, Some(false), at(70))));
    let reopened = store.reader().unwrap().task(ws, ann).unwrap().unwrap();
    assert_eq!((reopened.status.as_str(), reopened.closed_at), ("open", None));
}

/// The timers of waiting runs are read in (due time, id) order from a key on, up to a time and a count, and
/// only active runs with a timer; runs an event can move are found by (workspace, contact); a batch of runs is
/// read by id and updated at once; step counters add up.
pub fn flow_run_timers_and_listening(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let ids = write(store, |w| {
        let row = w.save_flow(&flow("flow_waits", ws, "active", 1, "{}", 1))?;
        let theirs = w.save_flow(&flow("flow_theirs", other, "active", 1, "{}", 1))?;
        // Due at 160, 100, 100, 130 (entered at n, due at n + 60); one without a timer; one ended.
        let mut ids = Vec::new();
        for (contact, entered) in [(1, 100), (2, 40), (3, 40), (4, 70)] {
            ids.push(w.save_run(&run(row, ws, contact, "", entered))?);
        }
        let mut listening = run(theirs, other, 5, "", 10);
        listening.due_at = None;
        listening.listening = true;
        ids.push(w.save_run(&listening)?);
        let mut ended = run(row, ws, 6, "", 0);
        ended.status = RunStatus::Ended;
        ended.end_reason = Some(RunEnd::Completed);
        ids.push(w.save_run(&ended)?);
        Ok(ids)
    });
    let timer = |i: usize, due: i64| DueRun { due_at: at(due), id: ids[i], flow_row: 0 };
    let mut w = store.writer().unwrap();
    let row = w.flow(ws, "flow_waits").unwrap().expect("saved").row;
    let due = |w: &mut dyn crate::WriteTx, after: (Timestamp, i64), until: i64, limit: usize| {
        let got = w.due_runs(after, at(until), limit).unwrap();
        assert!(got.iter().all(|d| d.flow_row == row), "each timer names its flow");
        got.into_iter().map(|d| DueRun { flow_row: 0, ..d }).collect::<Vec<_>>()
    };
    let start = (Timestamp::from_micros(i64::MIN), i64::MIN);
    // Two at 100 in id order, then 130; 160 is after the bound; the ended run and the one without a timer never.
    assert_eq!(due(&mut *w, start, 150, 10), [timer(1, 100), timer(2, 100), timer(3, 130)]);
    assert_eq!(due(&mut *w, start, 150, 1), [timer(1, 100)], "at most `limit`");
    assert_eq!(due(&mut *w, (at(100), ids[1]), 1_000, 10), [timer(2, 100), timer(3, 130), timer(0, 160)]);
    assert_eq!(due(&mut *w, (at(160), ids[0]), 1_000, 10), []);
    // A batch of runs by id (an unknown id is left out), moved at once: the timers follow.
    let mut runs = w.runs_by_id(&[ids[0], ids[3], 999_999]).unwrap();
    runs.sort_by_key(|r| r.id);
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0], ids[3]]);
    runs[0].due_at = Some(at(90));
    runs[0].step = Some("s2".into());
    runs[0].listening = true;
    runs[1].status = RunStatus::Ended;
    runs[1].end_reason = Some(RunEnd::Completed);
    runs[1].due_at = None;
    runs[1].trigger = "{\"coupon\":\"X\"}".into();
    runs[1].contact = ContactId(44); // its contact was merged into another
    w.update_runs(&runs).unwrap();
    assert_eq!(due(&mut *w, start, 1_000, 10), [timer(0, 90), timer(1, 100), timer(2, 100)]);
    let mut back = w.runs_by_id(&[ids[0], ids[3]]).unwrap();
    back.sort_by_key(|r| r.id);
    assert_eq!(back, runs, "every field the update wrote reads back");
    // Runs an event can move, by workspace and contact.
    let listens: Vec<i64> = w.listening_runs(ws, ContactId(1)).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listens, [ids[0]]);
    assert!(w.listening_runs(other, ContactId(1)).unwrap().is_empty(), "another workspace's contact");
    assert!(w.listening_runs(ws, ContactId(2)).unwrap().is_empty(), "not listening");
    assert_eq!(w.listening_runs(other, ContactId(5)).unwrap().len(), 1);
    let mut contacts = Vec::new();
    w.listening_contacts(&mut |c| contacts.push(c)).unwrap();
    contacts.sort();
    assert_eq!(contacts, [ContactId(1), ContactId(5)]);
    // Counters gathered over a transaction add up with single counts.
    w.count_step_by(row, "s1", "sent", 40).unwrap();
    w.count_step(row, "s1", "sent").unwrap();
    w.count_step_by(row, "s1", "sent", 2).unwrap();
    drop(w);
    let stats = store.reader().unwrap().flow_stats(row).unwrap();
    assert_eq!(stats.steps["s1"].get("sent"), Some(&43));
    assert_eq!((stats.entered, stats.active), (5, 3));
}
