//! A DKIM verifier for the tests (RFC 6376 §6, relaxed/relaxed only): reads each `DKIM-Signature` field's tags
//! as a receiver does (any order, white space anywhere, `h=` naming a field twice or one that is absent, fields
//! taken from the bottom), checks the body hash, and verifies `b=` with ring.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};

use super::super::canon;

/// A public key as a key record publishes it: `k=rsa` (an RSAPublicKey, DER) or `k=ed25519` (32 bytes).
pub enum PublicKey {
    Rsa(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// A field's tags, names lower-cased.
fn tags(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.to_owned()))
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> &'a str {
    tags.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
}

fn no_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The field's value with the `b=` tag's value removed (RFC 6376 §3.7), everything else as written.
fn without_b(value: &str) -> String {
    value
        .split(';')
        .map(|t| match t.split_once('=') {
            Some((n, _)) if n.trim() == "b" => format!("{n}="),
            _ => t.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Verifies every `DKIM-Signature` of `message`, top to bottom; `key` answers the key record of a selector.
pub fn verify_all(message: &[u8], key: impl Fn(&str) -> PublicKey) -> Vec<Result<(), String>> {
    let parts = canon::split(message).expect("a header block");
    let body_hash = B64.encode(digest(&SHA256, &canon::relaxed_body(parts.body)));
    let signatures = parts.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(b"DKIM-Signature"));
    signatures
        .map(|sig| {
            let value = std::str::from_utf8(sig.value).map_err(|e| e.to_string())?;
            let tags = tags(value);
            if tag(&tags, "c").trim() != "relaxed/relaxed" {
                return Err("only relaxed/relaxed".into());
            }
            if no_space(tag(&tags, "bh")) != body_hash {
                return Err(format!("body hash {body_hash} is not bh={}", tag(&tags, "bh")));
            }
            // Each name takes the next instance of that field counting from the bottom (RFC 6376 §5.4.2); a name
            // with no instance left contributes nothing.
            let mut data = Vec::new();
            let mut taken: HashMap<String, usize> = HashMap::new();
            for name in tag(&tags, "h").split(':').map(|n| n.trim().to_ascii_lowercase()) {
                let seen = taken.entry(name.clone()).or_insert(0);
                let mut instances = parts.fields.iter().rev().filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()));
                let instance = instances.nth(*seen);
                *seen += 1;
                if let Some(f) = instance {
                    canon::relaxed_header(&mut data, f.name, f.value);
                }
            }
            canon::relaxed_header(&mut data, sig.name, without_b(value).as_bytes());
            data.truncate(data.len() - 2);
            let b = B64.decode(no_space(tag(&tags, "b"))).map_err(|e| e.to_string())?;
            let selector = tag(&tags, "s").trim().to_owned();
            let checked = match (tag(&tags, "a").trim(), key(&selector)) {
                ("ed25519-sha256", PublicKey::Ed25519(pk)) => {
                    UnparsedPublicKey::new(&ED25519, pk).verify(digest(&SHA256, &data).as_ref(), &b)
                }
                ("rsa-sha256", PublicKey::Rsa(pk)) => {
                    UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, pk).verify(&data, &b)
                }
                (a, _) => return Err(format!("a={a} does not match the key of s={selector}")),
            };
            checked.map_err(|_| format!("the signature of s={selector} does not verify"))
        })
        .collect()
}
