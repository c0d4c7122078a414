//! Per-workspace settings (`GET/PUT /api/v1/settings`): the sending discipline, consent mode, the high-value
//! cart threshold of the abandoned-cart flow, the default send hour, attribution windows and the store's
//! identity used by templates. Server-wide defaults come from `kairos.toml`; a workspace stores only the keys
//! it overrides, so changing a default in the file reaches every workspace that did not set that key.

use std::collections::HashMap;

use kairos_domain::Channel;
use kairos_domain::Duration;
use serde_json::{Map, Value, json};

use crate::sending::Rules;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMode {
    /// Marketing needs `subscribed` (the default).
    OptIn,
    /// Marketing also reaches `never_subscribed` contacts (never `unsubscribed` ones).
    OptOut,
}

/// The store as templates see it (`{{ store.name }}`, `money` uses the currency).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInfo {
    pub name: String,
    pub currency: String,
    pub url: String,
    pub free_shipping_threshold: Option<f64>,
    /// The store's logo (an http(s) image address) at the top of the library's emails.
    pub logo_url: Option<String>,
    /// The store's accent colour (`#rrggbb`) for the library's emails' buttons and header line.
    pub color: Option<String>,
    /// The postal address printed in the emails' footer (anti-spam laws ask for one).
    pub address: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: Rules,
    pub consent_mode: ConsentMode,
    /// Carts above this value (major units) go to a `task` in the library's abandoned-cart flow.
    pub high_value_cart: f64,
    /// Local hour for `send_time: "best_hour"` when a contact has no best hour of its own.
    pub default_send_hour: u8,
    /// The zone for contacts without one.
    pub timezone: String,
    pub attribution_email: Duration,
    pub attribution_sms: Duration,
    pub store: StoreInfo,
    /// Domains besides the store's whose links are click-tracked (lowercase host names).
    pub tracking_domains: Vec<String>,
    /// The number (or sender id) this workspace's SMS go out from; `[sms] from` by default. Inbound keywords
    /// sent to it change the consent of this workspace's contacts only.
    pub sms_from: Option<String>,
    /// The lists people may opt out of one by one (`crate::topics`).
    pub topics: Vec<crate::topics::Topic>,
    /// Where the team hears of new tasks (`tasks.notify_email`, `tasks.webhook_url`; `crate::tasks`).
    pub task_notify: TaskNotify,
    /// Lead-scoring rules and lifecycle thresholds (`lead_scoring`, `lifecycle`; `crate::lead_ops`).
    pub lead: kairos_segment::lead::LeadSettings,
}

impl From<SettingsError> for crate::EngineError {
    fn from(e: SettingsError) -> Self {
        crate::EngineError::Invalid { message: format!("{}: {}", e.field, e.message), field: Some(e.field) }
    }
}

/// A checked partial update of a workspace's settings (`PUT /api/v1/settings`: only the keys given change).
#[derive(Debug, Clone)]
pub struct SettingsPatch {
    pub(crate) patch: Value,
    /// `Some(None)` removes the webhook secret (a new one is generated and answered).
    pub(crate) webhook_secret: Option<Option<String>>,
}

impl SettingsPatch {
    /// Reads a patch; the error names the key (`quiet_hours.email`).
    pub fn parse(mut patch: Value) -> Result<SettingsPatch, SettingsError> {
        let secret = match patch.as_object_mut().and_then(|o| o.remove("webhook_secret")) {
            Some(v) => Some(webhook_secret(&v)?),
            None => None,
        };
        Settings::default().apply(&patch)?;
        Ok(SettingsPatch { patch, webhook_secret: secret })
    }
}

/// A workspace's effective settings with its webhook secret, as `GET /api/v1/settings` shows them.
#[derive(Debug, Clone)]
pub struct SettingsView {
    pub settings: Settings,
    pub webhook_secret: Option<String>,
}

impl SettingsView {
    pub fn to_json(&self) -> Value {
        let mut out = self.settings.to_json();
        out["webhook_secret"] = json!(self.webhook_secret);
        out
    }
}

/// Most entries of `tracking.allowed_domains`.
pub const TRACKING_DOMAINS_MAX: usize = 100;
/// Longest host name (RFC 1035), in bytes.
pub(crate) const HOST_BYTES_MAX: usize = 253;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: Rules::default(),
            consent_mode: ConsentMode::OptIn,
            high_value_cart: 20_000.0,
            default_send_hour: 10,
            timezone: "UTC".into(),
            attribution_email: Duration::from_secs(5 * 86_400),
            attribution_sms: Duration::from_secs(86_400),
            store: StoreInfo {
                name: "Kairos Store".into(),
                currency: "USD".into(),
                url: "https://shop.example".into(),
                free_shipping_threshold: None,
                logo_url: None,
                color: None,
                address: None,
            },
            tracking_domains: Vec::new(),
            sms_from: None,
            topics: Vec::new(),
            task_notify: TaskNotify::default(),
            lead: Default::default(),
        }
    }
}

/// A rejected setting: the JSON path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

pub(crate) fn err(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError { field: field.to_string(), message: message.into() }
}

pub(crate) const CHANNELS: [(Channel, &str); 2] = [(Channel::Email, "email"), (Channel::Sms, "sms")];

/// `21:00-09:00` as minutes after midnight.
pub fn parse_window(s: &str) -> Option<(u32, u32)> {
    let parse = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = s.split_once('-')?;
    Some((parse(a)?, parse(b)?))
}

pub(crate) fn show_window((a, b): (u32, u32)) -> String {
    format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60)
}

pub(crate) fn duration_or_off(v: &Value, field: &str) -> Result<Option<Duration>, SettingsError> {
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::String(s) if s == "off" => Ok(None),
        Value::String(s) => Duration::parse(s)
            .map(Some)
            .ok_or_else(|| err(field, format!("expected a duration like 16h, or null (got {s:?})"))),
        _ => Err(err(field, "expected a duration like 16h, or null")),
    }
}

pub(crate) fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, SettingsError> {
    v.as_object().ok_or_else(|| err(field, "expected an object"))
}

pub(crate) fn number(v: &Value, field: &str, min: f64, max: f64) -> Result<f64, SettingsError> {
    v.as_f64()
        .filter(|n| n.is_finite() && *n >= min && *n <= max)
        .ok_or_else(|| err(field, format!("expected a number from {min} to {max}")))
}

/// A lowercase host name: letters, digits and hyphens in dot-separated labels (no scheme, port or path).
pub(crate) fn domain(v: &Value, field: &str) -> Result<String, SettingsError> {
    let d = v.as_str().unwrap_or_default().trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if d.is_empty() || d.len() > HOST_BYTES_MAX || !d.split('.').all(label_ok) {
        return Err(err(field, "expected a domain name like cdn.example.com (no scheme or path)"));
    }
    Ok(d)
}

/// Where the team hears of new tasks: an email address and / or a URL that gets a signed POST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskNotify {
    pub email: Option<String>,
    pub webhook_url: Option<String>,
}

/// Longest postal address of the store, in bytes.
const STORE_ADDRESS_BYTES_MAX: usize = 300;

/// A colour as `#rrggbb` (lower case).
fn hex_color(v: &Value, field: &str) -> Result<String, SettingsError> {
    let s = v.as_str().unwrap_or_default().trim().to_ascii_lowercase();
    let ok = s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(err(field, "expected a colour like #1a56db"));
    }
    Ok(s)
}

/// Longest web address a setting takes, in bytes.
const WEB_ADDRESS_BYTES_MAX: usize = 2_000;

/// An http(s) address without spaces (whether it may be called is the outbound policy's question).
pub(crate) fn web_address(v: &Value, field: &str) -> Result<String, SettingsError> {
    let s = v.as_str().unwrap_or_default().trim();
    let lower = s.to_ascii_lowercase();
    let scheme = lower.starts_with("https://") || lower.starts_with("http://");
    if !scheme || s.len() > WEB_ADDRESS_BYTES_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(field, "expected an http(s) address like https://hooks.example.com/kairos"));
    }
    Ok(s.to_string())
}

/// An SMS sender: an E.164 number, or an alphanumeric sender id (1-11 letters, digits or spaces, one letter).
pub(crate) fn sms_sender(v: &Value, field: &str) -> Result<String, SettingsError> {
    let s = v.as_str().unwrap_or_default().trim();
    if let Some(p) = kairos_domain::Phone::parse(s) {
        return Ok(p.as_str().to_string());
    }
    let alnum = (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    if alnum && !s.contains("  ") {
        return Ok(s.to_string());
    }
    Err(err(field, "expected a phone number like +15005550006 or an alphanumeric sender id of up to 11 characters"))
}

/// The store's address: an absolute http(s) URL with a host (its domain is click-tracked).
pub(crate) fn store_url(v: &Value, field: &str) -> Result<String, SettingsError> {
    let s = text(v, field, 2000)?;
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(s),
        _ => Err(err(field, "expected an http(s) URL like https://shop.example")),
    }
}

pub(crate) fn text(v: &Value, field: &str, max: usize) -> Result<String, SettingsError> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() && s.len() <= max => Ok(s.trim().to_string()),
        _ => Err(err(field, format!("expected a non-empty string of at most {max} bytes"))),
    }
}

/// The webhook secret a `PUT` sets: a text of 16 to 200 bytes, or null (back to a generated one).
pub(crate) fn webhook_secret(v: &Value) -> Result<Option<String>, SettingsError> {
    if v.is_null() {
        return Ok(None);
    }
    let secret = text(v, "webhook_secret", 200)?;
    if secret.len() < 16 {
        return Err(err("webhook_secret", "expected a secret of at least 16 characters"));
    }
    Ok(Some(secret))
}

impl Settings {
    /// The settings as the API shows them, but for `webhook_secret`: a secret, kept sealed in the store
    /// (`crate::secrets`) and added by the committer.
    pub fn to_json(&self) -> Value {
        let r = &self.rules;
        let per_channel = |f: &dyn Fn(Channel) -> Value| -> Value {
            Value::Object(CHANNELS.iter().map(|(c, n)| (n.to_string(), f(*c))).collect())
        };
        json!({
            "smart_sending": r.smart_sending.map(|d| d.to_string()),
            "quiet_hours": per_channel(&|c| r.quiet_hours.get(&c).map_or(Value::Null, |w| json!(show_window(*w))) ),
            "daily_cap": per_channel(&|c| r.daily_cap.get(&c).map_or(Value::Null, |n| json!(n))),
            "weekly_cap": per_channel(&|c| r.weekly_cap.get(&c).map_or(Value::Null, |n| json!(n))),
            "consent_mode": match self.consent_mode { ConsentMode::OptIn => "opt_in", ConsentMode::OptOut => "opt_out" },
            "high_value_cart": self.high_value_cart,
            "default_send_hour": self.default_send_hour,
            "timezone": self.timezone,
            "attribution_window": {"email": self.attribution_email.to_string(), "sms": self.attribution_sms.to_string()},
            "store": {
                "name": self.store.name, "currency": self.store.currency, "url": self.store.url,
                "free_shipping_threshold": self.store.free_shipping_threshold,
                "logo_url": self.store.logo_url, "color": self.store.color, "address": self.store.address,
            },
            "tracking": {"allowed_domains": self.tracking_domains},
            "sms": {"from": self.sms_from},
            "topics": self.topics.iter().map(crate::topics::Topic::to_json).collect::<Vec<_>>(),
            "tasks": {"notify_email": self.task_notify.email, "webhook_url": self.task_notify.webhook_url},
            "lead_scoring": self.lead.scoring.to_json(),
            "lifecycle": self.lead.lifecycle.to_json(),
        })
    }

    /// Hosts whose links are click-tracked: the store's domain (without a leading `www.`, so the shop's other
    /// subdomains count too) and the allowed domains.
    pub fn tracked_domains(&self) -> Vec<String> {
        let store = url::Url::parse(&self.store.url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let store = store.map(|h| h.strip_prefix("www.").map(str::to_string).unwrap_or(h));
        store.into_iter().chain(self.tracking_domains.iter().cloned()).collect()
    }

    /// These settings with the keys of `patch` applied; every key is checked and unknown keys are errors.
    pub fn apply(&self, patch: &Value) -> Result<Settings, SettingsError> {
        let mut s = self.clone();
        for (k, v) in object(patch, "")? {
            let f = k.as_str();
            match f {
                "smart_sending" => s.rules.smart_sending = duration_or_off(v, f)?,
                "quiet_hours" | "daily_cap" | "weekly_cap" => {
                    for (ch, w) in object(v, f)? {
                        let field = format!("{f}.{ch}");
                        let Some((c, _)) = CHANNELS.iter().find(|(_, n)| n == ch) else {
                            return Err(err(&field, "unknown channel: use email or sms"));
                        };
                        match f {
                            "quiet_hours" => match w {
                                Value::Null => {
                                    s.rules.quiet_hours.remove(c);
                                }
                                Value::String(t) => {
                                    let win = parse_window(t).ok_or_else(|| {
                                        err(&field, format!("expected a window like 21:00-09:00, or null (got {t:?})"))
                                    })?;
                                    s.rules.quiet_hours.insert(*c, win);
                                }
                                _ => return Err(err(&field, "expected a window like 21:00-09:00, or null")),
                            },
                            _ => {
                                let caps =
                                    if f == "daily_cap" { &mut s.rules.daily_cap } else { &mut s.rules.weekly_cap };
                                if w.is_null() {
                                    caps.remove(c);
                                } else {
                                    caps.insert(*c, number(w, &field, 1.0, 1000.0)? as usize);
                                }
                            }
                        }
                    }
                }
                "consent_mode" => {
                    s.consent_mode = match v.as_str() {
                        Some("opt_in") => ConsentMode::OptIn,
                        Some("opt_out") => ConsentMode::OptOut,
                        _ => return Err(err(f, "expected \"opt_in\" or \"opt_out\"")),
                    }
                }
                "high_value_cart" => s.high_value_cart = number(v, f, 0.0, 1e12)?,
                "default_send_hour" => s.default_send_hour = number(v, f, 0.0, 23.0)? as u8,
                "timezone" => {
                    let z = text(v, f, 64)?;
                    if jiff::tz::db().get(&z).is_err() {
                        return Err(err(f, format!("unknown time zone {z:?}: use an IANA name like Europe/Paris")));
                    }
                    s.timezone = z;
                }
                "attribution_window" => {
                    for (ch, d) in object(v, f)? {
                        let field = format!("{f}.{ch}");
                        let d =
                            duration_or_off(d, &field)?.ok_or_else(|| err(&field, "expected a duration like 5d"))?;
                        match ch.as_str() {
                            "email" => s.attribution_email = d,
                            "sms" => s.attribution_sms = d,
                            _ => return Err(err(&field, "unknown channel: use email or sms")),
                        }
                    }
                }
                "store" => {
                    for (key, x) in object(v, f)? {
                        let field = format!("store.{key}");
                        match key.as_str() {
                            "name" => s.store.name = text(x, &field, 200)?,
                            "url" => s.store.url = store_url(x, &field)?,
                            "currency" => {
                                let c = text(x, &field, 3)?.to_ascii_uppercase();
                                if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                                    return Err(err(&field, "expected an ISO 4217 code like USD"));
                                }
                                s.store.currency = c;
                            }
                            "free_shipping_threshold" => {
                                s.store.free_shipping_threshold =
                                    if x.is_null() { None } else { Some(number(x, &field, 0.0, 1e12)?) }
                            }
                            "logo_url" if x.is_null() => s.store.logo_url = None,
                            "logo_url" => s.store.logo_url = Some(web_address(x, &field)?),
                            "color" if x.is_null() => s.store.color = None,
                            "color" => s.store.color = Some(hex_color(x, &field)?),
                            "address" if x.is_null() => s.store.address = None,
                            "address" => s.store.address = Some(text(x, &field, STORE_ADDRESS_BYTES_MAX)?),
                            _ => return Err(err(&field, "unknown store setting")),
                        }
                    }
                }
                "tracking" => {
                    for (key, x) in object(v, f)? {
                        let field = format!("tracking.{key}");
                        if key != "allowed_domains" {
                            return Err(err(&field, "unknown tracking setting"));
                        }
                        let list = x.as_array().ok_or_else(|| err(&field, "expected a list of domain names"))?;
                        if list.len() > TRACKING_DOMAINS_MAX {
                            return Err(err(&field, format!("at most {TRACKING_DOMAINS_MAX} domains")));
                        }
                        let mut domains = Vec::with_capacity(list.len());
                        for (i, d) in list.iter().enumerate() {
                            let d = domain(d, &format!("{field}[{i}]"))?;
                            if !domains.contains(&d) {
                                domains.push(d);
                            }
                        }
                        s.tracking_domains = domains;
                    }
                }
                "sms" => {
                    for (key, x) in object(v, f)? {
                        let field = format!("sms.{key}");
                        match key.as_str() {
                            "from" if x.is_null() => {}
                            "from" => s.sms_from = Some(sms_sender(x, &field)?),
                            _ => return Err(err(&field, "unknown sms setting")),
                        }
                    }
                }
                "topics" => s.topics = crate::topics::parse(v).map_err(|(field, message)| err(&field, message))?,
                "tasks" => {
                    for (key, x) in object(v, f)? {
                        let field = format!("tasks.{key}");
                        match key.as_str() {
                            "notify_email" if x.is_null() => s.task_notify.email = None,
                            "notify_email" => {
                                let e = x.as_str().and_then(kairos_domain::Email::parse);
                                let e =
                                    e.ok_or_else(|| err(&field, "expected an email address like team@shop.example"))?;
                                s.task_notify.email = Some(e.as_str().to_string());
                            }
                            "webhook_url" if x.is_null() => s.task_notify.webhook_url = None,
                            "webhook_url" => s.task_notify.webhook_url = Some(web_address(x, &field)?),
                            _ => return Err(err(&field, "unknown tasks setting")),
                        }
                    }
                }
                "lead_scoring" | "lifecycle" => {
                    s.lead = s.lead.apply(f, v).map_err(|e| err(&e.field, e.message))?;
                }
                // Checked here with the rest of the patch; stored as a secret, not with the settings.
                "webhook_secret" => {
                    webhook_secret(v)?;
                }
                _ => return Err(err(f, "unknown setting")),
            }
        }
        Ok(s)
    }

    /// Whether a flow or campaign may name topic `id`.
    pub fn topic_known(&self, id: &str) -> Result<(), SettingsError> {
        if self.topics.iter().any(|t| t.id == id) {
            return Ok(());
        }
        Err(err("topic", format!("no topic {id:?} in this workspace's settings (settings.topics)")))
    }

    /// The consent a marketing send needs.
    pub fn marketing_allowed(&self, status: kairos_domain::ConsentStatus) -> bool {
        use kairos_domain::ConsentStatus as C;
        match self.consent_mode {
            ConsentMode::OptIn => status == C::Subscribed,
            ConsentMode::OptOut => status != C::Unsubscribed,
        }
    }
}

/// Deep-merges `patch` into `base` (objects merge key by key; anything else replaces).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Removes the key a settings error names (`store.url`, `tracking.allowed_domains[1]`: the whole list) from
/// `v`; false when there is nothing to remove.
pub(crate) fn remove_path(v: &mut Value, field: &str) -> bool {
    let field = field.split('[').next().unwrap_or(field);
    let mut parts: Vec<&str> = field.split('.').collect();
    let Some(last) = parts.pop() else { return false };
    let mut at = v;
    for p in parts {
        match at.get_mut(p) {
            Some(next) => at = next,
            None => return false,
        }
    }
    at.as_object_mut().is_some_and(|o| o.remove(last).is_some())
}

/// Settings of every workspace: the defaults plus each workspace's stored overrides.
#[derive(Default)]
pub(crate) struct WorkspaceSettings {
    pub(crate) defaults: Settings,
    pub(crate) overrides: HashMap<kairos_domain::WorkspaceId, (Value, Settings)>,
}

impl WorkspaceSettings {
    pub(crate) fn of(&self, ws: kairos_domain::WorkspaceId) -> &Settings {
        self.overrides.get(&ws).map_or(&self.defaults, |(_, s)| s)
    }
}

/// A workspace's stored overrides (JSON) over `defaults`: the overrides kept and the effective settings. Stored
/// overrides stay readable when a rule gets stricter (or a default leaves kairos.toml): the key a check refuses
/// is dropped (and passed to `dropped`), the workspace's other settings are kept.
pub(crate) fn effective(
    defaults: &Settings,
    stored: &str,
    dropped: &mut dyn FnMut(&SettingsError),
) -> (Value, Settings) {
    let mut overrides: Value = serde_json::from_str(stored).unwrap_or_else(|_| json!({}));
    let settings = loop {
        match defaults.apply(&overrides) {
            Ok(s) => break s,
            Err(e) => {
                dropped(&e);
                if !remove_path(&mut overrides, &e.field) {
                    break defaults.clone();
                }
            }
        }
    };
    (overrides, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_validate_and_round_trip() {
        let d = Settings::default();
        let s = d
            .apply(&json!({"smart_sending": "8h", "quiet_hours": {"email": "22:00-07:30", "sms": null},
                "daily_cap": {"email": 3}, "consent_mode": "opt_out", "high_value_cart": 500,
                "store": {"currency": "eur", "name": "Velo"}, "attribution_window": {"sms": "2d"}}))
            .unwrap();
        assert_eq!(s.rules.smart_sending, Some(Duration::from_secs(8 * 3600)));
        assert_eq!(s.rules.quiet_hours.get(&Channel::Email), Some(&(22 * 60, 7 * 60 + 30)));
        assert!(!s.rules.quiet_hours.contains_key(&Channel::Sms));
        assert_eq!(s.store.currency, "EUR");
        let again = Settings::default().apply(&s.to_json()).unwrap();
        assert_eq!(again.to_json(), s.to_json());
        for (patch, field) in [
            (json!({"smart_sending": 5}), "smart_sending"),
            (json!({"quiet_hours": {"sms": "late"}}), "quiet_hours.sms"),
            (json!({"quiet_hours": {"fax": null}}), "quiet_hours.fax"),
            (json!({"daily_cap": {"email": 0}}), "daily_cap.email"),
            (json!({"timezone": "Mars/Olympus"}), "timezone"),
            (json!({"store": {"currency": "dollars"}}), "store.currency"),
            (json!({"colour": "red"}), "colour"),
            (json!({"store": {"url": "shop.example"}}), "store.url"),
            (
                json!({"tracking": {"allowed_domains": ["ok.example", "bad_host.example"]}}),
                "tracking.allowed_domains[1]",
            ),
            (json!({"tracking": {"allowed": []}}), "tracking.allowed"),
            (json!({"sms": {"from": "+1 (not a number)"}}), "sms.from"),
        ] {
            assert_eq!(d.apply(&patch).unwrap_err().field, field, "{patch}");
        }
    }

    #[test]
    fn tracked_domains_are_the_stores_and_the_allowed_ones() {
        let s = Settings::default()
            .apply(&json!({"store": {"url": "https://WWW.Velo.example/shop"},
                "tracking": {"allowed_domains": ["CDN.example.", "cdn.example"]}, "sms": {"from": "Velo"}}))
            .unwrap();
        assert_eq!(s.tracked_domains(), vec!["velo.example", "cdn.example"]);
        assert_eq!(s.sms_from.as_deref(), Some("Velo"));
        assert_eq!(Settings::default().apply(&s.to_json()).unwrap().to_json(), s.to_json());
    }

    #[test]
    fn a_refused_stored_key_is_removed_alone() {
        let mut v =
            json!({"store": {"url": "shop.example", "name": "Velo"}, "tracking": {"allowed_domains": ["a", "b c"]}});
        let e = Settings::default().apply(&v).unwrap_err();
        assert!(remove_path(&mut v, &e.field));
        let e = Settings::default().apply(&v).unwrap_err();
        assert!(remove_path(&mut v, &e.field));
        assert_eq!(v, json!({"store": {"name": "Velo"}, "tracking": {}}));
        assert!(!remove_path(&mut v, "colour") && !remove_path(&mut v, ""));
    }

    #[test]
    fn merge_is_deep() {
        let mut base = json!({"store": {"name": "A", "currency": "USD"}, "smart_sending": "16h"});
        merge(&mut base, &json!({"store": {"name": "B"}, "smart_sending": null}));
        assert_eq!(base, json!({"store": {"name": "B", "currency": "USD"}, "smart_sending": null}));
    }
}
