//! Architecture boundaries, checked on the source tree (CI runs this with every test):
//! - the SQLite driver is named only in `crates/store-sqlite` (its Cargo.toml and sources): nothing else may
//!   depend on it or mention it in code. The workspace `clippy.toml` forbids its types too, but clippy only sees
//!   crates that depend on it; this also catches a new dependency;
//! - SQL appears only in `crates/store-sqlite`: no string literal elsewhere contains a SQL statement keyword.
//!
//! Both checks are also run on planted violations (the `*_are_found` tests), so they can fail.

use std::path::{Path, PathBuf};

/// The one crate that holds SQL and the driver.
const SQL_CRATE: &str = "crates/store-sqlite";
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

/// The driver's name, assembled so that this file does not contain it.
fn driver() -> String {
    ["rus", "qlite"].concat()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Every `.rs` file and crate `Cargo.toml` under `crates/` and `fuzz/` (build output skipped), relative paths.
fn sources(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("fuzz")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") || name == "Cargo.toml" {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((rel, text));
                }
            }
        }
    }
    out.sort();
    out
}

fn outside_sql_crate(path: &str) -> bool {
    !path.starts_with(&format!("{SQL_CRATE}/"))
}

/// Lines of files outside the SQL crate that name the driver.
fn driver_mentions(files: &[(String, String)]) -> Vec<String> {
    let driver = driver();
    files
        .iter()
        .filter(|(path, _)| outside_sql_crate(path))
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| line.contains(&driver))
                .map(move |(i, line)| format!("{path}:{}: {}", i + 1, line.trim()))
        })
        .collect()
}

/// The string literals of Rust source text: `"..."` (escapes kept as written), raw strings `r#"..."#` and byte
/// strings; comments, char literals and lifetimes are skipped. Returns (line, content).
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(b[i] == b'\n');
                        i += 1;
                    }
                }
            }
            b'r' | b'b' if raw_start(b, i).is_some() => {
                let (hashes, body) = raw_start(b, i).unwrap_or_default();
                let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                let end =
                    b[body..].windows(close.len()).position(|w| w == close.as_slice()).map_or(b.len(), |p| body + p);
                let text = String::from_utf8_lossy(&b[body..end]).to_string();
                out.push((line, text.clone()));
                line += text.matches('\n').count();
                i = (end + close.len()).min(b.len());
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let text = String::from_utf8_lossy(&b[start..i.min(b.len())]).to_string();
                out.push((line, text.clone()));
                line += text.matches('\n').count();
                i += 1;
            }
            b'\'' => {
                // A char literal ('"', '\'', '\u{..}') or a lifetime ('a): skip the literal so its quote is not
                // taken for the start of a string.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 3; // the quote, the backslash and the escaped character
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                // A whole identifier (raw strings were recognised at its first letter above).
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// At `i`, the start of a raw (byte) string `r"`, `r#"`, `br"`, or a byte string `b"`: (number of `#`, index of
/// the first byte of its content).
fn raw_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
        if b.get(j) == Some(&b'"') {
            return None; // a plain byte string: read as a normal string from its quote
        }
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|c| **c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some((hashes, j + hashes + 1))
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
fn only_the_sqlite_crate_names_the_driver() {
    let root = root();
    let files = sources(&root);
    assert!(files.len() > 50, "the scan found the sources ({} files)", files.len());
    assert!(files.iter().any(|(p, t)| !outside_sql_crate(p) && t.contains(&driver())), "the SQL crate is scanned");
    let found = driver_mentions(&files);
    assert!(found.is_empty(), "the SQLite driver outside {SQL_CRATE}:\n{}", found.join("\n"));
}

#[test]
fn only_the_sqlite_crate_holds_sql() {
    let files = sources(&root());
    let inside = files.iter().filter(|(p, _)| !outside_sql_crate(p)).count();
    assert!(inside > 5, "the SQL crate is scanned");
    let found = sql_literals(&files);
    assert!(found.is_empty(), "SQL outside {SQL_CRATE}:\n{}", found.join("\n"));
}

#[test]
fn planted_violations_are_found() {
    let driver = driver();
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
    ];
    assert_eq!(
        driver_mentions(&files),
        vec![
            format!("crates/engine/src/x.rs:1: use {driver}::Connection;"),
            format!("crates/server/Cargo.toml:2: {driver} = \"1\""),
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
