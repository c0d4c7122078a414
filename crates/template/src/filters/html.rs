//! Filters that know about HTML escaping: `raw`, and HTML-aware wrappers around stdlib text filters.
//!
//! In an HTML part, data strings arrive already escaped (see [`crate::data`]). Most filters work fine on escaped
//! text, but a few would give wrong or unsafe results: `escape` would escape twice, `url_encode` would encode the
//! entities, `url_decode` could turn `%3C` into a live `<`, `truncate` could cut an entity in half. The wrapper runs
//! those on the raw text and escapes their result again, so what comes out is still escaped exactly once.

use std::fmt;

use liquid_core::parser::FilterArguments;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter, Result, Runtime, Value, ValueView};

use crate::context::html_mode;
use crate::escape::{html_escape, html_unescape};

/// `raw`: marks a value as trusted HTML. In an HTML part it outputs the original, unescaped text of a data string
/// (`{{ product.description_html | raw }}`); elsewhere it changes nothing.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(name = "raw", description = "Outputs a value without HTML escaping (trusted HTML only).", parsed(RawFilter))]
pub struct Raw;

#[derive(Debug, Default, Display_filter)]
#[name = "raw"]
struct RawFilter;

impl Filter for RawFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if html_mode() && is_string(input) {
            return Ok(Value::scalar(html_unescape(input.to_kstr().as_str()).into_owned()));
        }
        Ok(input.to_value())
    }
}

fn is_string(v: &dyn ValueView) -> bool {
    v.as_scalar().is_some() && v.type_name() == "string"
}

/// What to do with the wrapped filter's result in an HTML part.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Output {
    /// The filter escapes by itself (`escape`) or produces nothing escapable (`url_encode`, `size`).
    AsIs,
    /// Escape the strings of the result again.
    Escape,
}

/// A stdlib filter that, in an HTML part, runs on the un-escaped text of a string input.
#[derive(Clone)]
pub(crate) struct HtmlAware {
    inner: Box<dyn ParseFilter>,
    output: Output,
}

impl HtmlAware {
    pub fn new(inner: impl Into<Box<dyn ParseFilter>>, output: Output) -> Self {
        Self { inner: inner.into(), output }
    }
}

impl ParseFilter for HtmlAware {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        Ok(Box::new(HtmlAwareFilter { inner: self.inner.parse(arguments)?, output: self.output }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self.inner.reflection()
    }
}

#[derive(Debug)]
struct HtmlAwareFilter {
    inner: Box<dyn Filter>,
    output: Output,
}

impl fmt::Display for HtmlAwareFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Filter for HtmlAwareFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        if !html_mode() || !is_string(input) {
            return self.inner.evaluate(input, runtime);
        }
        let raw = html_unescape(input.to_kstr().as_str()).into_owned();
        let out = self.inner.evaluate(&raw, runtime)?;
        Ok(match self.output {
            Output::AsIs => out,
            Output::Escape => escape_strings(out),
        })
    }
}

fn escape_strings(v: Value) -> Value {
    match v {
        Value::Scalar(s) if s.type_name() == "string" => {
            let s = s.into_string();
            match html_escape(s.as_str()) {
                std::borrow::Cow::Borrowed(_) => Value::scalar(s),
                std::borrow::Cow::Owned(e) => Value::scalar(e),
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(escape_strings).collect()),
        v => v,
    }
}
