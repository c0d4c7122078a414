use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Internal workspace number. The public id (`ws_...`) is kept beside it in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(pub i64);

/// A contact's Kairos id, unique across workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub i64);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Longest accepted identifier (message ids, user ids, anonymous ids, product ids).
pub const ID_CHARS_MAX: usize = 255;

/// Checks an externally supplied identifier: non-empty after trimming, at most [`ID_CHARS_MAX`] characters,
/// no control characters.
pub fn parse_identifier(raw: &str, field: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new("empty_value", field, format!("{field} must not be empty")));
    }
    if s.chars().count() > ID_CHARS_MAX {
        return Err(ValidationError::new(
            "too_long",
            field,
            format!("{field} is longer than {ID_CHARS_MAX} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new("invalid_value", field, format!("{field} contains control characters")));
    }
    Ok(s.to_string())
}

/// Segment `messageId`: the idempotency key of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        parse_identifier(raw, field).map(Self)
    }
    /// Wraps an id made by Kairos itself (already well-formed).
    pub fn generated(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A normalised e-mail address (trimmed, lower-case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

const EMAIL_CHARS_MAX: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_lowercase();
        if s.len() > EMAIL_CHARS_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (local, domain) = s.split_once('@')?;
        if local.is_empty() || domain.contains('@') || !domain.contains('.') {
            return None;
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return None;
        }
        Some(Self(s))
    }
    /// An address already normalised by `parse` (read back from this process's own packed profiles).
    pub(crate) fn trusted(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number with punctuation removed: `+358401234567`, or bare digits when no country code was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let (plus, rest) = match s.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '.' => {}
                _ => return None,
            }
        }
        if !(6..=15).contains(&digits.len()) {
            return None;
        }
        Some(Self(if plus { format!("+{digits}") } else { digits }))
    }
    /// A number already normalised by `parse` (read back from this process's own packed profiles).
    pub(crate) fn trusted(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalise_and_reject() {
        assert_eq!(Email::parse(" Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@x.com", "a@b", "a b@x.com", "a@@x.com", "a@x..com", "a@.x.com"] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
        assert!(Email::parse("jöns@exämple.fi").is_some());
    }

    #[test]
    fn phones_normalise() {
        assert_eq!(Phone::parse("+358 40 123-4567").unwrap().as_str(), "+358401234567");
        assert_eq!(Phone::parse("(040) 1234567").unwrap().as_str(), "0401234567");
        assert!(Phone::parse("12").is_none());
        assert!(Phone::parse("+358abc").is_none());
    }

    #[test]
    fn identifiers_are_bounded() {
        assert!(parse_identifier("  ", "userId").is_err());
        assert!(parse_identifier(&"x".repeat(256), "userId").is_err());
        assert_eq!(parse_identifier(" u1 ", "userId").unwrap(), "u1");
        assert!(parse_identifier("a\u{0}b", "userId").is_err());
    }
}
