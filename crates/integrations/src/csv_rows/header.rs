//! Header recognition: which field each column holds.

use std::collections::HashMap;

use super::{CSV_COLUMNS_MAX, CSV_TRAIT_COLUMNS_MAX, CSV_TRAIT_NAME_BYTES_MAX, HeaderError, Kind};

/// What a column maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A field Kairos reads (`email`, `email_consent`, `item_price`, `compare_at_price`...).
    Field(&'static str),
    /// A contact's profile trait of this name.
    Trait(String),
    /// Not imported, and why.
    Ignored(&'static str),
}

impl Target {
    /// As the preview shows it: `email`, `trait loyalty_tier`, `ignored (...)`.
    pub fn describe(&self) -> String {
        match self {
            Target::Field(f) => (*f).to_string(),
            Target::Trait(t) => format!("trait {t}"),
            Target::Ignored(why) => format!("ignored ({why})"),
        }
    }
}

/// The columns of a file and what each holds.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub kind: Kind,
    /// The headers as written.
    pub names: Vec<String>,
    pub targets: Vec<Target>,
    fields: HashMap<&'static str, usize>,
}

/// Contact columns: (normalised header, field).
const CONTACT_FIELDS: &[(&str, &str)] = &[
    ("email", "email"),
    ("email address", "email"),
    ("e mail", "email"),
    ("e mail address", "email"),
    ("customer email", "email"),
    ("phone", "phone"),
    ("phone number", "phone"),
    ("mobile", "phone"),
    ("mobile phone", "phone"),
    ("mobile number", "phone"),
    ("cell", "phone"),
    ("sms phone", "phone"),
    ("customer id", "user_id"),
    ("user id", "user_id"),
    ("userid", "user_id"),
    ("external id", "user_id"),
    ("first name", "first_name"),
    ("firstname", "first_name"),
    ("given name", "first_name"),
    ("last name", "last_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("family name", "last_name"),
    ("name", "name"),
    ("full name", "name"),
    ("email consent", "email_consent"),
    ("accepts email marketing", "email_consent"),
    ("accepts marketing", "email_consent"),
    ("email marketing", "email_consent"),
    ("email opt in", "email_consent"),
    ("sms consent", "sms_consent"),
    ("accepts sms marketing", "sms_consent"),
    ("sms marketing", "sms_consent"),
    ("sms opt in", "sms_consent"),
    ("email consent at", "email_consent_at"),
    ("email consent date", "email_consent_at"),
    ("accepts marketing updated at", "email_consent_at"),
    ("sms consent at", "sms_consent_at"),
    ("sms consent date", "sms_consent_at"),
    ("consent source", "consent_source"),
    ("consent ip", "consent_ip"),
    ("ip", "consent_ip"),
    ("ip address", "consent_ip"),
    ("consent form", "consent_form"),
    ("signup form", "consent_form"),
    ("consent text", "consent_text"),
    ("consent wording", "consent_text"),
    ("updated at", "updated_at"),
    ("tags", "tags"),
    ("city", "city"),
    ("default address city", "city"),
    ("state", "state"),
    ("province", "state"),
    ("region", "state"),
    ("default address province code", "state"),
    ("country", "country"),
    ("country code", "country"),
    ("country region", "country"),
    ("default address country code", "country"),
    ("zip", "postal_code"),
    ("postal code", "postal_code"),
    ("postcode", "postal_code"),
    ("default address zip", "postal_code"),
    ("company", "company"),
    ("default address company", "company"),
    ("address1", "address1"),
    ("default address address1", "address1"),
    ("address2", "address2"),
    ("default address address2", "address2"),
    ("timezone", "timezone"),
    ("time zone", "timezone"),
    ("locale", "locale"),
    ("language", "locale"),
    ("birthday", "birthday"),
    ("date of birth", "birthday"),
];

/// Contact columns read but not imported: profile aggregates are computed from orders.
const CONTACT_IGNORED: &[&str] =
    &["total spent", "total spend", "total orders", "orders", "orders count", "aov", "last active"];

/// Order columns (Shopify's order export: `Name`, `Id`, `Lineitem quantity`...; WooCommerce's `Order #`...).
const ORDER_FIELDS: &[(&str, &str)] = &[
    ("order id", "order_id"),
    ("id", "order_id"),
    ("name", "order_number"),
    ("order number", "order_number"),
    ("order", "order_number"),
    ("number", "order_number"),
    ("email", "email"),
    ("email address", "email"),
    ("e mail", "email"),
    ("customer email", "email"),
    ("billing email", "email"),
    ("phone", "phone"),
    ("billing phone", "phone"),
    ("customer id", "user_id"),
    ("user id", "user_id"),
    ("first name", "first_name"),
    ("billing first name", "first_name"),
    ("last name", "last_name"),
    ("billing last name", "last_name"),
    ("created at", "created_at"),
    ("order date", "created_at"),
    ("date", "created_at"),
    ("processed at", "created_at"),
    ("currency", "currency"),
    ("subtotal", "subtotal"),
    ("shipping", "shipping"),
    ("taxes", "tax"),
    ("tax", "tax"),
    ("total", "total"),
    ("order total", "total"),
    ("discount amount", "discount"),
    ("discount", "discount"),
    ("discount code", "coupon"),
    ("coupon", "coupon"),
    ("coupon code", "coupon"),
    ("coupon s", "coupon"),
    ("financial status", "financial_status"),
    ("status", "financial_status"),
    ("lineitem name", "item_name"),
    ("product name", "item_name"),
    ("item name", "item_name"),
    ("product", "item_name"),
    ("lineitem price", "item_price"),
    ("price", "item_price"),
    ("item price", "item_price"),
    ("unit price", "item_price"),
    ("lineitem quantity", "item_quantity"),
    ("quantity", "item_quantity"),
    ("qty", "item_quantity"),
    ("lineitem sku", "item_sku"),
    ("sku", "item_sku"),
    ("product id", "item_product_id"),
    ("lineitem product id", "item_product_id"),
    ("variant id", "item_variant"),
    ("lineitem variant id", "item_variant"),
    ("category", "item_category"),
];

/// Product columns (Shopify's product export: `Handle`, `Variant Price`...; WooCommerce's: `Regular price`,
/// `In stock?`, `Images`...).
const PRODUCT_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("product id", "id"),
    ("handle", "id"),
    ("title", "title"),
    ("name", "title"),
    ("product name", "title"),
    ("sku", "sku"),
    ("variant sku", "sku"),
    ("price", "price"),
    ("variant price", "price"),
    ("regular price", "regular_price"),
    ("sale price", "sale_price"),
    ("compare at price", "compare_at_price"),
    ("variant compare at price", "compare_at_price"),
    ("compare_at_price", "compare_at_price"),
    ("list price", "compare_at_price"),
    ("msrp", "compare_at_price"),
    ("currency", "currency"),
    ("url", "url"),
    ("product url", "url"),
    ("link", "url"),
    ("permalink", "url"),
    ("image", "image_url"),
    ("image url", "image_url"),
    ("image src", "image_url"),
    ("images", "image_url"),
    ("category", "category"),
    ("categories", "category"),
    ("type", "category"),
    ("product type", "category"),
    ("product category", "category"),
    ("tags", "tags"),
    ("available", "available"),
    ("in stock", "available"),
    ("status", "status"),
    ("published", "published"),
    ("inventory", "inventory"),
    ("stock", "inventory"),
    ("inventory quantity", "inventory"),
    ("variant inventory qty", "inventory"),
];

/// `Email Address`, `E-mail`, `email_address` and ` EMAIL ` alike: lowercase words separated by one space.
pub(crate) fn normalise(header: &str) -> String {
    let lower = header.trim_start_matches('\u{feff}').to_lowercase();
    lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A header as a trait name: `Loyalty Tier` -> `loyalty_tier`; None when nothing usable is left.
fn trait_name(header: &str) -> Option<String> {
    let name = normalise(header).replace(' ', "_");
    (!name.is_empty() && name.len() <= CSV_TRAIT_NAME_BYTES_MAX && name.is_ascii()).then_some(name)
}

fn table(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Contacts => CONTACT_FIELDS,
        Kind::Orders => ORDER_FIELDS,
        Kind::Products => PRODUCT_FIELDS,
    }
}

/// Recognises a header row. The first column naming a field wins; a later one is ignored.
pub fn map_header(kind: Kind, header: &[&str]) -> Result<Mapping, HeaderError> {
    if header.len() > CSV_COLUMNS_MAX {
        return Err(HeaderError {
            message: format!("the file has {} columns; at most {CSV_COLUMNS_MAX}", header.len()),
        });
    }
    let mut fields: HashMap<&'static str, usize> = HashMap::new();
    let mut traits = 0usize;
    let mut targets = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        let norm = normalise(name);
        let known = table(kind).iter().find(|(h, _)| *h == norm).map(|(_, f)| *f);
        let target = match known {
            Some(f) if fields.contains_key(f) => Target::Ignored("another column holds this field"),
            Some(f) => {
                fields.insert(f, i);
                Target::Field(f)
            }
            None if norm.is_empty() => Target::Ignored("no header"),
            None if kind != Kind::Contacts => Target::Ignored("not a field Kairos reads"),
            None if CONTACT_IGNORED.contains(&norm.as_str()) => Target::Ignored("computed from orders"),
            None if traits >= CSV_TRAIT_COLUMNS_MAX => Target::Ignored("too many trait columns"),
            None => match trait_name(name) {
                Some(t) if is_reserved(&t) => Target::Ignored("a name Kairos reserves"),
                Some(t) => {
                    traits += 1;
                    Target::Trait(t)
                }
                None => Target::Ignored("the header is not a usable trait name"),
            },
        };
        targets.push(target);
    }
    let m = Mapping { kind, names: header.iter().map(|s| s.to_string()).collect(), targets, fields };
    m.check_required()?;
    Ok(m)
}

/// Trait names the domain reads specially, which only their own columns may set.
fn is_reserved(name: &str) -> bool {
    matches!(name, "email_consent" | "sms_consent" | "email_consent_at" | "sms_consent_at" | "consent_source")
}

impl Mapping {
    fn check_required(&self) -> Result<(), HeaderError> {
        let has = |f: &str| self.fields.contains_key(f);
        let missing = match self.kind {
            Kind::Contacts if !(has("email") || has("phone") || has("user_id")) => {
                Some("a contacts file needs an email, phone or customer id column")
            }
            Kind::Orders if !(has("order_id") || has("order_number")) => {
                Some("an orders file needs an order id column (order_id, Id or Name)")
            }
            Kind::Orders if !(has("email") || has("phone") || has("user_id")) => {
                Some("an orders file needs an email, phone or customer id column")
            }
            Kind::Products if !(has("id") || has("sku")) => Some("a products file needs an id, handle or sku column"),
            _ => None,
        };
        match missing {
            Some(m) => Err(HeaderError { message: m.to_string() }),
            None => Ok(()),
        }
    }

    /// Whether a column holds `field`.
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// The header of the column holding `field` (for rejections), or the field's own name.
    pub fn column(&self, field: &str) -> String {
        self.fields.get(field).map_or_else(|| field.to_string(), |&i| self.names[i].clone())
    }

    /// The trimmed, non-empty cell of `field` in `row`.
    pub fn get<'a>(&self, row: &[&'a str], field: &str) -> Option<&'a str> {
        let i = *self.fields.get(field)?;
        row.get(i).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// What groups consecutive rows into one record: the order id (else number) or the product id (else SKU).
    pub fn key(&self, row: &[&str]) -> Option<String> {
        let fields: &[&str] = match self.kind {
            Kind::Contacts => return None,
            Kind::Orders => &["order_id", "order_number"],
            Kind::Products => &["id", "sku"],
        };
        fields.iter().find_map(|f| self.get(row, f)).map(str::to_string)
    }

    /// `(column, maps to)` for each column, as the preview shows them.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.names.iter().cloned().zip(self.targets.iter().map(Target::describe)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_recognised_whatever_their_spelling() {
        let m =
            map_header(Kind::Contacts, &["E-mail", "First Name", "PHONE", "Accepts Email Marketing", "Loyalty Tier"])
                .unwrap();
        assert_eq!(m.targets[0], Target::Field("email"));
        assert_eq!(m.targets[1], Target::Field("first_name"));
        assert_eq!(m.targets[2], Target::Field("phone"));
        assert_eq!(m.targets[3], Target::Field("email_consent"));
        assert_eq!(m.targets[4], Target::Trait("loyalty_tier".into()));
        for email in ["Email", "Email Address", "email_address", "\u{feff}email", " EMAIL "] {
            assert!(map_header(Kind::Contacts, &[email]).unwrap().has("email"), "{email}");
        }
    }

    #[test]
    fn shopify_and_woocommerce_exports_are_recognised() {
        let shopify_customers = [
            "Customer ID",
            "First Name",
            "Last Name",
            "Email",
            "Accepts Email Marketing",
            "Default Address Company",
            "Default Address Address1",
            "Default Address City",
            "Default Address Province Code",
            "Default Address Country Code",
            "Default Address Zip",
            "Default Address Phone",
            "Phone",
            "Accepts SMS Marketing",
            "Total Spent",
            "Total Orders",
            "Note",
            "Tax Exempt",
            "Tags",
        ];
        let m = map_header(Kind::Contacts, &shopify_customers).unwrap();
        let d: HashMap<String, String> = m.describe().into_iter().collect();
        assert_eq!(d["Customer ID"], "user_id");
        assert_eq!(d["Accepts SMS Marketing"], "sms_consent");
        assert_eq!(d["Default Address Country Code"], "country");
        assert_eq!(d["Default Address Phone"], "trait default_address_phone");
        assert_eq!(d["Total Spent"], "ignored (computed from orders)");
        assert_eq!(d["Tags"], "tags");

        let orders = ["Name", "Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Taxes", "Total"];
        let lines =
            ["Discount Code", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku"];
        let header: Vec<&str> = orders.iter().chain(lines.iter()).copied().chain(["Id"]).collect();
        let m = map_header(Kind::Orders, &header).unwrap();
        for f in ["order_number", "order_id", "total", "tax", "coupon", "created_at", "item_quantity", "item_sku"] {
            assert!(m.has(f), "{f}");
        }

        let woo =
            ["ID", "Type", "SKU", "Name", "In stock?", "Stock", "Sale price", "Regular price", "Categories", "Images"];
        let m = map_header(Kind::Products, &woo).unwrap();
        for f in
            ["id", "sku", "title", "available", "inventory", "sale_price", "regular_price", "category", "image_url"]
        {
            assert!(m.has(f), "{f}");
        }
        let shopify_products =
            ["Handle", "Title", "Type", "Tags", "Variant SKU", "Variant Price", "Variant Compare At Price"];
        let m = map_header(Kind::Products, &shopify_products).unwrap();
        assert_eq!(m.column("id"), "Handle");
        assert_eq!(m.column("compare_at_price"), "Variant Compare At Price");
    }

    #[test]
    fn required_columns_and_duplicates() {
        let e = map_header(Kind::Contacts, &["First Name", "City"]).unwrap_err();
        assert!(e.message.contains("email, phone or customer id"), "{e}");
        assert!(map_header(Kind::Orders, &["Email", "Total"]).unwrap_err().message.contains("order id"));
        assert!(map_header(Kind::Products, &["Title", "Price"]).is_err());
        let m = map_header(Kind::Contacts, &["Email", "E-mail"]).unwrap();
        assert_eq!(m.targets[1], Target::Ignored("another column holds this field"));
        // A trait column may not set consent behind its own column's checks.
        let m = map_header(Kind::Contacts, &["email", "Email Consent", "email consent!"]).unwrap();
        assert!(matches!(m.targets[2], Target::Ignored(_)), "{:?}", m.targets);
    }

    #[test]
    fn trait_columns_are_bounded() {
        let names: Vec<String> = (0..CSV_TRAIT_COLUMNS_MAX + 5).map(|i| format!("extra {i}")).collect();
        let mut header: Vec<&str> = vec!["email"];
        header.extend(names.iter().map(String::as_str));
        let m = map_header(Kind::Contacts, &header).unwrap();
        let traits = m.targets.iter().filter(|t| matches!(t, Target::Trait(_))).count();
        assert_eq!(traits, CSV_TRAIT_COLUMNS_MAX);
        assert_eq!(m.targets.last(), Some(&Target::Ignored("too many trait columns")));
        let wide: Vec<&str> = (0..=CSV_COLUMNS_MAX).map(|_| "x").collect();
        assert!(map_header(Kind::Contacts, &wide).is_err());
        let long = "x".repeat(CSV_TRAIT_NAME_BYTES_MAX + 1);
        let m = map_header(Kind::Contacts, &["email", &long]).unwrap();
        assert!(matches!(m.targets[1], Target::Ignored(_)));
    }
}
