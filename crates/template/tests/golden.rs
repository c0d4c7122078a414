//! The renderer's output, pinned byte for byte (issue 17 item 5: a faster renderer must write exactly what the
//! one before it wrote). `tests/golden/render.jsonl` was written by the renderer as it stood before the
//! rendering work of issue 17, for: the anchor template of `kairos bench render` over a range of contacts, every
//! template of the flow library over several contacts (escaping, zones, locales, missing data), a block email,
//! and a corpus of templates exercising each feature of the language (filters, partials, `render`, assignments,
//! loops, errors). Each case is kept whole when small and as a SHA-256 of its JSON otherwise.
//!
//! `KAIROS_BLESS_GOLDEN=1 cargo test -p kairos-template --test golden` rewrites the file: only when an output is
//! meant to change, said in the commit.

mod anchor;
mod corpus;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kairos_template::{Renderer, TemplateParts};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/render.jsonl");
/// Cases whose JSON is longer than this many bytes are kept as a digest.
const WHOLE_BYTES_MAX: usize = 1_024;
/// Anchor contacts checked (each differs in name, zone, prices, links).
const ANCHOR_CONTACTS: usize = 240;
/// Anchor contacts kept whole, so a change shows where it is.
const ANCHOR_WHOLE: [usize; 3] = [0, 4, 7];

/// One case's outcome: the rendered parts, or the error as the API reports it.
fn outcome(r: Result<kairos_template::Rendered, kairos_template::TemplateError>) -> Value {
    match r {
        Ok(rendered) => json!({"rendered": rendered}),
        Err(e) => json!({"error": e.to_string(), "code": e.code(), "field": e.field()}),
    }
}

fn anchor_cases(out: &mut Vec<(String, Value, bool)>) {
    let (_, template) = anchor::compile().expect("the anchor compiles");
    let store = anchor::store();
    let now: jiff::Timestamp = anchor::NOW.parse().unwrap();
    let mut shopper = anchor::Shopper::new();
    for i in 0..ANCHOR_CONTACTS {
        shopper.personalise(i);
        let rendered = outcome(template.render(&shopper.globals(&store, now)));
        out.push((format!("anchor/{i:04}"), rendered, ANCHOR_WHOLE.contains(&i)));
    }
}

fn library_cases(out: &mut Vec<(String, Value, bool)>) {
    let renderer = Renderer::new();
    let mut templates: Vec<Value> = kairos_flow::library::LIBRARY.iter().flat_map(|f| (f.templates)()).collect();
    templates.push(kairos_flow::library::confirmation_template());
    for (t, template) in templates.iter().enumerate() {
        let id = template["id"].as_str().map_or_else(|| format!("template{t}"), str::to_owned);
        let parts: TemplateParts = serde_json::from_value(template.clone()).expect("library template parts");
        let compiled = match renderer.compile(&parts) {
            Ok(c) => c,
            Err(e) => {
                out.push((format!("library/{id}"), outcome(Err(e)), true));
                continue;
            }
        };
        for (c, globals) in corpus::library_globals().iter().enumerate() {
            out.push((format!("library/{id}/{c}"), outcome(compiled.render(globals)), c == 0));
        }
    }
}

fn all_cases() -> Vec<(String, Value, bool)> {
    let mut out = Vec::new();
    anchor_cases(&mut out);
    library_cases(&mut out);
    corpus::feature_cases(&mut out);
    out
}

/// The line kept for one case: whole, or as a digest of its JSON.
fn line(name: &str, value: &Value, whole: bool) -> Value {
    let text = value.to_string();
    if whole || text.len() <= WHOLE_BYTES_MAX {
        json!({"case": name, "value": value})
    } else {
        let digest = Sha256::digest(text.as_bytes()).iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        json!({"case": name, "sha256": digest})
    }
}

#[test]
fn renders_exactly_what_the_renderer_before_issue_17_rendered() {
    let actual: Vec<Value> = all_cases().iter().map(|(n, v, w)| line(n, v, *w)).collect();
    if std::env::var_os("KAIROS_BLESS_GOLDEN").is_some() {
        let text: String = actual.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(GOLDEN, text).expect("write the golden file");
        return;
    }
    let expected: BTreeMap<String, Value> = std::fs::read_to_string(GOLDEN)
        .expect("the golden file")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a golden line"))
        .map(|l| (l["case"].as_str().expect("case").to_owned(), l))
        .collect();
    assert_eq!(expected.len(), actual.len(), "the golden file has as many cases as the corpus");
    let mut wrong = Vec::new();
    for line in &actual {
        let name = line["case"].as_str().unwrap_or_default();
        if expected.get(name) != Some(line) {
            wrong
                .push(format!("{name}:\n  expected {}\n  actual   {line}", expected.get(name).unwrap_or(&Value::Null)));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases differ:\n{}", wrong.len(), actual.len(), wrong.join("\n"));
}

#[test]
fn the_corpus_covers_what_it_should() {
    let cases = all_cases();
    let count = |prefix: &str| cases.iter().filter(|(n, _, _)| n.starts_with(prefix)).count();
    assert_eq!(count("anchor/"), ANCHOR_CONTACTS);
    assert!(count("library/") >= 60, "every library template over several contacts");
    assert!(count("feature/") >= 30);
    let errors = cases.iter().filter(|(_, v, _)| v.get("error").is_some()).count();
    assert!(errors >= 2, "render errors are pinned too");
}
