use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, as microseconds since the Unix epoch (UTC). Stored as an integer everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

const MICROS_PER_SECOND: i64 = 1_000_000;

impl Timestamp {
    pub const fn from_micros(us: i64) -> Self {
        Self(us)
    }
    pub const fn as_micros(self) -> i64 {
        self.0
    }
    pub const fn from_secs(s: i64) -> Self {
        Self(s * MICROS_PER_SECOND)
    }

    /// Parses ISO-8601 / RFC 3339 with an offset (`2026-11-23T10:00:00+02:00`, `...Z`), as analytics.js sends.
    /// A date-time without offset is read as UTC; a bare date as midnight UTC.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Some(Self(ts.as_microsecond()));
        }
        if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
            return jiff::tz::TimeZone::UTC.to_timestamp(dt).ok().map(|t| Self(t.as_microsecond()));
        }
        if let Ok(d) = s.parse::<jiff::civil::Date>() {
            return jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
                .map(|t| Self(t.as_microsecond()));
        }
        None
    }

    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.0))
    }
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 3339 in UTC with millisecond precision when sub-second parts exist.
        let ts = self.to_jiff();
        if self.0 % MICROS_PER_SECOND == 0 {
            write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
        }
    }
}

/// Stored form: integer microseconds (fast to write and read). The API formats timestamps as RFC 3339 itself.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

/// Reads integer microseconds or an RFC 3339 string.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Micros(i64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Micros(us) => Ok(Timestamp(us)),
            Repr::Text(s) => {
                Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
            }
        }
    }
}

/// A length of time in microseconds, written `30s`, `15m`, `4h`, `2d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

impl Duration {
    pub const fn from_secs(s: i64) -> Self {
        Self(s * MICROS_PER_SECOND)
    }
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let unit_at = s.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = s.split_at(unit_at);
        let n: i64 = num.parse().ok()?;
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        n.checked_mul(secs)?.checked_mul(MICROS_PER_SECOND).map(Self)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / MICROS_PER_SECOND;
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
            if secs != 0 && secs % size == 0 {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_formats_utc() {
        let t = Timestamp::parse("2026-11-23T12:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:00:00Z");
        let t = Timestamp::parse("2026-11-23T10:00:00.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:00:00.123000Z");
        assert_eq!(Timestamp::parse("2026-11-23").unwrap().to_string(), "2026-11-23T00:00:00Z");
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::parse("2026-13-01T00:00:00Z").is_none());
    }

    #[test]
    fn durations_round_trip() {
        for s in ["30s", "15m", "4h", "2d", "1w"] {
            assert_eq!(Duration::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Duration::parse("90m").unwrap().to_string(), "90m");
        assert!(Duration::parse("4x").is_none());
        assert!(Duration::parse("h").is_none());
        assert!(Duration::parse("99999999999999999999d").is_none());
    }
}

/// Serde for a [`Timestamp`] kept as RFC 3339 text (message histories, which the API shows as stored); reads
/// integer microseconds too.
pub mod rfc3339 {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Timestamp::deserialize(d)
    }
}

/// [`rfc3339`] for an optional timestamp (`null` reads as None).
pub mod rfc3339_option {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<Timestamp>::deserialize(d)
    }
}
