//! The Liquid language Kairos templates use: every stdlib tag, block and filter, plus `money`, `raw`, a
//! time-zone-aware `date`, and HTML-aware versions of a few text filters.

mod comment;
mod date;
mod html;
pub(crate) mod money;

use liquid_core::parser::{Language, ParseBlock, ParseFilter, ParseTag};
use liquid_lib::stdlib;

pub use date::Date;
pub use html::Raw;
pub(crate) use html::{HtmlAware, Output};
pub use money::Money;

fn tag(lang: &mut Language, t: impl Into<Box<dyn ParseTag>>) {
    let t = t.into();
    lang.tags.register(t.reflection().tag().to_owned(), t);
}

fn block(lang: &mut Language, b: impl Into<Box<dyn ParseBlock>>) {
    let b = b.into();
    lang.blocks.register(b.reflection().start_tag().to_owned(), b);
}

fn filter(lang: &mut Language, f: impl Into<Box<dyn ParseFilter>>) {
    let f = f.into();
    lang.filters.register(f.reflection().name().to_owned(), f);
}

/// Builds the language once per [`crate::Renderer`].
pub(crate) fn language() -> Language {
    let mut l = Language::empty();
    for t in [
        Box::new(stdlib::AssignTag) as Box<dyn ParseTag>,
        Box::new(stdlib::BreakTag),
        Box::new(stdlib::ContinueTag),
        Box::new(stdlib::CycleTag),
        Box::new(stdlib::IncludeTag),
        Box::new(stdlib::IncrementTag),
        Box::new(stdlib::DecrementTag),
        Box::new(stdlib::RenderTag),
    ] {
        tag(&mut l, t);
    }
    for b in [
        Box::new(stdlib::RawBlock) as Box<dyn ParseBlock>,
        Box::new(stdlib::IfBlock),
        Box::new(stdlib::UnlessBlock),
        Box::new(stdlib::IfChangedBlock),
        Box::new(stdlib::ForBlock),
        Box::new(stdlib::TableRowBlock),
        Box::new(comment::Comment),
        Box::new(stdlib::CaptureBlock),
        Box::new(stdlib::CaseBlock),
    ] {
        block(&mut l, b);
    }
    let stdlib_filters: [Box<dyn ParseFilter>; 48] = [
        Box::new(stdlib::Abs),
        Box::new(stdlib::Append),
        Box::new(stdlib::AtLeast),
        Box::new(stdlib::AtMost),
        Box::new(stdlib::Capitalize),
        Box::new(stdlib::Ceil),
        Box::new(stdlib::Compact),
        Box::new(stdlib::Concat),
        Box::new(stdlib::Date),
        Box::new(stdlib::Default),
        Box::new(stdlib::DividedBy),
        Box::new(stdlib::Downcase),
        Box::new(stdlib::Escape),
        Box::new(stdlib::EscapeOnce),
        Box::new(stdlib::First),
        Box::new(stdlib::Floor),
        Box::new(stdlib::Join),
        Box::new(stdlib::Last),
        Box::new(stdlib::Lstrip),
        Box::new(stdlib::Map),
        Box::new(stdlib::Minus),
        Box::new(stdlib::Modulo),
        Box::new(stdlib::NewlineToBr),
        Box::new(stdlib::Plus),
        Box::new(stdlib::Prepend),
        Box::new(stdlib::Remove),
        Box::new(stdlib::RemoveFirst),
        Box::new(stdlib::Replace),
        Box::new(stdlib::ReplaceFirst),
        Box::new(stdlib::Reverse),
        Box::new(stdlib::Round),
        Box::new(stdlib::Rstrip),
        Box::new(stdlib::Size),
        Box::new(stdlib::Slice),
        Box::new(stdlib::Sort),
        Box::new(stdlib::SortNatural),
        Box::new(stdlib::Split),
        Box::new(stdlib::Strip),
        Box::new(stdlib::StripHtml),
        Box::new(stdlib::StripNewlines),
        Box::new(stdlib::Times),
        Box::new(stdlib::Truncate),
        Box::new(stdlib::TruncateWords),
        Box::new(stdlib::Uniq),
        Box::new(stdlib::Upcase),
        Box::new(stdlib::UrlDecode),
        Box::new(stdlib::UrlEncode),
        Box::new(stdlib::Where),
    ];
    for f in stdlib_filters {
        filter(&mut l, f);
    }
    // Overrides: registering a name again replaces the stdlib entry.
    filter(&mut l, Date);
    filter(&mut l, HtmlAware::new(stdlib::Escape, Output::AsIs));
    filter(&mut l, HtmlAware::new(stdlib::UrlEncode, Output::AsIs));
    filter(&mut l, HtmlAware::new(stdlib::Size, Output::AsIs));
    filter(&mut l, HtmlAware::new(stdlib::UrlDecode, Output::Escape));
    filter(&mut l, HtmlAware::new(stdlib::StripHtml, Output::Escape));
    filter(&mut l, HtmlAware::new(stdlib::Truncate, Output::Escape));
    filter(&mut l, HtmlAware::new(stdlib::TruncateWords, Output::Escape));
    // Additions.
    filter(&mut l, Money);
    filter(&mut l, Raw);
    l
}
