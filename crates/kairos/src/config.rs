//! `kairos.toml` in the data directory (SPEC 16). Every key can be overridden by the environment variable
//! `KAIROS_<SECTION>__<KEY>` (e.g. `KAIROS_SENDING__SMART_SENDING=8h`). `[email]` and `[sms]` are accepted now
//! and used once real channels land; `[sending]` drives the flow engine's sending discipline.

use std::path::Path;

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
    pub email: Option<toml::Table>,
    #[serde(default)]
    pub sms: Option<toml::Table>,
    #[serde(default)]
    pub sending: Sending,
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

fn env(section: &str, key: &str) -> Option<String> {
    std::env::var(format!("KAIROS_{}__{}", section.to_uppercase(), key.to_uppercase())).ok()
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
        let mut cfg: Config = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
            Err(_) => Config::default(),
        };
        let s = &mut cfg.sending;
        for (key, slot) in [
            ("smart_sending", &mut s.smart_sending),
            ("quiet_hours_sms", &mut s.quiet_hours_sms),
            ("quiet_hours_email", &mut s.quiet_hours_email),
        ] {
            if let Some(v) = env("sending", key) {
                *slot = Some(v);
            }
        }
        for (key, slot) in [("daily_cap_email", &mut s.daily_cap_email), ("daily_cap_sms", &mut s.daily_cap_sms)] {
            if let Some(v) = env("sending", key) {
                *slot = Some(
                    v.parse().with_context(|| format!("KAIROS_SENDING__{} must be a number", key.to_uppercase()))?,
                );
            }
        }
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
        Ok(settings)
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
[email.dkim]
domain = "velo.example"
[sms]
provider_url = "http://127.0.0.1:9999"
[sending]
smart_sending = "8h"
quiet_hours_sms = "22:00-08:00"
daily_cap_email = 2
"#,
        )
        .unwrap();
        let rules = Config::load(dir.path()).unwrap().settings().unwrap().rules;
        assert_eq!(rules.smart_sending, Some(Duration::from_secs(8 * 3600)));
        assert_eq!(rules.quiet_hours.get(&Channel::Sms), Some(&(22 * 60, 8 * 60)));
        assert_eq!(rules.daily_cap.get(&Channel::Email), Some(&2));
        std::fs::write(dir.path().join(CONFIG_FILE), "[sending]\nquiet_hours_sms = \"late\"\n").unwrap();
        let err = Config::load(dir.path()).unwrap().settings().unwrap_err().to_string();
        assert!(err.contains("quiet_hours_sms"), "{err}");
        std::fs::write(dir.path().join(CONFIG_FILE), "[sendng]\n").unwrap();
        assert!(Config::load(dir.path()).is_err(), "unknown sections are errors");
        assert!(Config::load(&dir.path().join("missing")).unwrap().settings().is_ok(), "no file: defaults");
    }
}
