//! Coupon pools (SPEC 9): one shared code, or unique codes generated from a pattern; a value (percent, fixed,
//! free shipping), an expiry, optionally a per-code validity and a cap on codes. An `issue_coupon` step gives the
//! contact a code (the same one again if it already holds one from the pool) that later templates read as
//! `{{ coupon.code }}`; an expired or exhausted pool takes the step's `fallback_next`. Sends re-check the coupon:
//! an expired or redeemed one skips the message. `Order Completed` with a `coupon` property redeems it.
//!
//! A unique pool can be backed by a store platform (`"platform": "shopify"` with the `price_rule_id` its codes
//! belong to, or `"woocommerce"`), so the shop's checkout accepts its codes: the codes are created in the shop
//! ahead of need, in batches, by the server (`kairos_server::coupon_stock`) and kept as the pool's stock (the
//! sync state `coupons/stock/{pool}`); the committer hands out only codes from the stock, and with none left
//! (the shop refused, or cannot keep up) the step takes its fallback branch.

use std::collections::HashMap;

use kairos_domain::{ContactId, Duration, JsonMap, Timestamp, WorkspaceId};
use serde_json::Value;

use crate::EngineError;
use kairos_store::Reads;

pub(crate) const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Shared { code: String },
    Unique { pattern: String, length: usize },
}

/// A checked coupon pool definition. It keeps the document it was read from: the API answers a pool as it was
/// given (with `issued` and `active` added).
/// A store platform that creates a pool's codes in the shop.
#[derive(Debug, Clone, PartialEq)]
pub struct Backing {
    pub platform: kairos_domain::vocab::Platform,
    /// Shopify: the price rule (the discount) the codes are created under.
    pub price_rule_id: Option<String>,
}

/// Most codes a backed pool keeps in stock.
pub const COUPON_STOCK_MAX: usize = 200;

/// The sync-state name of a backed pool's stock of codes created in the shop (a JSON array).
pub fn stock_state(pool: &str) -> String {
    format!("coupons/stock/{pool}")
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) value_type: String,
    pub(crate) value: f64,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) valid_for: Option<Duration>,
    pub(crate) max_codes: Option<u64>,
    pub(crate) backing: Option<Backing>,
    pub(crate) json: Value,
}

impl Pool {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The platform that creates the pool's codes in the shop, if any.
    pub fn backing(&self) -> Option<&Backing> {
        self.backing.as_ref()
    }

    /// `percent`, `fixed` or `free_shipping`, and the value.
    pub fn value(&self) -> (&str, f64) {
        (&self.value_type, self.value)
    }

    /// When the pool stops giving codes, if it does.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// `n` new random codes of a unique pool (none for a shared one); the caller checks they are unused.
    pub fn new_codes(&self, n: usize) -> Vec<String> {
        let Kind::Unique { pattern, length } = &self.kind else { return Vec::new() };
        use rand::RngExt as _;
        let mut rng = rand::rng();
        (0..n)
            .map(|_| {
                let body: String =
                    (0..*length).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect();
                pattern.replace("{CODE}", &body)
            })
            .collect()
    }

    /// The definition as given.
    pub fn document(&self) -> &Value {
        &self.json
    }

    /// Whether the pool can give a code at `now` after `issued` codes.
    pub fn active(&self, issued: u64, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|t| t > now) && self.max_codes.is_none_or(|m| issued < m)
    }

    /// Code `code` of this pool as given at `issued_at`.
    pub(crate) fn coupon(&self, code: &str, issued_at: Timestamp) -> Coupon {
        let expires = match (self.expires_at, self.valid_for.map(|d| issued_at.saturating_add(d))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Coupon {
            code: code.to_string(),
            pool: self.id.clone(),
            value_type: self.value_type.clone(),
            value: self.value,
            expires_at: expires,
        }
    }
}

/// A pool with how many codes it gave.
#[derive(Debug, Clone)]
pub struct PoolInfo {
    pub pool: Pool,
    pub issued: u64,
    /// Not expired and not exhausted.
    pub active: bool,
    /// A backed pool's codes created in the shop and not handed out yet.
    pub stock: Option<usize>,
}

/// A code as a contact holds it (what templates read as `coupon`, kept in the run's data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coupon {
    pub code: String,
    pub pool: String,
    /// `percent`, `fixed` or `free_shipping`.
    pub value_type: String,
    pub value: f64,
    /// The earlier of the pool's expiry and the code's validity.
    #[serde(with = "kairos_domain::time::rfc3339_option")]
    pub expires_at: Option<Timestamp>,
}

/// Why a code cannot be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    UnknownCode,
    Expired,
    AlreadyRedeemed,
    NotIssuedToContact,
}

impl Invalid {
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::UnknownCode => "unknown_code",
            Invalid::Expired => "expired",
            Invalid::AlreadyRedeemed => "already_redeemed",
            Invalid::NotIssuedToContact => "not_issued_to_contact",
        }
    }
}

/// Whether a code can be used now; the coupon it names when it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct CouponCheck {
    pub code: String,
    pub invalid: Option<Invalid>,
    pub coupon: Option<Coupon>,
}

#[derive(Default)]
pub(crate) struct Coupons {
    pub(crate) pools: HashMap<(WorkspaceId, String), Pool>,
    pub(crate) issued: HashMap<(WorkspaceId, String), u64>,
    /// Backed pools' codes created in the shop, not handed out yet (persisted under [`stock_state`]).
    pub(crate) stock: HashMap<(WorkspaceId, String), Vec<String>>,
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> EngineError {
    EngineError::Invalid { message: message.into(), field: Some(field.into()) }
}

/// Reads and checks a pool definition (errors name the field).
pub fn parse_pool(v: &Value) -> Result<Pool, EngineError> {
    let o = v.as_object().ok_or_else(|| invalid("body", "the body must be a JSON object"))?;
    const KNOWN: [&str; 13] = [
        "platform",
        "price_rule_id",
        "id",
        "name",
        "type",
        "code",
        "pattern",
        "length",
        "value_type",
        "value",
        "expires_at",
        "valid_for",
        "max_codes",
    ];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(invalid(k, format!("unknown field {k:?}")));
    }
    let id = match o.get("id").and_then(Value::as_str) {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            id.to_string()
        }
        _ => return Err(invalid("id", "id must be 1 to 64 letters, digits, - or _")),
    };
    let code_ok = |c: &str| {
        !c.is_empty() && c.len() <= 64 && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let kind = match o.get("type").and_then(Value::as_str) {
        Some("shared") => match o.get("code").and_then(Value::as_str) {
            Some(c) if code_ok(c) => Kind::Shared { code: c.to_string() },
            _ => return Err(invalid("code", "a shared pool needs a code of letters, digits, - or _")),
        },
        Some("unique") => {
            let pattern = o.get("pattern").and_then(Value::as_str).unwrap_or("{CODE}").to_string();
            if pattern.matches("{CODE}").count() != 1 || !code_ok(&pattern.replace("{CODE}", "X")) {
                return Err(invalid("pattern", "pattern must contain {CODE} once, e.g. WELCOME-{CODE}"));
            }
            let length = match o.get("length") {
                None => 8,
                Some(l) => l
                    .as_u64()
                    .filter(|n| (4..=32).contains(n))
                    .ok_or_else(|| invalid("length", "length must be 4 to 32"))? as usize,
            };
            Kind::Unique { pattern, length }
        }
        _ => return Err(invalid("type", "type must be \"shared\" or \"unique\"")),
    };
    let value_type = match o.get("value_type").and_then(Value::as_str) {
        Some(t @ ("percent" | "fixed" | "free_shipping")) => t.to_string(),
        _ => return Err(invalid("value_type", "value_type must be percent, fixed or free_shipping")),
    };
    let value = match (value_type.as_str(), o.get("value")) {
        ("free_shipping", None) => 0.0,
        ("percent", Some(v)) => v
            .as_f64()
            .filter(|x| *x > 0.0 && *x <= 100.0)
            .ok_or_else(|| invalid("value", "a percent is from 0 to 100"))?,
        (_, Some(v)) => v
            .as_f64()
            .filter(|x| *x > 0.0 && x.is_finite())
            .ok_or_else(|| invalid("value", "value must be a positive number"))?,
        (_, None) => return Err(invalid("value", "value is required")),
    };
    let expires_at = match o.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str().and_then(Timestamp::parse).ok_or_else(|| invalid("expires_at", "expected an ISO-8601 time"))?,
        ),
    };
    let valid_for = match o.get("valid_for") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str().and_then(Duration::parse).ok_or_else(|| invalid("valid_for", "expected a duration like 30d"))?,
        ),
    };
    let max_codes = match o.get("max_codes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64().filter(|n| *n > 0).ok_or_else(|| invalid("max_codes", "max_codes must be a positive number"))?,
        ),
    };
    let backing = parse_backing(o, &kind)?;
    Ok(Pool { id, kind, value_type, value, expires_at, valid_for, max_codes, backing, json: v.clone() })
}

/// `platform` (and Shopify's `price_rule_id`): who creates a unique pool's codes in the shop.
fn parse_backing(o: &serde_json::Map<String, Value>, kind: &Kind) -> Result<Option<Backing>, EngineError> {
    use kairos_domain::vocab::Platform;
    let platform = match o.get("platform") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(p)) => Platform::parse(p)
            .filter(|p| *p != Platform::Magento)
            .ok_or_else(|| invalid("platform", "platform must be shopify or woocommerce"))?,
        Some(_) => return Err(invalid("platform", "platform must be shopify or woocommerce")),
    };
    if !matches!(kind, Kind::Unique { .. }) {
        return Err(invalid("platform", "only a unique pool's codes are created in the shop"));
    }
    let price_rule_id = match (platform, o.get("price_rule_id")) {
        (Platform::Shopify, Some(Value::Number(n))) if n.is_u64() => Some(n.to_string()),
        (Platform::Shopify, Some(Value::String(s)))
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(s.clone())
        }
        (Platform::Shopify, _) => {
            return Err(invalid(
                "price_rule_id",
                "a Shopify pool needs the id of the price rule (discount) its codes belong to",
            ));
        }
        (_, None | Some(Value::Null)) => None,
        (_, Some(_)) => return Err(invalid("price_rule_id", "only a Shopify pool has a price rule")),
    };
    Ok(Some(Backing { platform, price_rule_id }))
}

impl Coupons {
    /// Whether `pool` can give a code now.
    pub(crate) fn available(&self, ws: WorkspaceId, pool: &str, now: Timestamp) -> bool {
        let key = (ws, pool.to_string());
        let Some(p) = self.pools.get(&key) else { return false };
        let stocked = p.backing.is_none() || self.stock.get(&key).is_some_and(|s| !s.is_empty());
        stocked && p.active(self.issued.get(&key).copied().unwrap_or(0), now)
    }

    pub(crate) fn exists(&self, ws: WorkspaceId, pool: &str) -> bool {
        self.pools.contains_key(&(ws, pool.to_string()))
    }
}

/// A stored stock of codes (a JSON array of strings; anything else reads as empty).
pub(crate) fn parse_stock(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// The run data key its `issue_coupon` step's code is kept under (templates read `coupon`).
pub(crate) const RUN_COUPON_KEY: &str = "coupon";

/// The coupon a run carries (set by its `issue_coupon` step).
pub(crate) fn run_coupon(trigger: &JsonMap) -> Option<Coupon> {
    trigger.get(RUN_COUPON_KEY).filter(|c| c.is_object()).and_then(|c| serde_json::from_value(c.clone()).ok())
}

/// The workspace's stored pools that read back, by id (the committer skips the others too).
pub(crate) fn stored_pools(r: &dyn Reads, ws: WorkspaceId) -> Result<Vec<Pool>, EngineError> {
    Ok(r.coupon_pools(ws)?
        .into_iter()
        .filter_map(|(_, data)| parse_pool(&serde_json::from_str(&data).unwrap_or_default()).ok())
        .collect())
}

/// The workspace's pools by id, or the one named (not found when it does not exist), from a read view.
pub(crate) fn pools(
    r: &dyn Reads,
    ws: WorkspaceId,
    id: Option<&str>,
    now: Timestamp,
) -> Result<Vec<PoolInfo>, EngineError> {
    let mut items = Vec::new();
    for pool in stored_pools(r, ws)?.into_iter().filter(|p| id.is_none_or(|i| i == p.id)) {
        let issued = r.pool_issued(ws, &pool.id)?;
        let stock = match pool.backing {
            Some(_) => Some(parse_stock(r.sync_state(ws, &stock_state(&pool.id))?.as_deref()).len()),
            None => None,
        };
        let active = pool.active(issued, now) && stock.is_none_or(|n| n > 0);
        items.push(PoolInfo { active, pool, issued, stock });
    }
    match id {
        Some(i) if items.is_empty() => Err(EngineError::NotFound(format!("no coupon pool {i:?}"))),
        _ => Ok(items),
    }
}

/// `POST /api/v1/coupons/validate`: whether `code` can be used now (by `contact` when given), from a read view.
pub(crate) fn validate(
    r: &dyn Reads,
    ws: WorkspaceId,
    code: &str,
    contact: Option<ContactId>,
    now: Timestamp,
) -> Result<CouponCheck, EngineError> {
    let issued = r.coupon_code(ws, code, contact)?;
    let pools = stored_pools(r, ws)?;
    let shared = pools.iter().find(|p| matches!(&p.kind, Kind::Shared { code: c } if c == code));
    // A unique code issued to someone else still names its pool.
    let anyone = if issued.is_none() && contact.is_some() { r.coupon_code(ws, code, None)? } else { None };
    let pool = match (&issued, shared, &anyone) {
        (Some(i), _, _) | (None, None, Some(i)) => pools.iter().find(|p| p.id == i.pool),
        (None, Some(p), _) => Some(p),
        (None, None, None) => None,
    };
    let Some(p) = pool else {
        return Ok(CouponCheck { code: code.to_string(), invalid: Some(Invalid::UnknownCode), coupon: None });
    };
    let issued_at = issued.as_ref().map_or(now, |i| i.issued_at);
    let coupon = p.coupon(code, issued_at);
    let invalid = if coupon.expires_at.is_some_and(|t| t <= now) {
        Some(Invalid::Expired)
    } else if issued.as_ref().is_some_and(|i| i.redeemed_at.is_some()) {
        Some(Invalid::AlreadyRedeemed)
    } else if matches!(p.kind, Kind::Unique { .. }) && issued.is_none() {
        Some(Invalid::NotIssuedToContact)
    } else {
        None
    };
    Ok(CouponCheck { code: code.to_string(), invalid, coupon: Some(coupon) })
}
