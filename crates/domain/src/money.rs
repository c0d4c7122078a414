use std::fmt;

use serde::Serialize;

/// An amount in minor units (cents) of the store currency. Integer arithmetic keeps sums exact,
/// so an aggregate maintained incrementally equals one recomputed in any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Deserialize, Serialize)]
#[serde(transparent)]
pub struct Money(pub i64);

/// Largest amount accepted from input: 10^15 major units.
pub const MONEY_MAJOR_MAX: f64 = 1e15;

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_cents(c: i64) -> Self {
        Self(c)
    }
    pub fn cents(self) -> i64 {
        self.0
    }

    /// From a major-unit amount (`19.99`), rounded to the cent. None for NaN, infinities or absurd sizes.
    pub fn from_major(x: f64) -> Option<Self> {
        if !x.is_finite() || x.abs() > MONEY_MAJOR_MAX {
            return None;
        }
        Some(Self((x * 100.0).round() as i64))
    }

    /// Reads a JSON number or numeric string (`"19.99"`) as an amount in major units.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Number(n) => n.as_f64().and_then(Self::from_major),
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok().and_then(Self::from_major),
            _ => None,
        }
    }

    pub fn as_major(self) -> f64 {
        self.0 as f64 / 100.0
    }

    pub fn saturating_add(self, o: Money) -> Money {
        Money(self.0.saturating_add(o.0))
    }
    pub fn saturating_mul(self, n: i64) -> Money {
        Money(self.0.saturating_mul(n))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_numbers_and_strings() {
        assert_eq!(Money::from_json(&json!(19.99)), Some(Money(1999)));
        assert_eq!(Money::from_json(&json!("5")), Some(Money(500)));
        assert_eq!(Money::from_json(&json!(0.1 + 0.2)), Some(Money(30)));
        assert_eq!(Money::from_json(&json!("abc")), None);
        assert_eq!(Money::from_json(&json!(true)), None);
        assert_eq!(Money::from_json(&json!(1e300)), None);
        assert_eq!(Money(-1234).to_string(), "-12.34");
    }
}
