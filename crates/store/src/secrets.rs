//! Secrets at rest (SPEC 18: "provider secrets encrypted at rest"): the link-signing key, each workspace's
//! webhook secret, DKIM private keys. A backend stores only what [`SecretBox::seal`] gives it, under the secret's
//! name ([`SecretWrites`], [`SecretReads`]); the crypto is here, the same for every backend.
//!
//! Sealing is ChaCha20-Poly1305 (ring, already in the tree for TLS) under the 32-byte master key, with a random
//! 96-bit nonce per value and the secret's name bound as associated data: a value copied to another name, a
//! flipped bit or another master key fails to open. Random nonces are safe here because a key seals few values
//! (a handful per workspace, far below the 2^32 after which nonce collisions become a concern).
//!
//! Sealed layout: `version (1 byte) || nonce (12) || ciphertext || tag (16)`.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::StoreError;
use crate::read::SecretReads;
use crate::write::SecretWrites;

/// Bytes of the master key.
pub const MASTER_KEY_BYTES: usize = 32;
/// The format of sealed values this build writes (the first byte of every sealed value).
const SEALED_VERSION: u8 = 1;
/// Poly1305 tag bytes.
const TAG_BYTES: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const SEALED_OVERHEAD_BYTES: usize = 1 + NONCE_LEN + TAG_BYTES;

/// The names secrets are stored under (one place, so no two parts of Kairos spell one differently).
pub mod names {
    use kairos_domain::WorkspaceId;

    /// The key that signs links in messages and derives message ids (32 bytes).
    pub const LINK_KEY: &str = "link_key";

    /// The key of the keyed hashes erasure keeps of erased addresses (32 bytes).
    pub const ERASURE_KEY: &str = "erasure_key";

    /// A workspace's webhook signing secret (`whsec_...`, text).
    pub fn webhook(ws: WorkspaceId) -> String {
        format!("workspace/{}/webhook_secret", ws.0)
    }

    /// A workspace's connection to a store platform (`shopify`, `woocommerce`, `magento`): its JSON, tokens
    /// and webhook secret included.
    pub fn integration(ws: WorkspaceId, platform: &str) -> String {
        format!("workspace/{}/integration/{platform}", ws.0)
    }

    /// A DKIM private key (PEM text) for a signing domain and selector.
    pub fn dkim(domain: &str, selector: &str) -> String {
        format!("dkim/{}/{}", domain.trim().to_ascii_lowercase(), selector.trim())
    }
}

/// The key every secret is sealed with: from `KAIROS_SECRET_KEY`, a key file, or (embedded default) a file the
/// binary creates in the data directory. Never stored in the database.
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_BYTES]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; MASTER_KEY_BYTES]) -> Self {
        MasterKey(bytes)
    }

    /// A new random key (from the thread's CSPRNG, seeded by the operating system).
    pub fn generate() -> Self {
        use rand::Rng as _;
        let mut k = [0u8; MASTER_KEY_BYTES];
        rand::rng().fill_bytes(&mut k);
        MasterKey(k)
    }

    pub fn as_bytes(&self) -> &[u8; MASTER_KEY_BYTES] {
        &self.0
    }

    /// A key for `purpose` derived from this one (HMAC-SHA256): every node given the same master key derives
    /// the same, and it tells nothing about the master key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        let tag = ring::hmac::sign(&key, purpose.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The stored value does not open under this master key: another key sealed it, or it was altered.
    #[error(
        "the stored secret {name:?} cannot be decrypted with this master key (it was encrypted with another key, \
         or altered)"
    )]
    Undecryptable { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SecretError> for StoreError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::Store(e) => e,
            e @ SecretError::Undecryptable { .. } => StoreError::Corrupt(e.to_string()),
        }
    }
}

/// Seals and opens secrets under the master key; cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// Associated data: the format version and the name, so a value only opens under the name it was sealed for.
fn aad(name: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(1 + name.len());
    a.push(SEALED_VERSION);
    a.extend_from_slice(name.as_bytes());
    a
}

impl SecretBox {
    pub fn new(key: &MasterKey) -> Self {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key.0).expect("a 32-byte ChaCha20-Poly1305 key");
        SecretBox { key: LessSafeKey::new(unbound) }
    }

    /// `plaintext` sealed for `name`, with a fresh random nonce.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        use rand::Rng as _;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(name)), &mut body)
            .expect("ChaCha20-Poly1305 seals any length a secret has");
        let mut out = Vec::with_capacity(SEALED_OVERHEAD_BYTES + plaintext.len());
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// The plaintext of a value sealed for `name`; refused when the key, the name or any byte differs.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let undecryptable = || SecretError::Undecryptable { name: name.to_string() };
        if sealed.len() < SEALED_OVERHEAD_BYTES || sealed[0] != SEALED_VERSION {
            return Err(undecryptable());
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| undecryptable())?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(aad(name)), &mut body).map_err(|_| undecryptable())?;
        Ok(plain.to_vec())
    }

    /// The secret stored under `name`, opened (inside the write transaction: sees its own writes).
    pub fn get(&self, tx: &mut dyn SecretWrites, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        match tx.secret(name)? {
            Some(sealed) => Ok(Some(self.open(name, &sealed)?)),
            None => Ok(None),
        }
    }

    /// The committed secret stored under `name`, opened.
    pub fn read(&self, r: &dyn SecretReads, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        match r.secret(name)? {
            Some(sealed) => Ok(Some(self.open(name, &sealed)?)),
            None => Ok(None),
        }
    }

    /// The secret under `name`, storing `make()` first when there is none. What comes back is what the store
    /// holds, so two nodes that create one at the same moment both use the one that was stored first.
    pub fn get_or_insert_with(
        &self,
        tx: &mut dyn SecretWrites,
        name: &str,
        at: kairos_domain::Timestamp,
        make: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, SecretError> {
        if let Some(v) = self.get(tx, name)? {
            return Ok(v);
        }
        let stored = tx.insert_secret(name, &self.seal(name, &make()), at)?;
        self.open(name, &stored)
    }

    /// Stores `plaintext` under `name`, replacing any value.
    pub fn put(
        &self,
        tx: &mut dyn SecretWrites,
        name: &str,
        plaintext: &[u8],
        at: kairos_domain::Timestamp,
    ) -> Result<(), SecretError> {
        Ok(tx.put_secret(name, &self.seal(name, plaintext), at)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> SecretBox {
        SecretBox::new(&MasterKey::from_bytes([byte; MASTER_KEY_BYTES]))
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_name() {
        let b = sealer(7);
        let secret = b"whsec_0123456789abcdef";
        let sealed = b.seal("workspace/1/webhook_secret", secret);
        assert_eq!(sealed.len(), secret.len() + SEALED_OVERHEAD_BYTES);
        assert!(!sealed.windows(secret.len()).any(|w| w == secret), "no plaintext in the sealed value");
        assert_eq!(b.open("workspace/1/webhook_secret", &sealed).unwrap(), secret);
        assert_ne!(b.seal("workspace/1/webhook_secret", secret), sealed, "a fresh nonce per value");

        let refused = |r: Result<Vec<u8>, SecretError>| matches!(r, Err(SecretError::Undecryptable { .. }));
        assert!(refused(b.open("workspace/2/webhook_secret", &sealed)), "another name");
        assert!(refused(sealer(8).open("workspace/1/webhook_secret", &sealed)), "another master key");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(refused(b.open("workspace/1/webhook_secret", &bad)), "byte {i} flipped");
        }
        assert!(refused(b.open("workspace/1/webhook_secret", &sealed[..sealed.len() - 1])), "truncated");
        assert!(refused(b.open("workspace/1/webhook_secret", &[])), "empty");
        let empty = b.seal("x", b"");
        assert_eq!(b.open("x", &empty).unwrap(), b"");
    }

    #[test]
    fn keys_and_boxes_never_print_their_bytes() {
        let k = MasterKey::from_bytes([0xAB; MASTER_KEY_BYTES]);
        assert_eq!(format!("{k:?}"), "MasterKey(..)");
        assert_eq!(format!("{:?}", SecretBox::new(&k)), "SecretBox(..)");
        assert_ne!(MasterKey::generate().as_bytes(), MasterKey::generate().as_bytes());
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(names::webhook(kairos_domain::WorkspaceId(12)), "workspace/12/webhook_secret");
        assert_eq!(names::dkim(" Velo.Example ", "k1"), "dkim/velo.example/k1");
    }
}
