//! DKIM private keys: PKCS#1 or PKCS#8 PEM RSA keys, PKCS#8 PEM or bare base64-seed Ed25519 keys, read into
//! AWS-LC's key pairs.

use aws_lc_rs::signature::{Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ConfigError;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;
const DER_OCTET_STRING: u8 = 0x04;
const DER_OID: u8 = 0x06;
/// Bytes of an Ed25519 seed (the private key).
const ED25519_SEED_BYTES: usize = 32;

/// A parsed signing key.
pub(super) enum SigningKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// The `a=` tag's key type.
    pub(super) fn algorithm(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "rsa",
            SigningKey::Ed25519(_) => "ed25519",
        }
    }
}

/// Reads a key; errors name `field` (`dkim.private_key`, `dkim.ed25519_private_key`).
pub(super) fn signing_key(field: &'static str, text: &str) -> Result<SigningKey, ConfigError> {
    let key_error = |message: String| ConfigError::new(field, message);
    let rsa = |pkcs1_der: &[u8]| {
        // AWS-LC signs with RSA keys of 2048 to 8192 bits (RFC 8301 asks signers for at least 2048).
        RsaKeyPair::from_der(pkcs1_der).map(SigningKey::Rsa).map_err(|e| {
            key_error(format!(
                "RSA key rejected ({e}): keys of 2048 to 8192 bits are accepted (RFC 8301 asks for 2048)"
            ))
        })
    };
    let ed25519 = |seed: &[u8]| {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(SigningKey::Ed25519)
            .map_err(|e| key_error(format!("Ed25519 key: {e}")))
    };
    match pem_decode(field, text)? {
        Some((label, der)) => match label.as_str() {
            "RSA PRIVATE KEY" => rsa(&der),
            "PRIVATE KEY" => match pkcs8(&der).ok_or_else(|| key_error("malformed PKCS#8 key".into()))? {
                Pkcs8::Rsa(inner) => rsa(inner),
                Pkcs8::Ed25519(seed) => ed25519(seed),
            },
            "ENCRYPTED PRIVATE KEY" => Err(key_error("encrypted keys are not supported; export it unencrypted".into())),
            other => Err(key_error(format!("unsupported PEM block {other:?}"))),
        },
        None => {
            let seed =
                B64.decode(text.trim()).map_err(|_| key_error("neither a PEM key nor a base64 Ed25519 seed".into()))?;
            if seed.len() != ED25519_SEED_BYTES {
                return Err(key_error("a bare base64 key must be a 32-byte Ed25519 seed".into()));
            }
            ed25519(&seed)
        }
    }
}

/// `Ok(None)` when the text has no PEM armour.
pub(super) fn pem_decode(field: &'static str, text: &str) -> Result<Option<(String, Vec<u8>)>, ConfigError> {
    let key_error = |message: &str| ConfigError::new(field, message);
    let mut lines = text.lines().map(str::trim);
    let Some(label) = lines.by_ref().find_map(|l| l.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")))
    else {
        return Ok(None);
    };
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    for line in lines.by_ref() {
        if line == end {
            let der = B64.decode(b64.as_bytes()).map_err(|_| key_error("PEM body is not base64"))?;
            return Ok(Some((label.to_owned(), der)));
        }
        if line.contains(':') {
            return Err(key_error("PEM headers (encrypted legacy keys) are not supported"));
        }
        b64.push_str(line);
    }
    Err(ConfigError::new(field, format!("missing {end}")))
}

pub(super) enum Pkcs8<'a> {
    Rsa(&'a [u8]),
    Ed25519(&'a [u8]),
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE { OID, params }, privateKey OCTET STRING, .. }
pub(super) fn pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    let (tag, info, _) = der_tlv(der)?;
    if tag != DER_SEQUENCE {
        return None;
    }
    let (tag, _version, rest) = der_tlv(info)?;
    if tag != DER_INTEGER {
        return None;
    }
    let (tag, algorithm, rest) = der_tlv(rest)?;
    if tag != DER_SEQUENCE {
        return None;
    }
    let (tag, oid, _) = der_tlv(algorithm)?;
    if tag != DER_OID {
        return None;
    }
    let (tag, private_key, _) = der_tlv(rest)?;
    if tag != DER_OCTET_STRING {
        return None;
    }
    if oid == OID_RSA_ENCRYPTION {
        Some(Pkcs8::Rsa(private_key))
    } else if oid == OID_ED25519 {
        // CurvePrivateKey ::= OCTET STRING (the 32-byte seed)
        let (tag, seed, _) = der_tlv(private_key)?;
        (tag == DER_OCTET_STRING && seed.len() == 32).then_some(Pkcs8::Ed25519(seed))
    } else {
        None
    }
}

/// One DER tag-length-value: (tag, content, rest).
pub(super) fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}
