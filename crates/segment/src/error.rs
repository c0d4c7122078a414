use std::fmt;

/// A definition that cannot be used: where (text column, or JSON path) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SegmentError {
    pub message: String,
    /// 1-based column in the text form, when the error comes from the text parser.
    pub column: Option<usize>,
    /// JSON path (`and[1].value`) when the error comes from the JSON form or validation.
    pub path: Option<String>,
}

impl SegmentError {
    pub fn at_column(column: usize, message: impl Into<String>) -> Self {
        SegmentError { message: message.into(), column: Some(column), path: None }
    }
    pub fn at_path(path: impl Into<String>, message: impl Into<String>) -> Self {
        SegmentError { message: message.into(), column: None, path: Some(path.into()) }
    }
    pub fn plain(message: impl Into<String>) -> Self {
        SegmentError { message: message.into(), column: None, path: None }
    }
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.column, &self.path) {
            (Some(c), _) => write!(f, "{} at column {c}", self.message),
            (None, Some(p)) => write!(f, "{} (at {p})", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}
