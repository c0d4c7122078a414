//! Quiz funnels (issue 14): a quiz's definition, read and checked from the admin API's JSON, and the walk through
//! it. Questions are single choice; each answer is stored as a profile trait (zero-party data such as
//! `skin_type`), may point at catalog categories or products for the result, and may branch to another question
//! or to the end. Without an explicit `next`, an answer leads to the following question in the list, so a quiz
//! written without branching reads top to bottom. Branching is checked here: every `next` names a question, no
//! path loops, and every question can be reached from the first one.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ValidationError;
use crate::ids::parse_identifier;

/// Most questions a quiz has.
pub const QUIZ_QUESTIONS_MAX: usize = 30;
/// Fewest and most answers a question offers.
pub const QUIZ_OPTIONS_MIN: usize = 2;
pub const QUIZ_OPTIONS_MAX: usize = 12;
/// Longest intro, question text or consent text, in characters.
pub const QUIZ_TEXT_CHARS_MAX: usize = 1_000;
/// Longest name, title or answer label, in characters.
pub const QUIZ_LABEL_CHARS_MAX: usize = 200;
/// Longest answer value (what the trait holds), in characters.
pub const QUIZ_VALUE_CHARS_MAX: usize = 100;
/// Longest question id or trait name, in characters.
pub const QUIZ_NAME_CHARS_MAX: usize = 40;
/// Most categories, and most products, one answer points at.
pub const QUIZ_OPTION_MATCHES_MAX: usize = 20;
/// Most products a result shows.
pub const QUIZ_RESULT_PRODUCTS_MAX: usize = 12;
/// Products a result shows unless the quiz says otherwise.
const RESULT_PRODUCTS_DEFAULT: usize = 4;

/// What an answer's `next` says to end the quiz.
pub const QUIZ_END: &str = "end";
/// Question ids that would read as a step of the quiz itself.
const RESERVED_IDS: [&str; 5] = [QUIZ_END, "intro", "email", "result", "start"];
/// Traits a quiz answer may not overwrite: identity, consent and what the profile reads itself.
const RESERVED_TRAITS: [&str; 9] =
    ["email", "phone", "user_id", "anonymous_id", "id", "timezone", "locale", "created_at", "lifecycle_stage"];

/// The events a quiz emits (Segment track calls, ingested like any other).
pub const QUIZ_STARTED: &str = "Quiz Started";
pub const QUIZ_QUESTION_ANSWERED: &str = "Quiz Question Answered";
pub const QUIZ_COMPLETED: &str = "Quiz Completed";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quiz {
    pub id: String,
    pub name: String,
    pub intro: Option<String>,
    pub questions: Vec<Question>,
    /// The email step shown before the result, when the quiz asks for one.
    pub email: Option<EmailStep>,
    pub result: ResultStep,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub text: String,
    /// The profile trait the answer's value is stored as.
    #[serde(rename = "trait")]
    pub trait_name: String,
    pub options: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    pub value: String,
    /// Catalog categories (which hold the platforms' product types and tags) this answer recommends.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Catalog product ids this answer recommends first (a hand-picked collection).
    #[serde(default)]
    pub products: Vec<String>,
    /// A question id or [`QUIZ_END`]; None: the following question (or the end after the last).
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailStep {
    pub title: String,
    pub text: Option<String>,
    /// Whether the result waits for an address (else the visitor may skip).
    pub required: bool,
    /// The consent box; None: no box, the address is not a subscription.
    pub consent: Option<ConsentBox>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentBox {
    /// The exact text shown beside the box (kept as the consent's evidence).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultStep {
    pub title: String,
    pub text: Option<String>,
    pub products_max: usize,
}

/// Where an answer leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    Question(&'a Question),
    End,
}

fn bad(code: &'static str, field: &str, message: impl Into<String>) -> ValidationError {
    ValidationError::new(code, field, message)
}

/// Text of at most `max` characters, trimmed; None when absent, null or blank.
fn text(o: &Map<String, Value>, key: &str, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(bad("too_long", field, format!("{field} is longer than {max} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(bad("invalid_type", field, format!("{field} must be text"))),
    }
}

fn required_text(o: &Map<String, Value>, key: &str, field: &str, max: usize) -> Result<String, ValidationError> {
    text(o, key, field, max)?.ok_or_else(|| bad("missing_field", field, format!("{field} is required")))
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, ValidationError> {
    v.as_object().ok_or_else(|| bad("invalid_type", field, format!("{field} must be an object")))
}

fn list<'a>(o: &'a Map<String, Value>, key: &str, field: &str) -> Result<&'a [Value], ValidationError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad("invalid_type", field, format!("{field} must be a list"))),
    }
}

/// A question id or trait name: 1 to [`QUIZ_NAME_CHARS_MAX`] lower-case letters, digits, `_` (and `-` in ids).
fn is_name(s: &str, dash: bool) -> bool {
    !s.is_empty()
        && s.len() <= QUIZ_NAME_CHARS_MAX
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || (dash && b == b'-'))
}

fn reserved_trait(t: &str) -> bool {
    RESERVED_TRAITS.contains(&t) || t.starts_with("consent_") || t.ends_with("_consent") || t.ends_with("_consent_at")
}

impl Quiz {
    /// Reads a quiz from the admin API's JSON (`id` decided by the caller); the first bad field is the error,
    /// named by its path (`questions[1].options[0].next`).
    pub fn from_api(v: &Value, id: String) -> Result<Quiz, ValidationError> {
        let o = object(v, "body")?;
        let name = required_text(o, "name", "name", QUIZ_LABEL_CHARS_MAX)?;
        let intro = text(o, "intro", "intro", QUIZ_TEXT_CHARS_MAX)?;
        let raw = list(o, "questions", "questions")?;
        if raw.is_empty() || raw.len() > QUIZ_QUESTIONS_MAX {
            return Err(bad("invalid_value", "questions", format!("a quiz has 1 to {QUIZ_QUESTIONS_MAX} questions")));
        }
        let mut questions: Vec<Question> = Vec::with_capacity(raw.len());
        for (i, q) in raw.iter().enumerate() {
            let q = Question::from_api(q, &format!("questions[{i}]"))?;
            if questions.iter().any(|x| x.id == q.id) {
                return Err(bad("invalid_value", &format!("questions[{i}].id"), format!("two questions are {}", q.id)));
            }
            questions.push(q);
        }
        let email = match o.get("email") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(v) => Some(EmailStep::from_api(v)?),
        };
        let result = match o.get("result") {
            None | Some(Value::Null) => ResultStep::from_api(&Value::Object(Map::new()))?,
            Some(v) => ResultStep::from_api(v)?,
        };
        let quiz = Quiz { id, name, intro, questions, email, result };
        quiz.check_branching()?;
        Ok(quiz)
    }

    /// The question the quiz starts with.
    pub fn first(&self) -> &Question {
        &self.questions[0]
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Where `choice` of the question at `index` leads.
    fn next_of(&self, index: usize, choice: &Choice) -> Next<'_> {
        match choice.next.as_deref() {
            Some(QUIZ_END) => Next::End,
            Some(id) => self.question(id).map_or(Next::End, Next::Question),
            None => self.questions.get(index + 1).map_or(Next::End, Next::Question),
        }
    }

    /// Where answering `question` with `value` leads; None when the quiz has no such question or answer.
    pub fn next_after(&self, question: &str, value: &str) -> Option<(&Question, &Choice, Next<'_>)> {
        let i = self.questions.iter().position(|q| q.id == question)?;
        let q = &self.questions[i];
        let choice = q.options.iter().find(|c| c.value == value)?;
        Some((q, choice, self.next_of(i, choice)))
    }

    /// Every `next` names a question of the quiz, no path loops back, and every question can be reached.
    fn check_branching(&self) -> Result<(), ValidationError> {
        let index: HashMap<&str, usize> = self.questions.iter().enumerate().map(|(i, q)| (q.id.as_str(), i)).collect();
        for (i, q) in self.questions.iter().enumerate() {
            for (j, c) in q.options.iter().enumerate() {
                let field = format!("questions[{i}].options[{j}].next");
                match c.next.as_deref() {
                    None | Some(QUIZ_END) => {}
                    Some(n) if n == q.id => {
                        return Err(bad("invalid_value", &field, "an answer cannot lead back to its own question"));
                    }
                    Some(n) if !index.contains_key(n) => {
                        return Err(bad("invalid_value", &field, format!("next names no question of this quiz: {n}")));
                    }
                    Some(_) => {}
                }
            }
        }
        // Depth-first from the first question: a question met again while still on the path is a loop.
        let (mut state, mut stack) = (vec![0u8; self.questions.len()], vec![(0usize, 0usize)]);
        state[0] = 1;
        while let Some(top) = stack.last_mut() {
            let (i, at) = *top;
            top.1 += 1;
            let Some(choice) = self.questions[i].options.get(at) else {
                state[i] = 2;
                stack.pop();
                continue;
            };
            if let Next::Question(next) = self.next_of(i, choice) {
                let n = index[next.id.as_str()];
                match state[n] {
                    0 => {
                        state[n] = 1;
                        stack.push((n, 0));
                    }
                    1 => {
                        return Err(bad(
                            "invalid_value",
                            &format!("questions[{i}].options[{at}].next"),
                            format!("this answer leads back to question {}: a quiz cannot loop", next.id),
                        ));
                    }
                    _ => {}
                }
            }
        }
        if let Some(i) = state.iter().position(|s| *s == 0) {
            return Err(bad(
                "invalid_value",
                &format!("questions[{i}]"),
                format!("question {} cannot be reached from the first question", self.questions[i].id),
            ));
        }
        Ok(())
    }

    /// The most questions a visitor may still answer from `question` on, it included (for the progress bar).
    pub fn longest_from(&self, question: &str) -> usize {
        fn walk(quiz: &Quiz, i: usize, memo: &mut HashMap<usize, usize>, seen: &mut HashSet<usize>) -> usize {
            if let Some(n) = memo.get(&i) {
                return *n;
            }
            if !seen.insert(i) {
                return 0; // unreachable for a checked quiz (no loops)
            }
            let mut best = 0;
            for c in &quiz.questions[i].options {
                if let Next::Question(q) = quiz.next_of(i, c) {
                    let n = quiz.questions.iter().position(|x| x.id == q.id).unwrap_or(i);
                    best = best.max(walk(quiz, n, memo, seen));
                }
            }
            memo.insert(i, best + 1);
            best + 1
        }
        let Some(i) = self.questions.iter().position(|q| q.id == question) else { return 0 };
        walk(self, i, &mut HashMap::new(), &mut HashSet::new())
    }
}

impl Question {
    fn from_api(v: &Value, at: &str) -> Result<Question, ValidationError> {
        let o = object(v, at)?;
        let f = |k: &str| format!("{at}.{k}");
        let id = required_text(o, "id", &f("id"), QUIZ_NAME_CHARS_MAX)?;
        if !is_name(&id, true) || RESERVED_IDS.contains(&id.as_str()) {
            return Err(bad(
                "invalid_value",
                &f("id"),
                format!(
                    "a question's id is 1 to {QUIZ_NAME_CHARS_MAX} lower-case letters, digits, - or _ (not {})",
                    RESERVED_IDS.join(", ")
                ),
            ));
        }
        let text = required_text(o, "text", &f("text"), QUIZ_TEXT_CHARS_MAX)?;
        let trait_name = required_text(o, "trait", &f("trait"), QUIZ_NAME_CHARS_MAX)?;
        if !is_name(&trait_name, false) {
            return Err(bad(
                "invalid_value",
                &f("trait"),
                format!("a trait is 1 to {QUIZ_NAME_CHARS_MAX} lower-case letters, digits or _, like skin_type"),
            ));
        }
        if reserved_trait(&trait_name) {
            return Err(bad(
                "invalid_value",
                &f("trait"),
                format!("{trait_name} is kept by Kairos: choose another trait"),
            ));
        }
        let raw = list(o, "options", &f("options"))?;
        if raw.len() < QUIZ_OPTIONS_MIN || raw.len() > QUIZ_OPTIONS_MAX {
            return Err(bad(
                "invalid_value",
                &f("options"),
                format!("a question offers {QUIZ_OPTIONS_MIN} to {QUIZ_OPTIONS_MAX} answers"),
            ));
        }
        let mut options: Vec<Choice> = Vec::with_capacity(raw.len());
        for (j, c) in raw.iter().enumerate() {
            let at = format!("{at}.options[{j}]");
            let c = Choice::from_api(c, &at)?;
            if options.iter().any(|x| x.value == c.value) {
                return Err(bad(
                    "invalid_value",
                    &format!("{at}.value"),
                    format!("two answers have the value {}", c.value),
                ));
            }
            options.push(c);
        }
        Ok(Question { id, text, trait_name, options })
    }
}

impl Choice {
    fn from_api(v: &Value, at: &str) -> Result<Choice, ValidationError> {
        let o = object(v, at)?;
        let f = |k: &str| format!("{at}.{k}");
        let label = required_text(o, "label", &f("label"), QUIZ_LABEL_CHARS_MAX)?;
        // The value is what segments and templates read; the label as written when none is given.
        let value = match text(o, "value", &f("value"), QUIZ_VALUE_CHARS_MAX)? {
            Some(v) => v,
            None if label.chars().count() <= QUIZ_VALUE_CHARS_MAX => label.clone(),
            None => return Err(bad("missing_field", &f("value"), "a long label needs a shorter value")),
        };
        let strings = |key: &str| -> Result<Vec<String>, ValidationError> {
            let items = list(o, key, &f(key))?;
            if items.len() > QUIZ_OPTION_MATCHES_MAX {
                return Err(bad("too_long", &f(key), format!("{} lists at most {QUIZ_OPTION_MATCHES_MAX}", f(key))));
            }
            let mut out: Vec<String> = Vec::new();
            for (k, item) in items.iter().enumerate() {
                let field = format!("{at}.{key}[{k}]");
                let s = item.as_str().ok_or_else(|| bad("invalid_type", &field, format!("{field} must be text")))?;
                let s = parse_identifier(s, &field)?;
                if s.chars().count() > QUIZ_LABEL_CHARS_MAX {
                    return Err(bad(
                        "too_long",
                        &field,
                        format!("{field} is longer than {QUIZ_LABEL_CHARS_MAX} characters"),
                    ));
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(out)
        };
        let categories = strings("categories")?;
        let products = strings("products")?;
        let next = text(o, "next", &f("next"), QUIZ_NAME_CHARS_MAX)?;
        Ok(Choice { label, value, categories, products, next })
    }
}

impl EmailStep {
    fn from_api(v: &Value) -> Result<EmailStep, ValidationError> {
        let o = object(v, "email")?;
        let required = match o.get("required") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("invalid_type", "email.required", "email.required must be true or false")),
        };
        let consent = match o.get("consent") {
            None | Some(Value::Null) => None,
            Some(c) => {
                let c = object(c, "email.consent")?;
                let text = text(c, "text", "email.consent.text", QUIZ_TEXT_CHARS_MAX)?.ok_or_else(|| {
                    bad(
                        "missing_field",
                        "email.consent.text",
                        "email.consent.text is the exact text shown beside the box",
                    )
                })?;
                Some(ConsentBox { text })
            }
        };
        Ok(EmailStep {
            title: text(o, "title", "email.title", QUIZ_LABEL_CHARS_MAX)?
                .unwrap_or_else(|| "Where should we send your results?".into()),
            text: text(o, "text", "email.text", QUIZ_TEXT_CHARS_MAX)?,
            required,
            consent,
        })
    }
}

impl ResultStep {
    fn from_api(v: &Value) -> Result<ResultStep, ValidationError> {
        let o = object(v, "result")?;
        let products_max = match o.get("products_max") {
            None | Some(Value::Null) => RESULT_PRODUCTS_DEFAULT,
            Some(n) => match n.as_u64() {
                Some(n) if (1..=QUIZ_RESULT_PRODUCTS_MAX as u64).contains(&n) => n as usize,
                _ => {
                    return Err(bad(
                        "invalid_value",
                        "result.products_max",
                        format!("result.products_max is a whole number from 1 to {QUIZ_RESULT_PRODUCTS_MAX}"),
                    ));
                }
            },
        };
        Ok(ResultStep {
            title: text(o, "title", "result.title", QUIZ_LABEL_CHARS_MAX)?
                .unwrap_or_else(|| "Our picks for you".into()),
            text: text(o, "text", "result.text", QUIZ_TEXT_CHARS_MAX)?,
            products_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quiz(questions: Value) -> Result<Quiz, ValidationError> {
        Quiz::from_api(&json!({"name": "Find your bike", "questions": questions}), "q".into())
    }

    fn q(id: &str, options: Value) -> Value {
        json!({"id": id, "text": format!("{id}?"), "trait": format!("t_{id}"), "options": options})
    }

    fn field(r: Result<Quiz, ValidationError>) -> String {
        r.unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn answers_lead_to_the_following_question_unless_they_branch() {
        let z = quiz(json!([
            q("a", json!([{"label": "Road", "value": "road", "next": "c"}, {"label": "Trail"}])),
            q("b", json!([{"label": "Yes"}, {"label": "No", "next": "end"}])),
            q("c", json!([{"label": "Fast"}, {"label": "Slow"}])),
        ]))
        .unwrap();
        assert_eq!(z.first().id, "a");
        let next = |q: &str, v: &str| match z.next_after(q, v).unwrap().2 {
            Next::Question(q) => q.id.clone(),
            Next::End => "end".into(),
        };
        assert_eq!(next("a", "road"), "c");
        assert_eq!(next("a", "Trail"), "b", "the label is the value when none is given");
        assert_eq!(next("b", "Yes"), "c");
        assert_eq!(next("b", "No"), "end");
        assert_eq!(next("c", "Fast"), "end", "after the last question");
        assert!(z.next_after("a", "gravel").is_none() && z.next_after("x", "road").is_none());
        assert_eq!((z.longest_from("a"), z.longest_from("b"), z.longest_from("c")), (3, 2, 1));
        assert_eq!(z.result.products_max, RESULT_PRODUCTS_DEFAULT);
        assert!(z.email.is_none());
    }

    #[test]
    fn branching_names_questions_never_loops_and_reaches_every_question() {
        let yes_no = |next_yes: &str| json!([{"label": "Yes", "next": next_yes}, {"label": "No"}]);
        assert_eq!(field(quiz(json!([q("a", yes_no("zzz")), q("b", yes_no("end"))]))), "questions[0].options[0].next");
        assert_eq!(field(quiz(json!([q("a", yes_no("a"))]))), "questions[0].options[0].next");
        // a → b → a: the loop is named where it closes.
        let r = quiz(json!([q("a", yes_no("b")), q("b", yes_no("a"))]));
        assert_eq!(r.clone().unwrap_err().field.as_deref(), Some("questions[1].options[0].next"));
        assert!(r.unwrap_err().message.contains("loop"));
        // b is skipped by every answer of a.
        let skip = json!([{"label": "Yes", "next": "c"}, {"label": "No", "next": "c"}]);
        assert_eq!(field(quiz(json!([q("a", skip), q("b", yes_no("end")), q("c", yes_no("end"))]))), "questions[1]");
    }

    #[test]
    fn bad_fields_are_named() {
        let two = json!([{"label": "A"}, {"label": "B"}]);
        assert_eq!(field(Quiz::from_api(&json!({"questions": [q("a", two.clone())]}), "q".into())), "name");
        assert_eq!(field(quiz(json!([]))), "questions");
        assert_eq!(field(quiz(json!([q("a", two.clone()), q("a", two.clone())]))), "questions[1].id");
        assert_eq!(field(quiz(json!([q("End", two.clone())]))), "questions[0].id");
        assert_eq!(field(quiz(json!([q("end", two.clone())]))), "questions[0].id");
        let mut bad_trait = q("a", two.clone());
        bad_trait["trait"] = json!("email_consent");
        assert_eq!(field(quiz(json!([bad_trait.clone()]))), "questions[0].trait");
        bad_trait["trait"] = json!("Skin Type");
        assert_eq!(field(quiz(json!([bad_trait]))), "questions[0].trait");
        assert_eq!(field(quiz(json!([q("a", json!([{"label": "Only"}]))]))), "questions[0].options");
        assert_eq!(
            field(quiz(json!([q("a", json!([{"label": "A"}, {"label": "A"}]))]))),
            "questions[0].options[1].value"
        );
        assert_eq!(
            field(quiz(json!([q("a", json!([{"label": "A"}, {"value": "b"}]))]))),
            "questions[0].options[1].label"
        );
        let long = "x".repeat(QUIZ_LABEL_CHARS_MAX + 1);
        assert_eq!(
            field(quiz(json!([q("a", json!([{"label": long}, {"label": "B"}]))]))),
            "questions[0].options[0].label"
        );
        let cats = json!([{"label": "A", "categories": ["ok", 3]}, {"label": "B"}]);
        assert_eq!(field(quiz(json!([q("a", cats)]))), "questions[0].options[0].categories[1]");
        let many: Vec<String> = (0..=QUIZ_OPTION_MATCHES_MAX).map(|i| format!("p{i}")).collect();
        let prods = json!([{"label": "A", "products": many}, {"label": "B"}]);
        assert_eq!(field(quiz(json!([q("a", prods)]))), "questions[0].options[0].products");
        let too_many: Vec<Value> = (0..=QUIZ_QUESTIONS_MAX).map(|i| q(&format!("q{i}"), two.clone())).collect();
        assert_eq!(field(quiz(Value::Array(too_many))), "questions");
        let with = |k: &str, v: Value| {
            let mut body = json!({"name": "N", "questions": [q("a", two.clone())]});
            body[k] = v;
            field(Quiz::from_api(&body, "q".into()))
        };
        assert_eq!(with("email", json!({"consent": {"text": " "}})), "email.consent.text");
        assert_eq!(with("email", json!({"required": "yes"})), "email.required");
        assert_eq!(with("result", json!({"products_max": 0})), "result.products_max");
        assert_eq!(with("result", json!({"products_max": QUIZ_RESULT_PRODUCTS_MAX + 1})), "result.products_max");
        assert_eq!(with("intro", json!(7)), "intro");
    }

    #[test]
    fn the_email_step_keeps_its_consent_text_as_written() {
        let body = json!({"name": "N", "questions": [q("a", json!([{"label": "A"}, {"label": "B"}]))],
            "email": {"required": true, "consent": {"text": "Send me tips & offers <weekly>"}},
            "result": {"title": "Yours", "products_max": 3}});
        let z = Quiz::from_api(&body, "q".into()).unwrap();
        let e = z.email.clone().unwrap();
        assert!(e.required);
        assert_eq!(e.consent.map(|c| c.text).as_deref(), Some("Send me tips & offers <weekly>"));
        assert_eq!((z.result.title.as_str(), z.result.products_max), ("Yours", 3));
        // What is stored reads back as the same quiz, and is what the API takes (the UI edits and saves it).
        let stored = serde_json::to_value(&z).unwrap();
        assert_eq!(serde_json::from_value::<Quiz>(stored.clone()).unwrap(), z);
        assert_eq!(Quiz::from_api(&stored, "q".into()).unwrap(), z);
    }
}
