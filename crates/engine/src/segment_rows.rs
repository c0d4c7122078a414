//! One workspace's segment state, column-wise (issue 17: columnar segment state).
//!
//! Every live contact of the workspace has a dense row. Per row: the profile fields the workspace's segments
//! read (`kairos_segment::columns`: numbers, instants, dictionary-encoded text and traits), consent as bit
//! columns, each event condition's occurrences as a 16-byte slot, the next time-driven evaluation; per
//! segment, its members as a roaring bitmap of rows. A full evaluation reads these column by column
//! (`segment_full.rs`); the per-contact evaluation after an event reads the profile itself and the row's
//! occurrences and memberships.

use std::borrow::Cow;
use std::collections::HashMap;

use kairos_domain::{ConsentStatus, Contact, ContactId, Timestamp};
use kairos_segment::columns::{BitColumn, Column, ColumnKey, ColumnSource, OccColumn};
use kairos_segment::eval::{Known, Occ, PredId, SegIdx, Val};
use kairos_segment::vector::Bits;
use kairos_segment::{Channel, ConsentIs};
use roaring::RoaringBitmap;

/// `next_due` of a row with no timer.
pub(crate) const NO_DUE: i64 = i64::MAX;

/// Where a contact's row is: its workspace's table and the row in it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Loc {
    pub(crate) table: u32,
    pub(crate) row: u32,
}

/// A [`RowIndex`] entry with no row.
const NO_LOC: Loc = Loc { table: u32::MAX, row: u32::MAX };

impl crate::id_slots::Vacant for Loc {
    const VACANT: Loc = NO_LOC;
    fn is_vacant(&self) -> bool {
        *self == NO_LOC
    }
}

/// Contact id → row, 8 bytes a contact while ids are dense (`IdSlots`).
#[derive(Default)]
pub(crate) struct RowIndex(crate::id_slots::IdSlots<Loc>);

impl RowIndex {
    pub(crate) fn get(&self, id: ContactId) -> Option<Loc> {
        self.0.get(id).copied()
    }

    pub(crate) fn insert(&mut self, id: ContactId, loc: Loc) {
        self.0.insert(id, loc);
    }

    pub(crate) fn remove(&mut self, id: ContactId) -> Option<Loc> {
        self.0.remove(id)
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.0.memory_bytes()
    }
}

/// Where a contact's profile is read from when columns are filled (the committer's live contacts).
/// A packed profile comes back decoded into a copy (`crate::profiles::ProfileMap`).
pub trait Profiles: Sync {
    fn profile(&self, id: ContactId) -> Option<Cow<'_, Contact>>;

    /// What columns read of the profile: its scalar fields, the traits named and, if `texts`, its user id,
    /// email, phone, time zone and locale (`ProfileMap` decodes a packed one lite,
    /// `kairos_domain::pack::unpack_lite`); others may give the whole profile.
    fn profile_for_columns(&self, id: ContactId, traits: &[String], texts: bool) -> Option<Cow<'_, Contact>> {
        let _ = (traits, texts);
        self.profile(id)
    }
}

impl Profiles for HashMap<ContactId, Contact> {
    fn profile(&self, id: ContactId) -> Option<Cow<'_, Contact>> {
        self.get(&id).map(Cow::Borrowed)
    }
}

impl Profiles for crate::profiles::ProfileMap {
    fn profile(&self, id: ContactId) -> Option<Cow<'_, Contact>> {
        self.get(&id)
    }

    fn profile_for_columns(&self, id: ContactId, traits: &[String], texts: bool) -> Option<Cow<'_, Contact>> {
        self.get_lite(&id, traits, texts)
    }
}

/// A profile column and whether every row has been filled (a column added for a new segment is filled once,
/// from the profiles, before the segment's first evaluation).
struct Held {
    key: ColumnKey,
    col: Column,
    filled: bool,
}

#[derive(Default)]
pub struct Table {
    ids: Vec<ContactId>,
    alive: BitColumn,
    free: Vec<u32>,
    /// Email subscribed, email unsubscribed, SMS subscribed, SMS unsubscribed (the third status is neither).
    consent: [BitColumn; 4],
    columns: Vec<Held>,
    occ: Vec<(PredId, OccColumn)>,
    /// By segment index (the registry's, shared by all workspaces: empty for other workspaces' segments).
    members: Vec<RoaringBitmap>,
    next_due: Vec<i64>,
}

fn consent_index(c: Channel, s: ConsentIs) -> usize {
    2 * (c == Channel::Sms) as usize + (s == ConsentIs::Unsubscribed) as usize
}

/// A profile field as the evaluator reads it (`Subject::known`); the columns hold exactly these values.
pub(crate) fn known_of(c: &Contact, k: Known) -> Val<'_> {
    let o = &c.computed.orders;
    let time = |t: Option<Timestamp>| t.map_or(Val::Missing, Val::Time);
    match k {
        Known::OrdersCount => Val::Num(o.count as f64),
        Known::OrdersTotalSpent => Val::Num(o.total_spent.as_major()),
        Known::OrdersAverageValue => Val::Num(o.average_value().as_major()),
        Known::OrdersRefundedTotal => Val::Num(o.refunded_total.as_major()),
        Known::OrdersFirstAt => time(o.first_at),
        Known::OrdersLastAt => time(o.last_at),
        Known::CartValue => Val::Num(c.computed.cart.value().as_major()),
        Known::CartItemCount => Val::Num(c.computed.cart.items.iter().map(|i| i.quantity).sum::<i64>() as f64),
        Known::CartUpdatedAt => time(c.computed.cart.updated_at),
        Known::LastSeenAt => time(c.computed.last_seen_at),
        Known::CreatedAt => Val::Time(c.created_at),
        Known::Email => c.email.as_ref().map_or(Val::Missing, |e| Val::Str(e.as_str())),
        Known::Phone => c.phone.as_ref().map_or(Val::Missing, |p| Val::Str(p.as_str())),
        Known::UserId => c.user_id.as_deref().map_or(Val::Missing, Val::Str),
        Known::Timezone => c.timezone.as_deref().map_or(Val::Missing, Val::Str),
        Known::Locale => c.locale.as_deref().map_or(Val::Missing, Val::Str),
        // Kept current on the profile by `crate::lead_ops` (events, and a timer for what time changes).
        Known::LeadScore => Val::Num(c.lead.score as f64),
        Known::LifecycleStage => c.lead.stage.map_or(Val::Missing, |s| Val::Str(s.as_str())),
        // Not computed yet (engagement, RFM, predictions): missing until they are.
        _ => Val::Missing,
    }
}

/// The row's consent bits from the profile's email and SMS statuses.
fn set_consent(consent: &mut [BitColumn], r: usize, c: &Contact) {
    for (channel, status) in [(Channel::Email, c.consent.email.status), (Channel::Sms, c.consent.sms.status)] {
        consent[consent_index(channel, ConsentIs::Subscribed)].set(r, status == ConsentStatus::Subscribed);
        consent[consent_index(channel, ConsentIs::Unsubscribed)].set(r, status == ConsentStatus::Unsubscribed);
    }
}

fn put(held: &mut Held, row: usize, c: &Contact) {
    match &held.key {
        ColumnKey::Known(k) => held.col.set_known(row, known_of(c, *k)),
        ColumnKey::Trait(name) => held.col.set_json(row, c.traits.get(name)),
    }
}

impl Table {
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    pub fn id(&self, row: u32) -> ContactId {
        self.ids[row as usize]
    }

    /// A row for a new contact (a freed one first: every column of a freed row was cleared). It is live from
    /// its first [`Table::refresh`]: a row only events or a stored membership created (a contact the committer
    /// does not hold) is never evaluated in full, as before rows existed.
    pub fn allocate(&mut self, id: ContactId) -> u32 {
        match self.free.pop() {
            Some(r) => {
                self.ids[r as usize] = id;
                r
            }
            None => {
                self.ids.push(id);
                self.next_due.push(NO_DUE);
                (self.ids.len() - 1) as u32
            }
        }
    }

    /// Frees a row (a contact merged into another); returns the segments it was a member of.
    pub fn release(&mut self, row: u32) -> Vec<SegIdx> {
        let r = row as usize;
        self.alive.set(r, false);
        self.consent.iter_mut().for_each(|b| b.set(r, false));
        self.columns.iter_mut().for_each(|h| h.col.clear(r));
        self.occ.iter_mut().for_each(|(_, o)| o.clear(r));
        self.next_due[r] = NO_DUE;
        let gone: Vec<SegIdx> =
            self.members.iter_mut().enumerate().filter_map(|(s, m)| m.remove(row).then_some(s as SegIdx)).collect();
        self.free.push(row);
        gone
    }

    /// Copies the contact's current profile into its row (the filled columns and consent).
    pub fn refresh(&mut self, row: u32, c: &Contact) {
        let r = row as usize;
        self.alive.set(r, true);
        for h in self.columns.iter_mut().filter(|h| h.filled) {
            put(h, r, c);
        }
        set_consent(&mut self.consent, r, c);
    }

    /// Holds exactly these profile columns: kept ones keep their values, new ones wait for [`Table::fill`]
    /// (unless no row is live yet: then rows fill them as they come).
    pub fn set_columns(&mut self, keys: Vec<ColumnKey>) {
        self.columns.retain(|h| keys.contains(&h.key));
        let empty = self.alive.words().iter().all(|w| *w == 0);
        for key in keys {
            if !self.columns.iter().any(|h| h.key == key) {
                self.columns.push(Held { col: Column::for_key(&key), key, filled: empty });
            }
        }
    }

    /// Fills the columns added since the last fill, from every row's profile.
    ///
    /// Each profile is read once for all the columns to fill, and only for what they read (a packed one is
    /// decoded lite: no allocation for the texts and traits no column reads).
    pub fn fill(&mut self, profiles: &dyn Profiles) {
        if self.columns.iter().all(|h| h.filled) {
            return;
        }
        self.fill_rows(profiles, false);
    }

    /// At start: every row of a held contact made live from its profile, and every column filled, each
    /// profile read once and lite (a packed one is not decoded whole, as reading every profile whole was a
    /// third of a restart).
    pub fn load(&mut self, profiles: &dyn Profiles) {
        self.columns.iter_mut().for_each(|h| h.filled = false);
        self.fill_rows(profiles, true);
    }

    /// Fills the unfilled columns of the live rows, or of every row a profile is held for (`start`: the rows
    /// become live and take their consent too).
    fn fill_rows(&mut self, profiles: &dyn Profiles, start: bool) {
        let unfilled = || self.columns.iter().filter(|h| !h.filled);
        let traits: Vec<String> = unfilled()
            .filter_map(|h| match &h.key {
                ColumnKey::Trait(name) => Some(name.clone()),
                ColumnKey::Known(_) => None,
            })
            .collect();
        let texts = unfilled().any(|h| {
            matches!(
                h.key,
                ColumnKey::Known(Known::Email | Known::Phone | Known::UserId | Known::Timezone | Known::Locale)
            )
        });
        for (row, id) in self.ids.iter().enumerate() {
            if (start || self.alive.get(row))
                && let Some(c) = profiles.profile_for_columns(*id, &traits, texts)
            {
                if start {
                    self.alive.set(row, true);
                    set_consent(&mut self.consent, row, &c);
                }
                for h in self.columns.iter_mut().filter(|h| !h.filled) {
                    put(h, row, &c);
                }
            }
        }
        for h in &mut self.columns {
            h.filled = true;
        }
    }

    pub fn occ_mut(&mut self, p: PredId) -> &mut OccColumn {
        match self.occ.iter().position(|(q, _)| *q == p) {
            Some(i) => &mut self.occ[i].1,
            None => {
                self.occ.push((p, OccColumn::default()));
                &mut self.occ.last_mut().expect("pushed").1
            }
        }
    }

    /// The row's occurrence slots, by predicate (to prune or clear them).
    pub fn slots_of(&mut self, row: u32) -> impl Iterator<Item = (PredId, &mut kairos_segment::columns::Slot)> {
        let r = row as usize;
        self.occ.iter_mut().filter(move |(_, o)| r < o.slots().len()).map(move |(p, o)| (*p, o.slot_mut(r)))
    }

    pub fn member(&self, s: SegIdx, row: u32) -> bool {
        self.members.get(s as usize).is_some_and(|m| m.contains(row))
    }

    /// Sets a membership; true if it changed.
    pub fn set_member(&mut self, s: SegIdx, row: u32, yes: bool) -> bool {
        let m = self.bitmap_mut(s);
        if yes { m.insert(row) } else { m.remove(row) }
    }

    fn bitmap_mut(&mut self, s: SegIdx) -> &mut RoaringBitmap {
        let i = s as usize;
        if i >= self.members.len() {
            self.members.resize_with(i + 1, RoaringBitmap::new);
        }
        &mut self.members[i]
    }

    pub fn set_members(&mut self, s: SegIdx, members: RoaringBitmap) {
        *self.bitmap_mut(s) = members;
    }

    pub fn drop_members(&mut self, s: SegIdx) {
        if let Some(m) = self.members.get_mut(s as usize) {
            *m = RoaringBitmap::new();
        }
    }

    pub fn next_due(&self, row: u32) -> i64 {
        self.next_due[row as usize]
    }

    pub fn set_next_due(&mut self, row: u32, t: i64) {
        self.next_due[row as usize] = t;
    }

    /// Bytes held (the hash tables' and vectors' capacity, the dictionaries' values, the spilled occurrences,
    /// the bitmaps' serialized size, which is within a few percent of what they hold).
    pub fn memory_bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.next_due.capacity() * 8
            + self.free.capacity() * 4
            + self.alive.memory_bytes()
            + self.consent.iter().map(BitColumn::memory_bytes).sum::<usize>()
            + self.columns.iter().map(|h| h.col.memory_bytes()).sum::<usize>()
            + self.occ.iter().map(|(_, o)| o.memory_bytes()).sum::<usize>()
            + self.members.iter().map(|m| m.serialized_size()).sum::<usize>()
    }
}

impl ColumnSource for Table {
    fn rows(&self) -> usize {
        self.ids.len()
    }
    fn alive(&self) -> &BitColumn {
        &self.alive
    }
    fn column(&self, key: &ColumnKey) -> Option<&Column> {
        self.columns.iter().find(|h| h.key == *key && h.filled).map(|h| &h.col)
    }
    fn consent(&self, channel: Channel, status: ConsentIs) -> &BitColumn {
        &self.consent[consent_index(channel, status)]
    }
    fn occurrences(&self, p: PredId) -> Option<&OccColumn> {
        self.occ.iter().find(|(q, _)| *q == p).map(|(_, o)| o)
    }
    fn is_member(&self, s: SegIdx, row: usize) -> bool {
        self.member(s, row as u32)
    }
    fn members_into(&self, s: SegIdx, out: &mut Bits) {
        let rows = out.rows();
        if let Some(m) = self.members.get(s as usize) {
            for row in m.range(rows.start as u32..rows.end as u32) {
                out.set(row as usize);
            }
        }
    }
}

/// One contact's segment state as the per-contact evaluator reads it.
#[derive(Clone, Copy)]
pub struct ContactState<'a> {
    pub(crate) table: &'a Table,
    pub(crate) row: u32,
}

impl<'a> ContactState<'a> {
    pub fn is_member(&self, s: SegIdx) -> bool {
        self.table.member(s, self.row)
    }

    pub fn occurrences(&self, p: PredId) -> Occ<'a> {
        self.table.occurrences(p).map_or(Occ::default(), |o| o.slot(self.row as usize).occ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_index_finds_ids_in_sequence_negative_and_far() {
        let mut x = RowIndex::default();
        let loc = |row| Loc { table: 0, row };
        for id in 1..=1_000 {
            x.insert(ContactId(id), loc(id as u32));
        }
        x.insert(ContactId(-5), loc(7));
        x.insert(ContactId(1 << 40), loc(8));
        assert_eq!(
            (x.get(ContactId(500)), x.get(ContactId(-5)), x.get(ContactId(1 << 40))),
            (Some(loc(500)), Some(loc(7)), Some(loc(8)))
        );
        assert_eq!((x.get(ContactId(0)), x.get(ContactId(1_001)), x.get(ContactId(3))), (None, None, Some(loc(3))));
        assert_eq!(x.remove(ContactId(3)), Some(loc(3)));
        assert_eq!((x.remove(ContactId(3)), x.get(ContactId(3))), (None, None));
        assert_eq!(x.remove(ContactId(1 << 40)), Some(loc(8)));
        assert_eq!(x.0.len(), 1_000, "1 002 held, two removed");
    }
}
