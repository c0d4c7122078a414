//! Sealed secrets: stored byte for byte under their names, "insert if absent" answering the stored value, and
//! committed like every other write.

use super::{at, write};
use crate::secrets::{MasterKey, SecretBox, SecretError, names};
use crate::{Store, WriteTx};

/// Binary values (any byte, up to a PEM's size) round-trip; an insert never replaces, a put does; reads see
/// committed values only; names list sorted.
pub fn secrets_insert_once_and_round_trip(store: &dyn Store) {
    let pem: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let first = write(store, |w| {
        assert_eq!(w.secret("link_key")?, None);
        let stored = w.insert_secret("link_key", &[0, 1, 2, 255], at(1))?;
        assert_eq!(stored, [0, 1, 2, 255], "the value inserted");
        assert_eq!(w.insert_secret("link_key", &[9, 9], at(2))?, [0, 1, 2, 255], "an insert never replaces");
        w.insert_secret("dkim/velo.example/k1", &pem, at(3))?;
        w.put_secret("workspace/1/webhook_secret", b"first", at(4))?;
        w.put_secret("workspace/1/webhook_secret", b"second", at(5))?;
        assert_eq!(w.secret("workspace/1/webhook_secret")?.as_deref(), Some(&b"second"[..]), "a put replaces");
        assert_eq!(w.secret_names()?, ["dkim/velo.example/k1", "link_key", "workspace/1/webhook_secret"]);
        assert!(w.delete_secret("workspace/1/webhook_secret")?);
        assert!(!w.delete_secret("workspace/1/webhook_secret")?, "already gone");
        w.secret("link_key")
    });
    assert_eq!(first.as_deref(), Some(&[0, 1, 2, 255][..]));
    let r = store.reader().unwrap();
    assert_eq!(r.secret("dkim/velo.example/k1").unwrap(), Some(pem));
    assert_eq!(r.secret("workspace/1/webhook_secret").unwrap(), None);
    assert_eq!(r.secret_names().unwrap(), ["dkim/velo.example/k1", "link_key"]);
    drop(r);

    // A rolled-back insert leaves nothing; readers never see an open transaction's value.
    let mut w = store.writer().unwrap();
    {
        let mut tx = w.transaction().unwrap();
        tx.insert_secret("pending", b"x", at(6)).unwrap();
        assert_eq!(store.read(|r| r.secret("pending")).unwrap(), None, "not committed yet");
    }
    assert_eq!(store.read(|r| r.secret("pending")).unwrap(), None, "rolled back");
}

/// Two writers (two nodes starting at once) creating the same secret agree on the first one stored, and what
/// the backend holds is the sealed value only.
pub fn secrets_created_once_across_writers(store: &dyn Store) {
    let sealer = SecretBox::new(&MasterKey::from_bytes([3; 32]));
    let create = |store: &dyn Store, value: &'static [u8]| {
        write(store, |w: &mut dyn WriteTx| {
            Ok(sealer.get_or_insert_with(w, names::LINK_KEY, at(1), || value.to_vec()).expect("opens"))
        })
    };
    let a = create(store, b"node a's key");
    let b = create(store, b"node b's key");
    assert_eq!((a.as_slice(), b.as_slice()), (&b"node a's key"[..], &b"node a's key"[..]));
    let stored = store.read(|r| r.secret(names::LINK_KEY)).unwrap().expect("stored");
    assert!(!stored.windows(a.len()).any(|w| w == a.as_slice()), "only ciphertext is stored");
    assert_eq!(sealer.read(&*store.reader().unwrap(), names::LINK_KEY).unwrap().as_deref(), Some(&a[..]));
    let other = SecretBox::new(&MasterKey::from_bytes([4; 32]));
    assert!(matches!(
        other.read(&*store.reader().unwrap(), names::LINK_KEY),
        Err(SecretError::Undecryptable { name }) if name == names::LINK_KEY
    ));
    // A value stored under one name does not open under another (copying rows around is refused).
    write(store, |w| {
        w.put_secret("copied", &stored, at(2))?;
        assert!(matches!(sealer.get(w, "copied"), Err(SecretError::Undecryptable { .. })));
        sealer.put(w, "copied", b"fresh", at(3)).expect("put");
        assert_eq!(sealer.get(w, "copied").expect("opens").as_deref(), Some(&b"fresh"[..]));
        Ok(())
    });
}
