//! Checking a JSON list of blocks field by field into [`Block`]s; every refusal names its field
//! (`blocks[2].url`).

use serde_json::{Map, Value};

use super::liquid::{address_ok, liquid_problem};
use super::*;

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockErrorKind {
    Missing,
    InvalidType,
    Invalid,
    TooLong,
    UnknownField,
}

/// A refused block field: `field` is its path (`blocks[2].url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BlockError {
    pub kind: BlockErrorKind,
    pub field: String,
    pub message: String,
}

type Checked<T> = Result<T, BlockError>;

/// Block types, in the order an editor offers them.
pub const BLOCK_TYPES: [&str; 9] =
    ["header", "text", "image", "button", "products", "coupon", "footer", "divider", "spacer"];

/// The fields each type takes (besides `type`).
fn known_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "header" => &["preheader", "logo_url", "alt", "link_url"],
        "text" => &["heading", "text", "align"],
        "image" => &["url", "alt", "link_url", "width"],
        "button" => &["label", "url", "color", "align"],
        "products" => &["heading", "source", "recommendation", "collection", "count", "columns", "button_label"],
        "coupon" => &["heading", "text", "code"],
        "footer" => &["text"],
        "spacer" => &["height"],
        _ => &[],
    }
}

/// Checks `blocks` (a JSON list) into blocks.
pub fn parse_blocks(v: &Value) -> Checked<Vec<Block>> {
    let list = v.as_array().ok_or_else(|| err(BlockErrorKind::InvalidType, "blocks", "blocks must be a list"))?;
    if list.is_empty() || list.len() > EMAIL_BLOCKS_MAX {
        let message = format!("a block email has 1 to {EMAIL_BLOCKS_MAX} blocks");
        return Err(err(BlockErrorKind::Invalid, "blocks", message));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut collections: Vec<String> = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let block = Fields::of(b, format!("blocks[{i}]"))?.block()?;
        if let Block::Products(Products { collection: Some(c), .. }) = &block
            && !collections.iter().any(|x| x.eq_ignore_ascii_case(c))
        {
            if collections.len() == COLLECTIONS_PER_TEMPLATE_MAX {
                let message = format!("an email shows at most {COLLECTIONS_PER_TEMPLATE_MAX} different collections");
                return Err(err(BlockErrorKind::Invalid, &format!("blocks[{i}].collection"), message));
            }
            collections.push(c.clone());
        }
        out.push(block);
    }
    Ok(out)
}

fn err(kind: BlockErrorKind, field: &str, message: impl Into<String>) -> BlockError {
    BlockError { kind, field: field.to_string(), message: message.into() }
}

/// One block's object and its path.
struct Fields<'a> {
    o: &'a Map<String, Value>,
    at: String,
}

impl<'a> Fields<'a> {
    fn of(b: &'a Value, at: String) -> Checked<Fields<'a>> {
        let o =
            b.as_object().ok_or_else(|| err(BlockErrorKind::InvalidType, &at, format!("{at} must be an object")))?;
        Ok(Fields { o, at })
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.at)
    }

    fn fail(&self, kind: BlockErrorKind, key: &str, message: impl Into<String>) -> BlockError {
        err(kind, &self.path(key), message)
    }

    fn block(&self) -> Checked<Block> {
        let kind = match self.o.get("type") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) => {
                let message = format!("type is one of {}", BLOCK_TYPES.join(", "));
                return Err(self.fail(BlockErrorKind::Missing, "type", message));
            }
            Some(_) => return Err(self.fail(BlockErrorKind::InvalidType, "type", "type must be text")),
        };
        if !BLOCK_TYPES.contains(&kind) {
            let message = format!("unknown block type {kind:?}: use {}", BLOCK_TYPES.join(", "));
            return Err(self.fail(BlockErrorKind::Invalid, "type", message));
        }
        let known = known_fields(kind);
        if let Some(k) = self.o.keys().find(|k| *k != "type" && !known.contains(&k.as_str())) {
            let takes = if known.is_empty() { "no other fields".to_string() } else { known.join(", ") };
            let message = format!("unknown field {k:?}: a {kind} block takes {takes}");
            return Err(self.fail(BlockErrorKind::UnknownField, k, message));
        }
        Ok(match kind {
            "header" => Block::Header(Header {
                preheader: self.text("preheader", BLOCK_LABEL_BYTES_MAX)?,
                logo_url: self.url("logo_url")?,
                alt: self.text("alt", BLOCK_LABEL_BYTES_MAX)?,
                link_url: self.url("link_url")?,
            }),
            "text" => Block::Text(Text {
                heading: self.text("heading", BLOCK_LABEL_BYTES_MAX)?,
                text: self.required(self.text("text", BLOCK_TEXT_BYTES_MAX)?, "text", "the paragraph text")?,
                align: self.align()?,
            }),
            "image" => Block::Image(Image {
                url: self.required(self.url("url")?, "url", "the picture's address")?,
                alt: self.required(self.text("alt", BLOCK_LABEL_BYTES_MAX)?, "alt", "what the picture shows")?,
                link_url: self.url("link_url")?,
                width: self.number("width", BLOCK_IMAGE_WIDTH_MIN..=EMAIL_WIDTH_PX, EMAIL_WIDTH_PX)?,
            }),
            "button" => Block::Button(Button {
                label: self.required(self.text("label", BLOCK_LABEL_BYTES_MAX)?, "label", "the button's words")?,
                url: self.required(self.url("url")?, "url", "where the button leads")?,
                color: self.color("color")?,
                align: self.align()?,
            }),
            "products" => Block::Products(self.products()?),
            "coupon" => Block::Coupon(Coupon {
                heading: self.text("heading", BLOCK_LABEL_BYTES_MAX)?,
                text: self.text("text", BLOCK_TEXT_BYTES_MAX)?,
                code: self.code()?,
            }),
            "footer" => Block::Footer(Footer { text: self.text("text", BLOCK_LABEL_BYTES_MAX)? }),
            "divider" => Block::Divider,
            _ => {
                let (low, high) = BLOCK_SPACER_PX;
                Block::Spacer(Spacer { height: self.number("height", low..=high, 24)? })
            }
        })
    }

    fn required<T>(&self, v: Option<T>, key: &str, what: &str) -> Checked<T> {
        v.ok_or_else(|| self.fail(BlockErrorKind::Missing, key, format!("{key} is required: {what}")))
    }

    /// A string of at most `max` bytes (None when absent, null or blank), trimmed.
    fn string(&self, key: &str, max: usize) -> Checked<Option<String>> {
        match self.o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(Value::String(_)) => {
                Err(self.fail(BlockErrorKind::TooLong, key, format!("{key} must be at most {max} bytes")))
            }
            Some(_) => Err(self.fail(BlockErrorKind::InvalidType, key, format!("{key} must be text"))),
        }
    }

    /// Text that may hold `{{ ... }}` outputs.
    fn text(&self, key: &str, max: usize) -> Checked<Option<String>> {
        let s = self.string(key, max)?;
        if let Some(problem) = s.as_deref().and_then(liquid_problem) {
            return Err(self.fail(BlockErrorKind::Invalid, key, problem));
        }
        Ok(s)
    }

    fn url(&self, key: &str) -> Checked<Option<String>> {
        let Some(u) = self.text(key, BLOCK_URL_BYTES_MAX)? else { return Ok(None) };
        if !address_ok(&u) {
            let message = format!(
                "{key} must be an http(s) address like https://shop.example/sale, or start with a Liquid value \
                 like {{{{ event.checkout_url }}}}"
            );
            return Err(self.fail(BlockErrorKind::Invalid, key, message));
        }
        Ok(Some(u))
    }

    fn number(&self, key: &str, range: std::ops::RangeInclusive<u16>, default: u16) -> Checked<u16> {
        match self.o.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_u64().and_then(|n| u16::try_from(n).ok()).filter(|n| range.contains(n)).ok_or_else(|| {
                let message = format!("{key} is a whole number from {} to {}", range.start(), range.end());
                self.fail(BlockErrorKind::Invalid, key, message)
            }),
        }
    }

    /// One of `options` (by its JSON name), or `default` when absent.
    fn choice<T: Copy>(&self, key: &str, options: &[(&str, T)], default: Option<T>) -> Checked<Option<T>> {
        let names = || options.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        match self.o.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => match options.iter().find(|(n, _)| *n == s.as_str()) {
                Some((_, v)) => Ok(Some(*v)),
                None => Err(self.fail(BlockErrorKind::Invalid, key, format!("{key} is one of {}", names()))),
            },
            Some(_) => Err(self.fail(BlockErrorKind::InvalidType, key, format!("{key} is one of {}", names()))),
        }
    }

    fn align(&self) -> Checked<Align> {
        let options = [("left", Align::Left), ("center", Align::Center), ("right", Align::Right)];
        Ok(self.choice("align", &options, Some(Align::Left))?.unwrap_or_default())
    }

    fn color(&self, key: &str) -> Checked<Option<String>> {
        let Some(c) = self.string(key, 7)? else { return Ok(None) };
        let hex = c.strip_prefix('#').filter(|h| matches!(h.len(), 3 | 6) && h.chars().all(|c| c.is_ascii_hexdigit()));
        match hex {
            Some(_) => Ok(Some(c)),
            None => Err(self.fail(BlockErrorKind::Invalid, key, format!("{key} is a colour like #1a56db"))),
        }
    }

    fn code(&self) -> Checked<Option<String>> {
        let code = self.string("code", BLOCK_COUPON_CODE_BYTES_MAX)?;
        if code.as_deref().is_some_and(|c| !c.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
            return Err(self.fail(BlockErrorKind::Invalid, "code", "code is letters, digits, - or _"));
        }
        Ok(code)
    }

    fn products(&self) -> Checked<Products> {
        let sources = [
            ("cart", ProductSource::Cart),
            ("event", ProductSource::Event),
            ("recommendations", ProductSource::Recommendations),
            ("collection", ProductSource::Collection),
        ];
        let source = self.choice("source", &sources, None)?;
        let source = self.required(source, "source", "cart, event, recommendations or collection")?;
        let lists = [
            ("also_bought", Recommendation::AlsoBought),
            ("also_viewed", Recommendation::AlsoViewed),
            ("based_on_history", Recommendation::BasedOnHistory),
            ("trending", Recommendation::Trending),
            ("recently_viewed", Recommendation::RecentlyViewed),
        ];
        let recommendation = self.choice("recommendation", &lists, None)?;
        let collection = self.collection()?;
        let max = u16::from(BLOCK_PRODUCTS_MAX);
        let p = Products {
            heading: self.text("heading", BLOCK_LABEL_BYTES_MAX)?,
            source,
            recommendation: recommendation.filter(|_| source == ProductSource::Recommendations),
            collection: collection.filter(|_| source == ProductSource::Collection),
            count: self.number("count", 1..=max, 3)? as u8,
            columns: self.number("columns", 1..=u16::from(BLOCK_COLUMNS_MAX), 3)? as u8,
            button_label: self.text("button_label", BLOCK_LABEL_BYTES_MAX)?,
        };
        match source {
            ProductSource::Recommendations if p.recommendation.is_none() => {
                let names = lists.map(|(n, _)| n).join(", ");
                Err(self.fail(BlockErrorKind::Missing, "recommendation", format!("recommendation is one of {names}")))
            }
            ProductSource::Collection if p.collection.is_none() => Err(self.fail(
                BlockErrorKind::Missing,
                "collection",
                "collection is required: the catalog category to show",
            )),
            _ => Ok(p),
        }
    }

    /// A category name as the catalog has it; written into a Liquid string, so without quotes or braces.
    fn collection(&self) -> Checked<Option<String>> {
        let c = self.string("collection", BLOCK_LABEL_BYTES_MAX)?;
        let bad = |ch: char| matches!(ch, '"' | '\'' | '{' | '}' | '%' | '\\') || ch.is_control();
        if c.as_deref().is_some_and(|c| c.chars().any(bad)) {
            let message = "collection is a category name, without quotes, braces, % or \\";
            return Err(self.fail(BlockErrorKind::Invalid, "collection", message));
        }
        Ok(c)
    }
}
