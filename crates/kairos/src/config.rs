//! `kairos.toml` in the data directory (SPEC 16). Every key can be overridden by the environment variable
//! `KAIROS_<SECTION>__<KEY>` (e.g. `KAIROS_SENDING__SMART_SENDING=8h`, `KAIROS_EMAIL__DKIM__SELECTOR=k2`).
//! `[email]`, `[sms]` and `[chat]` choose the transports (capture when not configured); `[sending]` and
//! `[store]` are the defaults of every workspace's settings; `[network]` is what calls chosen by workspaces
//! (webhook steps) may reach.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kairos_domain::Duration;
use kairos_engine::settings::Settings;
use kairos_flow::Channel;
use serde::Deserialize;

pub const CONFIG_FILE: &str = "kairos.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub email: Email,
    #[serde(default)]
    pub sms: Option<Sms>,
    #[serde(default)]
    pub chat: Chat,
    #[serde(default)]
    pub sending: Sending,
    #[serde(default)]
    pub network: Network,
    #[serde(skip)]
    dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// `capture` (default: messages are stored, see `GET /api/v1/outbox`) or `smtp`.
    pub transport: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `none` | `starttls` | `tls`.
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    /// Base of tracking, unsubscribe and preference links.
    pub public_url: Option<String>,
    pub pool_size: Option<u32>,
    pub per_domain_concurrency: Option<usize>,
    pub per_domain_per_second: Option<f64>,
    pub dkim: Option<Dkim>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    /// PEM file (RSA or Ed25519); relative paths are inside the data directory. Imported into the store (encrypted)
    /// at start, so a node without the file signs with the stored key.
    pub private_key_file: String,
    /// Dual signing (RFC 8463 §1): with an RSA `private_key_file`, every message also gets an Ed25519 signature,
    /// with this key (PEM, or a base64 seed; stored like the other) published under this selector. Both or neither.
    pub ed25519_selector: Option<String>,
    pub ed25519_private_key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    pub provider_url: String,
    pub account_sid: String,
    pub auth_token: String,
    pub from: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    pub telegram_bot_token: Option<String>,
    /// Default `https://api.telegram.org`.
    pub telegram_api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sending {
    /// `16h` (default), or `off`.
    pub smart_sending: Option<String>,
    /// `21:00-09:00` (default for SMS), or `off`.
    pub quiet_hours_sms: Option<String>,
    /// Off by default.
    pub quiet_hours_email: Option<String>,
    /// Most marketing emails per contact in a rolling day (no cap by default).
    pub daily_cap_email: Option<usize>,
    pub daily_cap_sms: Option<usize>,
}

/// Where webhook steps (URLs chosen by workspace users) may connect. Internal addresses (loopback, private,
/// link-local, ...) are refused unless listed here; the SMTP host, the SMS provider and Telegram come from this
/// file and are trusted. Deliberately not a per-workspace setting: a workspace must not open its own way in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Addresses or networks, e.g. `["127.0.0.1", "10.0.0.0/8"]`; from the environment a comma-separated
    /// string (`KAIROS_NETWORK__OUTBOUND_ALLOW=127.0.0.1,10.0.0.0/8`).
    pub outbound_allow: Option<StringList>,
}

/// A TOML list of strings, or one comma-separated string (what an environment variable can carry).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StringList {
    List(Vec<String>),
    Joined(String),
}

impl StringList {
    fn items(&self) -> Vec<String> {
        match self {
            StringList::List(v) => v.clone(),
            StringList::Joined(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        }
    }
}

fn insert_path(t: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, sections) = path.split_last().expect("at least two parts");
    match sections.split_first() {
        None => {
            t.insert(last.clone(), value);
        }
        Some((first, _)) => {
            let entry = t.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let Some(next) = entry.as_table_mut() {
                insert_path(next, &path[1..], value);
            }
        }
    }
}

/// Applies `KAIROS_A__B[__C]=value` variables onto the parsed file (`[a] b = value`, `[a.b] c = value`).
/// Values that read as TOML numbers or booleans keep that type; anything else is a string.
fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("KAIROS_") else { continue };
        let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
        if path.len() < 2 || path.iter().any(String::is_empty) {
            continue;
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| v.is_integer() || v.is_float() || v.is_bool())
            .unwrap_or(toml::Value::String(value));
        insert_path(table, &path, parsed);
    }
}

fn window(key: &str, s: &str) -> anyhow::Result<Option<(u32, u32)>> {
    if s.trim() == "off" {
        return Ok(None);
    }
    match kairos_engine::settings::parse_window(s) {
        Some(w) => Ok(Some(w)),
        None => anyhow::bail!("[sending] {key} must look like 21:00-09:00 or off (got {s:?})"),
    }
}

impl Config {
    /// Reads `kairos.toml` from the data directory when present, then applies environment overrides.
    pub fn load(dir: &Path) -> anyhow::Result<Config> {
        let path = dir.join(CONFIG_FILE);
        let mut table: toml::Table = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
            Err(_) => toml::Table::new(),
        };
        apply_env(&mut table, std::env::vars());
        let mut cfg: Config = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("reading {} and KAIROS_* variables", path.display()))?;
        cfg.dir = dir.to_path_buf();
        Ok(cfg)
    }

    /// The server-wide setting defaults (each workspace may override them through `PUT /api/v1/settings`).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        let rules = &mut settings.rules;
        let s = &self.sending;
        if let Some(v) = &s.smart_sending {
            rules.smart_sending = if v.trim() == "off" {
                None
            } else {
                Some(Duration::parse(v).with_context(|| {
                    format!("[sending] smart_sending must be a duration like 16h or off (got {v:?})")
                })?)
            };
        }
        for (channel, key, value) in [
            (Channel::Sms, "quiet_hours_sms", &s.quiet_hours_sms),
            (Channel::Email, "quiet_hours_email", &s.quiet_hours_email),
        ] {
            if let Some(v) = value {
                match window(key, v)? {
                    Some(w) => rules.quiet_hours.insert(channel, w),
                    None => rules.quiet_hours.remove(&channel),
                };
            }
        }
        for (channel, cap) in [(Channel::Email, s.daily_cap_email), (Channel::Sms, s.daily_cap_sms)] {
            if let Some(n) = cap {
                rules.daily_cap.insert(channel, n.max(1));
            }
        }
        // Every workspace texts from the configured sender unless it sets its own (`sms.from`).
        settings.sms_from = self.sms.as_ref().map(|s| {
            kairos_domain::Phone::parse(&s.from).map_or_else(|| s.from.trim().to_string(), |p| p.as_str().to_string())
        });
        Ok(settings)
    }

    /// The base URL of tracking, unsubscribe and preference links.
    pub fn public_url(&self, listen: Option<std::net::SocketAddr>) -> String {
        match (&self.email.public_url, listen) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, Some(a)) => format!("http://{a}"),
            (None, None) => "http://127.0.0.1:8080".into(),
        }
    }

    /// What webhook steps may reach (`[network] outbound_allow`).
    pub fn outbound_policy(&self) -> anyhow::Result<kairos_channels::OutboundPolicy> {
        let allow = self.network.outbound_allow.as_ref().map(StringList::items).unwrap_or_default();
        kairos_channels::OutboundPolicy::new(&allow)
            .map_err(|e| anyhow::anyhow!("[network] {}: {}", e.field, e.message))
    }

    /// The DKIM keys the SMTP transport signs with: none, the key of `private_key_file`, or that and the Ed25519
    /// key of dual signing; each with its identity and its file (relative paths are inside the data directory).
    /// The keys themselves are resolved with the secrets (`crate::secrets`): imported from the files into the
    /// store, or read from the store on a node without the files.
    pub fn dkim_keys(&self) -> anyhow::Result<Vec<crate::secrets::DkimKey>> {
        let Some(d) = self.email.dkim.as_ref().filter(|_| self.email.transport.as_deref() == Some("smtp")) else {
            return Ok(Vec::new());
        };
        let key = |selector: &str, file: &str, setting| crate::secrets::DkimKey {
            domain: d.domain.clone(),
            selector: selector.to_owned(),
            file: self.dir.join(file),
            setting,
        };
        let mut keys = vec![key(&d.selector, &d.private_key_file, "private_key_file")];
        match (&d.ed25519_selector, &d.ed25519_private_key_file) {
            (Some(selector), Some(file)) => keys.push(key(selector, file, "ed25519_private_key_file")),
            (None, None) => {}
            _ => anyhow::bail!("[email.dkim] ed25519_selector and ed25519_private_key_file go together (dual signing)"),
        }
        Ok(keys)
    }

    /// The transports these settings configure (channels left out are captured into the outbox); `dkim_pems`
    /// are the keys of [`Config::dkim_keys`] as resolved, in the same order.
    pub fn transports(
        &self,
        public_url: &str,
        dkim_pems: &[String],
    ) -> anyhow::Result<kairos_engine::dispatch::Transports> {
        use kairos_channels as ch;
        let http = ch::HttpClient::new(std::time::Duration::from_secs(15));
        let guarded = ch::HttpClient::guarded(std::time::Duration::from_secs(15), self.outbound_policy()?.into());
        let e = &self.email;
        let smtp = match e.transport.as_deref().unwrap_or("capture") {
            "capture" => None,
            "smtp" => {
                let tls: ch::TlsMode = e
                    .tls
                    .as_deref()
                    .unwrap_or("none")
                    .parse()
                    .ok()
                    .context("[email] tls must be \"none\", \"starttls\" or \"tls\"")?;
                let dkim = match (&e.dkim, dkim_pems) {
                    (Some(d), [pem, second @ ..]) => Some(ch::DkimConfig {
                        ed25519: d
                            .ed25519_selector
                            .clone()
                            .zip(second.first().cloned())
                            .map(|(selector, private_key_pem)| ch::DkimSecondKey { selector, private_key_pem }),
                        ..ch::DkimConfig::new(d.domain.clone(), d.selector.clone(), pem.clone())
                    }),
                    (Some(d), []) => anyhow::bail!(
                        "[email.dkim] private_key_file {}: no key (the file is missing and none is stored)",
                        self.dir.join(&d.private_key_file).display()
                    ),
                    (None, _) => None,
                };
                let cfg = ch::SmtpConfig {
                    host: e.host.clone().context("[email] host is required with transport = \"smtp\"")?,
                    port: e.port.unwrap_or(587),
                    tls,
                    username: e.username.clone().filter(|u| !u.is_empty()),
                    password: e.password.clone().filter(|p| !p.is_empty()),
                    dkim,
                    pool_size: e.pool_size.unwrap_or(10),
                    per_domain_concurrency: e.per_domain_concurrency.unwrap_or(5),
                    per_domain_per_second: e.per_domain_per_second,
                    timeout: std::time::Duration::from_secs(30),
                };
                Some(ch::Smtp::new(cfg).map_err(|err| anyhow::anyhow!("[email]: {err}"))?)
            }
            other => anyhow::bail!("[email] transport must be \"capture\" or \"smtp\" (got {other:?})"),
        };
        let sms = match &self.sms {
            Some(s) => {
                let cfg = ch::SmsConfig {
                    provider_url: s.provider_url.trim_end_matches('/').to_string(),
                    account_sid: s.account_sid.clone(),
                    auth_token: s.auth_token.clone(),
                    from: s.from.clone(),
                    status_callback_url: Some(format!("{public_url}/hooks/sms/status")),
                };
                // An empty auth token would let anyone sign the provider's webhooks.
                ch::Sms::validate(&cfg).map_err(|err| anyhow::anyhow!("[sms]: {err}"))?;
                Some(ch::Sms::new(cfg, http.clone()))
            }
            None => None,
        };
        let telegram = self.chat.telegram_bot_token.as_ref().map(|token| {
            let base = self.chat.telegram_api_url.clone().unwrap_or_else(|| "https://api.telegram.org".into());
            ch::Telegram::new(base, token.clone(), http.clone())
        });
        Ok(kairos_engine::dispatch::Transports {
            smtp,
            email_from: e.from.clone().unwrap_or_else(|| "Kairos <kairos@localhost>".into()),
            sms,
            webhook: ch::Webhook::new(guarded),
            telegram,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_example_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"
[email]
transport = "smtp"
host = "127.0.0.1"
port = 2525
tls = "none"
username = ""
password = ""
from = "Velo Shop <shop@velo.example>"
public_url = "https://mail.velo.example"
[email.dkim]
domain = "velo.example"
selector = "k1"
private_key_file = "dkim.pem"
[sms]
provider_url = "http://127.0.0.1:9999"
account_sid = "AC123"
auth_token = "secret"
from = "+15005550006"
[sending]
smart_sending = "8h"
quiet_hours_sms = "22:00-08:00"
daily_cap_email = 2
"#,
        )
        .unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.public_url(None), "https://mail.velo.example");
        let dkim = cfg.dkim_keys().unwrap();
        assert_eq!(dkim.len(), 1, "one key: no dual signing");
        assert_eq!((dkim[0].domain.as_str(), dkim[0].file.clone()), ("velo.example", dir.path().join("dkim.pem")));
        let err = cfg.transports("https://mail.velo.example", &[]).err().expect("the DKIM key file is missing");
        assert!(format!("{err:#}").contains("dkim.pem"), "{err:#}");
        let rules = cfg.settings().unwrap().rules;
        assert_eq!(rules.smart_sending, Some(Duration::from_secs(8 * 3600)));
        assert_eq!(rules.quiet_hours.get(&Channel::Sms), Some(&(22 * 60, 8 * 60)));
        assert_eq!(rules.daily_cap.get(&Channel::Email), Some(&2));
        assert_eq!(cfg.settings().unwrap().sms_from.as_deref(), Some("+15005550006"), "every workspace's sender");
        let sms = "[sms]\nprovider_url = \"http://127.0.0.1:9\"\naccount_sid = \"AC1\"\nauth_token = \"\"\nfrom = \"+1500\"\n";
        std::fs::write(dir.path().join(CONFIG_FILE), sms).unwrap();
        let err = Config::load(dir.path()).unwrap().transports("http://x", &[]).err().expect("an empty auth token");
        assert!(format!("{err:#}").contains("auth_token"), "{err:#}");
        std::fs::write(dir.path().join(CONFIG_FILE), "[sending]\nquiet_hours_sms = \"late\"\n").unwrap();
        let err = Config::load(dir.path()).unwrap().settings().unwrap_err().to_string();
        assert!(err.contains("quiet_hours_sms"), "{err}");
        std::fs::write(dir.path().join(CONFIG_FILE), "[network]\noutbound_allow = [\"10.0.0.0/8\", \"::1\"]\n")
            .unwrap();
        let policy = Config::load(dir.path()).unwrap().outbound_policy().unwrap();
        assert!(policy.check("10.1.2.3".parse().unwrap()).is_ok());
        assert!(policy.check("127.0.0.1".parse().unwrap()).is_err());
        std::fs::write(dir.path().join(CONFIG_FILE), "[network]\noutbound_allow = [\"10.0.0.0/40\"]\n").unwrap();
        let err = Config::load(dir.path()).unwrap().outbound_policy().unwrap_err().to_string();
        assert!(err.contains("[network] outbound_allow"), "{err}");
        std::fs::write(dir.path().join(CONFIG_FILE), "[sendng]\n").unwrap();
        assert!(Config::load(dir.path()).is_err(), "unknown sections are errors");
        assert!(Config::load(&dir.path().join("missing")).unwrap().settings().is_ok(), "no file: defaults");
    }

    #[test]
    fn dual_signing_names_a_second_key() {
        let dir = tempfile::tempdir().unwrap();
        let dkim = "[email]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\n[email.dkim]\ndomain = \"velo.example\"\n\
                    selector = \"k1\"\nprivate_key_file = \"dkim.pem\"\n";
        std::fs::write(dir.path().join(CONFIG_FILE), format!("{dkim}ed25519_selector = \"ed1\"\n")).unwrap();
        let err = Config::load(dir.path()).unwrap().dkim_keys().unwrap_err().to_string();
        assert!(err.contains("ed25519_private_key_file"), "{err}");
        let both = format!("{dkim}ed25519_selector = \"ed1\"\ned25519_private_key_file = \"/keys/ed.pem\"\n");
        std::fs::write(dir.path().join(CONFIG_FILE), both).unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        let keys = cfg.dkim_keys().unwrap();
        let named: Vec<_> = keys.iter().map(|k| (k.selector.as_str(), k.file.clone(), k.setting)).collect();
        assert_eq!(
            named,
            [
                ("k1", dir.path().join("dkim.pem"), "private_key_file"),
                ("ed1", "/keys/ed.pem".into(), "ed25519_private_key_file")
            ]
        );
        let err = cfg.transports("https://x", &["not a key".into(), "nor this".into()]).err().expect("bad keys");
        assert!(format!("{err:#}").contains("dkim.private_key"), "{err:#}");
    }

    #[test]
    fn environment_variables_override_nested_keys() {
        let mut t: toml::Table = toml::from_str("[email]\nhost = \"a\"\nport = 25\n").unwrap();
        let vars = [
            ("KAIROS_EMAIL__PORT", "2525"),
            ("KAIROS_EMAIL__DKIM__SELECTOR", "k2"),
            ("KAIROS_SENDING__SMART_SENDING", "8h"),
            ("KAIROS_DATA_DIR", "/x"),
        ];
        apply_env(&mut t, vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(t["email"]["port"].as_integer(), Some(2525));
        assert_eq!(t["email"]["host"].as_str(), Some("a"));
        assert_eq!(t["email"]["dkim"]["selector"].as_str(), Some("k2"));
        assert_eq!(t["sending"]["smart_sending"].as_str(), Some("8h"));
        assert!(!t.contains_key("data_dir"));
        let mut t = toml::Table::new();
        apply_env(
            &mut t,
            [("KAIROS_NETWORK__OUTBOUND_ALLOW".to_string(), "127.0.0.1, 10.0.0.0/8".to_string())].into_iter(),
        );
        let cfg: Config = toml::Value::Table(t).try_into().unwrap();
        let policy = cfg.outbound_policy().unwrap();
        assert!(
            policy.check("127.0.0.1".parse().unwrap()).is_ok() && policy.check("10.9.9.9".parse().unwrap()).is_ok()
        );
    }
}
