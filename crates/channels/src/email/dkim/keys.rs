//! DKIM key loading for lettre's signer, which itself only reads PKCS#1 RSA PEM or a base64 Ed25519 seed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig as Signer, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;

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

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const DER_SEQUENCE: u8 = 0x30;
const DER_INTEGER: u8 = 0x02;
const DER_OCTET_STRING: u8 = 0x04;
const DER_OID: u8 = 0x06;

/// Parses the key once and builds lettre's signer (relaxed/relaxed canonicalisation, rsa- or ed25519-sha256).
pub(crate) fn signer(cfg: &DkimConfig) -> Result<Signer, ConfigError> {
    if cfg.domain.trim().is_empty() || cfg.domain.contains(|c: char| c.is_whitespace() || c == ';') {
        return Err(ConfigError::new("dkim.domain", "must be a domain name"));
    }
    if cfg.selector.trim().is_empty() || cfg.selector.contains(|c: char| c.is_whitespace() || c == ';') {
        return Err(ConfigError::new("dkim.selector", "must be a DNS label"));
    }
    let key = signing_key(&cfg.private_key_pem)?;
    let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
    let canonicalization =
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    Ok(Signer::new(cfg.selector.trim().to_owned(), cfg.domain.trim().to_owned(), key, headers, canonicalization))
}

fn key_error(message: impl Into<String>) -> ConfigError {
    ConfigError::new("dkim.private_key", message)
}

fn signing_key(text: &str) -> Result<DkimSigningKey, ConfigError> {
    let rsa = |pkcs1_der: &[u8]| {
        DkimSigningKey::new(&pem("RSA PRIVATE KEY", pkcs1_der), DkimSigningAlgorithm::Rsa)
            .map_err(|e| key_error(format!("RSA key: {e}")))
    };
    let ed25519 = |seed: &[u8]| {
        DkimSigningKey::new(&B64.encode(seed), DkimSigningAlgorithm::Ed25519)
            .map_err(|e| key_error(format!("Ed25519 key: {e}")))
    };
    match pem_decode(text)? {
        Some((label, der)) => match label.as_str() {
            "RSA PRIVATE KEY" => rsa(&der),
            "PRIVATE KEY" => match pkcs8(&der).ok_or_else(|| key_error("malformed PKCS#8 key"))? {
                Pkcs8::Rsa(inner) => rsa(inner),
                Pkcs8::Ed25519(seed) => ed25519(seed),
            },
            "ENCRYPTED PRIVATE KEY" => Err(key_error("encrypted keys are not supported; export it unencrypted")),
            other => Err(key_error(format!("unsupported PEM block {other:?}"))),
        },
        None => {
            let seed = B64.decode(text.trim()).map_err(|_| key_error("neither a PEM key nor a base64 Ed25519 seed"))?;
            if seed.len() != 32 {
                return Err(key_error("a bare base64 key must be a 32-byte Ed25519 seed"));
            }
            ed25519(&seed)
        }
    }
}

/// `Ok(None)` when the text has no PEM armour.
fn pem_decode(text: &str) -> Result<Option<(String, Vec<u8>)>, ConfigError> {
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
    Err(key_error(format!("missing {end}")))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

enum Pkcs8<'a> {
    Rsa(&'a [u8]),
    Ed25519(&'a [u8]),
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE { OID, params }, privateKey OCTET STRING, .. }
fn pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
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
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIO41blH7d+fk76cQtek+W1WGSBHlhjnOHwJk7uwsFRPG\n\
        -----END PRIVATE KEY-----\n";

    fn cfg(key: &str) -> DkimConfig {
        DkimConfig { domain: "velo.example".into(), selector: "k1".into(), private_key_pem: key.into() }
    }

    #[test]
    fn reads_ed25519_pkcs8_and_bare_seed() {
        assert!(signer(&cfg(ED25519_PKCS8)).is_ok());
        assert!(signer(&cfg(&B64.encode([7u8; 32]))).is_ok());
    }

    #[test]
    fn reads_rsa_pkcs8_and_pkcs1() {
        let pkcs8_pem = include_str!("../../tests/fixtures/dkim-test-only.pem");
        assert!(signer(&cfg(pkcs8_pem)).is_ok());
        let (label, der) = pem_decode(pkcs8_pem).unwrap().unwrap();
        assert_eq!(label, "PRIVATE KEY");
        let Some(Pkcs8::Rsa(pkcs1)) = pkcs8(&der) else { panic!("an RSA PKCS#8 key") };
        // PKCS#1 with CRLF line ends and indentation still reads.
        let pkcs1_pem = pem("RSA PRIVATE KEY", pkcs1).replace('\n', "\r\n  ");
        assert!(signer(&cfg(&pkcs1_pem)).is_ok());
    }

    #[test]
    fn rejects_garbage_and_encrypted_keys() {
        assert_eq!(signer(&cfg("not a key")).unwrap_err().field, "dkim.private_key");
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(signer(&cfg(encrypted)).unwrap_err().message.contains("encrypted"));
        let truncated = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw\n-----END PRIVATE KEY-----\n";
        assert!(signer(&cfg(truncated)).is_err());
        let mut bad_domain = cfg(ED25519_PKCS8);
        bad_domain.domain = "velo example".into();
        assert_eq!(signer(&bad_domain).unwrap_err().field, "dkim.domain");
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der_tlv(&[0x04, 0x02, 1, 2, 9]), Some((0x04, &[1u8, 2][..], &[9u8][..])));
        assert_eq!(der_tlv(&[0x04, 0x81, 0x01, 7]), Some((0x04, &[7u8][..], &[][..])));
        assert_eq!(der_tlv(&[0x04, 0x05, 1]), None);
        assert_eq!(der_tlv(&[0x04, 0x80]), None);
    }
}
