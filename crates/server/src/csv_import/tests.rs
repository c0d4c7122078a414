use super::*;
use kairos_domain::Timestamp;
use kairos_engine::Imported;

/// A sink that stores in memory, de-duplicates by message id, and leaves out records naming `erased`.
#[derive(Default)]
struct Fake {
    seen: HashSet<String>,
    calls: usize,
    largest_call: usize,
    erased: Option<String>,
    products: Vec<Product>,
    known: HashSet<u64>,
}

impl Sink for Fake {
    fn records(&mut self, records: Vec<Vec<Event>>) -> Result<Imported, ImportError> {
        self.calls += 1;
        self.largest_call = self.largest_call.max(records.len());
        let mut out = Imported::default();
        for (i, r) in records.into_iter().enumerate() {
            let named = |e: &Event| e.traits.get("email").and_then(|v| v.as_str()).map(str::to_string);
            if self.erased.is_some() && r.iter().any(|e| named(e) == self.erased) {
                out.erased += 1;
                out.erased_records.push(i);
                continue;
            }
            for e in r {
                if self.seen.insert(e.message_id.as_str().to_string()) {
                    out.stored += 1;
                } else {
                    out.duplicates += 1;
                }
            }
        }
        Ok(out)
    }
    fn products(&mut self, products: Vec<Product>) -> Result<(), ImportError> {
        self.products.extend(products);
        Ok(())
    }
    fn known_orders(&mut self) -> Result<HashSet<u64>, ImportError> {
        Ok(self.known.clone())
    }
}

#[derive(Default)]
struct Rejected(Vec<(u64, String, String)>);

impl Report for Rejected {
    fn header(&mut self, _: &[String]) -> Result<(), ImportError> {
        Ok(())
    }
    fn rejected(&mut self, line: u64, _: &[String], column: &str, reason: &str) -> Result<(), ImportError> {
        self.0.push((line, column.to_string(), reason.to_string()));
        Ok(())
    }
}

fn cx() -> RowContext {
    let t = Timestamp::parse("2026-05-01T00:00:00Z").unwrap();
    RowContext { as_of: t, now: t }
}

fn run(kind: Kind, text: &str, sink: &mut Fake) -> (Summary, Vec<(u64, String, String)>) {
    let mut report = Rejected::default();
    let summary = import(kind, text.as_bytes(), cx(), sink, &mut report).unwrap();
    (summary, report.0)
}

#[test]
fn contacts_go_in_batches_and_lines_are_spreadsheet_rows() {
    let mut text = String::from("email,note\n");
    for i in 0..2_500 {
        text.push_str(&format!("c{i}@example.com,n{i}\n"));
    }
    // A quoted cell over two text lines is one row: the bad row after it is line 2 503.
    text.push_str("\"multi@example.com\",\"two\nlines\"\nnot-an-email,x\n");
    let mut sink = Fake::default();
    let (summary, rejected) = run(Kind::Contacts, &text, &mut sink);
    assert_eq!((summary.imported, summary.rejected, summary.events_stored), (2_501, 1, 2_501));
    assert_eq!(rejected, vec![(2_503, "email".to_string(), "\"not-an-email\" is not an email address".to_string())]);
    assert_eq!((sink.calls, sink.largest_call), (3, CSV_BATCH_ROWS), "batches of {CSV_BATCH_ROWS} rows");
    let (again, _) = run(Kind::Contacts, &text, &mut sink);
    assert_eq!((again.imported, again.events_stored, again.already_stored), (2_501, 0, 2_501), "nothing new");
}

#[test]
fn records_naming_an_erased_person_are_rejected_by_line() {
    let mut sink = Fake { erased: Some("gone@example.com".into()), ..Fake::default() };
    let text = "email\nkept@example.com\ngone@example.com\nalso@example.com\n";
    let (summary, rejected) = run(Kind::Contacts, text, &mut sink);
    assert_eq!((summary.imported, summary.rejected), (2, 1));
    assert_eq!(rejected, vec![(3, String::new(), CSV_ERASED_REASON.to_string())]);
}

#[test]
fn orders_group_consecutive_rows_and_a_bad_row_rejects_its_whole_order() {
    let text = "order_id,email,total,sku,price,quantity\n\
                o1,a@x.com,30,A,10,1\n\
                o1,a@x.com,,B,20,1\n\
                o2,b@x.com,5,A,-5,1\n\
                o2,b@x.com,,B,5,1\n\
                o3,c@x.com,7,A,7,1\n";
    let mut sink = Fake { known: [order_key("o3")].into(), ..Fake::default() };
    let (summary, rejected) = run(Kind::Orders, text, &mut sink);
    assert_eq!((summary.imported, summary.rejected), (3, 2), "o1's two rows and o3 (already stored) taken in");
    assert_eq!(rejected[0], (4, "price".to_string(), "-5 is negative; amounts are never negative".to_string()));
    assert_eq!(rejected[1], (5, "price".to_string(), "another row with this id was rejected (line 4)".to_string()));
    assert_eq!(sink.seen.len(), 2, "o1's identify and order; o3 was known: {:?}", sink.seen);
    assert!(sink.seen.contains("csv-order-o1-completed"));
}

#[test]
fn a_long_run_of_one_id_is_refused_without_being_held() {
    let mut text = String::from("order_id,email,sku,price\n");
    for _ in 0..kairos_integrations::LINE_ITEMS_MAX + 3 {
        text.push_str("o1,a@x.com,A,1\n");
    }
    let mut sink = Fake::default();
    let (summary, rejected) = run(Kind::Orders, &text, &mut sink);
    assert_eq!(summary.rejected as usize, kairos_integrations::LINE_ITEMS_MAX + 3);
    assert!(rejected.iter().any(|r| r.2.contains("at most 100 rows")), "{:?}", &rejected[..2]);
    assert!(sink.seen.is_empty());
}

#[test]
fn products_upsert_and_headers_are_checked() {
    let mut sink = Fake::default();
    let text = "id;title;price\np1;Lamp;19,90\np2;Chair;x\n";
    let (summary, rejected) = run(Kind::Products, text, &mut sink);
    assert_eq!((summary.imported, summary.rejected), (1, 1));
    assert_eq!(sink.products[0].price, kairos_domain::Money::from_major(19.9));
    assert_eq!(rejected[0].1, "price");
    let mut report = Rejected::default();
    let e = import(Kind::Products, "title,price\n".as_bytes(), cx(), &mut sink, &mut report).unwrap_err();
    assert!(matches!(e, ImportError::Header(_)), "{e}");
    let e = import(Kind::Contacts, "".as_bytes(), cx(), &mut sink, &mut report).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}
