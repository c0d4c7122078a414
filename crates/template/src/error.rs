//! Errors of validation and rendering, each naming the template part at fault.

/// A template problem. [`TemplateError::field`] names the part: `"subject"`, `"html"`, `"text"`, `"body"`,
/// `"layout"`, or `"partials.NAME"` / `"layouts.NAME"` for a renderer's shared pieces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The Liquid does not parse.
    #[error("{field}{}: {message}", at_line(*line))]
    Syntax { field: String, message: String, line: Option<u32> },
    /// A filter that does not exist (`{{ x | shout }}`).
    #[error("{field}{}: unknown filter `{filter}`", at_line(*line))]
    UnknownFilter { field: String, filter: String, line: Option<u32> },
    /// `{% include %}` / `{% render %}` of a partial the renderer does not have, or whose name is not a literal.
    #[error("{field}{}: {message}", at_line(*line))]
    Partial { field: String, message: String, line: Option<u32> },
    /// The template names a layout the renderer does not have.
    #[error("{field}: unknown layout `{name}`")]
    UnknownLayout { field: String, name: String },
    /// A loop over a range that is not a literal, or whose iterations (nested loops multiply) exceed the limit.
    #[error("{field}{}: {message}", at_line(*line))]
    Range { field: String, message: String, line: Option<u32> },
    /// The template source exceeds [`crate::SOURCE_BYTES_MAX`].
    #[error("{field}: template is {bytes} bytes, more than the {limit} allowed")]
    SourceTooLarge { field: String, bytes: usize, limit: usize },
    /// Rendering produced more than [`crate::OUTPUT_BYTES_MAX`] (or assigned more than the assignment budget).
    #[error("{field}: rendered output exceeds {limit} bytes")]
    TooLarge { field: String, limit: usize },
    /// Rendering failed (a filter given the wrong kind of value, a bad dynamic date format, ...).
    #[error("{field}: {message}")]
    Render { field: String, message: String },
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

impl TemplateError {
    /// The part at fault.
    pub fn field(&self) -> &str {
        match self {
            TemplateError::Syntax { field, .. }
            | TemplateError::UnknownFilter { field, .. }
            | TemplateError::Partial { field, .. }
            | TemplateError::UnknownLayout { field, .. }
            | TemplateError::Range { field, .. }
            | TemplateError::SourceTooLarge { field, .. }
            | TemplateError::TooLarge { field, .. }
            | TemplateError::Render { field, .. } => field,
        }
    }

    /// The 1-based line in that part, when known.
    pub fn line(&self) -> Option<u32> {
        match self {
            TemplateError::Syntax { line, .. }
            | TemplateError::UnknownFilter { line, .. }
            | TemplateError::Partial { line, .. }
            | TemplateError::Range { line, .. } => *line,
            _ => None,
        }
    }

    /// A stable machine-readable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::Syntax { .. } => "template_syntax",
            TemplateError::UnknownFilter { .. } => "template_unknown_filter",
            TemplateError::Partial { .. } => "template_partial",
            TemplateError::UnknownLayout { .. } => "template_unknown_layout",
            TemplateError::Range { .. } => "template_range",
            TemplateError::SourceTooLarge { .. } => "template_too_large",
            TemplateError::TooLarge { .. } => "render_too_large",
            TemplateError::Render { .. } => "render_failed",
        }
    }
}
