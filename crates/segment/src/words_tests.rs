use super::*;
use crate::parse::parse;

fn said(text: &str) -> String {
    let names = |r: &str| (r == "seg_1").then(|| "VIP customers".to_string());
    describe(&parse(text).unwrap(), &names)
}

#[test]
fn fields_and_behaviour_read_as_one_sentence() {
    assert_eq!(
        said(r#"orders.count >= 2 and did "Product Viewed" within 7d"#),
        "People whose number of orders is at least 2 and who did “Product Viewed” in the last 7 days"
    );
    assert_eq!(said("cart.value > 150.5"), "People whose cart value is more than 150.5");
    assert_eq!(said(r#"trait.first_name = "Ann""#), "People whose first name is “Ann”");
    assert_eq!(said("trait.city exists"), "People whose city is known");
    assert_eq!(said("not trait.city exists"), "People whose city is not known");
}

#[test]
fn times_and_windows_in_words() {
    assert_eq!(said("last_seen_at before 90d ago"), "People whose last visit was more than 90 days ago");
    assert_eq!(said("orders.last_at within 1w"), "People whose last order was in the last 7 days");
    assert_eq!(said("orders.first_at before 14d ago"), "People whose first order was more than 2 weeks ago");
    assert_eq!(said("email.last_open_at after 4h ago"), "People whose last email open was less than 4 hours ago");
    assert_eq!(
        said(r#"count("Product Viewed", within 30d) >= 3"#),
        "People who did “Product Viewed” at least 3 times in the last 30 days"
    );
    assert_eq!(said(r#"count("Order Completed") = 1"#), "People who did “Order Completed” exactly once");
    assert_eq!(
        said(r#"not did "Order Completed" within 90d"#),
        "People who did not do “Order Completed” in the last 90 days"
    );
    assert_eq!(
        said(r#"did "Order Completed" since entry"#),
        "People who did “Order Completed” since entering the flow"
    );
}

#[test]
fn filters_consent_stages_and_segments() {
    assert_eq!(
        said(r#"did "Order Completed" where products.category contains "bikes" within 30d"#),
        "People who did “Order Completed” where products category contains “bikes” in the last 30 days"
    );
    assert_eq!(
        said("subscribed email and not subscribed sms"),
        "People who are subscribed to email and who are not subscribed to SMS"
    );
    assert_eq!(
        said(r#"lifecycle.stage = "first_time_customer""#),
        "People whose lifecycle stage is “First-time customer”"
    );
    assert_eq!(said(r#"in segment "seg_1""#), "People who are in “VIP customers”");
    assert_eq!(said(r#"not in segment "Newsletter""#), "People who are not in “Newsletter”");
    assert_eq!(
        said(r#"trait.city in ["Oslo", "Bergen", "Turku"]"#),
        "People whose city is one of “Oslo”, “Bergen” or “Turku”"
    );
    assert_eq!(said(r#"trait.n in [1, 2, 3, 4, 5, 6, 7]"#), "People whose n is one of 1, 2, 3, 4, 5 and 2 more");
    assert_eq!(said("event.value >= 3000"), "People whose trigger event's value is at least 3000");
}

#[test]
fn machine_opens_and_single_units_read_naturally() {
    assert_eq!(
        said(r#"not did "Email Opened" where machine != true within 1d"#),
        "People who did not do “Email Opened” made by a person in the last day"
    );
    assert_eq!(said(r#"did "Email Clicked" where machine = true"#), "People who did “Email Clicked” made by a machine");
    assert_eq!(said("cart.updated_at within 1h"), "People whose last cart change was in the last hour");
}

#[test]
fn groups_keep_their_parentheses() {
    assert_eq!(
        said(r#"(orders.count >= 1 or subscribed email) and not (cart.value > 10 and lead.score < 5)"#),
        "People (whose number of orders is at least 1 or who are subscribed to email) and who do not match \
         (whose cart value is more than 10 and whose lead score is less than 5)"
    );
}

#[test]
fn empty_groups_are_everyone_or_no_one() {
    let none = |_: &str| None;
    assert_eq!(describe(&Expr::And(vec![]), &none), "Everyone");
    assert_eq!(describe(&Expr::Or(vec![]), &none), "No one");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// Any definition is said without a panic, naming every event it looks at and every segment it refers to
    /// (by name when the segment is known), with no operator left in code form.
    #[test]
    fn every_event_and_segment_is_named(e in crate::parse::tests::arb_expr()) {
        let said = describe(&e, &|r| Some(format!("named {r}")));
        let mut events = Vec::new();
        let mut segments = Vec::new();
        e.walk(&mut |x| match x {
            Expr::Did { event, .. } | Expr::Count { event, .. } => events.push(event.clone()),
            Expr::InSegment(r) => segments.push(r.clone()),
            _ => {}
        });
        for ev in events {
            proptest::prop_assert!(said.contains(&format!("“{ev}”")), "{} in {}", ev, said);
        }
        for s in segments {
            proptest::prop_assert!(said.contains(&format!("“named {s}”")), "{} in {}", s, said);
        }
        proptest::prop_assert!(said.starts_with("People ") || said == "Everyone" || said == "No one");
    }
}
