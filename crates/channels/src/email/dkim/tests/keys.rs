//! Reading keys: every accepted form, and refusals naming the field.

use super::super::keys::der_tlv;
use super::*;

/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024` (test-only): too short to sign with.
const RSA_1024_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBALC0esjbJUgSTwE4
tOZYXurQgtNri+Cq2gW9RyljEQZWCOCSLHsplLMXk4p6BSdKaWMIq2SgmOMxz3hZ
AbhvOM4kZz6IKeQ1fiqBgPZyNndfL1pwqil7IJoXSfjPGsmNbQY5XS4eeyVakZSE
tQYv5wb/ad+zpbFwEGZI7oD8mp9bAgMBAAECgYBF6KFLJagyQ0wOZ6jqGLw0mhmo
GzxTvkRTUPb+YLszjoYkkrAWafTyhblRZ8TyLnZTP/LO9NqHyAUUz+HmXdpSy5Po
8bSedb5PNJHR/y6ZTY4MSkJ2QaTwyciO5ggEEntB+i7LXiY5fkQx2luuQqq6bcOs
EWBV1FRp9rudBKFvwQJBAN3AX62rYIwfMXYVeGZkKUF8lsp0yDkv3F06MKSM7y4F
JrqS0kKr5Tk/KmATkhUZ8cyCD0dM0GDoT+PIPbw5Bj8CQQDL/w4w2iOCinJDQRcJ
NYJdcq/R+ux5Ctyz4yWfd47BrGP7veclBASbnj3sktWr0DEn3a+DryRPlq/+4kvH
n7flAkEAgORJeLutUaTr7fQK2JENfdf6GdGJc9wC3VluXqbge0JZQYcHmeMqSH0T
l2aouYUsC6/pS4s1b654iTCh2Z7XpwJAEblBRGFPgIIC13EKTVSG1ROnzvicHxAg
iMiNdkNu9cjCjxa6xG6K7/JZsvo28kyOWMZb/3byErAm7mA+8UMhOQJBAKoIlznJ
LE98Tek7jDGiwfqqXz3Y2FHmLK6hRKqvrcBKkyerKoIE4xbhzpNQPym9q2oEKrIp
9npf6zSIF50zwuM=
-----END PRIVATE KEY-----
";

fn err(cfg: &DkimConfig) -> crate::ConfigError {
    DkimSigner::new(cfg).unwrap_err()
}

#[test]
fn reads_ed25519_pkcs8_and_bare_seed() {
    assert!(DkimSigner::new(&DkimConfig::new("velo.example", "k1", ED25519_PKCS8)).is_ok());
    assert!(DkimSigner::new(&DkimConfig::new("velo.example", "k1", B64.encode([7u8; 32]))).is_ok());
}

#[test]
fn reads_rsa_pkcs8_and_pkcs1() {
    assert!(DkimSigner::new(&DkimConfig::new("velo.example", "k1", RSA_PKCS8)).is_ok());
    // PKCS#1 with CRLF line ends and indentation still reads.
    let pkcs1_pem = pem("RSA PRIVATE KEY", &rsa_pkcs1_der()).replace('\n', "\r\n  ");
    assert!(DkimSigner::new(&DkimConfig::new("velo.example", "k1", pkcs1_pem)).is_ok());
}

#[test]
fn rejects_garbage_short_and_encrypted_keys() {
    let cfg = |key: &str| DkimConfig::new("velo.example", "k1", key);
    assert_eq!(err(&cfg("not a key")).field, "dkim.private_key");
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(err(&cfg(encrypted)).message.contains("encrypted"));
    let truncated = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw\n-----END PRIVATE KEY-----\n";
    assert_eq!(err(&cfg(truncated)).field, "dkim.private_key");
    let short = err(&cfg(RSA_1024_PKCS8));
    assert_eq!(short.field, "dkim.private_key");
    assert!(short.message.contains("2048 to 8192 bits"), "{}", short.message);
    assert_eq!(err(&DkimConfig::new("velo example", "k1", ED25519_PKCS8)).field, "dkim.domain");
    assert_eq!(err(&DkimConfig::new("velo.example", "k;1", ED25519_PKCS8)).field, "dkim.selector");
}

#[test]
fn dual_signing_pairs_an_rsa_key_with_an_ed25519_one() {
    assert!(DkimSigner::new(&dual()).is_ok());
    let second =
        |selector: &str, pem: &str| Some(DkimSecondKey { selector: selector.into(), private_key_pem: pem.into() });
    let same_selector = DkimConfig { ed25519: second("k1", ED25519_PKCS8), ..dual() };
    assert_eq!(err(&same_selector).field, "dkim.ed25519_selector");
    let second_rsa = DkimConfig { ed25519: second("ed1", RSA_PKCS8), ..dual() };
    assert_eq!(err(&second_rsa).field, "dkim.ed25519_private_key");
    let first_ed25519 = DkimConfig { private_key_pem: ED25519_PKCS8.into(), ..dual() };
    assert_eq!(err(&first_ed25519).field, "dkim.ed25519_private_key");
    let bad = DkimConfig { ed25519: second("ed1", "nope"), ..dual() };
    assert_eq!(err(&bad).field, "dkim.ed25519_private_key");
    let no_selector = DkimConfig { ed25519: second(" ", ED25519_PKCS8), ..dual() };
    assert_eq!(err(&no_selector).field, "dkim.ed25519_selector");
    let debug = format!("{:?}", dual());
    assert!(!debug.contains("PRIVATE KEY") && debug.contains("ed1"), "{debug}");
}

#[test]
fn der_lengths() {
    assert_eq!(der_tlv(&[0x04, 0x02, 1, 2, 9]), Some((0x04, &[1u8, 2][..], &[9u8][..])));
    assert_eq!(der_tlv(&[0x04, 0x81, 0x01, 7]), Some((0x04, &[7u8][..], &[][..])));
    assert_eq!(der_tlv(&[0x04, 0x05, 1]), None);
    assert_eq!(der_tlv(&[0x04, 0x80]), None);
}
