//! The layering ARCHITECTURE.md describes, checked on the source tree (CI runs this with every test):
//! - each crate depends only on the Kairos crates its layer allows, and the pure crates on no I/O, runtime or
//!   randomness crate (`now` and randomness are passed in);
//! - the engine's modules import each other without a circle: leaf modules (subsystem state, pure helpers) know
//!   nothing of the committer's `State`; the modules that act on `State` and the runtime above them form a
//!   directed acyclic graph.
//!
//! Both checks also run on planted violations, so they can fail.

mod scan;

use std::collections::{BTreeMap, BTreeSet};

use scan::{root, sources};

/// The Kairos crates each crate may depend on (normal dependencies; dev-dependencies are tests').
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("segment", &["domain"]),
    ("flow", &["domain", "segment"]),
    ("template", &["domain"]),
    // Report logic over the rows the store's read traits answer (types only: no connection).
    ("analytics", &["domain", "store"]),
    ("store", &["domain"]),
    ("store-sqlite", &["domain", "store"]),
    ("store-postgres", &["domain", "store"]),
    ("channels", &["domain"]),
    // Platforms' payloads mapped onto events and products, and their signatures (pure).
    ("integrations", &["domain"]),
    ("engine", &["domain", "store", "segment", "flow", "template", "analytics", "channels"]),
    ("server", &["domain", "store", "analytics", "engine", "segment", "flow", "channels", "template", "integrations"]),
    ("sample", &[]),
];

/// Crates the pure crates must not use: I/O, async runtimes, clocks and randomness come from the caller.
const IMPURE: &[&str] = &["tokio", "hyper", "axum", "lettre", "reqwest", "rand", "tracing", "ring", "mio"];
const PURE: &[&str] = &["domain", "segment", "flow", "template", "analytics", "integrations"];

/// `[dependencies]` names of a Cargo.toml (not dev-, not build-).
fn dependencies(toml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && let Some((name, _)) = line.split_once('=') {
            let name = name.trim().trim_end_matches(".workspace").trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// `crate: dependency` for every dependency a crate's layer does not allow.
fn crate_violations(manifests: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, toml) in manifests {
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| n == name) else { continue };
        for dep in dependencies(toml) {
            if let Some(k) = dep.strip_prefix("kairos-")
                && !allowed.contains(&k)
            {
                found.push(format!("{name}: {dep}"));
            }
            if PURE.contains(&name.as_str()) && IMPURE.contains(&dep.as_str()) {
                found.push(format!("{name}: {dep} (a pure crate)"));
            }
        }
    }
    found
}

fn manifests() -> Vec<(String, String)> {
    let crates = root().join("crates");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/") {
        let dir = entry.expect("entry").path();
        if let Ok(toml) = std::fs::read_to_string(dir.join("Cargo.toml")) {
            out.push((dir.file_name().unwrap().to_string_lossy().into_owned(), toml));
        }
    }
    assert!(out.len() >= 10, "the workspace's crates are read");
    out
}

#[test]
fn crates_depend_only_on_their_lower_layers() {
    let found = crate_violations(&manifests());
    assert!(found.is_empty(), "dependencies the layering forbids (ARCHITECTURE.md, Crates):\n{}", found.join("\n"));
}

/// The engine's modules (file stem → text before its test module).
fn engine_modules(files: &[(String, String)]) -> BTreeMap<String, String> {
    files
        .iter()
        .filter_map(|(path, text)| {
            let stem = path.strip_prefix("crates/engine/src/")?.strip_suffix(".rs")?;
            (!stem.contains('/') && stem != "lib").then(|| {
                // Code only: not the test module, not comments (a doc comment may mention any module).
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: Vec<&str> = code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect();
                (stem.to_string(), code.join("\n"))
            })
        })
        .collect()
}

/// Which engine modules each module names (`crate::x`, `use crate::{x, ...}`).
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let named = |text: &str, m: &str| {
        text.contains(&format!("crate::{m}::"))
            || text.contains(&format!("crate::{m};"))
            || text.split("use crate::{").skip(1).any(|g| {
                let group = g.split('}').next().unwrap_or_default();
                group.split([',', ' ', '\n']).any(|w| w.trim() == m || w.trim().starts_with(&format!("{m}::")))
            })
    };
    modules
        .iter()
        .map(|(name, text)| {
            let deps = modules.keys().filter(|m| *m != name && named(text, m)).cloned().collect();
            (name.clone(), deps)
        })
        .collect()
}

/// The circles of the graph (strongly connected parts with more than one module), each sorted.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules are in one circle when each reaches the other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for d in graph.get(&m).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for m in graph.keys() {
        let mut circle: Vec<String> =
            graph.keys().filter(|o| *o == m || (reaches[m].contains(*o) && reaches[o].contains(m))).cloned().collect();
        circle.sort();
        if circle.len() > 1 && !out.contains(&circle) {
            out.push(circle);
        }
    }
    out
}

#[test]
fn engine_modules_import_each_other_without_a_circle() {
    let modules = engine_modules(&sources(&root()));
    assert!(modules.len() > 15 && modules.contains_key("committer"), "the engine's modules are read");
    let graph = imports(&modules);
    assert!(graph["committer"].contains("state"), "imports are seen: {graph:?}");
    let found = circles(&graph);
    assert!(found.is_empty(), "engine modules that import each other in a circle: {found:?}\n{graph:#?}");
}

/// `module: line` for each use of the whole writer outside `state.rs` (subsystems get their own trait).
fn whole_writer_uses(modules: &BTreeMap<String, String>) -> Vec<String> {
    let mut found = Vec::new();
    for (name, code) in modules.iter().filter(|(n, _)| !["state", "stores"].contains(&n.as_str())) {
        for (i, line) in code.lines().enumerate() {
            if line.contains(".writer()") || line.contains("dyn Writer") {
                found.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn subsystems_reach_the_store_through_their_own_trait() {
    let modules = engine_modules(&sources(&root()));
    let found = whole_writer_uses(&modules);
    assert!(
        found.is_empty(),
        "the whole writer outside state.rs (use the aggregate's accessor in stores.rs):\n{}",
        found.join("\n")
    );
    let narrow = modules.values().filter(|c| c.contains("self.w.segment_tx()")).count();
    assert!(narrow >= 1, "subsystems use the narrow accessors");
}

#[test]
fn planted_violations_are_found() {
    let manifests = vec![
        ("flow".to_string(), "[dependencies]\nkairos-domain.workspace = true\ntokio = \"1\"\n".to_string()),
        (
            "engine".to_string(),
            "[dependencies]\nkairos-store-sqlite = { path = \"x\" }\n[dev-dependencies]\nkairos-server = 1\n"
                .to_string(),
        ),
        ("store".to_string(), "[dependencies]\nkairos-domain.workspace = true\n".to_string()),
    ];
    assert_eq!(crate_violations(&manifests), ["flow: tokio (a pure crate)", "engine: kairos-store-sqlite"]);

    let files: Vec<(String, String)> = [
        ("crates/engine/src/a.rs", "use crate::b::B;\n"),
        ("crates/engine/src/b.rs", "use crate::{c, state::State};\n"),
        ("crates/engine/src/c.rs", "fn f() { crate::a::g() }\n#[cfg(test)]\nmod t { use crate::d; }\n"),
        ("crates/engine/src/d.rs", "use crate::c::X;\n/// Unlike `crate::a::f`, this is a comment.\n"),
        ("crates/engine/src/state.rs", "\n"),
        ("crates/engine/src/lib.rs", "use crate::a;\n"),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    let modules = engine_modules(&files);
    let graph = imports(&modules);
    assert_eq!(circles(&graph), [vec!["a".to_string(), "b".to_string(), "c".to_string()]]);

    let files: Vec<(String, String)> = [
        ("crates/engine/src/segment_ops.rs", "fn f(s: &mut State) { s.w.writer().set_member(1) }\n"),
        ("crates/engine/src/state.rs", "fn g(&mut self) { self.w.writer().commit() }\n"),
        ("crates/engine/src/x.rs", "// self.w.writer() in a comment\nfn h(w: &mut dyn Writer) {}\n"),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    assert_eq!(
        whole_writer_uses(&engine_modules(&files)),
        ["segment_ops:1: fn f(s: &mut State) { s.w.writer().set_member(1) }", "x:2: fn h(w: &mut dyn Writer) {}"]
    );
}
