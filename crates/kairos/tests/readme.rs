//! Documentation that runs (issue 18): every shell example of README.md and of the repository's other Markdown
//! guides is run, in order, against a fresh server, and checked against what the guide says it answers. An
//! example that drifts from the code fails here.
//!
//! The convention (README, "Examples in this README are tested"):
//! - every ```` ```sh ```` block runs, in the order of the files (README.md first) and of the blocks, with
//!   `$KAIROS`, `$WS`, `$WK` and `$SK` set to the test server's address, workspace and keys (a guide's own
//!   `KAIROS=...; WS=ws_…` line is run too, and the real values put back after it);
//! - a block that cannot run here (a long-running server, the demo, installing packages, a real shop, DNS) is
//!   preceded by `<!-- not run: the reason -->`; a block neither run nor marked cannot exist;
//! - each command's HTTP calls (`curl`, through a wrapper that records them) must answer 2xx, unless the comment
//!   line right after the command says otherwise: `# → 409`, or `# → 201 {"id": "$SEG", "name": "VIP"}` (the
//!   answer's JSON must contain what is shown: objects may have more keys, a text with `…` matches any text
//!   where the `…` are, and a `"$NAME"` text takes the answer's value into `$NAME` for the commands after);
//! - variables a command sets (`A=$(curl …)`) are kept for the commands after it, as in a reader's shell.
//!
//! The commands run with `bash` in a scratch folder holding the server's data directory as `./kairos-data`, with
//! `kairos` and `./target/release/kairos` the binary under test.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{BIN, TestServer, backend_env, create_workspace};
use serde_json::Value;

/// Info strings of the fenced blocks that are shell examples.
const SHELL_LANGS: [&str; 4] = ["sh", "bash", "shell", "console"];
const NOT_RUN: &str = "<!-- not run:";
const EXPECT: &str = "# →";

#[derive(Debug)]
struct Block {
    file: String,
    /// Line of the opening fence (1-based).
    line: usize,
    lines: Vec<String>,
    not_run: Option<String>,
}

#[derive(Debug, PartialEq)]
struct Expect {
    status: u16,
    json: Option<Value>,
}

#[derive(Debug)]
struct Cmd {
    file: String,
    line: usize,
    text: String,
    expect: Option<Expect>,
}

/// The Markdown guides of the repository: README.md first, then every other `.md` outside build output and
/// dependencies, by path.
fn guides(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                let skip = name.starts_with('.')
                    || ["target", "node_modules", "kairos-data", "kairos-demo", "corpus", "artifacts"]
                        .contains(&name.as_str());
                if !skip {
                    walk(&p, out);
                }
            } else if name.ends_with(".md") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort_by_key(|p| (p != &root.join("README.md"), p.clone()));
    out
}

/// The shell blocks of a guide, each with its `not run` marker when it has one. A marker without a reason, or
/// not followed by a shell block, is an error.
fn shell_blocks(file: &str, text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut marker: Option<(usize, String)> = None;
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix(NOT_RUN) {
            let reason = rest.trim_end_matches("-->").trim();
            if reason.is_empty() || !t.ends_with("-->") {
                return Err(format!("{file}:{}: `<!-- not run: reason -->` needs a reason on one line", i + 1));
            }
            marker = Some((i + 1, reason.to_string()));
            continue;
        }
        if let Some(info) = t.strip_prefix("```") {
            let lang = info.split_whitespace().next().unwrap_or("");
            let mut body = Vec::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push(l.to_string());
            }
            if SHELL_LANGS.contains(&lang) {
                blocks.push(Block {
                    file: file.to_string(),
                    line: i + 1,
                    lines: body,
                    not_run: marker.take().map(|m| m.1),
                });
            } else if let Some((at, _)) = marker {
                return Err(format!("{file}:{at}: a `not run` marker before a `{lang}` block, not a shell one"));
            }
            continue;
        }
        if !t.is_empty()
            && let Some((at, _)) = marker
        {
            return Err(format!("{file}:{at}: a `not run` marker must come right before its shell block"));
        }
    }
    if let Some((at, _)) = marker {
        return Err(format!("{file}:{at}: a `not run` marker with no shell block after it"));
    }
    Ok(blocks)
}

/// Whether shell text ends inside a quote or with a line continuation (the command goes on on the next line).
fn continues(text: &str) -> bool {
    #[derive(PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut q = Q::None;
    let mut chars = text.chars().peekable();
    let mut prev_blank = true;
    let mut trailing_backslash = false;
    while let Some(c) = chars.next() {
        trailing_backslash = false;
        match q {
            Q::Single => {
                if c == '\'' {
                    q = Q::None;
                }
            }
            Q::Double => match c {
                '\\' => {
                    chars.next();
                }
                '"' => q = Q::None,
                _ => {}
            },
            Q::None => match c {
                '\'' => q = Q::Single,
                '"' => q = Q::Double,
                '\\' => match chars.next() {
                    Some('\n') | None => trailing_backslash = true,
                    Some(_) => {}
                },
                '#' if prev_blank => {
                    // A comment: to the end of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    prev_blank = true;
                    continue;
                }
                _ => {}
            },
        }
        prev_blank = q == Q::None && (c.is_whitespace() || c == ';' || c == '|' || c == '&' || c == '(');
    }
    q != Q::None || trailing_backslash
}

/// A block split into commands, each with the expectation written on the comment lines right after it.
fn commands(block: &Block) -> Result<Vec<Cmd>, String> {
    let at = |n: usize| format!("{}:{}", block.file, block.line + 1 + n);
    let mut out: Vec<Cmd> = Vec::new();
    let mut i = 0;
    let mut last_was_command = false;
    while i < block.lines.len() {
        let line = &block.lines[i];
        let t = line.trim();
        if t.is_empty() {
            last_was_command = false;
            i += 1;
            continue;
        }
        if let Some(rest) = t.strip_prefix(EXPECT) {
            let Some(cmd) = out.last_mut().filter(|_| last_was_command) else {
                return Err(format!("{}: `# →` must follow the command it is about", at(i)));
            };
            let rest = rest.trim();
            let (status, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let status: u16 = status.parse().map_err(|_| format!("{}: `# → STATUS [JSON]`: no status", at(i)))?;
            let mut json_text = json.trim().to_string();
            while !json_text.is_empty() && serde_json::from_str::<Value>(&json_text).is_err() {
                i += 1;
                match block.lines.get(i).map(|l| l.trim()) {
                    Some(l) if l.starts_with('#') && !l.starts_with(EXPECT) => {
                        json_text.push(' ');
                        json_text.push_str(l.trim_start_matches('#'));
                    }
                    _ => return Err(format!("{}: the expected answer is not JSON: {json_text}", at(i - 1))),
                }
            }
            let json = if json_text.is_empty() { None } else { Some(serde_json::from_str(&json_text).unwrap()) };
            cmd.expect = Some(Expect { status, json });
            last_was_command = false;
            i += 1;
            continue;
        }
        if t.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = line.clone();
        while continues(&text) {
            i += 1;
            let Some(next) = block.lines.get(i) else {
                return Err(format!("{}: the command does not end (a quote left open?)", at(start)));
            };
            text.push('\n');
            text.push_str(next);
        }
        out.push(Cmd { file: block.file.clone(), line: block.line + 1 + start, text, expect: None });
        last_was_command = true;
        i += 1;
    }
    Ok(out)
}

/// Whether `actual` holds what `expected` shows (see the module comment); `$NAME` texts are captured.
fn matches(
    expected: &Value,
    actual: &Value,
    path: &str,
    captured: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let differ =
        || Err(format!("{}: expected {expected}, got {actual}", if path.is_empty() { "answer" } else { path }));
    match (expected, actual) {
        (Value::String(e), _) if is_capture(e) => {
            let v = match actual {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return differ(),
            };
            captured.insert(e[1..].to_string(), v);
            Ok(())
        }
        (Value::String(e), Value::String(a)) if e.contains('…') => {
            if pattern_matches(e, a) {
                Ok(())
            } else {
                differ()
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let Some(av) = a.get(k) else {
                    return Err(format!("{path}.{k}: missing from the answer {actual}"));
                };
                matches(ev, av, &format!("{path}.{k}"), captured)?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if a.len() < e.len() {
                return differ();
            }
            for (n, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, av, &format!("{path}[{n}]"), captured)?;
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        _ if expected == actual => Ok(()),
        _ => differ(),
    }
}

fn is_capture(s: &str) -> bool {
    s.strip_prefix('$')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

/// `seg_…` matches every text starting with `seg_`; `…` anything.
fn pattern_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(n) => rest = &rest[n + p.len()..],
            None => return false,
        }
    }
    true
}

/// Defines `curl` as the real one that also records each call's status and body (in `$__DOC/calls`: status,
/// tab, body file).
const PRELUDE: &str = r#"
curl() {
  local h b rc
  h=$(mktemp -p "$__DOC") b=$(mktemp -p "$__DOC")
  command curl -sS --max-time 30 -D "$h" "$@" | tee "$b"
  rc=${PIPESTATUS[0]}
  printf '%s\t%s\n' "$(awk '/^HTTP\//{s=$2} END{print s}' "$h")" "$b" >> "$__DOC/calls"
  return $rc
}
"#;

struct Run {
    dir: PathBuf,
    doc: PathBuf,
    base_env: Vec<(String, String)>,
    vars: BTreeMap<String, String>,
    pinned: BTreeMap<String, String>,
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    calls: Vec<(u16, String)>,
}

impl Run {
    fn run(&mut self, text: &str) -> Outcome {
        let _ = std::fs::remove_file(self.doc.join("calls"));
        let script = format!("set -a\n{PRELUDE}\n{text}\n__rc=$?\nenv -0 > \"$__DOC/env\"\nexit $__rc\n",);
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.base_env.iter().map(|(k, v)| (k, v)))
            .envs(&self.vars)
            .env("__DOC", &self.doc)
            .output()
            .expect("run bash");
        let calls = std::fs::read_to_string(self.doc.join("calls")).unwrap_or_default();
        let calls = calls
            .lines()
            .map(|l| {
                let (status, body) = l.split_once('\t').unwrap_or((l, ""));
                (status.parse().unwrap_or(0), std::fs::read_to_string(body).unwrap_or_default())
            })
            .collect();
        // What the command left set, for the commands after it; the documented keys stay the real ones.
        if let Ok(env) = std::fs::read(self.doc.join("env")) {
            let base: BTreeMap<&str, &str> = self.base_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            for kv in env.split(|b| *b == 0) {
                let kv = String::from_utf8_lossy(kv);
                let Some((k, v)) = kv.split_once('=') else { continue };
                let ident = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with("__");
                let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"].contains(&k);
                if ident && !shell_own && base.get(k) != Some(&v) {
                    self.vars.insert(k.to_string(), v.to_string());
                }
            }
            let _ = std::fs::remove_file(self.doc.join("env"));
        }
        self.vars.extend(self.pinned.clone());
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
            calls,
        }
    }
}

/// Checks one command's outcome against what its guide says.
fn check(cmd: &Cmd, o: &Outcome, vars: &mut BTreeMap<String, String>) -> Result<(), String> {
    if o.code != Some(0) {
        return Err(format!("exited with {:?}\nstdout: {}\nstderr: {}", o.code, o.stdout, o.stderr));
    }
    let Some((status, body)) = o.calls.last() else {
        return match &cmd.expect {
            Some(_) => Err("`# →` after a command that makes no HTTP call".into()),
            None => Ok(()),
        };
    };
    match &cmd.expect {
        None if (200..300).contains(status) => Ok(()),
        None => Err(format!("answered {status} (an example answers 2xx unless `# → STATUS` says otherwise): {body}")),
        Some(e) if e.status != *status => Err(format!("answered {status}, the guide says {}: {body}", e.status)),
        Some(Expect { json: None, .. }) => Ok(()),
        Some(Expect { json: Some(want), .. }) => {
            let got: Value = serde_json::from_str(body).map_err(|e| format!("the answer is not JSON ({e}): {body}"))?;
            // What was taken before a difference is kept, so that one drifted answer fails one example, not
            // every one after it.
            matches(want, &got, "", vars)
        }
    }
}

#[test]
fn every_shell_example_of_the_guides_runs_as_documented() {
    let started = Instant::now();
    assert!(Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success()), "curl is needed");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let mut blocks = Vec::new();
    for path in guides(&root) {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        blocks.extend(shell_blocks(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    let mut parsed = Vec::new();
    for b in &blocks {
        if b.not_run.is_none() {
            parsed.push(commands(b).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    assert!(parsed.iter().map(Vec::len).sum::<usize>() > 100, "the guides' examples were not found");

    // The scratch folder: the server's data directory as ./kairos-data, the binary as `kairos` and as
    // ./target/release/kairos.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let data = dir.join("kairos-data");
    let doc = dir.join(".doc");
    for d in [&data, &doc, &dir.join("bin"), &dir.join("target/release")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(BIN, dir.join("bin/kairos")).unwrap();
    std::os::unix::fs::symlink(BIN, dir.join("target/release/kairos")).unwrap();
    for f in std::fs::read_dir(root.join("examples")).unwrap().flatten() {
        std::fs::create_dir_all(dir.join("examples")).unwrap();
        std::fs::copy(f.path(), dir.join("examples").join(f.file_name())).unwrap();
    }
    let keys = create_workspace(&data, "Velo Shop");
    let server = TestServer::serve(&data, None, keys.clone(), &[], &[]);

    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut base_env: Vec<(String, String)> =
        vec![("PATH".into(), path), ("HOME".into(), dir.display().to_string()), ("LANG".into(), "C.UTF-8".into())];
    base_env.extend(backend_env(&data));
    base_env.push(("KAIROS_LOG".into(), "warn".into()));
    let pinned: BTreeMap<String, String> = [
        ("KAIROS", format!("http://{}", server.addr)),
        ("WS", keys.id.clone()),
        ("WK", keys.write_key.clone()),
        ("SK", keys.secret_key.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut run = Run { dir, doc, base_env, vars: pinned.clone(), pinned };

    let mut failures = Vec::new();
    let mut ran = 0;
    for cmd in parsed.iter().flatten() {
        let o = run.run(&cmd.text);
        ran += 1;
        if let Err(e) = check(cmd, &o, &mut run.vars) {
            failures.push(format!("{}:{}:\n{}\n  → {e}", cmd.file, cmd.line, cmd.text));
        }
    }
    let skipped: Vec<String> =
        blocks.iter().filter_map(|b| b.not_run.as_ref().map(|r| format!("{}:{} ({r})", b.file, b.line))).collect();
    eprintln!(
        "{ran} commands of {} blocks run in {:.1?}; {} blocks not run: {}",
        parsed.len(),
        started.elapsed(),
        skipped.len(),
        skipped.join("; ")
    );
    assert!(
        failures.is_empty(),
        "{} examples do not do what the guides say:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn commands_span_quotes_and_continuations_and_carry_their_expectation() {
    let block = Block {
        file: "X.md".into(),
        line: 1,
        lines: [
            "# a comment",
            "curl -d '{\"a\": 1,",
            "  \"b\": \"x\"}'   # not a quote: 'x",
            "# → 201 {\"id\": \"$SEG\",",
            "#   \"name\": \"seg_…\"}",
            "curl $KAIROS/x \\",
            "  -H 'y'",
            "A=1; B=2   # trailing",
        ]
        .map(String::from)
        .to_vec(),
        not_run: None,
    };
    let cmds = commands(&block).unwrap();
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    assert_eq!(cmds[0].line, 3);
    assert!(cmds[0].text.ends_with("'x"));
    let want = serde_json::json!({"id": "$SEG", "name": "seg_…"});
    assert_eq!(cmds[0].expect, Some(Expect { status: 201, json: Some(want) }));
    assert_eq!(cmds[1].text, "curl $KAIROS/x \\\n  -H 'y'");
    assert_eq!(cmds[1].expect, None);
    assert_eq!(cmds[2].text, "A=1; B=2   # trailing");
}

#[test]
fn expectations_match_subsets_patterns_and_capture() {
    let mut vars = BTreeMap::new();
    let got = serde_json::json!({"id": "seg_12ab", "size": 3, "items": [{"n": 1}, {"n": 2}], "x": null});
    let ok = serde_json::json!({"id": "$SEG", "size": 3.0, "items": [{"n": 1}]});
    matches(&ok, &got, "", &mut vars).unwrap();
    assert_eq!(vars["SEG"], "seg_12ab");
    matches(&serde_json::json!({"id": "seg_…"}), &got, "", &mut vars).unwrap();
    matches(&serde_json::json!({"id": "s…1…b"}), &got, "", &mut vars).unwrap();
    for bad in [
        serde_json::json!({"id": "flow_…"}),
        serde_json::json!({"size": 4}),
        serde_json::json!({"missing": 1}),
        serde_json::json!({"items": [{"n": 2}]}),
        serde_json::json!({"x": "$X"}),
    ] {
        assert!(matches(&bad, &got, "", &mut vars).is_err(), "{bad}");
    }
}

#[test]
fn markers_need_a_reason_and_a_shell_block() {
    let ok = "text\n<!-- not run: starts a server -->\n```sh\nkairos serve\n```\n```sh\ncurl x\n```\n";
    let blocks = shell_blocks("X.md", ok).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].not_run.as_deref(), Some("starts a server"));
    assert_eq!(blocks[1].not_run, None);
    for bad in [
        "<!-- not run: -->\n```sh\nx\n```\n",
        "<!-- not run: why -->\ntext\n```sh\nx\n```\n",
        "<!-- not run: why -->\n```toml\nx\n```\n",
        "<!-- not run: why -->\n",
    ] {
        assert!(shell_blocks("X.md", bad).is_err(), "{bad}");
    }
}
