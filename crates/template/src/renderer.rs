//! Compiling templates once and rendering them many times.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use liquid_core::Renderable;
use liquid_core::parser::Language;
use liquid_core::partials::{EagerCompiler, InMemorySource, PartialCompiler};
use liquid_core::runtime::PartialStore;
use serde::{Deserialize, Serialize};

use crate::context;
use crate::data::Node;
use crate::error::TemplateError;
use crate::globals::Globals;
use crate::preheader::with_preheader;
use crate::runtime::{ASSIGNED_BYTES_MAX, KairosRuntime, NoPartials};
use crate::scan::{self, Scanned, TEMPLATE_NESTING_MAX};
use crate::text::html_to_text;
use crate::variants::{SUBJECT_VARIANTS_MAX, SubjectVariant};

/// Largest template source accepted, per part (and per partial or layout).
pub const SOURCE_BYTES_MAX: usize = 256 * 1024;
/// Largest rendered output, per part.
pub const OUTPUT_BYTES_MAX: usize = 512 * 1024;

/// The source of a template as a marketer saves it: an email has `subject`, `html` and/or `text` (and optionally a
/// `layout` wrapping the html, a `preview_text` and subject-line `variants`); SMS and chat messages have `body`.
/// Absent parts are simply not rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateParts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The preview text (preheader) inboxes show after the subject: rendered as plain text and placed, hidden, at
    /// the top of the html.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_text: Option<String>,
    /// Subject lines tested against `subject` (variants B, C, …), at most [`SUBJECT_VARIANTS_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<SubjectVariant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The name of a layout registered on the [`Renderer`]; its `{{ content }}` receives the rendered html.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
}

impl TemplateParts {
    /// An email: subject, html, and an optional text part (derived from the html when absent).
    pub fn email(subject: &str, html: &str, text: Option<&str>) -> Self {
        Self {
            subject: Some(subject.to_owned()),
            html: Some(html.to_owned()),
            text: text.map(str::to_owned),
            ..Self::default()
        }
    }

    /// An SMS or chat message.
    pub fn message(body: &str) -> Self {
        Self { body: Some(body.to_owned()), ..Self::default() }
    }

    /// Wraps the html part in a layout.
    pub fn with_layout(mut self, name: &str) -> Self {
        self.layout = Some(name.to_owned());
        self
    }

    fn parts(&self) -> [(&'static str, Option<&String>); 4] {
        [
            ("subject", self.subject.as_ref()),
            ("html", self.html.as_ref()),
            ("text", self.text.as_ref()),
            ("body", self.body.as_ref()),
        ]
    }
}

/// The result of a render; a part is `Some` when the template has it (`text` also when derived from `html`).
/// `preview_text` is the rendered preview text as it is also placed, hidden, in `html`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_text: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub body: Option<String>,
}

/// The Liquid language plus a workspace's shared partials and layouts. Build it once (per workspace, rebuilt when
/// a partial or layout changes) and share it: it is `Send + Sync` and compiling against it is cheap.
pub struct Renderer {
    language: Arc<Language>,
    partials: Arc<dyn PartialStore + Send + Sync>,
    /// Each partial's total nesting depth (its blocks, plus the partials it includes).
    partial_depths: HashMap<String, usize>,
    layouts: HashMap<String, Arc<Part>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("partials", &self.partial_depths.keys().collect::<Vec<_>>())
            .field("layouts", &self.layouts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Collects partials and layouts for a [`Renderer`].
#[derive(Debug, Default, Clone)]
pub struct RendererBuilder {
    partials: Vec<(String, String)>,
    layouts: Vec<(String, String)>,
}

impl RendererBuilder {
    /// A partial, used as `{% include 'NAME' %}` (sees the template's variables) or `{% render 'NAME' %}` (sees
    /// only what is passed to it, Shopify's isolation).
    pub fn partial(mut self, name: &str, source: &str) -> Self {
        self.partials.push((name.to_owned(), source.to_owned()));
        self
    }

    /// A layout: html containing `{{ content }}`, where a template's rendered html goes.
    pub fn layout(mut self, name: &str, source: &str) -> Self {
        self.layouts.push((name.to_owned(), source.to_owned()));
        self
    }

    /// Validates and compiles everything. Partials may include each other, but not in a cycle.
    pub fn build(self) -> Result<Renderer, TemplateError> {
        let language = Arc::new(crate::filters::language());
        let names: HashSet<String> = self.partials.iter().map(|(n, _)| n.clone()).collect();
        let exists = |n: &str| names.contains(n);
        let mut scans: BTreeMap<&str, Scanned> = BTreeMap::new();
        for (name, src) in &self.partials {
            let field = format!("partials.{name}");
            let scanned = check_source(&field, src, &exists)?;
            parse(&language, &field, src)?;
            scans.insert(name, scanned);
        }
        let partial_depths = partial_depths(&scans)?;
        let partials: Arc<dyn PartialStore + Send + Sync> = if self.partials.is_empty() {
            Arc::new(NoPartials)
        } else {
            let mut source = EagerCompiler::<InMemorySource>::empty();
            for (name, src) in &self.partials {
                source.add(name.clone(), src.clone());
            }
            let store = source.compile(language.clone()).map_err(|e| crate::error::from_parse("partials", "", &e))?;
            Arc::from(store)
        };
        let mut layouts = HashMap::new();
        for (name, src) in &self.layouts {
            let field = format!("layouts.{name}");
            check_source(&field, src, &exists)?.check_through(&field, &|p| partial_depths[p])?;
            if !scan::outputs_content(src) {
                return Err(TemplateError::Syntax {
                    field,
                    message: "a layout must output {{ content }}".to_owned(),
                    line: None,
                });
            }
            let part = Part::new(parse(&language, &field, src)?, "layout");
            layouts.insert(name.clone(), Arc::new(part));
        }
        Ok(Renderer { language, partials, partial_depths, layouts })
    }
}

/// Each partial's total nesting depth: its own blocks, and for each include one level plus the included
/// partial's depth. Refuses include cycles and anything deeper than [`TEMPLATE_NESTING_MAX`]. Since every include
/// adds a level, the walk never goes more than [`TEMPLATE_NESTING_MAX`] partials deep, however long a chain of
/// partials a workspace saves.
fn partial_depths(scans: &BTreeMap<&str, Scanned>) -> Result<HashMap<String, usize>, TemplateError> {
    struct Walk<'a> {
        scans: &'a BTreeMap<&'a str, Scanned>,
        path: Vec<&'a str>,
        depths: HashMap<String, usize>,
    }
    impl<'a> Walk<'a> {
        /// The depth of partial `name`, included with `above` levels open around it.
        fn visit(&mut self, name: &'a str, above: usize) -> Result<usize, TemplateError> {
            if let Some(d) = self.depths.get(name) {
                return Ok(*d);
            }
            if let Some(i) = self.path.iter().position(|p| *p == name) {
                let mut cycle: Vec<&str> = self.path[i..].to_vec();
                cycle.push(name);
                return Err(TemplateError::Partial {
                    field: format!("partials.{}", cycle[0]),
                    message: format!("partials include each other in a cycle: {}", cycle.join(" → ")),
                    line: None,
                });
            }
            let root = self.path.first().copied().unwrap_or(name);
            if above > TEMPLATE_NESTING_MAX {
                return Err(TemplateError::TooComplex {
                    field: format!("partials.{root}"),
                    message: format!("blocks nest more than {TEMPLATE_NESTING_MAX} deep through included partials"),
                    line: None,
                });
            }
            // Unknown names were refused when the partials were scanned.
            let Some(scanned) = self.scans.get(name) else { return Ok(0) };
            self.path.push(name);
            for inc in &scanned.includes {
                self.visit(&inc.name, above + inc.depth + 1)?;
            }
            self.path.pop();
            let depth = scanned.check_through(&format!("partials.{name}"), &|p| self.depths[p])?;
            self.depths.insert(name.to_owned(), depth);
            Ok(depth)
        }
    }
    let mut walk = Walk { scans, path: Vec::new(), depths: HashMap::new() };
    for name in scans.keys() {
        walk.visit(name, 0)?;
    }
    Ok(walk.depths)
}

fn check_source(field: &str, src: &str, exists: &dyn Fn(&str) -> bool) -> Result<Scanned, TemplateError> {
    if src.len() > SOURCE_BYTES_MAX {
        return Err(TemplateError::SourceTooLarge {
            field: field.to_owned(),
            bytes: src.len(),
            limit: SOURCE_BYTES_MAX,
        });
    }
    scan::check(field, src, exists)
}

fn parse(language: &Language, field: &str, src: &str) -> Result<liquid_core::Template, TemplateError> {
    // liquid-core's parser has `expect`s that malformed input can reach (one is ruled out by the scan, see
    // `scan::Blocks::finish`). Parsing is pure, so a panic is caught and reported as a syntax error rather than
    // taking down the thread that compiles (the committer, for saves and previews). The language is only read
    // while parsing, so nothing it holds can be left half-changed (hence AssertUnwindSafe).
    let attempt = std::panic::AssertUnwindSafe(|| liquid_core::parser::parse(src, language));
    let parsed = std::panic::catch_unwind(attempt).map_err(|_| TemplateError::Syntax {
        field: field.to_owned(),
        message: "the template cannot be parsed".to_owned(),
        line: None,
    })?;
    parsed.map(liquid_core::Template::new).map_err(|e| crate::error::from_parse(field, src, &e))
}

static DEFAULT_RENDERER: LazyLock<Renderer> = LazyLock::new(Renderer::new);

/// Validates template parts as saved (SPEC 9) against a renderer without partials or layouts: syntax errors,
/// unknown filters, ranges, sizes. Use [`Renderer::validate`] when the template may use a workspace's partials.
pub fn validate(parts: &TemplateParts) -> Result<(), TemplateError> {
    DEFAULT_RENDERER.validate(parts)
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// The language alone: no partials, no layouts.
    pub fn new() -> Self {
        Self {
            language: Arc::new(crate::filters::language()),
            partials: Arc::new(NoPartials),
            partial_depths: HashMap::new(),
            layouts: HashMap::new(),
        }
    }

    /// Starts a renderer with partials and layouts.
    pub fn builder() -> RendererBuilder {
        RendererBuilder::default()
    }

    /// Checks parts as [`Renderer::compile`] does, without keeping the result.
    pub fn validate(&self, parts: &TemplateParts) -> Result<(), TemplateError> {
        self.compile(parts).map(|_| ())
    }

    /// Parses every part once; the [`Template`] then renders any number of times, from any thread.
    pub fn compile(&self, parts: &TemplateParts) -> Result<Template, TemplateError> {
        let mut compiled: [Option<Part>; 4] = Default::default();
        for (slot, (field, src)) in compiled.iter_mut().zip(parts.parts()) {
            *slot = self.compile_part(field, src.map(String::as_str))?;
        }
        let preview_text = self.compile_part("preview_text", parts.preview_text.as_deref())?;
        if parts.variants.len() > SUBJECT_VARIANTS_MAX {
            return Err(TemplateError::TooComplex {
                field: "variants".to_owned(),
                message: format!("at most {SUBJECT_VARIANTS_MAX} subject variants besides the subject"),
                line: None,
            });
        }
        let mut variants = Vec::with_capacity(parts.variants.len());
        for (i, v) in parts.variants.iter().enumerate() {
            let subject = self.compile_part(&format!("variants[{i}].subject"), Some(&v.subject))?;
            let preview = self.compile_part(&format!("variants[{i}].preview_text"), v.preview_text.as_deref())?;
            variants.push(VariantParts { subject, preview_text: preview });
        }
        let layout = match &parts.layout {
            Some(name) => Some(
                self.layouts
                    .get(name)
                    .cloned()
                    .ok_or_else(|| TemplateError::UnknownLayout { field: "layout".to_owned(), name: name.clone() })?,
            ),
            None => None,
        };
        let [subject, html, text, body] = compiled;
        Ok(Template { subject, preview_text, variants, html, text, body, layout, partials: self.partials.clone() })
    }

    /// One part, checked and parsed (None when the template does not have it).
    fn compile_part(&self, field: &str, src: Option<&str>) -> Result<Option<Part>, TemplateError> {
        let Some(src) = src else { return Ok(None) };
        let exists = |n: &str| self.partial_depths.contains_key(n);
        check_source(field, src, &exists)?.check_through(field, &|p| self.partial_depths[p])?;
        Ok(Some(Part::new(parse(&self.language, field, src)?, field)))
    }
}

/// One compiled part.
struct Part {
    template: liquid_core::Template,
    /// The part's name in errors (`subject`, `variants[1].subject`, ...).
    field: Box<str>,
    /// The largest output seen so far, to size the next output buffer in one allocation.
    size_hint: AtomicUsize,
}

impl Part {
    fn new(template: liquid_core::Template, field: &str) -> Self {
        Self { template, field: field.into(), size_hint: AtomicUsize::new(256) }
    }

    fn render(
        &self,
        globals: &Globals,
        content: Option<&Node>,
        partials: &dyn PartialStore,
    ) -> Result<String, TemplateError> {
        let runtime = KairosRuntime::new(globals, content, partials);
        let hint = self.size_hint.load(Ordering::Relaxed).min(OUTPUT_BYTES_MAX);
        let mut out = LimitedWriter { buf: Vec::with_capacity(hint + hint / 8), exceeded: false };
        // liquid-lib panics on some values it is given at render time (`{% tablerow x in xs cols: n %}` with n = 0
        // divides by zero; found by fuzzing), and renders run on the committer. The writer and the runtime are this
        // render's own and dropped after a panic, and the template and globals are only read (AssertUnwindSafe).
        let attempt = std::panic::AssertUnwindSafe(|| self.template.render_to(&mut out, &runtime));
        let Ok(result) = std::panic::catch_unwind(attempt) else {
            return Err(TemplateError::Render {
                field: self.field.to_string(),
                message: "a tag was given values it cannot work with (like tablerow cols: 0)".to_owned(),
            });
        };
        if out.exceeded || runtime.over_budget() {
            let limit = if out.exceeded { OUTPUT_BYTES_MAX } else { ASSIGNED_BYTES_MAX };
            return Err(TemplateError::TooLarge { field: self.field.to_string(), limit });
        }
        result.map_err(|e| crate::error::from_render(&self.field, &e))?;
        if out.buf.len() > hint {
            self.size_hint.fetch_max(out.buf.len(), Ordering::Relaxed);
        }
        // Liquid writes only whole UTF-8 strings, and a write over the limit is refused whole.
        Ok(String::from_utf8(out.buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

/// Collects output up to [`OUTPUT_BYTES_MAX`]; a write past it fails, which stops the render.
struct LimitedWriter {
    buf: Vec<u8>,
    exceeded: bool,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > OUTPUT_BYTES_MAX {
            self.exceeded = true;
            return Err(io::Error::other("rendered output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A compiled template: parse once with [`Renderer::compile`], render per contact with [`Template::render`].
/// `Send + Sync`, so one instance serves every sending thread.
pub struct Template {
    subject: Option<Part>,
    preview_text: Option<Part>,
    /// Variants B, C, …: their subjects and preview texts.
    variants: Vec<VariantParts>,
    html: Option<Part>,
    text: Option<Part>,
    body: Option<Part>,
    layout: Option<Arc<Part>>,
    partials: Arc<dyn PartialStore + Send + Sync>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("subject", &self.subject.is_some())
            .field("preview_text", &self.preview_text.is_some())
            .field("variants", &self.variants.len())
            .field("html", &self.html.is_some())
            .field("text", &self.text.is_some())
            .field("body", &self.body.is_some())
            .field("layout", &self.layout.is_some())
            .finish()
    }
}

/// A compiled subject variant.
struct VariantParts {
    subject: Option<Part>,
    preview_text: Option<Part>,
}

impl Template {
    /// Renders every part for one contact with the template's own subject (variant A). The html part (and its
    /// layout) sees data strings HTML-escaped; the subject, preview text, text and body see them as they are. The
    /// subject and preview text are collapsed to one line; the preview text goes, hidden, at the top of the html.
    /// An email with html but no text part gets a text part derived from the html (without the preview text).
    pub fn render(&self, globals: &Globals) -> Result<Rendered, TemplateError> {
        self.render_variant(globals, 0)
    }

    /// How many subject lines the template has: 1, or 1 plus its variants.
    pub fn variant_count(&self) -> usize {
        1 + self.variants.len()
    }

    /// Renders with subject variant `variant` (0 is the template's own subject, 1 its first variant, ...; one
    /// it does not have renders as 0). A variant without its own preview text uses the template's.
    pub fn render_variant(&self, globals: &Globals, variant: usize) -> Result<Rendered, TemplateError> {
        let _settings = context::enter(false, &globals.settings);
        let plain = |p: Option<&Part>| p.map(|p| p.render(globals, None, &*self.partials)).transpose();
        let chosen = variant.checked_sub(1).and_then(|i| self.variants.get(i));
        let subject_part = chosen.map_or(self.subject.as_ref(), |v| v.subject.as_ref());
        let preview_part = chosen.and_then(|v| v.preview_text.as_ref()).or(self.preview_text.as_ref());
        let subject = plain(subject_part)?.map(|s| one_line(&s));
        let preview_text = plain(preview_part)?.map(|s| one_line(&s)).filter(|s| !s.is_empty());
        let text = plain(self.text.as_ref())?;
        let body = plain(self.body.as_ref())?;
        let html = match &self.html {
            None => None,
            Some(part) => {
                let _html = context::set_html(true);
                let inner = part.render(globals, None, &*self.partials)?;
                Some(match &self.layout {
                    Some(layout) => layout.render(globals, Some(&Node::Lit(inner.into())), &*self.partials)?,
                    None => inner,
                })
            }
        };
        let text = match (text, &html) {
            (None, Some(h)) => Some(html_to_text(h)),
            (t, _) => t,
        };
        let html = match (html, &preview_text) {
            (Some(h), Some(p)) => Some(with_preheader(&h, p)),
            (h, _) => h,
        };
        Ok(Rendered { subject, preview_text, html, text, body })
    }

    /// True when the template has an html part.
    pub fn has_html(&self) -> bool {
        self.html.is_some()
    }
}

/// Collapses whitespace runs that contain line breaks (left by `{% if %}` blocks) so a subject is one line.
fn one_line(s: &str) -> String {
    if !s.contains(['\n', '\r']) {
        return s.trim().to_owned();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
