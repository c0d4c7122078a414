//! Profiles as a store keeps them beside their JSON: the compact binary form the committer holds quiet profiles
//! in (`kairos_domain::pack`), so a start takes them as they are instead of decoding every profile's JSON
//! (issue 17 item 4: at 1 M contacts the JSON decoding was half of a start).
//!
//! The JSON stays the truth: readers, searches and copies read it, and a packed form is used only when it
//! provably belongs to it. A stored form is `[PACKED_FORMAT][CRC-32 of the JSON then the packed bytes][packed
//! bytes]`; a load takes it only when the format is this build's and the checksum matches the row's JSON, else it
//! decodes the JSON (a store written before this column, a row something else rewrote, a newer or older format).
//! A mismatch costs a decode, never a wrong profile.

use kairos_domain::{Contact, ContactId};

use crate::codec::from_json;
use crate::{Result, StoreError};

/// The stored packed form's version. `kairos_domain::pack` changing its bytes needs a new number here
/// (`the_packed_form_is_the_one_this_format_names` fails until it has one), so a store written by another
/// build falls back to the JSON instead of misreading.
pub const PACKED_FORMAT: u8 = 1;
/// The format byte and the checksum before the packed bytes.
const HEADER_BYTES: usize = 5;

/// The packed column's value for `c`, whose JSON is `json`.
pub fn stored_packed(c: &Contact, json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + json.len() / 2);
    out.extend_from_slice(&[PACKED_FORMAT, 0, 0, 0, 0]);
    kairos_domain::pack::pack(c, &mut out);
    let crc = checksum(json.as_bytes(), &out[HEADER_BYTES..]);
    out[1..HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    out
}

fn checksum(json: &[u8], packed: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(json);
    h.update(packed);
    h.finalize()
}

/// The packed bytes of a stored form that belongs to contact `id` with JSON `json`, or None (decode the JSON).
pub fn verified<'a>(id: ContactId, json: &[u8], stored: &'a [u8]) -> Option<&'a [u8]> {
    let (header, packed) = stored.split_at_checked(HEADER_BYTES)?;
    let crc = u32::from_le_bytes(header[1..].try_into().ok()?);
    let ok = header[0] == PACKED_FORMAT
        && checksum(json, packed) == crc
        && kairos_domain::pack::packed_id(packed).is_ok_and(|packed_id| packed_id == id);
    ok.then_some(packed)
}

/// One live contact row as a store's load reads it: its packed form when that verified, else its JSON.
pub enum ContactRow {
    Packed(ContactId, Box<[u8]>),
    Json(String),
}

impl ContactRow {
    /// The row of contact `id`: `json` (UTF-8, as stored) and the packed column's value.
    pub fn of(id: ContactId, json: &[u8], stored: Option<&[u8]>) -> Result<ContactRow> {
        if let Some(packed) = stored.and_then(|s| verified(id, json, s)) {
            return Ok(ContactRow::Packed(id, packed.into()));
        }
        let json = std::str::from_utf8(json).map_err(|e| StoreError::corrupt("contact", e))?;
        Ok(ContactRow::Json(json.to_string()))
    }
}

/// A live contact as a load hands it over: packed (verified, see [`verified`]) or decoded from its JSON.
pub enum LoadedContact {
    Packed(ContactId, Box<[u8]>),
    Decoded(Box<Contact>),
}

impl LoadedContact {
    pub fn id(&self) -> ContactId {
        match self {
            LoadedContact::Packed(id, _) => *id,
            LoadedContact::Decoded(c) => c.id,
        }
    }

    /// Whether it came packed (no JSON decoded).
    pub fn is_packed(&self) -> bool {
        matches!(self, LoadedContact::Packed(..))
    }

    /// The profile, unpacked if it came packed.
    pub fn into_contact(self) -> Result<Contact> {
        match self {
            LoadedContact::Packed(_, b) => {
                kairos_domain::pack::unpack(&b).map_err(|e| StoreError::corrupt("contact", e))
            }
            LoadedContact::Decoded(c) => Ok(*c),
        }
    }
}

/// Rows a loading store hands its decoding thread at a time.
const DECODE_BATCH_ROWS: usize = 256;
/// Batches waiting for that thread at most (the rest of the rows wait in the database).
const DECODE_BATCHES_QUEUED_MAX: usize = 8;

/// Where a store's reading loop hands each contact row.
pub type RowSink<'a> = dyn FnMut(ContactRow) -> Result<()> + 'a;

/// Every contact row `read` yields, in order, the JSON ones decoded on a second thread while this one reads on
/// (on two cores reading and decoding, with the first touch of the memory each profile takes, then overlap).
/// `read` calls its argument once per row.
pub fn decode_contacts_beside(
    read: &mut dyn FnMut(&mut RowSink<'_>) -> Result<()>,
    f: &mut dyn FnMut(LoadedContact),
) -> Result<()> {
    std::thread::scope(|scope| {
        let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<Vec<ContactRow>>(DECODE_BATCHES_QUEUED_MAX);
        // Unbounded back: the decoder never waits on this thread, so a full row queue cannot deadlock.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Result<Vec<LoadedContact>>>();
        scope.spawn(move || {
            for batch in rows_rx {
                let decoded = batch
                    .into_iter()
                    .map(|row| match row {
                        ContactRow::Packed(id, bytes) => Ok(LoadedContact::Packed(id, bytes)),
                        ContactRow::Json(s) => from_json("contact", &s).map(|c| LoadedContact::Decoded(Box::new(c))),
                    })
                    .collect::<Result<Vec<LoadedContact>>>();
                if done_tx.send(decoded).is_err() {
                    break;
                }
            }
        });
        let mut deliver = |batch: Result<Vec<LoadedContact>>| batch.map(|cs| cs.into_iter().for_each(&mut *f));
        let mut batch = Vec::with_capacity(DECODE_BATCH_ROWS);
        let mut failed = None;
        let read_result = read(&mut |row| {
            batch.push(row);
            if batch.len() == DECODE_BATCH_ROWS {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(DECODE_BATCH_ROWS));
                rows_tx.send(full).map_err(|_| StoreError::Corrupt("the contact decoder stopped".into()))?;
                while let Ok(done) = done_rx.try_recv() {
                    if let Err(e) = deliver(done) {
                        failed.get_or_insert(e);
                    }
                }
            }
            Ok(())
        });
        if !batch.is_empty() {
            let _ = rows_tx.send(batch);
        }
        drop(rows_tx);
        for done in done_rx {
            if let Err(e) = deliver(done) {
                failed.get_or_insert(e);
            }
        }
        read_result?;
        failed.map_or(Ok(()), Err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_domain::{Timestamp, WorkspaceId};

    /// A profile with most fields set (a shopper with a cart, an order, consent and a lead score).
    fn shopper() -> (Contact, String) {
        let c: Contact = serde_json::from_str(
            r#"{"id":503,"workspace":1,"user_id":"cust-009005","email":"oskar.nieminen9005@example.com",
            "phone":"+46701234567","anonymous_ids":["anon-009005-2b1dce94"],"traits":{"city":"Stockholm",
            "first_name":"Oskar","last_name":"Nieminen","vip":true,"sizes":[42,43.5],"address":{"country":"SE"}},
            "traits_at":1793158776000000,"timezone":"Europe/Stockholm","locale":"en-US","consent":{"email":
            {"status":"subscribed","updated_at":1793158776000000,"source":"form"},"sms":{"status":"never_subscribed",
            "updated_at":null,"source":null}},"computed":{"orders":{"count":2,"total_spent":25990,
            "first_at":1792000000000000,"last_at":1793000000000000,"refunded_total":1200},"cart":{"items":[
            {"product_id":"hel-2","sku":"HEL-2","name":"Road Helmet","price":14790,"quantity":1,"category":"helmets",
            "url":"https://velo.example/products/hel-2","image_url":"https://velo.example/images/hel-2.jpg"}],
            "updated_at":1792282317000000,"currency":"EUR"},"last_seen_at":1793171731000000},"lead":{"points":35.5,
            "at":1793171731000000,"capped":[[3984167343,0.81]],"score":14},"created_at":1796523709353322,
            "updated_at":1796523726602331}"#,
        )
        .unwrap();
        let json = crate::codec::to_json(&c);
        (c, json)
    }

    fn unpacked(row: ContactRow) -> Option<Contact> {
        match row {
            ContactRow::Packed(_, b) => Some(kairos_domain::pack::unpack(&b).unwrap()),
            ContactRow::Json(_) => None,
        }
    }

    #[test]
    fn a_stored_form_reads_back_as_the_profile_it_was_made_from() {
        let (c, json) = shopper();
        let stored = stored_packed(&c, &json);
        assert_eq!(unpacked(ContactRow::of(c.id, json.as_bytes(), Some(&stored)).unwrap()), Some(c));
    }

    /// Anything that does not prove the packed form belongs to the row's JSON sends the load to the JSON.
    #[test]
    fn a_stored_form_that_does_not_match_its_row_is_not_used() {
        let (c, json) = shopper();
        let stored = stored_packed(&c, &json);
        let json_edited = json.replace("Stockholm", "Goteborg!");
        let mut packed_edited = stored.clone();
        *packed_edited.last_mut().unwrap() ^= 1;
        let mut other_format = stored.clone();
        other_format[0] = PACKED_FORMAT + 1;
        let cases: [(&str, ContactId, &str, Option<&[u8]>); 6] = [
            ("no packed form", c.id, &json, None),
            ("JSON rewritten", c.id, &json_edited, Some(&stored)),
            ("packed bytes changed", c.id, &json, Some(&packed_edited)),
            ("another format", c.id, &json, Some(&other_format)),
            ("another contact's row", ContactId(c.id.0 + 1), &json, Some(&stored)),
            ("cut short", c.id, &json, Some(&stored[..3])),
        ];
        for (what, id, json, stored) in cases {
            match ContactRow::of(id, json.as_bytes(), stored).unwrap() {
                ContactRow::Json(j) => assert_eq!(j, json, "{what}"),
                ContactRow::Packed(..) => panic!("{what}: the packed form was used"),
            }
        }
    }

    /// The bytes `kairos_domain::pack` writes today for one profile. If this fails, the packed form changed:
    /// raise `PACKED_FORMAT` (stores written before then decode their JSON) and update the bytes here.
    #[test]
    fn the_packed_form_is_the_one_this_format_names() {
        let (c, _) = shopper();
        let mut bytes = Vec::new();
        kairos_domain::pack::pack(&c, &mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            (PACKED_FORMAT, hex.as_str()),
            (1, FORMAT_1_SHOPPER),
            "the packed form changed: see this test's doc"
        );
    }

    const FORMAT_1_SHOPPER: &str = concat!(
        "02ee07010b637573742d303039303035011e6f736b61722e6e69656d696e656e39303035406578616d706c652e636f6d010c",
        "2b34363730313233343536370114616e6f6e2d3030393030352d3262316463653934060761646472657373080107636f756e",
        "747279060253450463697479060953746f636b686f6c6d0a66697273745f6e616d6506054f736b6172096c6173745f6e616d",
        "6506084e69656d696e656e0573697a657307020354050000000000c0454003766970020180b8f4fdc9b7af0601104575726f",
        "70652f53746f636b686f6c6d0105656e2d5553000180b8f4fdc9b7af060104666f726d00020000000000028c960301808080",
        "b790f4ae060180c0a881abaeaf06e012010568656c2d32010548454c2d32010b526f61642048656c6d65748ce70102010768",
        "656c6d657473012368747470733a2f2f76656c6f2e6578616d706c652f70726f64756374732f68656c2d3201256874747073",
        "3a2f2f76656c6f2e6578616d706c652f696d616765732f68656c2d322e6a7067000180b5bcedc784af060001034555520180",
        "abe1c0aab8af060000000000c041400180abe1c0aab8af0601afa3e6eb0eec51b81e85ebe93f1c0000d4b5b6d8b8fbb006b6",
        "81f0e8b8fbb00600",
    );

    fn rows(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| crate::codec::to_json(&Contact::new(ContactId(i as i64 + 1), WorkspaceId(1), Timestamp(7))))
            .collect()
    }

    fn load(rows: &[String], fail_read_at: Option<usize>) -> (Result<()>, Vec<i64>) {
        let mut got = Vec::new();
        let r = decode_contacts_beside(
            &mut |sink| {
                for (i, row) in rows.iter().enumerate() {
                    if Some(i) == fail_read_at {
                        return Err(StoreError::Unavailable("lost".into()));
                    }
                    // Every third row comes packed: both kinds arrive, in the rows' order.
                    let id = ContactId(i as i64 + 1);
                    let stored = (i % 3 == 0)
                        .then(|| crate::codec::from_json::<Contact>("contact", row).ok())
                        .flatten()
                        .map(|c| stored_packed(&c, row));
                    sink(ContactRow::of(id, row.as_bytes(), stored.as_deref())?)?;
                }
                Ok(())
            },
            &mut |c| {
                got.push(match c {
                    LoadedContact::Packed(id, b) => {
                        assert_eq!(kairos_domain::pack::unpack(&b).unwrap().id, id);
                        id.0
                    }
                    LoadedContact::Decoded(c) => c.id.0,
                })
            },
        );
        (r, got)
    }

    /// Every row arrives, in order, whatever the number of batches (none, a part, exact, several).
    #[test]
    fn contacts_decoded_beside_arrive_in_order() {
        for n in [0, 1, DECODE_BATCH_ROWS - 1, DECODE_BATCH_ROWS, DECODE_BATCH_ROWS + 1, 20 * DECODE_BATCH_ROWS + 3] {
            let (r, got) = load(&rows(n), None);
            r.unwrap();
            assert_eq!(got, (1..=n as i64).collect::<Vec<_>>(), "{n} rows");
        }
    }

    /// A row that is not a contact fails the load (it does not hang or skip it); so does a failed read.
    #[test]
    fn a_bad_row_or_a_failed_read_fails_the_load() {
        let mut bad = rows(3 * DECODE_BATCH_ROWS);
        bad[DECODE_BATCH_ROWS + 5] = "{not json".into();
        assert!(matches!(load(&bad, None).0, Err(StoreError::Corrupt(_))));
        assert!(matches!(load(&rows(1000), Some(600)).0, Err(StoreError::Unavailable(_))));
    }
}
