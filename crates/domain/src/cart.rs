//! The cart as a fold of cart operations, and a contact's log of them since its last order.
//!
//! A cart event's effect depends on the order of the events before it, so a late one (older than the cart's last
//! update, newer than its last order) means folding the cart again from its events since that order. Issue 17's
//! anchor workload (a real store's events as they arrive) has a quarter of its events late in this way, and reading
//! them back from the store was 15 % of the committer's time; [`CartLog`] keeps them instead, reduced to what the
//! fold reads ([`CartOp`]).

use std::sync::Arc;

use serde_json::Value;

use crate::contact::{CART_ITEMS_MAX, cart_item, currency_of, product_id, quantity, recovery_url, str_prop};
use crate::event::EventKind;
use crate::{Cart, CartItem, Event, Timestamp};

/// What a cart event does to the cart: all the fold reads of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOp {
    /// `Order Completed`: the cart empties.
    Order,
    /// `Product Added`: the item joins the cart (its quantity adds to the same product's).
    Add { currency: Option<String>, item: Option<Arc<CartItem>> },
    /// `Product Removed`: the quantity given (or the whole line) leaves the cart.
    Remove { product_id: Option<String>, quantity: Option<i64> },
    /// `Checkout Started` and `Cart Viewed`: the currency, the recovery link, and the whole cart when the event
    /// lists products.
    Show { currency: Option<String>, checkout_url: Option<String>, items: Option<Vec<Arc<CartItem>>> },
}

impl CartOp {
    /// The operation of a cart event (one of [`crate::contact::CART_EVENTS`]); None for any other event.
    pub fn of(ev: &Event) -> Option<CartOp> {
        if ev.is_system() || ev.kind != EventKind::Track {
            return None;
        }
        let p = &ev.properties;
        Some(match ev.name.as_deref()? {
            "Order Completed" => CartOp::Order,
            "Product Added" => CartOp::Add { currency: currency_of(p), item: cart_item(p).map(Arc::new) },
            "Product Removed" => CartOp::Remove { product_id: product_id(p), quantity: quantity(p) },
            "Checkout Started" | "Cart Viewed" => CartOp::Show {
                currency: currency_of(p),
                checkout_url: str_prop(p, "checkout_url").filter(|u| recovery_url(u)),
                items: match p.get("products") {
                    Some(Value::Array(products)) if !products.is_empty() => Some(
                        products
                            .iter()
                            .filter_map(|v| v.as_object().and_then(cart_item))
                            .take(CART_ITEMS_MAX)
                            .map(Arc::new)
                            .collect(),
                    ),
                    _ => None,
                },
            },
            _ => return None,
        })
    }

    /// The items it names, so a caller keeping many operations can share equal items (the same product added
    /// by many people) instead of holding a copy each.
    pub fn items_mut(&mut self) -> impl Iterator<Item = &mut Arc<CartItem>> {
        let (one, many) = match self {
            CartOp::Add { item, .. } => (item.as_mut(), None),
            CartOp::Show { items, .. } => (None, items.as_mut()),
            CartOp::Order | CartOp::Remove { .. } => (None, None),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Bytes this operation holds, inline and in its own strings; its items are counted as pointers (see
    /// [`CartOp::items_mut`]; [`item_bytes`] is one item's own size).
    pub fn bytes(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        let ptr = std::mem::size_of::<Arc<CartItem>>();
        std::mem::size_of::<(Timestamp, CartOp)>()
            + match self {
                CartOp::Order => 0,
                CartOp::Add { currency, .. } => s(currency),
                CartOp::Remove { product_id, .. } => s(product_id),
                CartOp::Show { currency, checkout_url, items } => {
                    s(currency) + s(checkout_url) + items.as_ref().map_or(0, |v| v.len() * ptr)
                }
            }
    }
}

/// One cart item's bytes, inline and in its strings.
pub fn item_bytes(i: &CartItem) -> usize {
    let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
    std::mem::size_of::<CartItem>()
        + i.product_id.len()
        + s(&i.sku)
        + s(&i.name)
        + s(&i.category)
        + s(&i.url)
        + s(&i.image_url)
        + s(&i.variant)
}

impl Cart {
    /// One cart event at `ts`, in (timestamp, sequence) order.
    pub fn apply(&mut self, op: &CartOp, ts: Timestamp) {
        fold_step(&mut self.items, &mut self.currency, &mut self.checkout_url, op);
        self.updated_at = Some(ts);
    }
}

/// A cart line as a fold holds it: owned in a contact's [`Cart`], or shared with the log while a late event folds
/// it again ([`CartLog::late`]), so that folding a long log copies only the lines left at its end.
trait Line<'a> {
    fn of(item: &'a Arc<CartItem>, quantity: i64) -> Self;
    fn product_id(&self) -> &str;
    fn quantity(&mut self) -> &mut i64;
}

impl<'a> Line<'a> for CartItem {
    fn of(item: &'a Arc<CartItem>, quantity: i64) -> Self {
        CartItem { quantity, ..CartItem::clone(item) }
    }
    fn product_id(&self) -> &str {
        &self.product_id
    }
    fn quantity(&mut self) -> &mut i64 {
        &mut self.quantity
    }
}

impl<'a> Line<'a> for (&'a Arc<CartItem>, i64) {
    fn of(item: &'a Arc<CartItem>, quantity: i64) -> Self {
        (item, quantity)
    }
    fn product_id(&self) -> &str {
        &self.0.product_id
    }
    fn quantity(&mut self) -> &mut i64 {
        &mut self.1
    }
}

/// A text of the cart (currency, recovery link) as a fold holds it: owned or borrowed from the log.
trait Text<'a> {
    fn set(&mut self, to: &'a Option<String>);
}

impl<'a> Text<'a> for Option<String> {
    fn set(&mut self, to: &'a Option<String>) {
        self.clone_from(to);
    }
}

impl<'a> Text<'a> for Option<&'a String> {
    fn set(&mut self, to: &'a Option<String>) {
        *self = to.as_ref();
    }
}

/// One cart operation folded into the lines and texts (everything but the update time).
fn fold_step<'a, L: Line<'a>, T: Text<'a> + Default>(
    items: &mut Vec<L>,
    currency: &mut T,
    checkout_url: &mut T,
    op: &'a CartOp,
) {
    match op {
        CartOp::Order => {
            items.clear();
            *checkout_url = T::default();
            *currency = T::default();
        }
        CartOp::Add { currency: c, item } => {
            if c.is_some() {
                currency.set(c);
            }
            if let Some(item) = item {
                match items.iter().position(|i| i.product_id() == item.product_id) {
                    Some(pos) => {
                        let quantity = items[pos].quantity().saturating_add(item.quantity);
                        items[pos] = L::of(item, quantity);
                    }
                    None if items.len() < CART_ITEMS_MAX => items.push(L::of(item, item.quantity)),
                    None => {}
                }
            }
        }
        CartOp::Remove { product_id, quantity } => {
            if let Some(id) = product_id
                && let Some(pos) = items.iter().position(|i| i.product_id() == id)
            {
                let left = items[pos].quantity();
                match quantity {
                    Some(q) if *q < *left => *left -= q,
                    _ => {
                        items.remove(pos);
                    }
                }
            }
        }
        CartOp::Show { currency: c, checkout_url: url, items: list } => {
            if c.is_some() {
                currency.set(c);
            }
            if url.is_some() {
                checkout_url.set(url);
            }
            if let Some(list) = list {
                items.clear();
                items.extend(list.iter().map(|i| L::of(i, i.quantity)));
            }
        }
    }
}

/// A contact's cart events since its last order (from [`crate::Computed::cart_since`] on), in (timestamp,
/// sequence) order: enough to fold the cart again when a late cart event arrives. The caller keeps it complete:
/// started empty for a contact without events, or from the stored cart events since the last order, and then
/// told of every cart event the contact gets ([`CartLog::applied`], [`CartLog::late`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartLog {
    steps: Vec<(Timestamp, CartOp)>,
    bytes: usize,
}

impl CartLog {
    /// The log of stored cart events, sorted by (timestamp, sequence), from `since` on.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> CartLog {
        CartLog::from_ops(events.into_iter().filter_map(|e| CartOp::of(e).map(|op| (e.timestamp, op))))
    }

    /// The log of the operations of stored cart events, sorted by (timestamp, sequence), from `since` on.
    pub fn from_ops(ops: impl IntoIterator<Item = (Timestamp, CartOp)>) -> CartLog {
        let steps: Vec<(Timestamp, CartOp)> = ops.into_iter().collect();
        let bytes = steps.iter().map(|(_, op)| op.bytes()).sum();
        CartLog { steps, bytes }
    }

    /// An event applied in place (not late: it sorts after every event in the log, or before the last order).
    /// `since` is the contact's [`crate::Computed::cart_since`] after it (an order moves it), before which
    /// nothing is kept.
    pub fn applied(&mut self, ts: Timestamp, op: CartOp, since: Option<Timestamp>) {
        self.insert(ts, op, since);
    }

    /// A late event (see [`crate::Computed::is_late`]); returns the cart folded again. `since` is the contact's
    /// [`crate::Computed::cart_since`] after it.
    pub fn late(&mut self, ts: Timestamp, op: CartOp, since: Option<Timestamp>) -> Cart {
        self.insert(ts, op, since);
        // Lines stay shared with the log until the end: a long log is folded without copying every item it adds.
        let mut items: Vec<(&Arc<CartItem>, i64)> = Vec::new();
        let (mut currency, mut checkout_url): (Option<&String>, Option<&String>) = (None, None);
        for (_, op) in &self.steps {
            fold_step(&mut items, &mut currency, &mut checkout_url, op);
        }
        Cart {
            items: items.into_iter().map(|(item, quantity)| CartItem::of(item, quantity)).collect(),
            updated_at: self.steps.last().map(|(t, _)| *t),
            checkout_url: checkout_url.cloned(),
            currency: currency.cloned(),
        }
    }

    /// Bytes held, roughly (inline and heap).
    pub fn bytes(&self) -> usize {
        self.bytes + std::mem::size_of::<CartLog>()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Inserts after every kept event at or before `ts` (the event arrived last, so it sorts last among equal
    /// timestamps), then drops what sorts before `since`.
    fn insert(&mut self, ts: Timestamp, op: CartOp, since: Option<Timestamp>) {
        if since.is_some_and(|s| ts < s) {
            return; // before the last order: it cannot change the cart
        }
        let at = self.steps.partition_point(|(t, _)| *t <= ts);
        self.bytes += op.bytes();
        self.steps.insert(at, (ts, op));
        self.forget_before(since);
    }

    fn forget_before(&mut self, since: Option<Timestamp>) {
        let Some(since) = since else { return };
        let cut = self.steps.partition_point(|(t, _)| *t < since);
        if cut > 0 {
            self.bytes -= self.steps.drain(..cut).map(|(_, op)| op.bytes()).sum::<usize>();
        }
    }
}
