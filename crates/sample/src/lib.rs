//! Realistic sample-store data (catalog, shoppers, browsing sessions) in Segment's wire shape, shared by
//! `kairos demo` and `kairos bench`.

pub mod behaviour;

use rand::RngExt;
use serde_json::{Value, json};

const CATEGORIES: &[(&str, &[&str], (u32, u32))] = &[
    (
        "bicycles",
        &[
            "Gravel Bike",
            "City Bike",
            "Road Bike",
            "E-Bike",
            "Kids Bike",
            "Cargo Bike",
            "Folding Bike",
            "Mountain Bike",
        ],
        (39_900, 349_900),
    ),
    (
        "helmets",
        &["Urban Helmet", "Road Helmet", "Kids Helmet", "MTB Helmet", "Aero Helmet", "Commuter Helmet"],
        (3_900, 19_900),
    ),
    (
        "lights",
        &["Front Light", "Rear Light", "Light Set", "Dynamo Light", "Helmet Light", "Spoke Lights"],
        (1_490, 8_900),
    ),
    (
        "clothing",
        &["Rain Jacket", "Winter Gloves", "Jersey", "Bib Shorts", "Thermal Socks", "Softshell"],
        (1_990, 17_900),
    ),
    (
        "tools",
        &["Multi-tool", "Floor Pump", "Tyre Levers", "Torque Wrench", "Chain Checker", "Repair Stand"],
        (590, 14_900),
    ),
    ("parts", &["Chain", "Cassette", "Brake Pads", "Tyre", "Inner Tube", "Saddle", "Pedals", "Grips"], (490, 12_900)),
];

pub const FIRST_NAMES: &[&str] = &[
    "Aino", "Eero", "Saga", "Liam", "Emma", "Noah", "Olivia", "Elias", "Ella", "Leo", "Sofia", "Oskar", "Maja", "Hugo",
    "Ida", "Jonas", "Lea", "Mateo", "Nora", "Ville",
];
const LAST_NAMES: &[&str] = &[
    "Virtanen",
    "Korhonen",
    "Nieminen",
    "Andersson",
    "Johansson",
    "Müller",
    "Schmidt",
    "Smith",
    "García",
    "Lindqvist",
    "Mäkinen",
    "Berg",
];
const CITIES: &[(&str, &str)] = &[
    ("Helsinki", "Europe/Helsinki"),
    ("Tampere", "Europe/Helsinki"),
    ("Stockholm", "Europe/Stockholm"),
    ("Berlin", "Europe/Berlin"),
    ("New York", "America/New_York"),
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
];
pub const STORE_URL: &str = "https://velo.example";

#[derive(Debug, Clone)]
pub struct SampleProduct {
    pub id: String,
    pub title: String,
    pub category: &'static str,
    pub price_cents: u32,
    pub inventory: i64,
    /// Its picture (the sample store's own address by default; `kairos demo` points it at the demo server).
    pub image_url: String,
}

impl SampleProduct {
    pub fn api_json(&self) -> Value {
        json!({
            "id": self.id, "sku": self.id.to_uppercase(), "title": self.title,
            "url": format!("{STORE_URL}/products/{}", self.id),
            "image_url": self.image_url,
            "price": self.price_cents as f64 / 100.0, "currency": "EUR",
            "categories": [self.category], "inventory_quantity": self.inventory,
        })
    }

    /// The product as an e-commerce event names it (Segment's product properties).
    pub fn props(&self, quantity: u32) -> Value {
        json!({
            "product_id": self.id, "sku": self.id.to_uppercase(), "name": self.title, "category": self.category,
            "price": self.price_cents as f64 / 100.0, "quantity": quantity, "currency": "EUR",
            "url": format!("{STORE_URL}/products/{}", self.id),
            "image_url": self.image_url,
        })
    }
}

/// A catalog of ~40 products in 6 categories; a few are sold out.
pub fn catalog(rng: &mut impl RngExt) -> Vec<SampleProduct> {
    let mut out = Vec::new();
    for (category, names, (lo, hi)) in CATEGORIES {
        for (i, name) in names.iter().enumerate() {
            let price = rng.random_range(*lo..*hi) / 100 * 100 + 90;
            let inventory = if rng.random_bool(0.1) { 0 } else { rng.random_range(1..200) };
            let id = format!("{}-{}", &category[..3], i + 1);
            out.push(SampleProduct {
                image_url: format!("{STORE_URL}/images/{id}.jpg"),
                id,
                title: name.to_string(),
                category,
                price_cents: price,
                inventory,
            });
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Shopper {
    pub index: usize,
    pub anonymous_id: String,
    pub user_id: String,
    pub email: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub city: &'static str,
    pub timezone: &'static str,
    pub identified: bool,
    /// How much this shopper likes to buy (0..1).
    pub propensity: f64,
    pub favourite: usize,
}

/// A name as the local part of an address: lower case, accents dropped the way people write them without
/// (Müller → muller, García → garcia), anything else left out.
pub fn ascii(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'ä' | 'á' | 'à' | 'â' | 'å' | 'ã' => Some('a'),
            'ö' | 'ó' | 'ò' | 'ô' | 'ø' | 'õ' => Some('o'),
            'ü' | 'ú' | 'ù' | 'û' => Some('u'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            'ß' => Some('s'),
            _ => None,
        })
        .collect()
}

pub fn shopper(index: usize, rng: &mut impl RngExt) -> Shopper {
    let first_name = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last_name = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    let (city, timezone) = CITIES[rng.random_range(0..CITIES.len())];
    Shopper {
        index,
        anonymous_id: format!("anon-{index:06}-{:08x}", rng.random::<u32>()),
        user_id: format!("cust-{index:06}"),
        email: format!("{}.{}{}@example.com", ascii(first_name), ascii(last_name), index),
        first_name,
        last_name,
        city,
        timezone,
        identified: false,
        propensity: rng.random_range(0.05..0.9),
        favourite: rng.random_range(0..CATEGORIES.len()),
    }
}

/// The `context` an analytics.js event of this shopper carries.
pub fn context(s: &Shopper, path: &str, title: &str) -> Value {
    json!({
        "ip": format!("192.0.2.{}", s.index % 250 + 1),
        "userAgent": USER_AGENTS[s.index % USER_AGENTS.len()],
        "locale": "en-US",
        "timezone": s.timezone,
        "library": {"name": "analytics.js", "version": "5.2.0"},
        "page": {"path": path, "url": format!("{STORE_URL}{path}"), "title": title, "referrer": "https://www.google.com/"},
    })
}

fn base(s: &Shopper, kind: &str, at: jiff::Timestamp, message_id: String, path: &str, title: &str) -> Value {
    let mut v = json!({
        "type": kind,
        "messageId": message_id,
        "anonymousId": s.anonymous_id,
        "timestamp": at.to_string(),
        "context": context(s, path, title),
    });
    if s.identified {
        v["userId"] = json!(s.user_id);
    }
    v
}

/// One browsing session starting at `start`: page views, product views, maybe a cart, a checkout, an order,
/// and an identify when the shopper signs up or buys. `next_id` numbers message ids.
pub fn session(
    s: &mut Shopper,
    products: &[SampleProduct],
    start: jiff::Timestamp,
    rng: &mut impl RngExt,
    next_id: &mut dyn FnMut() -> String,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut t = start;
    out.push({
        let mut v = base(s, "page", t, next_id(), "/", "Velo Shop");
        v["name"] = json!("Home");
        v
    });
    let category = if rng.random_bool(0.7) { s.favourite } else { rng.random_range(0..CATEGORIES.len()) };
    let (cat_name, _, _) = CATEGORIES[category];
    let in_category: Vec<&SampleProduct> = products.iter().filter(|p| p.category == cat_name).collect();
    let at = step(&mut t, rng);
    let mut v = base(s, "track", at, next_id(), &format!("/collections/{cat_name}"), cat_name);
    v["event"] = json!("Product List Viewed");
    v["properties"] = json!({"list_id": cat_name, "category": cat_name});
    out.push(v);
    let viewed: Vec<&SampleProduct> =
        (0..rng.random_range(1..5)).map(|_| in_category[rng.random_range(0..in_category.len())]).collect();
    for p in &viewed {
        let at = step(&mut t, rng);
        let mut v = base(s, "track", at, next_id(), &format!("/products/{}", p.id), &p.title);
        v["event"] = json!("Product Viewed");
        v["properties"] = p.props(1);
        out.push(v);
    }
    if !s.identified && rng.random_bool(0.15) {
        s.identified = true;
        out.push(identify(s, step(&mut t, rng), next_id(), rng.random_bool(0.7)));
    }
    if !rng.random_bool(0.25 + 0.3 * s.propensity) {
        return out;
    }
    let mut cart: Vec<&SampleProduct> = Vec::new();
    for p in viewed.iter().take(rng.random_range(1..3)) {
        if p.inventory == 0 {
            continue;
        }
        let at = step(&mut t, rng);
        let mut v = base(s, "track", at, next_id(), &format!("/products/{}", p.id), &p.title);
        v["event"] = json!("Product Added");
        v["properties"] = p.props(1);
        out.push(v);
        cart.push(p);
    }
    if cart.is_empty() || !rng.random_bool(0.35 + 0.4 * s.propensity) {
        return out;
    }
    let value: u32 = cart.iter().map(|p| p.price_cents).sum();
    let items: Vec<Value> = cart.iter().map(|p| p.props(1)).collect();
    let at = step(&mut t, rng);
    let mut v = base(s, "track", at, next_id(), "/checkout", "Checkout");
    v["event"] = json!("Checkout Started");
    v["properties"] = json!({"value": value as f64 / 100.0, "currency": "EUR", "products": items.clone()});
    out.push(v);
    if !rng.random_bool(0.3 + 0.5 * s.propensity) {
        return out;
    }
    if !s.identified {
        s.identified = true;
        out.push(identify(s, step(&mut t, rng), next_id(), rng.random_bool(0.6)));
    }
    let at = step(&mut t, rng);
    let mut v = base(s, "track", at, next_id(), "/checkout/thank-you", "Thank you");
    v["event"] = json!("Order Completed");
    v["properties"] = json!({
        "order_id": format!("ord-{}", next_id()), "total": value as f64 / 100.0, "revenue": value as f64 / 100.0,
        "currency": "EUR", "products": items,
    });
    out.push(v);
    out
}

fn step(t: &mut jiff::Timestamp, rng: &mut impl RngExt) -> jiff::Timestamp {
    *t = t.checked_add(jiff::SignedDuration::from_secs(rng.random_range(5..120))).unwrap_or(*t);
    *t
}

fn identify(s: &Shopper, at: jiff::Timestamp, message_id: String, subscribed: bool) -> Value {
    let mut v = base(s, "identify", at, message_id, "/account", "Account");
    v["traits"] = json!({
        "email": s.email, "first_name": s.first_name, "last_name": s.last_name, "city": s.city,
        "timezone": s.timezone, "email_consent": if subscribed { "subscribed" } else { "never_subscribed" },
    });
    // Half of the shoppers tell their birthday when they sign up (what a birthday flow greets).
    if s.index.is_multiple_of(2) {
        v["traits"]["birthday"] =
            json!(format!("{}-{:02}-{:02}", 1965 + s.index % 40, 1 + s.index % 12, 1 + s.index % 28));
    }
    v
}

#[cfg(test)]
mod ascii_tests {
    #[test]
    fn accented_names_become_plain_letters_in_addresses() {
        assert_eq!(super::ascii("Müller"), "muller");
        assert_eq!(super::ascii("García"), "garcia");
        assert_eq!(super::ascii("Mäkinen"), "makinen");
        assert_eq!(super::ascii("O'Neil-Smith"), "oneilsmith");
    }
}
