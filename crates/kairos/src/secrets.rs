//! The master key and the secrets a server needs at start (issue 11, SPEC 18 "provider secrets encrypted at
//! rest"). Secrets live in the store, sealed under a master key that never enters the database:
//!
//! - the master key comes from `KAIROS_SECRET_KEY` (32 bytes, base64 or hex), or a key file
//!   (`--secret-key-file` / `KAIROS_SECRET_KEY_FILE`), or, with an embedded database and neither given,
//!   `<data dir>/secret-key`, created (mode 0600) on first start. Every node of a shared database must be
//!   given the same key; a key that does not open the stored secrets stops the server (it never makes new ones,
//!   which would break every link in mail already sent);
//! - the link-signing key is created once in the store (an older data directory's `link-key` file is imported,
//!   so links already sent keep working, and then removed);
//! - webhook secrets an older build kept in plain text in the settings move into the store;
//! - the DKIM private key named by `kairos.toml` is imported under its domain and selector, so a node without
//!   the file signs with the stored key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use kairos_domain::Timestamp;
use kairos_engine::links::LinkKey;
use kairos_store::secrets::{MASTER_KEY_BYTES, names};
use kairos_store::{MasterKey, SecretBox, SecretError, Store, WriteTx};

/// The master key, base64 (or hex) of 32 bytes.
pub const SECRET_KEY_ENV: &str = "KAIROS_SECRET_KEY";
/// The default master key file of an embedded database, in the data directory.
pub const SECRET_KEY_FILE_NAME: &str = "secret-key";
/// Where an older build kept the link-signing key (in the database's directory).
const LEGACY_LINK_KEY_FILE: &str = "link-key";
/// Bytes of the link-signing key.
const LINK_KEY_BYTES: usize = 32;
/// Longest key file read (a key is 44 characters of base64; anything much longer is not a key file).
const KEY_FILE_BYTES_MAX: u64 = 4_096;

/// Where the master key comes from (flags and environment; `KAIROS_SECRET_KEY` is read from the environment
/// only, so the key never shows in a process list).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SecretArgs {
    /// File holding the master key that encrypts the secrets stored in the database (32 bytes, base64).
    /// Default: the KAIROS_SECRET_KEY variable, else DATA_DIR/secret-key (created on first start with the
    /// embedded database). Every node sharing a database needs the same key.
    #[arg(long, env = "KAIROS_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// A DKIM key `kairos.toml` names: its signing identity and the PEM file (may be absent on this node).
#[derive(Debug, Clone)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    pub file: PathBuf,
    /// The `[email.dkim]` setting naming the file, for messages (`private_key_file`, `ed25519_private_key_file`).
    pub setting: &'static str,
}

/// What the server runs with.
pub struct Secrets {
    pub link_key: LinkKey,
    pub sealer: SecretBox,
    /// The DKIM private keys (PEM) `kairos.toml` configures, in the order of [`crate::config::Config::dkim_keys`].
    pub dkim_pems: Vec<String>,
}

/// Where the key was found, to name it in messages.
enum Source {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env => write!(f, "{SECRET_KEY_ENV}"),
            Source::File(p) => write!(f, "the key file {}", p.display()),
        }
    }
}

/// A key as text (base64 in either alphabet, padded or not, or 64 hex digits), or 32 raw bytes.
fn parse_key(bytes: &[u8]) -> Option<MasterKey> {
    use base64::alphabet;
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let decoded = text.and_then(|t| {
        [alphabet::STANDARD, alphabet::URL_SAFE]
            .iter()
            .find_map(|a| GeneralPurpose::new(a, config).decode(t).ok().filter(|k| k.len() == MASTER_KEY_BYTES))
            .or_else(|| hex(t))
    });
    let key = decoded.or_else(|| (bytes.len() == MASTER_KEY_BYTES).then(|| bytes.to_vec()))?;
    <[u8; MASTER_KEY_BYTES]>::try_from(key.as_slice()).ok().map(MasterKey::from_bytes)
}

fn hex(t: &str) -> Option<Vec<u8>> {
    if t.len() != 2 * MASTER_KEY_BYTES || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..t.len()).step_by(2).map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok()).collect()
}

const KEY_FORMAT: &str = "32 bytes in base64 (44 characters; `openssl rand -base64 32` makes one)";

fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read the master key file {}", path.display()))?;
    if meta.len() > KEY_FILE_BYTES_MAX {
        bail!("the master key file {} is not a key: expected {KEY_FORMAT}", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "the master key file can be read by other users: chmod 600 it");
        }
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the master key file {}", path.display()))?;
    parse_key(&bytes).with_context(|| format!("the master key file {} must hold {KEY_FORMAT}", path.display()))
}

/// Creates `path` holding a new key (base64), mode 0600, atomically: if another process created it first, its
/// key is read instead.
fn create_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let key = MasterKey::generate();
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        writeln!(f, "{}", base64::engine::general_purpose::STANDARD.encode(key.as_bytes()))?;
        f.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(file = %path.display(), "created the master key file; keep a copy: the secrets in the database cannot be read without it");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(e).with_context(|| format!("cannot create the master key file {}", path.display())),
    }
}

/// The master key: `KAIROS_SECRET_KEY`, the key file given, or the data directory's file (created for an
/// embedded database that holds no secrets yet).
fn master_key(
    args: &SecretArgs,
    env_key: Option<String>,
    data_dir: &Path,
    embedded: bool,
    has_secrets: bool,
) -> anyhow::Result<(MasterKey, Source)> {
    match (env_key, &args.secret_key_file) {
        (Some(_), Some(_)) => {
            bail!(
                "set either {SECRET_KEY_ENV} or a master key file (--secret-key-file, KAIROS_SECRET_KEY_FILE), not both"
            )
        }
        (Some(text), None) => {
            let key = parse_key(text.as_bytes()).with_context(|| format!("{SECRET_KEY_ENV} must be {KEY_FORMAT}"))?;
            Ok((key, Source::Env))
        }
        (None, Some(file)) => Ok((read_key_file(file)?, Source::File(file.clone()))),
        (None, None) => {
            let file = data_dir.join(SECRET_KEY_FILE_NAME);
            if file.exists() {
                return Ok((read_key_file(&file)?, Source::File(file)));
            }
            if !embedded {
                bail!(
                    "a shared database needs a master key: set {SECRET_KEY_ENV} (or --secret-key-file) to the same key on every node"
                );
            }
            if has_secrets {
                bail!(
                    "this database holds encrypted secrets but no master key was given: set {SECRET_KEY_ENV} or \
                     --secret-key-file to the key it was started with (or restore {}); refusing to start with a \
                     new key, which would invalidate every link already sent",
                    file.display()
                );
            }
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
            Ok((create_key_file(&file)?, Source::File(file)))
        }
    }
}

/// The token the nodes sharing a server database mark forwarded requests with (`kairos_server::cluster`),
/// derived from the master key every node is given.
pub fn forwarding_token(data_dir: &Path, args: &SecretArgs) -> anyhow::Result<String> {
    let env_key = std::env::var(SECRET_KEY_ENV).ok().filter(|k| !k.trim().is_empty());
    let (key, _) = master_key(args, env_key, data_dir, false, true)?;
    Ok(key.derive("kairos node forwarding v1").iter().map(|b| format!("{b:02x}")).collect())
}

/// Resolves the master key, checks it opens every stored secret, and makes sure the link key (and the DKIM
/// key `kairos.toml` names) are in the store, moving what older builds kept in plain text. One transaction.
pub fn open(
    store: &dyn Store,
    data_dir: &Path,
    args: &SecretArgs,
    dkim: &[DkimKey],
    now: Timestamp,
) -> anyhow::Result<Secrets> {
    let stored = store.read(|r| r.secret_names())?;
    let env_key = std::env::var(SECRET_KEY_ENV).ok().filter(|k| !k.trim().is_empty());
    let local_dir = store.local_dir();
    let (key, source) = master_key(args, env_key, data_dir, local_dir.is_some(), !stored.is_empty())?;
    let sealer = SecretBox::new(&key);

    let mut writer = store.writer()?;
    let mut tx = writer.transaction()?;
    check_key(&mut *tx, &sealer, &source)?;
    let legacy = local_dir.map(|d| d.join(LEGACY_LINK_KEY_FILE));
    let link_key = link_key(&mut *tx, &sealer, legacy.as_deref(), now)?;
    move_settings_webhook_secrets(&mut *tx, &sealer, now)?;
    let dkim_pems = dkim.iter().map(|d| dkim_key(&mut *tx, &sealer, d, now)).collect::<anyhow::Result<_>>()?;
    tx.commit()?;
    // Only once the key is committed in the store: the old file is no longer read, and a secret should not
    // lie beside the database in plain text.
    if let Some(file) = legacy.filter(|f| f.exists()) {
        match std::fs::remove_file(&file) {
            Ok(()) => {
                tracing::info!(file = %file.display(), "the link key now lives in the store; removed its old file")
            }
            Err(e) => tracing::warn!(file = %file.display(), error = %e, "cannot remove the old link key file"),
        }
    }
    Ok(Secrets { link_key, sealer, dkim_pems })
}

/// Every stored secret must open under this key: a wrong key stops the server before anything is replaced.
fn check_key(tx: &mut dyn WriteTx, sealer: &SecretBox, source: &Source) -> anyhow::Result<()> {
    let names = tx.secret_names()?;
    let mut refused = Vec::new();
    for name in &names {
        match sealer.get(tx, name) {
            Ok(_) => {}
            Err(SecretError::Undecryptable { .. }) => refused.push(name.as_str()),
            Err(SecretError::Store(e)) => return Err(e.into()),
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    let which = if refused.len() == names.len() {
        "any of the secrets stored in this database".to_string()
    } else {
        format!("{} of the {} secrets stored in this database ({})", refused.len(), names.len(), refused.join(", "))
    };
    bail!(
        "wrong master key: {source} does not decrypt {which}. Start with the key this database was first \
         started with ({SECRET_KEY_ENV}, --secret-key-file or DATA_DIR/{SECRET_KEY_FILE_NAME}); refusing to start \
         rather than replace the secrets, which would invalidate every link already sent"
    )
}

/// The link-signing key: the stored one, else the old `link-key` file's (links in mail already sent keep
/// working), else a new one.
fn link_key(
    tx: &mut dyn WriteTx,
    sealer: &SecretBox,
    legacy: Option<&Path>,
    now: Timestamp,
) -> anyhow::Result<LinkKey> {
    let old = legacy.and_then(|f| std::fs::read(f).ok()).filter(|k| {
        let ok = k.len() == LINK_KEY_BYTES;
        if !ok {
            tracing::warn!("ignoring an old link key file that does not hold {LINK_KEY_BYTES} bytes");
        }
        ok
    });
    let imported = old.is_some();
    let bytes = sealer.get_or_insert_with(tx, names::LINK_KEY, now, || {
        old.unwrap_or_else(|| {
            use rand::RngExt as _;
            rand::rng().random::<[u8; LINK_KEY_BYTES]>().to_vec()
        })
    })?;
    let key = <[u8; LINK_KEY_BYTES]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("the stored link key is not {LINK_KEY_BYTES} bytes"))?;
    if imported {
        tracing::info!("link key read from the old link-key file into the store");
    }
    Ok(LinkKey(key))
}

/// Webhook secrets an older build stored in plain text in the workspace settings move into the store.
fn move_settings_webhook_secrets(tx: &mut dyn WriteTx, sealer: &SecretBox, now: Timestamp) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    tx.workspace_settings(&mut |ws, data| rows.push((ws, data)))?;
    for (ws, data) in rows {
        let Ok(mut settings) = serde_json::from_str::<serde_json::Value>(&data) else { continue };
        let Some(old) = settings.as_object_mut().and_then(|o| o.remove("webhook_secret")) else { continue };
        if let Some(secret) = old.as_str().map(str::trim).filter(|s| !s.is_empty()) {
            sealer.get_or_insert_with(tx, &names::webhook(ws), now, || secret.as_bytes().to_vec())?;
        }
        tx.save_workspace_settings(ws, &settings.to_string())?;
        tracing::info!(workspace = ws.0, "moved the webhook secret from the settings into the encrypted store");
    }
    Ok(())
}

/// The DKIM key: this node's file when it has one (stored, replacing an older key of the same domain and
/// selector), else the stored key.
fn dkim_key(tx: &mut dyn WriteTx, sealer: &SecretBox, d: &DkimKey, now: Timestamp) -> anyhow::Result<String> {
    let name = names::dkim(&d.domain, &d.selector);
    let file = match std::fs::read_to_string(&d.file) {
        Ok(pem) => Some(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("[email.dkim] {} {}", d.setting, d.file.display())),
    };
    let stored = sealer.get(tx, &name)?.map(String::from_utf8).transpose().ok().flatten();
    match (file, stored) {
        (Some(pem), stored) => {
            // Each key is checked alone here; the pairing of dual signing when the transport is built.
            let cfg = kairos_channels::DkimConfig::new(d.domain.clone(), d.selector.clone(), pem.clone());
            cfg.check().map_err(|e| anyhow::anyhow!("[email.dkim] {} {}: {e}", d.setting, d.file.display()))?;
            if stored.as_deref() != Some(pem.as_str()) {
                sealer.put(tx, &name, pem.as_bytes(), now)?;
                tracing::info!(domain = %d.domain, selector = %d.selector, "stored the DKIM key in the encrypted store");
            }
            Ok(pem)
        }
        (None, Some(pem)) => Ok(pem),
        (None, None) => bail!(
            "[email.dkim] {} {}: no such file, and no key for {}/{} is stored in the database",
            d.setting,
            d.file.display(),
            d.domain,
            d.selector
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_as_base64_hex_or_raw_bytes() {
        let raw = [0xfbu8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        for text in [b64.clone(), format!("  {b64}\n"), url, b64.trim_end_matches('=').to_string(), hex] {
            assert_eq!(parse_key(text.as_bytes()).map(|k| *k.as_bytes()), Some(raw), "{text:?}");
        }
        assert_eq!(parse_key(&raw).map(|k| *k.as_bytes()), Some(raw), "32 raw bytes");
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        for bad in [short.as_str(), "", "not a key", &"ab".repeat(31)] {
            assert!(parse_key(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_key_file_is_created_private_once_and_never_over_stored_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let none = SecretArgs::default();
        let (k1, _) = master_key(&none, None, dir.path(), true, false).unwrap();
        let file = dir.path().join(SECRET_KEY_FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (k2, _) = master_key(&none, None, dir.path(), true, true).unwrap();
        assert_eq!(k1.as_bytes(), k2.as_bytes(), "read back, not replaced");
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(parse_key(text.as_bytes()).unwrap().as_bytes(), k1.as_bytes(), "base64 text");

        let other = tempfile::tempdir().unwrap();
        let err = master_key(&none, None, other.path(), true, true).err().unwrap().to_string();
        assert!(err.contains("holds encrypted secrets but no master key"), "{err}");
        assert!(!other.path().join(SECRET_KEY_FILE_NAME).exists(), "no new key beside existing secrets");
        let err = master_key(&none, None, other.path(), false, false).err().unwrap().to_string();
        assert!(err.contains("same key on every node"), "{err}");

        let given = SecretArgs { secret_key_file: Some(file.clone()) };
        assert_eq!(master_key(&given, None, other.path(), false, true).unwrap().0.as_bytes(), k1.as_bytes());
        let err = master_key(&given, Some(text.clone()), other.path(), true, false).err().unwrap().to_string();
        assert!(err.contains("not both"), "{err}");
        let err = master_key(&none, Some("short".into()), other.path(), true, false).err().unwrap().to_string();
        assert!(err.contains("KAIROS_SECRET_KEY must be 32 bytes"), "{err}");
        let (k3, _) = master_key(&none, Some(text), other.path(), false, true).unwrap();
        assert_eq!(k3.as_bytes(), k1.as_bytes());
    }
}
