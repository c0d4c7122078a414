//! Render data: a tree converted once from JSON, read by Liquid through its view traits.
//!
//! Two properties Liquid's own `Value` lacks:
//! - **Lenient lookups.** liquid-rust errors on a missing variable or key; marketers expect Shopify's behaviour,
//!   where `{{ contact.nickname | default: "there" }}` renders "there". A missing key reads as [`Node::Nil`], which
//!   can itself be indexed (`contact.address.city` with no address is nil, not an error).
//! - **Escaping in HTML.** Each data string keeps its HTML-escaped form when it differs from the raw text
//!   (computed once, at conversion, only for strings that contain `& < > " '`). While an HTML part renders, every
//!   read (output, filters, comparisons, copies) sees the escaped form, so data can never inject markup; the `raw`
//!   filter un-escapes it explicitly. Strings created by the template itself (`assign`, `capture`) are
//!   [`Node::Lit`] and never escaped again.

use std::fmt;

use liquid_core::model::{ArrayView, DisplayCow, KString, KStringCow, ObjectView, ScalarCow, State, Value, ValueView};

use crate::context::html_mode;
use crate::escape::html_escape;

/// One value of the render data.
#[derive(Debug, Clone, Default)]
pub(crate) enum Node {
    /// JSON null or a missing key: renders empty, is falsy, and can be indexed further (giving nil again).
    #[default]
    Nil,
    /// The final result of a lookup that found nothing or nil: like [`Node::Nil`], but it also reads as an empty
    /// array, so `{{ contact.tags | join: ", " }}` renders empty instead of failing when there are no tags.
    Absent,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text from the data: the raw string and, when it differs, its HTML-escaped form.
    Text(KString, Option<KString>),
    /// Text made by the template (never escaped again).
    Lit(KString),
    Array(Vec<Node>),
    /// Key/value pairs sorted by key.
    Object(Vec<(KString, Node)>),
}

pub(crate) static NIL: Node = Node::Nil;
pub(crate) static ABSENT: Node = Node::Absent;

impl Node {
    /// Converts JSON data; each string's escaped form is prepared here, once.
    pub fn from_json(v: &serde_json::Value) -> Node {
        match v {
            serde_json::Value::Null => Node::Nil,
            serde_json::Value::Bool(b) => Node::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Node::Int(i),
                None => Node::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Node::text(s),
            serde_json::Value::Array(a) => Node::Array(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(o) => {
                let mut pairs: Vec<(KString, Node)> =
                    o.iter().map(|(k, v)| (KString::from_ref(k), Node::from_json(v))).collect();
                // serde_json's map is already sorted unless `preserve_order` is on somewhere in the build; the
                // stable sort is linear on sorted input.
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Node::Object(pairs)
            }
        }
    }

    /// A data string, with its escaped form when escaping changes it.
    pub fn text(s: &str) -> Node {
        let escaped = match html_escape(s) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(e) => Some(KString::from_string(e)),
        };
        Node::Text(KString::from_ref(s), escaped)
    }

    /// Converts a value produced by the template (`assign`, `capture`): its strings are final.
    pub fn from_value(v: &dyn ValueView) -> Node {
        if v.is_nil() {
            return Node::Nil;
        }
        if let Some(s) = v.as_scalar() {
            if let Some(b) = s.to_bool().filter(|_| v.type_name() == "boolean") {
                return Node::Bool(b);
            }
            return match v.type_name() {
                "whole number" => Node::Int(s.to_integer().unwrap_or(0)),
                "fractional number" => Node::Float(s.to_float().unwrap_or(0.0)),
                _ => Node::Lit(s.into_string()),
            };
        }
        if let Some(a) = v.as_array() {
            return Node::Array(a.values().map(Node::from_value).collect());
        }
        if let Some(o) = v.as_object() {
            let mut pairs: Vec<(KString, Node)> =
                o.iter().map(|(k, v)| (KString::from_ref(k.as_str()), Node::from_value(v))).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|a, b| a.0 == b.0);
            return Node::Object(pairs);
        }
        Node::Nil
    }

    /// The member `key` of an object; nil when missing or when `self` is not an object.
    pub fn member(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(pairs) => pairs.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| &pairs[i].1),
            _ => None,
        }
    }

    /// The text as the current render should see it.
    fn str_view(&self) -> Option<&KString> {
        match self {
            Node::Text(raw, escaped) => Some(match escaped {
                Some(e) if html_mode() => e,
                _ => raw,
            }),
            Node::Lit(s) => Some(s),
            _ => None,
        }
    }

    fn is_nilish(&self) -> bool {
        matches!(self, Node::Nil | Node::Absent)
    }

    /// Length for `size`: of an array, an object, or a string (in bytes, as liquid-rust counts).
    pub fn size(&self) -> Option<i64> {
        match self {
            Node::Array(a) => Some(a.len() as i64),
            Node::Object(o) => Some(o.len() as i64),
            _ => self.str_view().map(|s| s.len() as i64),
        }
    }
}

/// A key in the form the current render should see (escaped in HTML: trait names come from the data too).
fn key_view(k: &KString) -> KStringCow<'_> {
    if html_mode() {
        match html_escape(k.as_str()) {
            std::borrow::Cow::Borrowed(_) => KStringCow::from_ref(k.as_str()),
            std::borrow::Cow::Owned(e) => KStringCow::from_string(e),
        }
    } else {
        KStringCow::from_ref(k.as_str())
    }
}

struct ArrayRender<'a>(&'a [Node]);

impl fmt::Display for ArrayRender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in self.0 {
            write!(f, "{}", item.render())?;
        }
        Ok(())
    }
}

struct ObjectRender<'a>(&'a [(KString, Node)]);

impl fmt::Display for ObjectRender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in self.0 {
            write!(f, "{}{}", key_view(k), v.render())?;
        }
        Ok(())
    }
}

struct SourceOf(Value);

impl fmt::Display for SourceOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.source())
    }
}

impl ValueView for Node {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        match self {
            Node::Nil | Node::Absent => DisplayCow::Borrowed(&""),
            Node::Bool(b) => DisplayCow::Borrowed(b),
            Node::Int(i) => DisplayCow::Borrowed(i),
            Node::Float(x) => x.render(),
            Node::Text(..) | Node::Lit(_) => match self.str_view() {
                Some(s) => DisplayCow::Borrowed(s),
                None => DisplayCow::Borrowed(&""),
            },
            Node::Array(a) => DisplayCow::Owned(Box::new(ArrayRender(a))),
            Node::Object(o) => DisplayCow::Owned(Box::new(ObjectRender(o))),
        }
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(SourceOf(self.to_value())))
    }

    fn type_name(&self) -> &'static str {
        match self {
            Node::Nil | Node::Absent => "nil",
            Node::Bool(_) => "boolean",
            Node::Int(_) => "whole number",
            Node::Float(_) => "fractional number",
            Node::Text(..) | Node::Lit(_) => "string",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        }
    }

    fn query_state(&self, state: State) -> bool {
        match self {
            Node::Nil | Node::Absent => !matches!(state, State::Truthy),
            Node::Bool(b) => b.query_state(state),
            Node::Int(i) => i.query_state(state),
            Node::Float(x) => x.query_state(state),
            Node::Text(..) | Node::Lit(_) => self.str_view().is_some_and(|s| s.as_str().query_state(state)),
            Node::Array(a) => matches!(state, State::Truthy) || a.is_empty(),
            Node::Object(o) => matches!(state, State::Truthy) || o.is_empty(),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        match self {
            Node::Nil | Node::Absent => KStringCow::from_static(""),
            Node::Text(..) | Node::Lit(_) => self.str_view().map_or(KStringCow::from_static(""), |s| s.as_ref().into()),
            Node::Bool(b) => b.to_kstr().into_owned().into(),
            Node::Int(i) => i.to_kstr().into_owned().into(),
            Node::Float(x) => x.to_kstr().into_owned().into(),
            Node::Array(_) | Node::Object(_) => KStringCow::from_string(self.render().to_string()),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Node::Nil | Node::Absent => Value::Nil,
            Node::Bool(b) => Value::scalar(*b),
            Node::Int(i) => Value::scalar(*i),
            Node::Float(x) => Value::scalar(*x),
            Node::Text(..) | Node::Lit(_) => Value::scalar(self.str_view().cloned().unwrap_or_default()),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
            Node::Object(o) => Value::Object(o.iter().map(|(k, v)| (key_view(k).into_owned(), v.to_value())).collect()),
        }
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        match self {
            Node::Bool(b) => Some(ScalarCow::new(*b)),
            Node::Int(i) => Some(ScalarCow::new(*i)),
            Node::Float(x) => Some(ScalarCow::new(*x)),
            Node::Text(..) | Node::Lit(_) => self.str_view().map(ScalarCow::new),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&dyn ArrayView> {
        match self {
            Node::Array(_) | Node::Absent => Some(self),
            _ => None,
        }
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        match self {
            Node::Object(_) | Node::Nil | Node::Absent => Some(self),
            _ => None,
        }
    }

    fn is_nil(&self) -> bool {
        self.is_nilish()
    }
}

impl ArrayView for Node {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        match self {
            Node::Array(a) => a.len() as i64,
            _ => 0,
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match self {
            Node::Array(a) => Box::new(a.iter().map(|n| n as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: i64) -> bool {
        self.array_get(index).is_some()
    }

    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        // Out of range is nil, as in Shopify, rather than liquid-rust's error.
        Some(self.array_get(index).unwrap_or(&NIL))
    }
}

impl Node {
    fn array_get(&self, index: i64) -> Option<&Node> {
        let Node::Array(items) = self else { return None };
        let i = if index < 0 { index + items.len() as i64 } else { index };
        usize::try_from(i).ok().and_then(|i| items.as_slice().get(i))
    }

    /// Lenient indexing, as Liquid's lookups do it: arrays by integer (negative from the end), `first`, `last`,
    /// `size`; objects by key (`size` when there is no such key); strings only `size`. Anything else is nil.
    pub fn index(&self, index: &ScalarCow<'_>) -> Step<'_> {
        match self {
            Node::Array(a) => {
                if let Some(i) = index.to_integer() {
                    return Step::Node(self.array_get(i).unwrap_or(&NIL));
                }
                match index.to_kstr().as_str() {
                    "first" => Step::Node(self.array_get(0).unwrap_or(&NIL)),
                    "last" => Step::Node(self.array_get(-1).unwrap_or(&NIL)),
                    "size" => Step::Size(a.len() as i64),
                    _ => Step::Node(&NIL),
                }
            }
            Node::Object(o) => {
                let key = index.to_kstr();
                match self.member(key.as_str()) {
                    Some(n) => Step::Node(n),
                    None if key.as_str() == "size" => Step::Size(o.len() as i64),
                    None => Step::Node(&NIL),
                }
            }
            Node::Text(..) | Node::Lit(_) if index.to_kstr().as_str() == "size" => Step::Size(self.size().unwrap_or(0)),
            _ => Step::Node(&NIL),
        }
    }
}

/// One step of a lookup: a node of the tree, or a size computed on the way.
pub(crate) enum Step<'a> {
    Node(&'a Node),
    Size(i64),
}

impl ObjectView for Node {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        match self {
            Node::Object(o) => o.len() as i64,
            _ => 0,
        }
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match self {
            Node::Object(o) => Box::new(o.iter().map(|(k, _)| key_view(k))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match self {
            Node::Object(o) => Box::new(o.iter().map(|(_, v)| v as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match self {
            Node::Object(o) => Box::new(o.iter().map(|(k, v)| (key_view(k), v as &dyn ValueView))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: &str) -> bool {
        self.member(index).is_some()
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.member(index) {
            Some(n) => Some(n),
            // Liquid's lookup falls back to the object's size for a missing `size`; anything else is nil.
            None if index == "size" => None,
            None => Some(&NIL),
        }
    }
}
