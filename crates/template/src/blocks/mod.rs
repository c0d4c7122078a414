//! Block emails (issue 16): an email built from typed sections (header, text, image, button, products, coupon,
//! footer, divider, spacer) instead of hand-written HTML. [`parse_blocks`] checks a JSON list field by field
//! (errors name `blocks[2].url`); [`blocks_html`] turns the checked blocks into the email's html part: Liquid
//! like any template's, so it renders per contact with the same variables, escaping and limits.
//!
//! - **Texts** (headings, paragraphs, labels, alt texts) are HTML-escaped when written into the Liquid: what the
//!   marketer types shows as typed. They may hold `{{ ... }}` outputs (`{{ contact.first_name }}`), whose values
//!   the renderer escapes as data; `{% ... %}` tags are refused (a block is one piece, not a program).
//! - **Addresses** are `http(s)://...` or start with a Liquid output (`{{ event.checkout_url }}`).
//! - **Products** come from the cart (the contact's cart, else the trigger event's `products` / `items`), the
//!   trigger event's products as the catalog has them (`products`), a recommendation list
//!   (`recommendations.trending`, ...) or a catalog category (`collections["Road bikes"]`, read by the engine
//!   for the names [`collection_names`] finds in the source).
//! - **Email-safe HTML**: tables, inline styles, at most [`EMAIL_WIDTH_PX`] wide and fluid below that (product
//!   cards wrap on phones), images with `alt` and `width`, buttons as bulletproof links in a coloured cell.

mod check;
mod html;
mod liquid;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use check::{BLOCK_TYPES, BlockError, BlockErrorKind, parse_blocks};
pub use html::blocks_html;
pub use liquid::collection_names;

/// Most blocks in one email.
pub const EMAIL_BLOCKS_MAX: usize = 40;
/// Longest heading, label, alt text, preheader, collection name or footer line, in bytes.
pub const BLOCK_LABEL_BYTES_MAX: usize = 500;
/// Longest paragraph text of a `text` or `coupon` block, in bytes.
pub const BLOCK_TEXT_BYTES_MAX: usize = 10_000;
/// Longest address (image, link, button), in bytes.
pub const BLOCK_URL_BYTES_MAX: usize = 2_048;
/// Longest fallback coupon code, in bytes.
pub const BLOCK_COUPON_CODE_BYTES_MAX: usize = 64;
/// Most products a `products` block shows (the length of a recommendation list).
pub const BLOCK_PRODUCTS_MAX: u8 = 6;
/// Most product cards side by side on a wide screen.
pub const BLOCK_COLUMNS_MAX: u8 = 3;
/// Most different collections (catalog categories) one template reads.
pub const COLLECTIONS_PER_TEMPLATE_MAX: usize = 10;
/// The email's width on a wide screen, in CSS pixels (narrower screens get all of theirs).
pub const EMAIL_WIDTH_PX: u16 = 600;
/// Narrowest image, in CSS pixels.
pub const BLOCK_IMAGE_WIDTH_MIN: u16 = 40;
/// Shortest and tallest spacer, in CSS pixels.
pub const BLOCK_SPACER_PX: (u16, u16) = (8, 96);

/// One section of a block email, as stored (`{"type": "text", ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Header(Header),
    Text(Text),
    Image(Image),
    Button(Button),
    Products(Products),
    Coupon(Coupon),
    Footer(Footer),
    /// A thin line between sections.
    Divider,
    Spacer(Spacer),
}

/// The store's logo (or name) linking to the store; optionally the inbox preview text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Header {
    /// Text inboxes show after the subject (hidden in the email itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preheader: Option<String>,
    /// A logo other than the store's (`store.logo_url`; the store's name shows when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// The logo's description; the store's name when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Where the logo links; the store's address when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_url: Option<String>,
}

/// A heading and paragraphs (a blank line starts a new paragraph, a line break stays one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Text {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub text: String,
    pub align: Align,
}

/// A picture, optionally a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Image {
    /// The picture's address.
    pub url: String,
    /// What the picture shows, for people who cannot see it (and mail apps that block images).
    pub alt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_url: Option<String>,
    /// Width in CSS pixels, 40 to 600 (600: edge to edge); narrower screens shrink it.
    pub width: u16,
}

/// A button: a link in a coloured cell, which every mail app shows (no image, no CSS it would drop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Button {
    pub label: String,
    pub url: String,
    /// `#rgb` or `#rrggbb`; the store's colour when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub align: Align,
}

/// Product cards (picture, name, price, link), in stock only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Products {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub source: ProductSource,
    /// Which list, when `source` is `recommendations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
    /// The catalog category, when `source` is `collection` (matched without regard to case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// How many, 1 to 6.
    pub count: u8,
    /// Cards side by side on a wide screen, 1 to 3 (phones show fewer).
    pub columns: u8,
    /// A link under each card ("Shop now"); none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub button_label: Option<String>,
}

/// Where a `products` block's products come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProductSource {
    /// The contact's cart as it is now, else the trigger event's `products` / `items` (a checkout's).
    Cart,
    /// The trigger event's products as the catalog has them (`products`: a viewed product, an order's).
    Event,
    /// One of the contact's recommendation lists.
    Recommendations,
    /// A catalog category.
    Collection,
}

/// The recommendation lists of `recommendations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    AlsoBought,
    AlsoViewed,
    BasedOnHistory,
    Trending,
    RecentlyViewed,
}

/// The run's coupon code (`coupon`, set by a flow's `issue_coupon` step), with its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coupon {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// One code for everyone, shown when the message has no coupon of its own (letters, digits, `-`, `_`);
    /// without it the block shows only when there is a coupon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The store's name and address and the preferences and unsubscribe links (always there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Footer {
    /// A line above them ("You get this email because you signed up at ...").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Empty space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Spacer {
    /// In CSS pixels, 8 to 96.
    pub height: u16,
}

/// Horizontal alignment of a text or button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

impl Align {
    pub fn as_str(self) -> &'static str {
        match self {
            Align::Left => "left",
            Align::Center => "center",
            Align::Right => "right",
        }
    }
}

impl Recommendation {
    pub fn as_str(self) -> &'static str {
        match self {
            Recommendation::AlsoBought => "also_bought",
            Recommendation::AlsoViewed => "also_viewed",
            Recommendation::BasedOnHistory => "based_on_history",
            Recommendation::Trending => "trending",
            Recommendation::RecentlyViewed => "recently_viewed",
        }
    }
}
