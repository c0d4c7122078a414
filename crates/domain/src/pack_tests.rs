use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn json_value() -> impl Strategy<Value = Value> {
    // Unsigned integers beyond i64 too: they pack as their own kind.
    let leaf = prop_oneof![crate::json::arb_json_scalar(), any::<u64>().prop_map(|u| Value::Number(u.into()))];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn time() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_map(Timestamp)
}

fn text() -> impl Strategy<Value = String> {
    ".{0,16}"
}

fn consent() -> impl Strategy<Value = Consent> {
    (
        prop::sample::select(vec![
            ConsentStatus::Subscribed,
            ConsentStatus::Unsubscribed,
            ConsentStatus::NeverSubscribed,
        ]),
        prop::option::of(time()),
        prop::option::of(text()),
        prop::option::of(time()),
    )
        .prop_map(|(status, updated_at, source, subscribed_at)| Consent {
            status,
            updated_at,
            source,
            subscribed_at,
        })
}

fn cart_item() -> impl Strategy<Value = CartItem> {
    (
        text(),
        prop::option::of(text()),
        prop::option::of(text()),
        any::<i64>(),
        any::<i64>(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(|(product_id, sku, name, price, quantity, category, url, image_url, variant)| CartItem {
            product_id,
            sku,
            name,
            price: Money(price),
            quantity,
            category,
            url,
            image_url,
            variant,
        })
}

fn computed() -> impl Strategy<Value = Computed> {
    (
        (any::<u64>(), any::<i64>(), prop::option::of(time()), prop::option::of(time()), any::<i64>()),
        prop::collection::vec(cart_item(), 0..3),
        (prop::option::of(time()), prop::option::of(text()), prop::option::of(text()), prop::option::of(time())),
    )
        .prop_map(
            |((count, spent, first_at, last_at, refunded), items, (updated_at, checkout_url, currency, seen))| {
                Computed {
                    orders: Orders {
                        count,
                        total_spent: Money(spent),
                        first_at,
                        last_at,
                        refunded_total: Money(refunded),
                    },
                    cart: Cart { items, updated_at, checkout_url, currency },
                    last_seen_at: seen,
                }
            },
        )
}

fn lead() -> impl Strategy<Value = Lead> {
    (
        any::<f64>(),
        prop::option::of(time()),
        prop::collection::vec((any::<u32>(), any::<f64>()), 0..3),
        any::<i64>(),
        prop::option::of(prop::sample::select(LifecycleStage::ALL.to_vec())),
        prop::option::of(time()),
    )
        .prop_map(|(points, at, capped, score, stage, stage_at)| Lead {
            points,
            at,
            capped,
            score,
            stage,
            stage_at,
        })
}

fn contact() -> impl Strategy<Value = Contact> {
    (
        (any::<i64>(), any::<i64>(), prop::option::of(text()), prop::option::of(text()), prop::option::of(text())),
        (prop::collection::vec(text(), 0..3), prop::collection::btree_map(text(), json_value(), 0..5)),
        (prop::option::of(time()), prop::option::of(text()), prop::option::of(text())),
        (
            consent(),
            consent(),
            prop::collection::vec(text(), 0..3),
            prop::option::of(prop::sample::select(EmailFrequency::ALL.to_vec())),
        ),
        (computed(), lead(), time(), time(), prop::option::of(time())),
    )
        .prop_map(
            |(
                (id, ws, user_id, email, phone),
                (anonymous_ids, traits),
                (traits_at, timezone, locale),
                (email_consent, sms_consent, topics_out, frequency),
                (computed, lead, created_at, updated_at, erased_at),
            )| Contact {
                id: ContactId(id),
                workspace: WorkspaceId(ws),
                user_id,
                email: email.map(Email::trusted),
                phone: phone.map(Phone::trusted),
                anonymous_ids,
                traits: traits.into_iter().collect(),
                traits_at,
                timezone,
                locale,
                consent: ConsentSet { email: email_consent, sms: sms_consent, topics_out, frequency },
                computed,
                lead,
                created_at,
                updated_at,
                erased_at,
            },
        )
}

/// Equality that treats NaN lead points as equal to themselves (`Lead` compares floats with `==`).
fn same(a: &Contact, b: &Contact) -> bool {
    let bits = |c: &Contact| {
        (c.lead.points.to_bits(), c.lead.capped.iter().map(|(k, f)| (*k, f.to_bits())).collect::<Vec<_>>())
    };
    let strip = |c: &Contact| {
        let mut c = c.clone();
        c.lead.points = 0.0;
        c.lead.capped.clear();
        c
    };
    bits(a) == bits(b) && strip(a) == strip(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_packed_contact_reads_back_as_it_was(c in contact()) {
        let mut bytes = Vec::new();
        pack(&c, &mut bytes);
        let back = unpack(&bytes).expect("reads back");
        prop_assert!(same(&c, &back), "{c:?}\n!=\n{back:?}");
        prop_assert_eq!(packed_workspace(&bytes).unwrap(), c.workspace);
        // The JSON the store writes is the same too (numbers keep their kind: integer, unsigned, float).
        prop_assert_eq!(serde_json::to_string(&c.traits).unwrap(), serde_json::to_string(&back.traits).unwrap());
    }

    #[test]
    fn a_lite_read_keeps_what_segment_columns_read(c in contact(), keep in prop::collection::vec(text(), 0..3), texts in any::<bool>()) {
        let mut bytes = Vec::new();
        pack(&c, &mut bytes);
        let lite = unpack_lite(&bytes, &keep, texts).expect("reads back");
        let mut want = c.clone();
        if !texts {
            (want.user_id, want.email, want.phone, want.timezone, want.locale) = (None, None, None, None, None);
        }
        want.anonymous_ids.clear();
        want.traits.retain(|k, _| keep.contains(k));
        for consent in [&mut want.consent.email, &mut want.consent.sms] {
            consent.source = None;
        }
        want.consent.topics_out.clear();
        want.computed.cart.checkout_url = None;
        want.computed.cart.currency = None;
        for i in &mut want.computed.cart.items {
            *i = CartItem { product_id: String::new(), sku: None, name: None, category: None, url: None, image_url: None, variant: None, ..i.clone() };
        }
        prop_assert!(same(&want, &lite), "{want:?}\n!=\n{lite:?}");
        prop_assert_eq!(want.computed.cart.value(), c.computed.cart.value());
    }

    #[test]
    fn any_prefix_or_corruption_is_an_error_not_a_panic(c in contact(), cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
        let mut bytes = Vec::new();
        pack(&c, &mut bytes);
        let at = cut.index(bytes.len());
        prop_assert!(unpack(&bytes[..at]).is_err());
        let mut bad = bytes.clone();
        bad[at] ^= flip | 1;
        let _ = unpack(&bad);
        let _ = unpack_lite(&bad, &[String::new()], false);
        prop_assert!(unpack_lite(&bytes[..at], &[], true).is_err());
    }
}

#[test]
fn a_typical_profile_packs_to_a_fraction_of_its_json() {
    let c: Contact = serde_json::from_str(
        r#"{"id":503,"workspace":1,"user_id":"cust-009005","email":"oskar.nieminen9005@example.com","phone":null,
        "anonymous_ids":["anon-009005-2b1dce94"],"traits":{"city":"Stockholm","email":"oskar.nieminen9005@example.com",
        "first_name":"Oskar","last_name":"Nieminen","timezone":"Europe/Stockholm"},"traits_at":1793158776000000,
        "timezone":"Europe/Stockholm","locale":"en-US","consent":{"email":{"status":"never_subscribed","updated_at":null,
        "source":null},"sms":{"status":"never_subscribed","updated_at":null,"source":null}},"computed":{"orders":{"count":0,
        "total_spent":0,"first_at":null,"last_at":null,"refunded_total":0},"cart":{"items":[{"product_id":"hel-2",
        "sku":"HEL-2","name":"Road Helmet","price":14790,"quantity":1,"category":"helmets",
        "url":"https://velo.example/products/hel-2","image_url":"https://velo.example/images/hel-2.jpg"}],
        "updated_at":1792282317000000,"currency":"EUR"},"last_seen_at":1793171731000000},"lead":{"points":35.5,
        "at":1793171731000000,"capped":[[3984167343,0.81]],"score":14},"created_at":1796523709353322,
        "updated_at":1796523726602331}"#,
    )
    .unwrap();
    let mut bytes = Vec::new();
    pack(&c, &mut bytes);
    let json = serde_json::to_vec(&c).unwrap();
    assert_eq!(unpack(&bytes).unwrap(), c);
    assert!(bytes.len() * 2 < json.len(), "{} packed, {} as JSON", bytes.len(), json.len());
}
