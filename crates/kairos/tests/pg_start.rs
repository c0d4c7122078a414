//! Starting on PostgreSQL (issue 12, "bad input and faults"): a wrong database, missing privileges and a schema
//! from a newer version stop the start with an error naming the problem and leave the database as it was; two
//! nodes starting on a new database at once apply the migrations exactly once.

mod common;

use std::process::{Command, Output};

use common::BIN;
use kairos_store_postgres::testing::{
    TestDatabase, create_plain_role, drop_role, migrations_applied, record_schema_version, table_names,
    test_server_url, with_database, workspace_count,
};

fn workspace_create(url: &str) -> Output {
    Command::new(BIN)
        .args(["workspace", "create", "--name", "Shop", "--json", "--database-url", url])
        .env("KAIROS_LOG", "warn")
        .output()
        .expect("run kairos")
}

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "it must fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn postgres_start_errors_name_the_problem_and_change_nothing() {
    let server = test_server_url().expect("KAIROS_TEST_DATABASE_URL is set");
    // A database that does not exist.
    let missing = with_database(&server, "kairos_no_such_database");
    let e = err(&workspace_create(&missing));
    assert!(e.contains("database \"kairos_no_such_database\" does not exist"), "{e}");

    // A user without the right to create tables: nothing is created.
    let db = TestDatabase::create(&server).unwrap();
    let role = format!("kairos_weak_{}", std::process::id());
    create_plain_role(&server, &role).unwrap();
    let weak = db.url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(weak, db.url, "the test server's URL names the user postgres");
    let e = err(&workspace_create(&weak));
    assert!(e.contains("cannot apply the database schema (nothing was changed"), "{e}");
    assert!(e.contains("permission denied"), "{e}");
    assert_eq!(table_names(&db.url).unwrap(), Vec::<String>::new(), "no table was left behind");

    // A schema written by a newer build is refused, untouched.
    assert!(workspace_create(&db.url).status.success());
    record_schema_version(&db.url, 999).unwrap();
    let e = err(&workspace_create(&db.url));
    assert!(e.contains("schema version 999, written by a newer Kairos"), "{e}");
    drop_role(&server, &role).unwrap();
}

#[test]
fn nodes_starting_together_migrate_once() {
    let server = test_server_url().expect("KAIROS_TEST_DATABASE_URL is set");
    let db = TestDatabase::create(&server).unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            Command::new(BIN)
                .args(["workspace", "create", "--name", "Shop", "--json", "--database-url", &db.url])
                .env("KAIROS_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Each migration recorded once (versions 1..=SCHEMA_VERSION), however many nodes started at once.
    let latest = kairos_store_postgres::SCHEMA_VERSION;
    assert_eq!(migrations_applied(&db.url).unwrap(), (latest, latest));
    assert_eq!(workspace_count(&db.url).unwrap(), 4);
}
