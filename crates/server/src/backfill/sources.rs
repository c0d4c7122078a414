//! Where each platform's records are read from: the API calls of a backfill (URLs, authentication, pages and
//! their cursors) and how each record maps, with the same mappers as the platform's webhooks (so a backfill
//! and live webhooks produce the same events with the same message ids).

use axum::http::HeaderMap;
use kairos_domain::Timestamp;
use kairos_engine::integrations::Platform;
use kairos_integrations::{MapError, Mapped, magento, shopify, woocommerce};
use serde_json::{Map, Value};

use super::BackfillError;

/// The Admin API version Kairos calls Shopify with.
pub const SHOPIFY_API_VERSION: &str = "2026-01";
/// Records per Shopify page (the Admin API's maximum).
const SHOPIFY_PAGE_RECORDS: u32 = 250;
/// Records per WooCommerce page (the REST API's maximum).
const WOOCOMMERCE_PAGE_RECORDS: u32 = 100;

/// What a backfill reads, in order: the catalog first, then the people, then their orders (which then reach
/// profiles that already have their traits and consent).
pub const RESOURCES: &[&str] = &["products", "customers", "orders"];
/// Magento's lists: refunds are credit memos, a list of their own.
pub const MAGENTO_RESOURCES: &[&str] = &["products", "customers", "orders", "creditmemos"];
/// Records per Magento page.
const MAGENTO_PAGE_RECORDS: u32 = 100;

/// Where a Magento list continues: records updated at or after `after`, page `page` of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MagentoCursor {
    #[serde(default, with = "kairos_domain::time::rfc3339_option")]
    pub after: Option<Timestamp>,
    pub page: u32,
}

impl MagentoCursor {
    pub fn parse(text: Option<&str>) -> MagentoCursor {
        text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(MagentoCursor { after: None, page: 1 })
    }
    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A connected platform's API, as a backfill reads it.
pub enum Source {
    Shopify { base: String, token: String, store_url: String },
    Woocommerce { site: String, authorization: String },
    Magento { base: String, authorization: String },
}

/// One page of records, and where the next one is.
pub struct Page {
    pub records: Vec<Value>,
    pub next: Option<String>,
    /// How many records the resource has, when the platform says.
    pub total: Option<u64>,
}

fn text<'a>(c: &'a Map<String, Value>, key: &str) -> &'a str {
    c.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The `rel="next"` target of a `Link` header (RFC 8288), as Shopify paginates.
fn link_next(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""));
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

impl Source {
    /// The source of a stored connection.
    pub fn of(p: Platform, c: &Map<String, Value>) -> Result<Source, BackfillError> {
        use base64::Engine as _;
        match p {
            Platform::Shopify => {
                let store_url = format!("https://{}", text(c, "shop_domain"));
                let base = c.get("api_url").and_then(Value::as_str).map_or_else(|| store_url.clone(), str::to_string);
                Ok(Source::Shopify { base, token: text(c, "access_token").into(), store_url })
            }
            Platform::Woocommerce => {
                let pair = format!("{}:{}", text(c, "consumer_key"), text(c, "consumer_secret"));
                let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
                Ok(Source::Woocommerce { site: text(c, "site_url").trim_end_matches('/').into(), authorization })
            }
            Platform::Magento => Ok(Source::Magento {
                base: text(c, "base_url").trim_end_matches('/').into(),
                authorization: format!("Bearer {}", text(c, "access_token")),
            }),
        }
    }

    /// The resources read, in order.
    pub fn resources(&self) -> &'static [&'static str] {
        match self {
            Source::Magento { .. } => MAGENTO_RESOURCES,
            _ => RESOURCES,
        }
    }

    /// Whether a finished backfill continues from its high-water marks next time (an incremental sync) rather
    /// than from the beginning.
    pub fn incremental(&self) -> bool {
        matches!(self, Source::Magento { .. })
    }

    /// The URL of a resource's page at `cursor` (None: its first page).
    pub fn url(&self, resource: &str, cursor: Option<&str>) -> String {
        match self {
            Source::Shopify { base, .. } => match cursor {
                Some(next) => next.to_string(),
                None => {
                    let status = if resource == "orders" { "&status=any" } else { "" };
                    format!(
                        "{base}/admin/api/{SHOPIFY_API_VERSION}/{resource}.json?limit={SHOPIFY_PAGE_RECORDS}{status}"
                    )
                }
            },
            Source::Woocommerce { site, .. } => {
                let page = cursor.unwrap_or("1");
                let role = if resource == "customers" { "&role=all" } else { "" };
                format!(
                    "{site}/wp-json/wc/v3/{resource}?per_page={WOOCOMMERCE_PAGE_RECORDS}&page={page}&orderby=id&order=asc{role}"
                )
            }
            Source::Magento { base, .. } => {
                let c = MagentoCursor::parse(cursor);
                let list = if resource == "customers" { "customers/search" } else { resource };
                format!("{base}/rest/V1/{list}?{}", magento::search_query(c.after, c.page, MAGENTO_PAGE_RECORDS))
            }
        }
    }

    /// The URL that answers how many records a resource has, for platforms that count separately.
    pub fn count_url(&self, resource: &str) -> Option<String> {
        match self {
            Source::Shopify { base, .. } => {
                let status = if resource == "orders" { "?status=any" } else { "" };
                Some(format!("{base}/admin/api/{SHOPIFY_API_VERSION}/{resource}/count.json{status}"))
            }
            Source::Woocommerce { .. } | Source::Magento { .. } => None,
        }
    }

    /// The shop's API address (no trailing slash).
    pub fn base(&self) -> &str {
        match self {
            Source::Shopify { base, .. } => base,
            Source::Woocommerce { site, .. } => site,
            Source::Magento { base, .. } => base,
        }
    }

    /// The authentication header every call carries.
    pub fn auth(&self) -> (&'static str, &str) {
        match self {
            Source::Shopify { token, .. } => ("x-shopify-access-token", token),
            Source::Woocommerce { authorization, .. } | Source::Magento { authorization, .. } => {
                ("authorization", authorization)
            }
        }
    }

    /// Whether a URL belongs to the platform (a `Link` header naming another host is not followed: the token
    /// would go with it).
    fn owns(&self, url: &str) -> bool {
        url.strip_prefix(self.base()).is_some_and(|rest| rest.starts_with('/'))
    }

    /// Reads a page's records and the cursor of the next page.
    pub fn page(
        &self,
        resource: &str,
        cursor: Option<&str>,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Page, BackfillError> {
        let malformed = |why: &str| BackfillError::Malformed(format!("{resource}: {why}"));
        match self {
            Source::Shopify { .. } => {
                let records =
                    body.get(resource).and_then(Value::as_array).ok_or_else(|| malformed("no list of records"))?;
                let next = header(headers, "link").and_then(link_next);
                if next.as_deref().is_some_and(|n| !self.owns(n)) {
                    return Err(malformed("the next page is on another host"));
                }
                Ok(Page { records: records.clone(), next, total: None })
            }
            Source::Woocommerce { .. } => {
                let records = body.as_array().ok_or_else(|| malformed("the page is not a list"))?;
                let page: u64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(1);
                let pages: u64 = header(headers, "x-wp-totalpages").and_then(|v| v.parse().ok()).unwrap_or(page);
                let total = header(headers, "x-wp-total").and_then(|v| v.parse().ok());
                let next = (page < pages && !records.is_empty()).then(|| (page + 1).to_string());
                Ok(Page { records: records.clone(), next, total })
            }
            Source::Magento { .. } => {
                let (items, next) = magento::page(body).map_err(|e| malformed(&e.to_string()))?;
                let records: Vec<Value> = items.into_iter().cloned().collect();
                let c = MagentoCursor::parse(cursor);
                // Only the first page of a whole list counts it.
                let total = (c.after.is_none() && c.page <= 1)
                    .then(|| body.get("total_count").and_then(Value::as_u64))
                    .flatten();
                let next = next.map(|_| {
                    // Move the cursor up to the last record's time and start again at page 1, so records
                    // updated meanwhile (which move to the end of the list) shift no page; a page whose records
                    // all share the cursor's second moves on by page instead.
                    let last = records.last().and_then(magento::updated_at);
                    match last {
                        Some(t) if c.after.is_none_or(|a| t > a) => MagentoCursor { after: Some(t), page: 1 },
                        _ => MagentoCursor { after: c.after, page: c.page + 1 },
                    }
                    .text()
                });
                Ok(Page { records, next, total })
            }
        }
    }

    /// The newest update time among records (a Magento list's high-water mark for the next sync).
    pub fn newest(&self, records: &[Value]) -> Option<Timestamp> {
        match self {
            Source::Magento { .. } => records.iter().filter_map(magento::updated_at).max(),
            _ => None,
        }
    }

    /// How many records a count call says.
    pub fn count(&self, body: &Value) -> Option<u64> {
        body.get("count").and_then(Value::as_u64)
    }

    /// One record, as its platform's webhook for it would have mapped.
    pub fn map(&self, resource: &str, record: &Value, now: Timestamp) -> Result<Mapped, MapError> {
        let none = || MapError { field: resource.into(), message: format!("unknown resource {resource}") };
        match self {
            Source::Shopify { store_url, .. } => {
                let cx = shopify::Context { store_url, now };
                match resource {
                    "orders" => shopify::backfilled_order(record, &cx),
                    "customers" => shopify::map("customers/update", record, &cx)?.ok_or_else(none),
                    "products" => shopify::map("products/update", record, &cx)?.ok_or_else(none),
                    _ => Err(none()),
                }
            }
            Source::Woocommerce { .. } => {
                let topic = match resource {
                    "orders" => "order.updated",
                    "customers" => "customer.updated",
                    "products" => "product.updated",
                    _ => return Err(none()),
                };
                woocommerce::map(topic, record, now)?.ok_or_else(none)
            }
            Source::Magento { base, .. } => match resource {
                "orders" => magento::order(record, now),
                "creditmemos" => magento::credit_memo(record, now),
                "customers" => magento::customer(record, now),
                "products" => magento::product(record, base, now),
                _ => Err(none()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_read_from_shopifys_link_header() {
        let link = r#"<https://velo.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=abc>; rel="previous", <https://velo.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=def>; rel="next""#;
        assert_eq!(
            link_next(link).as_deref(),
            Some("https://velo.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=def")
        );
        assert_eq!(link_next(r#"<https://x/a>; rel="previous""#), None);
        let s =
            Source::Shopify { base: "https://velo.myshopify.com".into(), token: "t".into(), store_url: String::new() };
        assert!(s.owns("https://velo.myshopify.com/admin/api/2026-01/orders.json"));
        assert!(!s.owns("https://velo.myshopify.com.evil.example/admin"));
    }
}
