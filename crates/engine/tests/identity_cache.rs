//! The identity cache holds digests of (workspace, kind, value), not the strings: the same value as a user id and
//! as an anonymous id, or in two workspaces, still names different people.

mod common;

use kairos_domain::event::EventKind;
use kairos_domain::{ContactId, Timestamp, WorkspaceId};
use kairos_engine::Engine;
use kairos_store::IdentityKind;

fn found(engine: &Engine, ws: WorkspaceId, kind: IdentityKind, value: &str) -> Option<ContactId> {
    engine.read(|r| r.contact_by_identity(ws, kind, value)).unwrap().map(|c| c.id)
}

#[test]
fn a_value_names_one_person_per_workspace_and_kind() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let (_dir, ws, _clock, engine) = common::engine_on_sqlite(t0);
    let keys = engine.store().create_workspace("other", t0).unwrap();
    let other = engine.store().workspaces().unwrap().into_iter().find(|w| w.1 == keys.id).unwrap().0;
    let by_user = common::event(1, EventKind::Track, (Some("x".into()), None), t0, t0);
    let by_anonymous = common::event(2, EventKind::Track, (None, Some("x".into())), t0, t0);
    // One event a call: each resolves against what the cache holds after the one before.
    engine.ingest_blocking(ws, true, vec![by_user.clone()]).unwrap();
    engine.ingest_blocking(ws, true, vec![by_anonymous]).unwrap();
    engine.ingest_blocking(other, true, vec![by_user]).unwrap();
    engine.settle_blocking().unwrap();
    let user = found(&engine, ws, IdentityKind::UserId, "x").expect("the user id is bound");
    let anonymous = found(&engine, ws, IdentityKind::AnonymousId, "x").expect("the anonymous id is bound");
    assert_ne!(user, anonymous, "a user id and an anonymous id that are the same text are different people");
    let elsewhere = found(&engine, other, IdentityKind::UserId, "x").expect("bound in the other workspace");
    assert!(![user, anonymous].contains(&elsewhere), "another workspace's user x is its own contact");
    engine.shutdown();
}
