//! A compact binary form of a [`Contact`] for profiles held in memory but not in use (issue 17: the committer
//! holds every live profile; decoded, one takes 1.3 KB and more, mostly allocation and map overhead).
//!
//! It has to give back exactly the contact it was made from (`pack_tests.rs` checks this on random contacts of
//! every shape). Stores keep it beside each profile's JSON (`kairos_store::packed`), so a start need not decode
//! the JSON: changing these bytes needs a new `kairos_store::packed::PACKED_FORMAT` (a test there fails until
//! it has one), and a stored form of another format is never read.
//! Integers are LEB128 varints (signed ones zigzagged), strings their length then their bytes, an `Option` a
//! presence byte, a JSON value a tag byte then its content. The workspace comes first so it can be read alone.
//!
//! Both functions destructure every struct they write or read whole, so a field added to a profile type does
//! not compile until it is packed too.

use serde_json::{Number, Value};

use crate::contact::{Cart, CartItem, Computed, Consent, ConsentSet, ConsentStatus, Orders};
use crate::lead::{Lead, LifecycleStage};
use crate::vocab::EmailFrequency;
use crate::{Contact, ContactId, Email, JsonMap, Money, Phone, Timestamp, WorkspaceId};

/// Deepest JSON nesting read back (ingestion bounds stored values at 32 levels; this only stops a corrupt
/// buffer from recursing without end).
const VALUE_DEPTH_MAX: usize = 128;

/// Why bytes did not read back as a contact: only a bug or memory corruption makes one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packed profile is corrupt: {0}")]
pub struct UnpackError(&'static str);

/// Appends `c`'s packed form to `out`.
pub fn pack(c: &Contact, out: &mut Vec<u8>) {
    let Contact {
        id,
        workspace,
        user_id,
        email,
        phone,
        anonymous_ids,
        traits,
        traits_at,
        timezone,
        locale,
        consent,
        computed,
        lead,
        created_at,
        updated_at,
        erased_at,
    } = c;
    let mut w = Writer(out);
    w.int(workspace.0);
    w.int(id.0);
    w.opt_str(user_id.as_deref());
    w.opt_str(email.as_ref().map(Email::as_str));
    w.opt_str(phone.as_ref().map(Phone::as_str));
    w.strs(anonymous_ids);
    w.map(traits);
    w.opt_time(*traits_at);
    w.opt_str(timezone.as_deref());
    w.opt_str(locale.as_deref());
    w.consent_set(consent);
    w.computed(computed);
    w.lead(lead);
    w.int(created_at.0);
    w.int(updated_at.0);
    w.opt_time(*erased_at);
}

/// The workspace of a packed contact, read without unpacking the rest.
pub fn packed_workspace(bytes: &[u8]) -> Result<WorkspaceId, UnpackError> {
    Ok(WorkspaceId(Reader { b: bytes, at: 0, keep: None, texts: true }.int()?))
}

/// The contact id of a packed contact, read without unpacking the rest.
pub fn packed_id(bytes: &[u8]) -> Result<ContactId, UnpackError> {
    let mut r = Reader { b: bytes, at: 0, keep: None, texts: true };
    r.int()?;
    Ok(ContactId(r.int()?))
}

/// The contact `pack` wrote into `bytes`.
pub fn unpack(bytes: &[u8]) -> Result<Contact, UnpackError> {
    read(Reader { b: bytes, at: 0, keep: None, texts: true })
}

/// What segment columns read of the contact in `bytes`, allocating little: every scalar field, the traits
/// named in `traits` (others dropped), cart items' prices and quantities (their texts empty); anonymous ids,
/// consent sources and topics are left empty, and so are the user id, email, phone, time zone and locale
/// unless `texts`. A column filled from millions of packed profiles allocates only what it reads.
pub fn unpack_lite(bytes: &[u8], traits: &[String], texts: bool) -> Result<Contact, UnpackError> {
    read(Reader { b: bytes, at: 0, keep: Some(traits), texts })
}

fn read(mut r: Reader<'_>) -> Result<Contact, UnpackError> {
    let bytes = r.b;
    let workspace = WorkspaceId(r.int()?);
    let id = ContactId(r.int()?);
    let c = Contact {
        id,
        workspace,
        user_id: r.opt_text()?,
        email: r.opt_text()?.map(Email::trusted),
        phone: r.opt_text()?.map(Phone::trusted),
        anonymous_ids: r.lite_strs()?,
        traits: r.traits()?,
        traits_at: r.opt_time()?,
        timezone: r.opt_text()?,
        locale: r.opt_text()?,
        consent: r.consent_set()?,
        computed: r.computed()?,
        lead: r.lead()?,
        created_at: Timestamp(r.int()?),
        updated_at: Timestamp(r.int()?),
        erased_at: r.opt_time()?,
    };
    if r.at != bytes.len() {
        return Err(UnpackError("bytes after the end"));
    }
    Ok(c)
}

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const UINT: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }
    fn len(&mut self, n: usize) {
        self.uint(n as u64);
    }
    fn float(&mut self, f: f64) {
        self.0.extend_from_slice(&f.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        for s in v {
            self.str(s);
        }
    }
    fn opt_time(&mut self, t: Option<Timestamp>) {
        match t {
            None => self.0.push(0),
            Some(t) => {
                self.0.push(1);
                self.int(t.0);
            }
        }
    }
    /// An enum value as its position in the enum's `ALL` (0: none).
    fn opt_index<T: PartialEq + Copy>(&mut self, v: Option<T>, all: &[T]) {
        let at = v.and_then(|v| all.iter().position(|x| *x == v)).map_or(0, |i| i + 1);
        self.len(at);
    }
    fn map(&mut self, m: &JsonMap) {
        self.len(m.len());
        for (k, v) in m {
            self.str(k);
            self.value(v);
        }
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.0.push(NULL),
            Value::Bool(false) => self.0.push(FALSE),
            Value::Bool(true) => self.0.push(TRUE),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    self.0.push(INT);
                    self.int(i);
                } else if let Some(u) = n.as_u64() {
                    self.0.push(UINT);
                    self.uint(u);
                } else {
                    self.0.push(FLOAT);
                    self.float(n.as_f64().unwrap_or(0.0));
                }
            }
            Value::String(s) => {
                self.0.push(STRING);
                self.str(s);
            }
            Value::Array(a) => {
                self.0.push(ARRAY);
                self.len(a.len());
                for x in a {
                    self.value(x);
                }
            }
            Value::Object(m) => {
                self.0.push(OBJECT);
                self.map(m);
            }
        }
    }
    fn consent(&mut self, c: &Consent) {
        let Consent { status, updated_at, source, subscribed_at } = c;
        self.0.push(*status as u8);
        self.opt_time(*updated_at);
        self.opt_str(source.as_deref());
        self.opt_time(*subscribed_at);
    }
    fn consent_set(&mut self, c: &ConsentSet) {
        let ConsentSet { email, sms, topics_out, frequency } = c;
        self.consent(email);
        self.consent(sms);
        self.strs(topics_out);
        self.opt_index(*frequency, EmailFrequency::ALL);
    }
    fn computed(&mut self, c: &Computed) {
        let Computed { orders, cart, last_seen_at } = c;
        let Orders { count, total_spent, first_at, last_at, refunded_total } = orders;
        self.uint(*count);
        self.int(total_spent.0);
        self.opt_time(*first_at);
        self.opt_time(*last_at);
        self.int(refunded_total.0);
        let Cart { items, updated_at, checkout_url, currency } = cart;
        self.len(items.len());
        for item in items {
            self.cart_item(item);
        }
        self.opt_time(*updated_at);
        self.opt_str(checkout_url.as_deref());
        self.opt_str(currency.as_deref());
        self.opt_time(*last_seen_at);
    }
    fn cart_item(&mut self, i: &CartItem) {
        let CartItem { product_id, sku, name, price, quantity, category, url, image_url, variant } = i;
        self.str(product_id);
        self.opt_str(sku.as_deref());
        self.opt_str(name.as_deref());
        self.int(price.0);
        self.int(*quantity);
        self.opt_str(category.as_deref());
        self.opt_str(url.as_deref());
        self.opt_str(image_url.as_deref());
        self.opt_str(variant.as_deref());
    }
    fn lead(&mut self, l: &Lead) {
        let Lead { points, at, capped, score, stage, stage_at } = l;
        self.float(*points);
        self.opt_time(*at);
        self.len(capped.len());
        for (rule, share) in capped {
            self.uint(u64::from(*rule));
            self.float(*share);
        }
        self.int(*score);
        self.opt_index(*stage, LifecycleStage::ALL);
        self.opt_time(*stage_at);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    /// Lite reading ([`unpack_lite`]): the traits to keep; lists, cart items' texts and consent sources are
    /// skipped without allocating.
    keep: Option<&'a [String]>,
    /// Whether the profile's own texts (user id, email, phone, time zone, locale) are read.
    texts: bool,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, UnpackError> {
        let v = *self.b.get(self.at).ok_or(UnpackError("truncated"))?;
        self.at += 1;
        Ok(v)
    }
    fn uint(&mut self) -> Result<u64, UnpackError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(UnpackError("varint too long"))
    }
    fn int(&mut self) -> Result<i64, UnpackError> {
        let z = self.uint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
    fn len(&mut self) -> Result<usize, UnpackError> {
        let n = usize::try_from(self.uint()?).map_err(|_| UnpackError("length"))?;
        // Every element takes at least one byte: a longer count is corrupt (and must not reserve memory).
        if n > self.b.len() - self.at {
            return Err(UnpackError("length past the end"));
        }
        Ok(n)
    }
    fn float(&mut self) -> Result<f64, UnpackError> {
        let end = self.at + 8;
        let bytes = self.b.get(self.at..end).ok_or(UnpackError("truncated"))?;
        self.at = end;
        Ok(f64::from_le_bytes(bytes.try_into().map_err(|_| UnpackError("float"))?))
    }
    /// A string's bytes, unchecked.
    fn slice(&mut self) -> Result<&[u8], UnpackError> {
        let n = self.len()?;
        let bytes = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(bytes)
    }
    fn str(&mut self) -> Result<String, UnpackError> {
        std::str::from_utf8(self.slice()?).map(str::to_owned).map_err(|_| UnpackError("not UTF-8"))
    }
    /// A string lite reading does not keep: skipped (empty) when lite.
    fn lite_str(&mut self) -> Result<String, UnpackError> {
        if self.keep.is_none() {
            return self.str();
        }
        let n = self.len()?;
        self.at += n;
        Ok(String::new())
    }
    fn lite_opt_str(&mut self) -> Result<Option<String>, UnpackError> {
        if self.keep.is_none() {
            return self.opt_str();
        }
        if self.present()? {
            self.lite_str()?;
        }
        Ok(None)
    }
    /// One of the profile's own texts: skipped (None) when lite reading leaves them out.
    fn opt_text(&mut self) -> Result<Option<String>, UnpackError> {
        if self.texts {
            return self.opt_str();
        }
        if self.present()? {
            let n = self.len()?;
            self.at += n;
        }
        Ok(None)
    }
    fn lite_strs(&mut self) -> Result<Vec<String>, UnpackError> {
        if self.keep.is_none() {
            return self.strs();
        }
        for _ in 0..self.len()? {
            self.lite_str()?;
        }
        Ok(Vec::new())
    }
    /// The traits: all of them, or when lite only those kept (the others' values read into nothing).
    fn traits(&mut self) -> Result<JsonMap, UnpackError> {
        let Some(keep) = self.keep else { return self.map(0) };
        let n = self.len()?;
        let mut m = JsonMap::new();
        for _ in 0..n {
            let k = self.slice()?;
            if keep.iter().any(|want| want.as_bytes() == k) {
                let k = std::str::from_utf8(k).map_err(|_| UnpackError("not UTF-8"))?.to_owned();
                let v = self.value(1)?;
                m.insert(k, v);
            } else {
                self.skip_value(1)?;
            }
        }
        Ok(m)
    }
    /// Reads past a JSON value without making it.
    fn skip_value(&mut self, depth: usize) -> Result<(), UnpackError> {
        if depth > VALUE_DEPTH_MAX {
            return Err(UnpackError("nested too deep"));
        }
        match self.byte()? {
            NULL | FALSE | TRUE => {}
            INT | UINT => {
                self.uint()?;
            }
            FLOAT => {
                self.float()?;
            }
            STRING => {
                let n = self.len()?;
                self.at += n;
            }
            ARRAY => {
                for _ in 0..self.len()? {
                    self.skip_value(depth + 1)?;
                }
            }
            OBJECT => {
                for _ in 0..self.len()? {
                    let n = self.len()?;
                    self.at += n;
                    self.skip_value(depth + 1)?;
                }
            }
            _ => return Err(UnpackError("value tag")),
        }
        Ok(())
    }
    fn present(&mut self) -> Result<bool, UnpackError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(UnpackError("presence byte")),
        }
    }
    fn opt_str(&mut self) -> Result<Option<String>, UnpackError> {
        if self.present()? { self.str().map(Some) } else { Ok(None) }
    }
    fn strs(&mut self) -> Result<Vec<String>, UnpackError> {
        let n = self.len()?;
        (0..n).map(|_| self.str()).collect()
    }
    fn opt_time(&mut self) -> Result<Option<Timestamp>, UnpackError> {
        if self.present()? { Ok(Some(Timestamp(self.int()?))) } else { Ok(None) }
    }
    fn opt_index<T: Copy>(&mut self, all: &[T]) -> Result<Option<T>, UnpackError> {
        match self.len()? {
            0 => Ok(None),
            i => all.get(i - 1).copied().map(Some).ok_or(UnpackError("enum value")),
        }
    }
    fn map(&mut self, depth: usize) -> Result<JsonMap, UnpackError> {
        let n = self.len()?;
        let mut m = JsonMap::new();
        for _ in 0..n {
            let k = self.str()?;
            let v = self.value(depth + 1)?;
            m.insert(k, v);
        }
        Ok(m)
    }
    fn value(&mut self, depth: usize) -> Result<Value, UnpackError> {
        if depth > VALUE_DEPTH_MAX {
            return Err(UnpackError("nested too deep"));
        }
        Ok(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Number(Number::from(self.int()?)),
            UINT => Value::Number(Number::from(self.uint()?)),
            FLOAT => Value::Number(Number::from_f64(self.float()?).ok_or(UnpackError("float not finite"))?),
            STRING => Value::String(self.str()?),
            ARRAY => {
                let n = self.len()?;
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            OBJECT => Value::Object(self.map(depth)?),
            _ => return Err(UnpackError("value tag")),
        })
    }
    fn consent(&mut self) -> Result<Consent, UnpackError> {
        let status = match self.byte()? {
            s if s == ConsentStatus::Subscribed as u8 => ConsentStatus::Subscribed,
            s if s == ConsentStatus::Unsubscribed as u8 => ConsentStatus::Unsubscribed,
            s if s == ConsentStatus::NeverSubscribed as u8 => ConsentStatus::NeverSubscribed,
            _ => return Err(UnpackError("consent status")),
        };
        Ok(Consent {
            status,
            updated_at: self.opt_time()?,
            source: self.lite_opt_str()?,
            subscribed_at: self.opt_time()?,
        })
    }
    fn consent_set(&mut self) -> Result<ConsentSet, UnpackError> {
        Ok(ConsentSet {
            email: self.consent()?,
            sms: self.consent()?,
            topics_out: self.lite_strs()?,
            frequency: self.opt_index(EmailFrequency::ALL)?,
        })
    }
    fn computed(&mut self) -> Result<Computed, UnpackError> {
        let orders = Orders {
            count: self.uint()?,
            total_spent: Money(self.int()?),
            first_at: self.opt_time()?,
            last_at: self.opt_time()?,
            refunded_total: Money(self.int()?),
        };
        let n = self.len()?;
        let items = (0..n).map(|_| self.cart_item()).collect::<Result<Vec<_>, _>>()?;
        let cart = Cart {
            items,
            updated_at: self.opt_time()?,
            checkout_url: self.lite_opt_str()?,
            currency: self.lite_opt_str()?,
        };
        Ok(Computed { orders, cart, last_seen_at: self.opt_time()? })
    }
    fn cart_item(&mut self) -> Result<CartItem, UnpackError> {
        Ok(CartItem {
            product_id: self.lite_str()?,
            sku: self.lite_opt_str()?,
            name: self.lite_opt_str()?,
            price: Money(self.int()?),
            quantity: self.int()?,
            category: self.lite_opt_str()?,
            url: self.lite_opt_str()?,
            image_url: self.lite_opt_str()?,
            variant: self.lite_opt_str()?,
        })
    }
    fn lead(&mut self) -> Result<Lead, UnpackError> {
        let points = self.float()?;
        let at = self.opt_time()?;
        let n = self.len()?;
        let mut capped = Vec::with_capacity(n);
        for _ in 0..n {
            let rule = u32::try_from(self.uint()?).map_err(|_| UnpackError("rule key"))?;
            capped.push((rule, self.float()?));
        }
        Ok(Lead {
            points,
            at,
            capped,
            score: self.int()?,
            stage: self.opt_index(LifecycleStage::ALL)?,
            stage_at: self.opt_time()?,
        })
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
