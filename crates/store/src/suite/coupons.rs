//! Coupon pools and codes; workspace settings; the product catalog.

use kairos_domain::{ContactId, Money, Product, WorkspaceId};

use super::{all_pages, at, workspace, write};
use crate::Store;

/// A contact gets a code once; a code is redeemed once, by the contact it was issued to.
pub fn coupons_are_issued_and_redeemed_once(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let (ann, bo) = (ContactId(1), ContactId(2));
    write(store, |w| {
        w.save_pool(ws, "welcome10", "{\"v\":1}", at(1))?;
        w.save_pool(ws, "welcome10", "{\"v\":2}", at(2))?;
        w.save_pool(other, "welcome10", "{\"theirs\":1}", at(3))?;
        let mut pools = Vec::new();
        w.pools(&mut |space, id, data| pools.push((space, id, data)))?;
        pools.sort();
        assert_eq!(
            pools,
            [
                (ws, "welcome10".to_string(), "{\"v\":2}".to_string()),
                (other, "welcome10".into(), "{\"theirs\":1}".into())
            ]
        );
        assert!(w.issue_code(ws, "welcome10", "ABC234", ann, at(10))?);
        assert!(!w.issue_code(ws, "welcome10", "ABC234", ann, at(11))?, "the same code to the same contact once");
        assert!(w.issue_code(ws, "welcome10", "XYZ789", ann, at(12))?);
        assert!(w.issue_code(ws, "static", "SPRING", ann, at(13))?);
        assert!(w.issue_code(ws, "static", "SPRING", bo, at(14))?, "a shared code goes to many contacts");
        assert_eq!(w.issued_code(ws, "welcome10", ann)?, Some(("XYZ789".to_string(), at(12))), "the latest");
        assert_eq!(w.issued_code(ws, "welcome10", bo)?, None);
        assert!(w.code_used(ws, "ABC234")?);
        assert!(!w.code_used(other, "ABC234")?, "per workspace");
        assert_eq!(w.pool_issued(ws, "welcome10")?, 2);
        assert_eq!(w.pool_issued(ws, "static")?, 2);
        assert_eq!(w.pool_issued(other, "welcome10")?, 0);

        assert!(!w.redeem_code(ws, "ABC234", bo, "order-1", at(20))?, "not issued to bo");
        assert!(w.redeem_code(ws, "SPRING", ann, "order-2", at(21))?);
        assert!(!w.redeem_code(ws, "SPRING", ann, "order-3", at(22))?, "already redeemed");
        let c = w.coupon_code(ws, "SPRING", Some(ann))?.expect("issued");
        assert_eq!((c.pool.as_str(), c.contact, c.issued_at, c.redeemed_at), ("static", ann, at(13), Some(at(21))));
        // Without a contact: an unredeemed holder comes first.
        assert_eq!(w.coupon_code(ws, "SPRING", None)?.map(|c| (c.contact, c.redeemed_at)), Some((bo, None)));
        assert_eq!(w.coupon_code(ws, "NOPE", None)?, None);
        Ok(())
    });
    let r = store.reader().unwrap();
    assert_eq!(r.coupon_code(ws, "SPRING", Some(bo)).unwrap().map(|c| c.redeemed_at), Some(None));
    assert_eq!(r.coupon_code(other, "SPRING", None).unwrap(), None);
    assert_eq!(r.pool_issued(ws, "static").unwrap(), 2);
    write(store, |w| w.save_pool(ws, "autumn", "{\"v\":3}", at(30)));
    let pools = r.coupon_pools(ws).unwrap();
    assert_eq!(pools, [("autumn".to_string(), "{\"v\":3}".to_string()), ("welcome10".into(), "{\"v\":2}".into())]);
    assert_eq!(r.coupon_pools(other).unwrap(), [("welcome10".to_string(), "{\"theirs\":1}".to_string())]);
    assert!(r.coupon_pools(WorkspaceId(999)).unwrap().is_empty());
}

fn product(id: &str, title: &str, cents: i64, t: i64) -> Product {
    Product {
        id: id.into(),
        sku: None,
        title: Some(title.into()),
        url: None,
        image_url: None,
        price: Some(Money::from_cents(cents)),
        compare_at_price: None,
        currency: Some("EUR".into()),
        categories: vec!["bikes".into()],
        inventory_quantity: Some(3),
        available: true,
        updated_at: at(t),
    }
}

/// Setting overrides per workspace; products by id, paged by id.
pub fn settings_and_products(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    write(store, |w| {
        let mut stored = Vec::new();
        w.workspace_settings(&mut |space, data| stored.push((space, data)))?;
        assert!(stored.is_empty(), "no overrides yet");
        w.save_workspace_settings(ws, "{\"timezone\":\"Europe/Helsinki\"}")?;
        w.save_workspace_settings(ws, "{\"timezone\":\"Europe/Stockholm\"}")?;
        w.workspace_settings(&mut |space, data| stored.push((space, data)))?;
        assert_eq!(stored, [(ws, "{\"timezone\":\"Europe/Stockholm\"}".to_string())]);

        for (i, id) in ["p3", "p1", "p5", "p2", "p4"].into_iter().enumerate() {
            w.upsert_product(ws, &product(id, &format!("Bike {id}"), 10_000 + i as i64, 1))?;
        }
        w.upsert_product(ws, &product("p1", "Bike one, renamed", 12_000, 2))?;
        w.upsert_product(other, &product("p9", "Theirs", 1, 1))?;
        assert_eq!(w.load_product(ws, "p1")?.and_then(|p| p.title).as_deref(), Some("Bike one, renamed"));
        assert_eq!(w.load_product(ws, "p9")?, None);
        assert!(w.product_exists(ws, "p5")?);
        assert!(!w.product_exists(other, "p5")?);
        // The writer's catalog pages (a send's `collections`): by id, after the given one, this workspace only.
        let ids = |v: Vec<kairos_domain::Product>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(w.products_after(ws, None, 2)?), ["p1", "p2"]);
        assert_eq!(ids(w.products_after(ws, Some("p2"), 10)?), ["p3", "p4", "p5"]);
        assert_eq!(ids(w.products_after(other, None, 10)?), ["p9"]);
        Ok(())
    });
    let r = store.reader().unwrap();
    assert_eq!(r.settings_of(ws).unwrap().as_deref(), Some("{\"timezone\":\"Europe/Stockholm\"}"));
    assert_eq!(r.settings_of(other).unwrap().as_deref(), Some("{}"));
    assert_eq!(r.settings_of(WorkspaceId(999)).unwrap(), None);
    let p = r.product(ws, "p1").unwrap().expect("stored");
    assert_eq!((p.price, p.updated_at), (Some(Money::from_cents(12_000)), at(2)));
    assert_eq!(r.product(other, "p1").unwrap(), None);
    for size in [1, 2, 10] {
        let ids: Vec<String> = all_pages(|c| r.products(ws, c, size)).into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["p1", "p2", "p3", "p4", "p5"], "page size {size}");
    }
}
