//! Transactions, workspaces and API keys, users and sessions.

use kairos_domain::ContactId;

use super::{at, contact, workspace};
use crate::users::UserError;
use crate::{KeyKind, Store};

/// Writes are visible only once committed; a rolled-back or abandoned transaction leaves nothing.
pub fn transactions_commit_and_roll_back(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let mut w = store.writer().unwrap();
    w.rollback().unwrap(); // nothing open: no error

    w.begin().unwrap();
    w.upsert_contact(&contact(1, ws, "a@shop.example", "Ann")).unwrap();
    assert!(w.load_contact(ContactId(1)).unwrap().is_some(), "the transaction sees its own writes");
    w.rollback().unwrap();
    w.begin().unwrap();
    assert!(w.load_contact(ContactId(1)).unwrap().is_none(), "rolled back");
    w.commit().unwrap();

    {
        let mut tx = w.transaction().unwrap();
        tx.upsert_contact(&contact(2, ws, "b@shop.example", "Bo")).unwrap();
        // Dropped without commit: rolled back.
    }
    {
        let mut tx = w.transaction().unwrap();
        tx.upsert_contact(&contact(3, ws, "c@shop.example", "Cai")).unwrap();
        assert!(store.read(|r| r.contact(ws, ContactId(3))).unwrap().is_none(), "readers see committed data only");
        tx.commit().unwrap();
    }
    {
        let mut tx = w.transaction().unwrap();
        tx.upsert_contact(&contact(4, ws, "d@shop.example", "Dee")).unwrap();
        tx.rollback().unwrap();
    }
    let r = store.reader().unwrap();
    assert!(r.contact(ws, ContactId(2)).unwrap().is_none());
    assert_eq!(r.contact(ws, ContactId(3)).unwrap().map(|c| c.id), Some(ContactId(3)));
    assert!(r.contact(ws, ContactId(4)).unwrap().is_none());
    drop(r);
    // A second writer (another process's committer) sees what the first committed.
    drop(w);
    let mut w2 = store.writer().unwrap();
    assert_eq!(w2.max_contact_id().unwrap(), 3);
}

/// Workspaces are listed oldest first; keys resolve to their workspace and kind.
pub fn workspaces_and_api_keys(store: &dyn Store) {
    let a = store.create_workspace("Shop A", at(0)).unwrap();
    let b = store.create_workspace("Shop B", at(1)).unwrap();
    assert!(a.id.starts_with("ws_") && a.write_key.starts_with("wk_") && a.secret_key.starts_with("sk_"));
    assert_ne!(a.secret_key, b.secret_key);
    let list = store.workspaces().unwrap();
    let names: Vec<(&str, &str)> = list.iter().map(|(_, id, name)| (id.as_str(), name.as_str())).collect();
    assert_eq!(names, [(a.id.as_str(), "Shop A"), (b.id.as_str(), "Shop B")]);
    let (ws_a, ws_b) = (list[0].0, list[1].0);
    let r = store.reader().unwrap();
    assert_eq!(r.key(&a.write_key).unwrap(), Some((ws_a, KeyKind::Write)));
    assert_eq!(r.key(&a.secret_key).unwrap(), Some((ws_a, KeyKind::Secret)));
    assert_eq!(r.key(&b.secret_key).unwrap(), Some((ws_b, KeyKind::Secret)));
    assert_eq!(r.key("sk_unknown").unwrap(), None);
    assert_eq!(r.key("").unwrap(), None);
    drop(r);
    // Background upkeep starts and stops; a local directory is optional.
    drop(store.start_background().unwrap());
    let _ = store.local_dir();
}

/// Logins (Argon2id) and sessions: expiry, logout, a new password ending sessions, expired ones swept.
pub fn users_log_in_and_sessions_expire(store: &dyn Store) {
    let ws = store.create_workspace("Shop", at(0)).unwrap().id;
    let other = store.create_workspace("Other", at(0)).unwrap().id;
    let now = at(10);
    let user = store.create_user(&ws, " Ann@Shop.example ", "s3cret-pass", now).unwrap();
    assert_eq!(user.email, "ann@shop.example");
    assert!(matches!(store.create_user(&ws, "ann@shop.example", "another-pass", now), Err(UserError::Exists)));
    assert!(matches!(
        store.create_user("ws_nope", "b@shop.example", "s3cret-pass", now),
        Err(UserError::UnknownWorkspace(_))
    ));
    assert!(matches!(store.create_user(&ws, "not-an-email", "s3cret-pass", now), Err(UserError::InvalidEmail)));
    assert!(matches!(store.create_user(&ws, "c@shop.example", "short", now), Err(UserError::InvalidPassword)));
    assert!(matches!(store.set_password(&ws, "nobody@shop.example", "s3cret-pass"), Err(UserError::NotFound)));
    // The same email in another workspace, with another password: each password finds its own login.
    let twin = store.create_user(&other, "ann@shop.example", "other-pass", now).unwrap();
    assert_ne!(twin.workspace, user.workspace);
    assert_eq!(store.password_hashes(&kairos_domain::Email::parse("ann@shop.example").unwrap()).unwrap().len(), 2);
    let listed: Vec<String> = store.workspace_users(user.workspace).unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(listed, ["ann@shop.example"], "one workspace's users only");

    assert_eq!(store.authenticate_user("ANN@shop.example", "s3cret-pass").unwrap(), Some(user.clone()));
    assert_eq!(store.authenticate_user("ann@shop.example", "other-pass").unwrap(), Some(twin));
    assert_eq!(store.authenticate_user("ann@shop.example", "wrong-pass").unwrap(), None);
    assert_eq!(store.authenticate_user("bob@shop.example", "s3cret-pass").unwrap(), None);
    assert_eq!(store.authenticate_user("not an email", "s3cret-pass").unwrap(), None);

    let ttl = 10 * super::SEC;
    let s = store.create_session(&user, now, ttl).unwrap();
    let found = store.read(|r| r.session(&s.token, now)).unwrap().expect("live session");
    assert_eq!(
        (found.workspace, found.email.as_str(), found.csrf.as_str(), found.workspace_name.as_str()),
        (user.workspace, "ann@shop.example", s.csrf.as_str(), "Shop")
    );
    assert_eq!((found.workspace_public_id.as_str(), found.expires_at), (ws.as_str(), s.expires_at));
    assert!(store.read(|r| r.session(&s.token, at(19))).unwrap().is_some(), "live until its expiry");
    assert_eq!(store.read(|r| r.session(&s.token, at(20))).unwrap(), None, "expired at expires_at");
    assert_eq!(store.read(|r| r.session("forged", now)).unwrap(), None);

    store.delete_session(&s.token).unwrap();
    assert_eq!(store.read(|r| r.session(&s.token, now)).unwrap(), None, "logged out");
    store.delete_session("unknown").unwrap();

    // A session created once the first has expired sweeps it away.
    let old = store.create_session(&user, now, ttl).unwrap();
    let fresh = store.create_session(&user, at(100), ttl).unwrap();
    assert_eq!(store.read(|r| r.session(&old.token, now)).unwrap(), None, "swept");
    assert!(store.read(|r| r.session(&fresh.token, at(100))).unwrap().is_some());

    store.set_password(&ws, "ann@shop.example", "new-password").unwrap();
    assert_eq!(store.read(|r| r.session(&fresh.token, at(100))).unwrap(), None, "a new password ends sessions");
    assert!(store.authenticate_user("ann@shop.example", "new-password").unwrap().is_some());
    assert_eq!(store.authenticate_user("ann@shop.example", "s3cret-pass").unwrap(), None);
}
