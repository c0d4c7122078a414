//! Errors of validation and rendering, each naming the template part at fault.

use crate::scan;

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
    /// Blocks nest deeper than [`crate::TEMPLATE_NESTING_MAX`] (partials included), or one expression has more
    /// than [`crate::TEMPLATE_EXPRESSION_TERMS_MAX`] terms.
    #[error("{field}{}: {message}", at_line(*line))]
    TooComplex { field: String, message: String, line: Option<u32> },
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
            | TemplateError::TooComplex { field, .. }
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
            | TemplateError::Range { line, .. }
            | TemplateError::TooComplex { line, .. } => *line,
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
            TemplateError::TooComplex { .. } => "template_too_complex",
            TemplateError::SourceTooLarge { .. } => "template_too_large",
            TemplateError::TooLarge { .. } => "render_too_large",
            TemplateError::Render { .. } => "render_failed",
        }
    }
}

/// Turns liquid's error text into a precise [`TemplateError`]: the message without the list of every available
/// filter, and the line (from the parser's ` --> L:C` marker, or by finding the unknown filter in the source).
pub(crate) fn from_parse(field: &str, src: &str, e: &liquid_core::Error) -> TemplateError {
    let text = e.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim_start_matches("liquid: ").trim();
    let context: Vec<(&str, &str)> = lines.filter_map(|l| l.trim().split_once('=')).collect();
    if first == "Unknown filter"
        && let Some((_, name)) = context.iter().find(|(k, _)| *k == "requested filter")
    {
        return TemplateError::UnknownFilter {
            field: field.to_owned(),
            filter: (*name).to_owned(),
            line: scan::filter_line(src, name),
        };
    }
    let line = text
        .split_once("--> ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<u32>().ok()))
        .or_else(|| {
            // A filter's own argument check (`money: 1, 2`, a bad date format) names the filter, not the line.
            let (_, f) = context.iter().find(|(k, _)| *k == "filter")?;
            let name = f.split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?;
            scan::filter_line(src, name)
        });
    // pest's message spans several lines (a source excerpt with carets); keep its last, explanatory line.
    let message = if text.contains("--> ") {
        text.lines()
            .map(str::trim)
            .rfind(|l| l.starts_with("= "))
            .map(|l| l.trim_start_matches("= ").to_owned())
            .unwrap_or_else(|| first.to_owned())
    } else {
        let extra: Vec<String> =
            context.iter().filter(|(k, _)| !k.starts_with("available")).map(|(k, v)| format!("{k}: {v}")).collect();
        if extra.is_empty() { first.to_owned() } else { format!("{first} ({})", extra.join(", ")) }
    };
    TemplateError::Syntax { field: field.to_owned(), message, line }
}

/// Turns a render failure into [`TemplateError::Render`], without liquid's lists of available names nor the
/// offending input value (contact data: messages get stored and logged, PII must not).
pub(crate) fn from_render(field: &str, e: &liquid_core::Error) -> TemplateError {
    let text = e.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim_start_matches("liquid: ").trim().to_owned();
    let detail: Vec<String> = lines
        .map(str::trim)
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.starts_with("available") && *k != "input")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let message = if detail.is_empty() { first } else { format!("{first} ({})", detail.join(", ")) };
    TemplateError::Render { field: field.to_owned(), message }
}
