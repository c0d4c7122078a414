//! Per-render settings read by the filters and the data views.
//!
//! Liquid gives filters no per-render state that survives `{% render %}` (its sandbox gets fresh registers), so the
//! settings of the render in progress live in thread-locals, installed by [`enter`] and restored when its guard
//! drops. Rendering is synchronous, so the settings are exactly those of the render running on this thread.

use std::cell::{Cell, RefCell};

use jiff::tz::TimeZone;

/// What the filters need to know about the render in progress.
#[derive(Debug, Clone)]
pub(crate) struct RenderSettings {
    /// The contact's time zone, for `date`.
    pub tz: TimeZone,
    /// The instant that `"now"` and `"today"` mean, for `date` (the crate never reads the clock).
    pub now: jiff::Timestamp,
    /// The store currency (ISO 4217 code), for `money`.
    pub currency: Option<Currency>,
    /// How the reader writes numbers (the contact's locale), for `money`; None: `1,234.50` with the symbol first.
    pub numbers: Option<NumberStyle>,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self { tz: TimeZone::UTC, now: jiff::Timestamp::UNIX_EPOCH, currency: None, numbers: None }
    }
}

/// How a locale writes an amount of money: separators and where the currency symbol goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberStyle {
    pub group: &'static str,
    pub decimal: char,
    /// `1.234,50 €` rather than `€1,234.50`.
    pub symbol_after: bool,
    /// A (non-breaking) space between the symbol and the amount.
    pub spaced: bool,
}

/// No-break space: the amount and its symbol (or groups of digits) stay on one line.
const NBSP: &str = "\u{a0}";
/// Narrow no-break space, French digit groups.
const NNBSP: &str = "\u{202f}";

impl NumberStyle {
    /// The style of a BCP 47 / POSIX locale (`de-DE`, `pt_BR`, `fr`), from its language (and region where they
    /// differ); None for English-like and unknown locales (`$1,234.50`). A simplified table of CLDR's patterns.
    pub fn of_locale(locale: &str) -> Option<NumberStyle> {
        let lower = locale.trim().replace('_', "-").to_ascii_lowercase();
        let mut parts = lower.split('-');
        let lang = parts.next().unwrap_or_default();
        let region = parts.find(|p| p.len() == 2).unwrap_or_default();
        let style = |group, symbol_after, spaced| Some(NumberStyle { group, decimal: ',', symbol_after, spaced });
        match (lang, region) {
            ("pt", "br") => style(".", false, true),
            ("nl", _) => style(".", false, true),
            ("de" | "it" | "es" | "pt" | "da" | "id" | "el" | "ro" | "hr" | "sl" | "tr", _) => style(".", true, true),
            ("fr", _) => style(NNBSP, true, true),
            (
                "sv" | "fi" | "nb" | "nn" | "no" | "pl" | "cs" | "sk" | "ru" | "uk" | "hu" | "bg" | "lt" | "lv" | "et",
                _,
            ) => style(NBSP, true, true),
            _ => None,
        }
    }
}

/// An ISO 4217 currency code: three ASCII uppercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Currency([u8; 3]);

impl Currency {
    /// Accepts `"usd"`, `" EUR "`; rejects anything that is not three ASCII letters.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.trim().as_bytes();
        match b {
            [a, b, c] if b.is_ascii_alphabetic() && a.is_ascii_alphabetic() && c.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

thread_local! {
    static HTML: Cell<bool> = const { Cell::new(false) };
    static SETTINGS: RefCell<Option<RenderSettings>> = const { RefCell::new(None) };
}

/// True while an HTML part renders: data strings then read in their escaped form.
pub(crate) fn html_mode() -> bool {
    HTML.with(Cell::get)
}

/// Runs `f` with the settings of the render in progress (defaults outside a render).
pub(crate) fn with_settings<R>(f: impl FnOnce(&RenderSettings) -> R) -> R {
    SETTINGS.with_borrow(|s| match s {
        Some(s) => f(s),
        None => f(&RenderSettings::default()),
    })
}

/// Restores the previous settings when dropped.
pub(crate) struct Guard {
    html: bool,
    settings: Option<RenderSettings>,
}

/// Installs the settings of a render on this thread until the guard drops.
pub(crate) fn enter(html: bool, settings: &RenderSettings) -> Guard {
    let prev_html = HTML.with(|h| h.replace(html));
    let prev = SETTINGS.with_borrow_mut(|s| s.replace(settings.clone()));
    Guard { html: prev_html, settings: prev }
}

/// Switches only the HTML flag (the settings stay) until the guard drops.
pub(crate) fn set_html(html: bool) -> HtmlGuard {
    HtmlGuard(HTML.with(|h| h.replace(html)))
}

pub(crate) struct HtmlGuard(bool);

impl Drop for HtmlGuard {
    fn drop(&mut self) {
        HTML.with(|h| h.set(self.0));
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        HTML.with(|h| h.set(self.html));
        let prev = self.settings.take();
        SETTINGS.with_borrow_mut(|s| *s = prev);
    }
}
