//! Segment-compatible ingestion: `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias`,
//! `/v1/group`, `/v1/batch`. A request is answered 200 only after its events are committed to disk.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use kairos_domain::event::EventKind;
use kairos_domain::{BATCH_BYTES_MAX, EVENT_BYTES_MAX, Event, Timestamp, ValidationError};
use kairos_store::KeyKind;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::read_body;
use crate::auth::{presented_key, resolve};
use crate::error::{ApiError, ErrorBody};
use crate::wire::{Reply, Success};

/// A Segment event (Segment's HTTP Tracking API), read and checked by `kairos_domain::Event::from_segment`: at
/// most 32 KB, `userId` or `anonymousId` required, objects nested at most 32 levels. Each endpoint reads the
/// fields of its call; e-commerce events (`Order Completed`, `Checkout Started`, `Product Viewed`, ...) carry
/// Segment's e-commerce properties (`order_id`, `total`, `revenue`, `products[]` with `product_id`, `price`,
/// `quantity`, ...), whose amounts must be non-negative numbers.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"userId": "u-17", "event": "Order Completed",
    "properties": {"order_id": "o-9", "total": 120.5, "currency": "EUR",
                   "products": [{"product_id": "bike", "price": 120.5, "quantity": 1}]},
    "timestamp": "2026-03-01T10:00:00Z", "messageId": "m-1"}))]
pub struct SegmentEvent {
    /// In a batch: `track`, `identify`, `page`, `screen`, `alias` or `group`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// Track: the event name.
    pub event: Option<String>,
    /// Page and screen: the page's name and category.
    pub name: Option<String>,
    pub category: Option<String>,
    /// Alias: the id the user had before `userId`.
    pub previous_id: Option<String>,
    /// Group: the account.
    pub group_id: Option<String>,
    /// Track, page, screen: free-form event properties.
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
    /// Identify and group: free-form traits; `email`, `phone`, `first_name`, `timezone`, `birthday`, ... are
    /// read by Kairos, and `email_consent` / `sms_consent` (`subscribed` / `unsubscribed`) change consent when
    /// sent with a secret key.
    #[schema(value_type = Option<Object>)]
    pub traits: Option<Value>,
    /// Free-form context (`ip`, `userAgent`, `page`, `locale`, `timezone`, ...).
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub integrations: Option<Value>,
    /// When it happened (default: `originalTimestamp` corrected by `sentAt`, else the time received).
    #[schema(format = DateTime)]
    pub timestamp: Option<String>,
    #[schema(format = DateTime)]
    pub original_timestamp: Option<String>,
    #[schema(format = DateTime)]
    pub sent_at: Option<String>,
    /// Idempotency key: the same id in the same workspace is stored once (7 days).
    pub message_id: Option<String>,
    /// The write key, for clients that cannot send headers (beacons).
    pub write_key: Option<String>,
}

/// `POST /v1/batch`: up to 10 000 events and 500 KB; one bad item refuses the whole batch (its error names
/// `batch[i].field`) and nothing is stored.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub batch: Vec<SegmentEvent>,
    /// Context for every item that has none of its own.
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    pub write_key: Option<String>,
}

/// Most events accepted in one batch (500 KB / 32 KB would allow few large ones; many small ones are fine).
pub const BATCH_EVENTS_MAX: usize = 10_000;

static GENERATED: AtomicU64 = AtomicU64::new(0);

fn message_id_maker(now: Timestamp) -> impl FnMut() -> String {
    move || format!("kairos-{:x}-{:x}", now.as_micros(), GENERATED.fetch_add(1, Ordering::Relaxed))
}

async fn single(app: AppState, headers: HeaderMap, body: Body, kind: EventKind) -> Result<Reply<Success>, ApiError> {
    let header_key = presented_key(&headers);
    if header_key.is_some() {
        resolve(&app, header_key.clone()).await?;
    }
    let bytes = read_body(&headers, body, EVENT_BYTES_MAX).await?;
    let raw: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(&e))?;
    let key = header_key.or_else(|| raw.get("writeKey").and_then(Value::as_str).map(str::to_string));
    let caller = resolve(&app, key).await?;
    let now = app.engine.clock().now();
    let event = Event::from_segment(raw, Some(kind), now, &mut message_id_maker(now))?;
    app.engine.ingest(caller.workspace, caller.kind == KeyKind::Secret, vec![event]).await?;
    Ok(Reply(Success { success: true }))
}

/// A track call: an event a contact did.
#[utoipa::path(
    post,
    path = "/v1/track",
    operation_id = "ingest_track",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn track(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Track).await
}
/// An identify call: traits of a contact (and consent, with a secret key).
#[utoipa::path(
    post,
    path = "/v1/identify",
    operation_id = "ingest_identify",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn identify(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Identify).await
}
/// A page view.
#[utoipa::path(
    post,
    path = "/v1/page",
    operation_id = "ingest_page",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn page(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Page).await
}
/// A screen view (apps).
#[utoipa::path(
    post,
    path = "/v1/screen",
    operation_id = "ingest_screen",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn screen(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Screen).await
}
/// Ties `previousId` to `userId`: the two contacts merge.
#[utoipa::path(
    post,
    path = "/v1/alias",
    operation_id = "ingest_alias",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn alias(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Alias).await
}
/// Puts the contact in a group (account).
#[utoipa::path(
    post,
    path = "/v1/group",
    operation_id = "ingest_group",
    tag = "ingestion",
    request_body = SegmentEvent,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn group(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    single(app, headers, body, EventKind::Group).await
}

/// The `writeKey` of a batch body, for clients that send the key there instead of a header.
fn body_write_key(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct KeyOnly {
        #[serde(rename = "writeKey")]
        write_key: Option<String>,
    }
    serde_json::from_slice::<KeyOnly>(bytes).ok().and_then(|k| k.write_key)
}

/// The top of a batch body, read in one pass: the items stay raw (each is checked against its own size limit
/// before it is parsed), other keys (`writeKey`, `sentAt`, `integrations`...) are skipped, and a key given twice
/// counts as its last value, as any JSON object read into a map.
#[derive(Default)]
struct BatchBody<'a> {
    batch: Items<'a>,
    context: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for BatchBody<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The keys read (unescaped by the parser: `"b\u0061tch"` is `batch`).
        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Key {
            Batch,
            Context,
            #[serde(other)]
            Other,
        }
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = BatchBody<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut body = BatchBody::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Batch => body.batch = map.next_value()?,
                        Key::Context => body.context = Some(map.next_value()?),
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(body)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// `batch` as sent: an array of raw items, something else (`null` included: named in the error, not a JSON
/// syntax error), or nothing.
#[derive(Default)]
enum Items<'a> {
    Array(Vec<&'a RawValue>),
    NotArray,
    #[default]
    Missing,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Items<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(BATCH_EVENTS_MAX));
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(Items::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Items::NotArray)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Items::NotArray)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Validates a whole batch before anything is stored: one bad item rejects the batch, naming `batch[i].field`.
pub fn parse_batch(bytes: &[u8], now: Timestamp) -> Result<Vec<Event>, ApiError> {
    let top: BatchBody<'_> = serde_json::from_slice(bytes).map_err(|e| {
        if bytes.first().is_some_and(|b| *b != b'{') && serde_json::from_slice::<Value>(bytes).is_ok() {
            ApiError::invalid_type("batch", "the body must be a JSON object with a batch array")
        } else {
            ApiError::invalid_json(&e)
        }
    })?;
    let items = match top.batch {
        Items::Missing => return Err(ApiError::missing_field("batch", "batch is required")),
        Items::NotArray => return Err(ApiError::invalid_type("batch", "batch must be an array of events")),
        Items::Array(items) => items,
    };
    if items.len() > BATCH_EVENTS_MAX {
        return Err(ApiError::too_large(BATCH_BYTES_MAX, Some("batch".into())));
    }
    // Top-level context applies to every item that has none of its own (analytics-node sends it this way).
    // It is checked as it will be stored: once per item, with the item's own fields around it.
    let shared_context: Option<Value> = match top.context {
        Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| ApiError::invalid_json(&e))?),
        None => None,
    };
    let shared_len = top.context.map_or(0, |raw| raw.get().len());
    if let Some(Value::Object(ctx)) = &shared_context {
        kairos_domain::event::check_depth("context", ctx)?;
    }
    let mut make_id = message_id_maker(now);
    let mut events = Vec::with_capacity(items.len());
    for (i, raw) in items.iter().enumerate() {
        let path = || format!("batch[{i}]");
        if raw.get().len() > EVENT_BYTES_MAX {
            return Err(ApiError::too_large(EVENT_BYTES_MAX, Some(path())));
        }
        let mut item: Value = serde_json::from_str(raw.get()).map_err(|e| ApiError::invalid_json(&e))?;
        if let (Some(Value::Object(ctx)), Some(obj)) = (&shared_context, item.as_object_mut())
            && !obj.get("context").is_some_and(Value::is_object)
        {
            if raw.get().len() + shared_len > EVENT_BYTES_MAX {
                return Err(ApiError::too_large(EVENT_BYTES_MAX, Some(path())));
            }
            obj.insert("context".into(), Value::Object(ctx.clone()));
        }
        let event =
            Event::from_segment(item, None, now, &mut make_id).map_err(|e: ValidationError| e.within(&path()))?;
        events.push(event);
    }
    Ok(events)
}

/// Many calls at once, all or nothing.
#[utoipa::path(
    post,
    path = "/v1/batch",
    operation_id = "ingest_batch",
    tag = "ingestion",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn batch(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    let header_key = presented_key(&headers);
    if header_key.is_some() {
        resolve(&app, header_key.clone()).await?;
    }
    let bytes = read_body(&headers, body, BATCH_BYTES_MAX).await?;
    let caller = resolve(&app, header_key.or_else(|| body_write_key(&bytes))).await?;
    let now = app.engine.clock().now();
    let events = parse_batch(&bytes, now)?;
    if !events.is_empty() {
        app.engine.ingest(caller.workspace, caller.kind == KeyKind::Secret, events).await?;
    }
    Ok(Reply(Success { success: true }))
}

/// Segment's historical import: the same as `/v1/batch`.
#[utoipa::path(
    post,
    path = "/v1/import",
    operation_id = "ingest_import",
    tag = "ingestion",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Stored (committed to disk)", body = Success),
        (status = 400, description = "A bad field, named", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn import(state: State<AppState>, headers: HeaderMap, body: Body) -> Result<Reply<Success>, ApiError> {
    batch(state, headers, body).await
}
