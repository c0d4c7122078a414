//! Architecture boundaries, checked on the source tree (CI runs this with every test):
//! - each database driver is named only in its backend crate (its Cargo.toml and sources): the SQLite driver in
//!   `crates/store-sqlite`, the PostgreSQL driver in `crates/store-postgres`; nothing else may depend on them or
//!   use them in code. The workspace `clippy.toml` forbids their types too, but clippy only sees crates that
//!   depend on them; this also catches a new dependency;
//! - SQL appears only in the backend crates: no string literal elsewhere contains a SQL statement keyword.
//!
//! Both checks are also run on planted violations (the `*_are_found` tests), so they can fail.

mod scan;

use scan::{root, sources, string_literals};

/// The crates that hold SQL, each with its driver.
const SQL_CRATES: [&str; 2] = ["crates/store-sqlite", "crates/store-postgres"];
/// Statement keywords that mark a string literal as SQL, written lowercase here so this file does not match
/// itself (the check is case-sensitive on the uppercase form: SQL in this code base is uppercase).
const SQL_KEYWORDS: [&str; 9] = [
    "select ",
    "insert into",
    "insert or ",
    "update ",
    "delete from",
    "create table",
    "create index",
    "alter table",
    "drop table",
];

/// The SQLite driver's name, assembled so that this file does not contain it.
fn driver() -> String {
    ["rus", "qlite"].concat()
}

/// How a line names the PostgreSQL driver: a path into it, or a dependency on it (the word alone is everywhere:
/// `postgres://` URLs, documentation).
fn names_pg_driver(line: &str) -> bool {
    let pg = ["post", "gres"].concat();
    let line = line.trim_start();
    // The driver as a path of its own, not the end of the backend crate's name.
    let as_path = line
        .match_indices(&format!("{pg}::"))
        .any(|(i, _)| line[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_')));
    as_path
        || line.starts_with(&format!("{pg} ="))
        || line.starts_with(&format!("{pg}.workspace"))
        || line.starts_with(&format!("tokio-{pg}"))
        || line.contains(&format!("tokio_{pg}::"))
}

fn outside_sql_crate(path: &str) -> bool {
    !SQL_CRATES.iter().any(|c| path.starts_with(&format!("{c}/")))
}

/// Lines that name a driver outside its own backend crate.
fn driver_mentions(files: &[(String, String)]) -> Vec<String> {
    let driver = driver();
    let home = |path: &str, krate: &str| path.starts_with(&format!("{krate}/"));
    files
        .iter()
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| {
                    (line.contains(&driver) && !home(path, SQL_CRATES[0]))
                        || (names_pg_driver(line) && !home(path, SQL_CRATES[1]))
                })
                .map(move |(i, line)| format!("{path}:{}: {}", i + 1, line.trim()))
        })
        .collect()
}

/// String literals containing SQL in files outside the SQL crate.
fn sql_literals(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| outside_sql_crate(p) && p.ends_with(".rs")) {
        for (line, s) in string_literals(text) {
            if let Some(k) = SQL_KEYWORDS.iter().map(|k| k.to_uppercase()).find(|k| s.contains(k.as_str())) {
                found.push(format!("{path}:{line}: {k:?} in {:?}", s.chars().take(80).collect::<String>()));
            }
        }
    }
    found
}

#[test]
fn only_the_backend_crates_name_their_drivers() {
    let root = root();
    let files = sources(&root);
    assert!(files.len() > 50, "the scan found the sources ({} files)", files.len());
    assert!(files.iter().any(|(p, t)| !outside_sql_crate(p) && t.contains(&driver())), "the SQL crates are scanned");
    assert!(files.iter().any(|(p, t)| !outside_sql_crate(p) && t.lines().any(names_pg_driver)), "both of them");
    let found = driver_mentions(&files);
    assert!(found.is_empty(), "a database driver outside its backend crate:\n{}", found.join("\n"));
}

#[test]
fn only_the_backend_crates_hold_sql() {
    let files = sources(&root());
    let inside = files.iter().filter(|(p, _)| !outside_sql_crate(p)).count();
    assert!(inside > 5, "the SQL crate is scanned");
    let found = sql_literals(&files);
    assert!(found.is_empty(), "SQL outside {SQL_CRATES:?}:\n{}", found.join("\n"));
}

#[test]
fn planted_violations_are_found() {
    let driver = driver();
    let pg = ["post", "gres"].concat();
    let sql = "select id from t".to_uppercase();
    let update = "update t".to_uppercase();
    let files = vec![
        ("crates/engine/src/x.rs".to_string(), format!("use {driver}::Connection;\nfn f() {{}}\n")),
        ("crates/server/Cargo.toml".to_string(), format!("[dependencies]\n{driver} = \"1\"\n")),
        ("crates/store-sqlite/src/y.rs".to_string(), format!("use {driver}::Connection;\nconst Q: &str = \"{sql}\";")),
        (
            "crates/server/src/z.rs".to_string(),
            format!(
                "// \"{sql}\" in a comment is fine\nlet c = '\"';\nlet q = r#\"a \"{sql}\"#;\nlet p = \"x\";\nlet u = \"{sql}\";\n"
            ),
        ),
        ("crates/analytics/src/w.rs".to_string(), format!("let q = b\"{update}\";\nlet n = 'a'; let m = \"{sql}\";")),
        (
            "crates/engine/src/pg.rs".to_string(),
            format!("// a {pg}://host url is fine\nuse {pg}::Client;\nuse kairos_store_{pg}::PgStore;\n"),
        ),
        ("crates/server/Cargo.toml".to_string(), format!("[dependencies]\n{pg}.workspace = true\n")),
        ("crates/store-sqlite/src/pg.rs".to_string(), format!("use {pg}::Client;\n")),
        ("crates/store-postgres/src/q.rs".to_string(), format!("use {pg}::Client;\nconst Q: &str = \"{sql}\";")),
        ("crates/store-postgres/src/d.rs".to_string(), format!("use {driver}::Connection;\n")),
    ];
    assert_eq!(
        driver_mentions(&files),
        vec![
            format!("crates/engine/src/x.rs:1: use {driver}::Connection;"),
            format!("crates/server/Cargo.toml:2: {driver} = \"1\""),
            format!("crates/engine/src/pg.rs:2: use {pg}::Client;"),
            format!("crates/server/Cargo.toml:2: {pg}.workspace = true"),
            format!("crates/store-sqlite/src/pg.rs:1: use {pg}::Client;"),
            format!("crates/store-postgres/src/d.rs:1: use {driver}::Connection;"),
        ]
    );
    let found = sql_literals(&files);
    let lines: Vec<&str> = found.iter().map(|f| f.split(": ").next().unwrap_or("")).collect();
    assert_eq!(
        lines,
        [
            "crates/server/src/z.rs:3",
            "crates/server/src/z.rs:5",
            "crates/analytics/src/w.rs:1",
            "crates/analytics/src/w.rs:2"
        ],
        "{found:#?}"
    );
}

#[test]
fn string_literals_are_read_like_rust_reads_them() {
    let src = "fn main() { let a = \"one \\\" two\"; // \"not this\"\n let c = '\"'; let l: &'static str = r##\"raw \"# still\"##; /* \"nor /* nested */ this\" */ let e = br\"bytes\"; }";
    let got: Vec<String> = string_literals(src).into_iter().map(|(_, s)| s).collect();
    assert_eq!(got, ["one \\\" two", "raw \"# still", "bytes"]);
}
