//! DKIM signing (RFC 6376) with AWS-LC (aws-lc-rs): RSA-SHA256 (PKCS#1 v1.5, deterministic) and Ed25519-SHA256
//! (RFC 8463), relaxed/relaxed canonicalisation, and dual signing (an RSA and an Ed25519 signature on one message,
//! RFC 8463 §1), over the bytes of a formatted message.
//!
//! The `DKIM-Signature` field is written exactly as lettre's signer wrote it (same tags in the same order, folded
//! the same way, appended at the end of the header block), so that for one key and message the signatures are
//! byte for byte lettre's (tests compare them). The signing itself is AWS-LC's constant-time code instead of the
//! pure-Rust `rsa` crate lettre signs with (several times slower). Two differences from lettre, both where it
//! departs from RFC 6376 and neither reachable by a message Kairos formats: an empty body is hashed empty (lettre
//! hashed a CRLF), and white space leading a folded header value is removed.

mod canon;
mod keys;
#[cfg(test)]
mod tests;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use self::keys::SigningKey;
use super::DkimConfig;
use crate::ConfigError;

/// Headers covered by the signature. Names absent from a message (no List-Unsubscribe) are still listed:
/// RFC 6376 §5.4 treats them as empty, which also stops anyone from adding them later.
const SIGNED_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkimError {
    #[error("the message has no empty line ending its header block")]
    NoHeaderEnd,
    /// AWS-LC refused to sign (its RSA blinding needs the system's random numbers).
    #[error("the {0} key could not sign")]
    Crypto(&'static str),
}

/// One signing key and the selector its public key is published under.
struct SelectorKey {
    selector: String,
    key: SigningKey,
}

/// Signs messages for one domain with one key, or two (dual signing). Parses the keys once; `Send + Sync`.
pub struct DkimSigner {
    domain: String,
    keys: Vec<SelectorKey>,
    /// The `h=` tag: [`SIGNED_HEADERS`] lower-cased, joined with colons.
    header_list: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| format!("{}/{}", k.selector, k.key.algorithm())).collect();
        f.debug_struct("DkimSigner").field("domain", &self.domain).field("keys", &keys).finish()
    }
}

fn check_label(field: &'static str, value: &str, what: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() || value.contains(|c: char| c.is_whitespace() || c == ';') {
        return Err(ConfigError::new(field, format!("must be {what}")));
    }
    Ok(())
}

impl DkimSigner {
    /// Checks the identity and parses the keys: `private_key_pem` (RSA or Ed25519) and, for dual signing, the
    /// Ed25519 key of `cfg.ed25519` beside an RSA one, under a selector of its own.
    pub fn new(cfg: &DkimConfig) -> Result<DkimSigner, ConfigError> {
        check_label("dkim.domain", &cfg.domain, "a domain name")?;
        check_label("dkim.selector", &cfg.selector, "a DNS label")?;
        let first = keys::signing_key("dkim.private_key", &cfg.private_key_pem)?;
        let mut keys = vec![SelectorKey { selector: cfg.selector.trim().to_owned(), key: first }];
        if let Some(second) = &cfg.ed25519 {
            check_label("dkim.ed25519_selector", &second.selector, "a DNS label")?;
            if second.selector.trim() == cfg.selector.trim() {
                return Err(ConfigError::new(
                    "dkim.ed25519_selector",
                    "must differ from the RSA key's selector (a selector publishes one key)",
                ));
            }
            if !matches!(keys[0].key, SigningKey::Rsa(_)) {
                return Err(ConfigError::new(
                    "dkim.ed25519_private_key",
                    "dual signing pairs an RSA key (private_key) with an Ed25519 one; private_key is Ed25519 already",
                ));
            }
            let key = keys::signing_key("dkim.ed25519_private_key", &second.private_key_pem)?;
            if !matches!(key, SigningKey::Ed25519(_)) {
                return Err(ConfigError::new("dkim.ed25519_private_key", "must be an Ed25519 key"));
            }
            keys.push(SelectorKey { selector: second.selector.trim().to_owned(), key });
        }
        Ok(DkimSigner {
            domain: cfg.domain.trim().to_owned(),
            keys,
            header_list: SIGNED_HEADERS.join(":").to_ascii_lowercase(),
            rng: SystemRandom::new(),
        })
    }

    /// `message` (RFC 5322 bytes: header block, empty line, body) with a `DKIM-Signature` field per key added at
    /// the end of its header block, signed at `timestamp` (seconds since the epoch, the `t=` tag).
    pub fn sign(&self, message: &[u8], timestamp: u64) -> Result<Vec<u8>, DkimError> {
        let parts = canon::split(message).ok_or(DkimError::NoHeaderEnd)?;
        let body_hash = B64.encode(digest(&SHA256, &canon::relaxed_body(parts.body)));
        // The canonical signed headers, then (per key) the signature's own field without its `b=` value.
        let mut signed = Vec::with_capacity(1024);
        for name in SIGNED_HEADERS {
            if let Some(field) = parts.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())) {
                canon::relaxed_header(&mut signed, name.as_bytes(), field.value);
            }
        }
        let headers_len = signed.len();
        let mut fields = String::new();
        for k in &self.keys {
            let tags = format!(
                "v=1; a={}-sha256; d={}; s={}; c=relaxed/relaxed; q=dns/txt; t={timestamp}; h={}; bh={body_hash}; b=",
                k.key.algorithm(),
                self.domain,
                k.selector,
                self.header_list
            );
            signed.truncate(headers_len);
            signed.extend_from_slice(b"dkim-signature:");
            signed.extend_from_slice(tags.as_bytes());
            let signature = self.signature(&k.key, &signed)?;
            fields.push_str(&canon::folded("DKIM-Signature", &format!("{tags}{}", B64.encode(signature))));
        }
        let mut out = Vec::with_capacity(message.len() + fields.len());
        out.extend_from_slice(&message[..parts.header_end]);
        out.extend_from_slice(fields.as_bytes());
        out.extend_from_slice(&message[parts.header_end..]);
        Ok(out)
    }

    /// The signature of the canonical `data`: RSA signs its SHA-256 (PKCS#1 v1.5); Ed25519 signs the SHA-256
    /// itself (RFC 8463 §3: the hash is the message given to PureEdDSA).
    fn signature(&self, key: &SigningKey, data: &[u8]) -> Result<Vec<u8>, DkimError> {
        match key {
            SigningKey::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, data, &mut sig).map_err(|_| DkimError::Crypto("RSA"))?;
                Ok(sig)
            }
            SigningKey::Ed25519(pair) => Ok(pair.sign(digest(&SHA256, data).as_ref()).as_ref().to_vec()),
        }
    }
}
