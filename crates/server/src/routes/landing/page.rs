//! A landing page's document, checked field by field: the page (name, title, id, published) and its ordered
//! blocks (`hero`, `text`, `products`, `form`, `coupon`). What is stored is rebuilt from the checked values only
//! (unknown keys are dropped), so a stored page always renders. References to the workspace's forms, coupon pools
//! and segments are returned to the caller, which checks that each exists in the workspace.

use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Most blocks a page has.
pub const LANDING_BLOCKS_MAX: usize = 30;
/// Longest name, title, heading, label, alt text or category, in characters.
pub const LANDING_LABEL_CHARS_MAX: usize = 200;
/// Longest text of a `text` or `hero` block, in characters.
pub const LANDING_TEXT_CHARS_MAX: usize = 5_000;
/// Longest image or button address, in characters.
pub const LANDING_URL_CHARS_MAX: usize = 2_000;
/// Most products a `products` block shows.
pub const LANDING_PRODUCTS_MAX: usize = 12;
/// Products a `products` block shows unless it says.
const PRODUCTS_DEFAULT: u64 = 4;
/// Most segment rules of a segment-based `products` block.
pub const LANDING_SEGMENT_RULES_MAX: usize = 10;
/// Longest id (of the page, a form, a pool, a segment), in bytes.
pub const LANDING_ID_BYTES_MAX: usize = 64;
/// Longest static coupon code, in characters.
const COUPON_CODE_CHARS_MAX: usize = 64;
/// Block types, in the order the editor offers them.
pub const BLOCK_TYPES: [&str; 5] = ["hero", "text", "products", "form", "coupon"];
/// Where a `products` block takes its products from.
pub const PRODUCT_SOURCES: [&str; 3] = ["category", "segment", "recommended"];

/// Something of the workspace a page names, to be checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Form { field: String, id: String },
    Pool { field: String, id: String },
    Segment { field: String, id: String },
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_value(field, message)
}

/// A text of at most `max` characters (None when absent, null or blank).
fn text(o: &Map<String, Value>, key: &str, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => {
            Ok(if s.trim().is_empty() { None } else { Some(s.trim().to_string()) })
        }
        Some(Value::String(_)) => Err(bad(field, format!("{field} must be at most {max} characters"))),
        Some(_) => Err(ApiError::invalid_type(field, format!("{field} must be text"))),
    }
}

fn required(o: &Map<String, Value>, key: &str, field: &str, max: usize) -> Result<String, ApiError> {
    text(o, key, field, max)?.ok_or_else(|| ApiError::missing_field(field, format!("{field} is required")))
}

/// An http(s) address without spaces or control characters (never `javascript:` or `data:`).
fn url(o: &Map<String, Value>, key: &str, field: &str) -> Result<Option<String>, ApiError> {
    let Some(u) = text(o, key, field, LANDING_URL_CHARS_MAX)? else { return Ok(None) };
    let lower = u.to_ascii_lowercase();
    let scheme = lower.starts_with("https://") || lower.starts_with("http://");
    if !scheme || u.len() <= "https://".len() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(field, format!("{field} must be an http(s) address like https://shop.example/sale")));
    }
    Ok(Some(u))
}

/// Page ids: lower-case letters, digits, `-` and `_`, starting with a letter or digit (they appear in `/p/{id}`).
pub fn is_page_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= LANDING_ID_BYTES_MAX
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

fn id_of(o: &Map<String, Value>, key: &str, field: &str) -> Result<Option<String>, ApiError> {
    match text(o, key, field, LANDING_ID_BYTES_MAX)? {
        Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => Ok(Some(id)),
        Some(_) => Err(bad(field, format!("{field} is an id: letters, digits, - or _"))),
        None => Ok(None),
    }
}

/// The checked page (to store, with `id`) and what it names in the workspace.
pub fn checked(v: &Value, id: &str) -> Result<(Value, Vec<Reference>), ApiError> {
    let o = v.as_object().ok_or_else(|| ApiError::invalid_type("body", "the body must be a JSON object"))?;
    let name = required(o, "name", "name", LANDING_LABEL_CHARS_MAX)?;
    let title = text(o, "title", "title", LANDING_LABEL_CHARS_MAX)?.unwrap_or_else(|| name.clone());
    let published = match o.get("published") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid_type("published", "published must be true or false")),
    };
    let list = match o.get("blocks") {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => return Err(ApiError::missing_field("blocks", "blocks is required: a list")),
        Some(_) => return Err(ApiError::invalid_type("blocks", "blocks must be a list")),
    };
    if list.is_empty() || list.len() > LANDING_BLOCKS_MAX {
        return Err(bad("blocks", format!("a page has 1 to {LANDING_BLOCKS_MAX} blocks")));
    }
    let mut refs = Vec::new();
    let mut blocks = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        blocks.push(block(b, &format!("blocks[{i}]"), &mut refs)?);
    }
    let page = json!({"id": id, "name": name, "title": title, "published": published, "blocks": blocks});
    Ok((page, refs))
}

fn block(b: &Value, at: &str, refs: &mut Vec<Reference>) -> Result<Value, ApiError> {
    let f = |k: &str| format!("{at}.{k}");
    let o = b.as_object().ok_or_else(|| ApiError::invalid_type(at, format!("{at} must be an object")))?;
    let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
    let heading = text(o, "heading", &f("heading"), LANDING_LABEL_CHARS_MAX)?;
    Ok(match kind {
        "hero" => {
            let label = text(o, "button_label", &f("button_label"), LANDING_LABEL_CHARS_MAX)?;
            let target = url(o, "button_url", &f("button_url"))?;
            if label.is_some() != target.is_some() {
                let missing = if label.is_some() { "button_url" } else { "button_label" };
                return Err(ApiError::missing_field(&f(missing), "a button needs both a label and an address"));
            }
            json!({
                "type": "hero",
                "heading": heading.ok_or_else(|| ApiError::missing_field(&f("heading"), format!("{} is required", f("heading"))))?,
                "text": text(o, "text", &f("text"), LANDING_TEXT_CHARS_MAX)?,
                "image_url": url(o, "image_url", &f("image_url"))?,
                "image_alt": text(o, "image_alt", &f("image_alt"), LANDING_LABEL_CHARS_MAX)?,
                "button_label": label,
                "button_url": target,
            })
        }
        "text" => {
            json!({"type": "text", "heading": heading, "text": required(o, "text", &f("text"), LANDING_TEXT_CHARS_MAX)?})
        }
        "products" => products(o, at, heading, refs)?,
        "form" => {
            let form = id_of(o, "form", &f("form"))?
                .ok_or_else(|| ApiError::missing_field(&f("form"), "form is the id of one of the workspace's forms"))?;
            refs.push(Reference::Form { field: f("form"), id: form.clone() });
            json!({"type": "form", "heading": heading, "form": form})
        }
        "coupon" => coupon(o, at, heading, refs)?,
        "" => return Err(ApiError::missing_field(&f("type"), format!("type is one of {}", BLOCK_TYPES.join(", ")))),
        other => return Err(bad(&f("type"), format!("unknown block type {other:?}: use {}", BLOCK_TYPES.join(", ")))),
    })
}

fn products(
    o: &Map<String, Value>,
    at: &str,
    heading: Option<String>,
    refs: &mut Vec<Reference>,
) -> Result<Value, ApiError> {
    let f = |k: &str| format!("{at}.{k}");
    let source = o.get("source").and_then(Value::as_str).unwrap_or("category");
    if !PRODUCT_SOURCES.contains(&source) {
        return Err(bad(&f("source"), format!("source is one of {}", PRODUCT_SOURCES.join(", "))));
    }
    let count = match o.get("count") {
        None | Some(Value::Null) => PRODUCTS_DEFAULT,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=LANDING_PRODUCTS_MAX as u64).contains(n))
            .ok_or_else(|| bad(&f("count"), format!("count is a number from 1 to {LANDING_PRODUCTS_MAX}")))?,
    };
    let category = text(o, "category", &f("category"), LANDING_LABEL_CHARS_MAX)?;
    let mut rules = Vec::new();
    match source {
        "category" if category.is_none() => {
            return Err(ApiError::missing_field(&f("category"), "category names the catalog category to show"));
        }
        "segment" => {
            let list = o.get("segments").and_then(Value::as_array).ok_or_else(|| {
                ApiError::missing_field(&f("segments"), "segments lists {\"segment\", \"category\"} rules")
            })?;
            if list.is_empty() || list.len() > LANDING_SEGMENT_RULES_MAX {
                return Err(bad(&f("segments"), format!("1 to {LANDING_SEGMENT_RULES_MAX} segment rules")));
            }
            if category.is_none() {
                return Err(ApiError::missing_field(
                    &f("category"),
                    "category is shown to visitors in none of the segments",
                ));
            }
            for (j, r) in list.iter().enumerate() {
                let rf = |k: &str| format!("{at}.segments[{j}].{k}");
                let r = r.as_object().ok_or_else(|| ApiError::invalid_type(&rf("segment"), "a rule is an object"))?;
                let seg = id_of(r, "segment", &rf("segment"))?
                    .ok_or_else(|| ApiError::missing_field(&rf("segment"), "segment is a segment's id"))?;
                let cat = required(r, "category", &rf("category"), LANDING_LABEL_CHARS_MAX)?;
                refs.push(Reference::Segment { field: rf("segment"), id: seg.clone() });
                rules.push(json!({"segment": seg, "category": cat}));
            }
        }
        _ => {}
    }
    Ok(json!({"type": "products", "heading": heading, "source": source, "category": category,
              "segments": rules, "count": count}))
}

fn coupon(
    o: &Map<String, Value>,
    at: &str,
    heading: Option<String>,
    refs: &mut Vec<Reference>,
) -> Result<Value, ApiError> {
    let f = |k: &str| format!("{at}.{k}");
    let pool = id_of(o, "pool", &f("pool"))?;
    let code = text(o, "code", &f("code"), COUPON_CODE_CHARS_MAX)?;
    if let Some(c) = &code
        && !c.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(&f("code"), "code is letters, digits, - or _"));
    }
    match (&pool, &code) {
        (Some(_), Some(_)) => return Err(bad(&f("code"), "a coupon block gives either a pool's codes or one code")),
        (None, None) => {
            return Err(ApiError::missing_field(
                &f("pool"),
                "pool (a coupon pool's id) or code (one code) is required",
            ));
        }
        (Some(p), None) => refs.push(Reference::Pool { field: f("pool"), id: p.clone() }),
        (None, Some(_)) => {}
    }
    Ok(json!({
        "type": "coupon",
        "heading": heading,
        "text": text(o, "text", &f("text"), LANDING_TEXT_CHARS_MAX)?,
        "button_label": text(o, "button_label", &f("button_label"), LANDING_LABEL_CHARS_MAX)?,
        "pool": pool,
        "code": code,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(v: Value) -> String {
        let e = checked(&v, "p").expect_err("refused");
        serde_json::from_str::<Value>(&e.body()).unwrap()["error"]["field"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn every_refusal_names_its_field() {
        let page = |blocks: Value| json!({"name": "Sale", "blocks": blocks});
        assert_eq!(field_of(json!({"blocks": [{"type": "text", "text": "x"}]})), "name");
        assert_eq!(field_of(page(json!([]))), "blocks");
        assert_eq!(field_of(page(json!([{"type": "video"}]))), "blocks[0].type");
        assert_eq!(field_of(page(json!([{"type": "text", "text": "ok"}, {"type": "hero"}]))), "blocks[1].heading");
        let js = json!([{"type": "hero", "heading": "H", "button_label": "Go", "button_url": "javascript:alert(1)"}]);
        assert_eq!(field_of(page(js)), "blocks[0].button_url");
        assert_eq!(
            field_of(page(json!([{"type": "hero", "heading": "H", "button_label": "Go"}]))),
            "blocks[0].button_url"
        );
        assert_eq!(field_of(page(json!([{"type": "products", "category": "x", "count": 40}]))), "blocks[0].count");
        assert_eq!(
            field_of(page(json!([{"type": "products", "source": "segment", "category": "x"}]))),
            "blocks[0].segments"
        );
        let rule = json!([{"type": "products", "source": "segment", "category": "x", "segments": [{"segment": "s"}]}]);
        assert_eq!(field_of(page(rule)), "blocks[0].segments[0].category");
        assert_eq!(field_of(page(json!([{"type": "coupon"}]))), "blocks[0].pool");
        assert_eq!(field_of(page(json!([{"type": "coupon", "code": "A B"}]))), "blocks[0].code");
        assert_eq!(
            field_of(page(json!([{"type": "text", "text": "x".repeat(LANDING_TEXT_CHARS_MAX + 1)}]))),
            "blocks[0].text"
        );
        let many = Value::Array(vec![json!({"type": "text", "text": "x"}); LANDING_BLOCKS_MAX + 1]);
        assert_eq!(field_of(page(many)), "blocks");
    }

    #[test]
    fn a_page_is_rebuilt_from_what_was_checked_with_its_references() {
        let v = json!({"name": " Sale ", "published": true, "extra": 1, "blocks": [
            {"type": "products", "source": "segment", "category": "road", "segments": [{"segment": "seg_1", "category": "vip"}]},
            {"type": "form", "form": "frm_1", "onclick": "x"},
            {"type": "coupon", "pool": "welcome"}]});
        let (page, refs) = checked(&v, "sale").unwrap();
        assert_eq!(page["name"], "Sale");
        assert_eq!(page["title"], "Sale", "the title defaults to the name");
        assert!(page.get("extra").is_none() && page["blocks"][1].get("onclick").is_none());
        assert_eq!(page["blocks"][0]["count"], 4);
        assert_eq!(
            refs,
            [
                Reference::Segment { field: "blocks[0].segments[0].segment".into(), id: "seg_1".into() },
                Reference::Form { field: "blocks[1].form".into(), id: "frm_1".into() },
                Reference::Pool { field: "blocks[2].pool".into(), id: "welcome".into() },
            ]
        );
        assert!(is_page_id("summer-sale_2") && !is_page_id("Summer") && !is_page_id("-x") && !is_page_id(""));
    }
}
