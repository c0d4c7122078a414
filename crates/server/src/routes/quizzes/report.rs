//! A quiz's numbers, from the events it emitted: how many started and finished, and per question how many
//! reached it, answered it and left there, with each answer's count. People are counted once per attempt (one
//! run through the quiz), whatever they pressed twice. A question is reached by the attempts whose previous
//! answer led to it (`next` of `Quiz Question Answered`), so the numbers follow the branches each visitor
//! actually took, even after the quiz was edited.
//!
//! Only the workspace's three quiz events are read (by name, on the `(workspace, name)` index), on a read view,
//! when a report is asked for: nothing on the hot path of ingestion or of the hosted quiz.

use std::collections::{HashMap, HashSet};

use kairos_domain::quiz::{QUIZ_COMPLETED, QUIZ_END, QUIZ_QUESTION_ANSWERED, QUIZ_STARTED, Quiz};
use kairos_domain::{JsonMap, WorkspaceId};
use kairos_store::Reads;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Stored {
    #[serde(default)]
    properties: JsonMap,
}

#[derive(Default)]
struct Tally {
    started: HashSet<String>,
    /// question id → attempts that answered it.
    answered: HashMap<String, HashSet<String>>,
    /// (attempt, question id) → the last value given.
    values: HashMap<(String, String), String>,
    /// question id (or `end`) → attempts an answer led there.
    led_to: HashMap<String, HashSet<String>>,
    completed: HashSet<String>,
    with_email: HashSet<String>,
}

fn prop<'a>(p: &'a JsonMap, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

fn tally(r: &dyn Reads, ws: WorkspaceId, quiz: &str) -> kairos_store::Result<Tally> {
    let mut t = Tally::default();
    for name in [QUIZ_STARTED, QUIZ_QUESTION_ANSWERED, QUIZ_COMPLETED] {
        r.events_named(ws, name, &mut |_, data| {
            let Ok(ev) = serde_json::from_str::<Stored>(data) else { return };
            let p = &ev.properties;
            let (Some(q), Some(attempt)) = (prop(p, "quiz_id"), prop(p, "attempt")) else { return };
            if q != quiz {
                return;
            }
            let attempt = attempt.to_string();
            match name {
                QUIZ_STARTED => {
                    t.started.insert(attempt);
                }
                QUIZ_COMPLETED => {
                    if p.get("email_captured") == Some(&Value::Bool(true)) {
                        t.with_email.insert(attempt.clone());
                    }
                    t.completed.insert(attempt);
                }
                _ => {
                    let Some(question) = prop(p, "question_id") else { return };
                    if let Some(value) = prop(p, "answer") {
                        t.values.insert((attempt.clone(), question.to_string()), value.to_string());
                    }
                    if let Some(next) = prop(p, "next") {
                        t.led_to.entry(next.to_string()).or_default().insert(attempt.clone());
                    }
                    t.answered.entry(question.to_string()).or_default().insert(attempt);
                }
            }
        })?;
    }
    Ok(t)
}

fn rate(part: usize, whole: usize) -> Value {
    if whole == 0 { Value::Null } else { json!((part as f64 / whole as f64 * 1000.0).round() / 1000.0) }
}

/// `{"quiz_id", "started", "completed", "completion_rate", "emails", "questions": [...], "email_step"}`.
pub fn report(r: &dyn Reads, ws: WorkspaceId, quiz: &Quiz) -> kairos_store::Result<Value> {
    let t = tally(r, ws, &quiz.id)?;
    let empty = HashSet::new();
    let mut questions = Vec::new();
    for (i, q) in quiz.questions.iter().enumerate() {
        let answered = t.answered.get(&q.id).unwrap_or(&empty);
        let mut reached: HashSet<&String> = t.led_to.get(&q.id).unwrap_or(&empty).iter().chain(answered).collect();
        if i == 0 {
            reached.extend(&t.started);
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for ((_, question), value) in &t.values {
            if *question == q.id {
                *counts.entry(value.as_str()).or_default() += 1;
            }
        }
        let answers: Vec<Value> = q
            .options
            .iter()
            .map(|c| json!({"value": c.value, "label": c.label, "count": counts.get(c.value.as_str()).copied().unwrap_or(0)}))
            .collect();
        let dropped = reached.len().saturating_sub(answered.len());
        questions.push(json!({
            "id": q.id, "text": q.text, "trait": q.trait_name,
            "reached": reached.len(), "answered": answered.len(), "dropped": dropped,
            "drop_off_rate": rate(dropped, reached.len()), "answers": answers,
        }));
    }
    let email_step = quiz.email.as_ref().map(|_| {
        let reached: HashSet<&String> = t.led_to.get(QUIZ_END).unwrap_or(&empty).iter().chain(&t.completed).collect();
        let dropped = reached.len().saturating_sub(t.completed.len());
        json!({"reached": reached.len(), "emails": t.with_email.len(),
            "declined": t.completed.len().saturating_sub(t.with_email.len()), "dropped": dropped,
            "drop_off_rate": rate(dropped, reached.len())})
    });
    Ok(json!({
        "quiz_id": quiz.id,
        "started": t.started.len(),
        "completed": t.completed.len(),
        "completion_rate": rate(t.completed.len(), t.started.len()),
        "emails": t.with_email.len(),
        "questions": questions,
        "email_step": email_step,
    }))
}
