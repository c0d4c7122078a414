//! `GET /api/v1/contacts/export` streams the workspace's contacts (or a segment's members, `?segment=`) as CSV
//! across pages, with spreadsheet formulas in visitor-typed values neutralised.

mod common;

use common::TestServer;
use serde_json::json;

fn rows(csv_text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(csv_text.as_bytes()).records().map(|r| r.unwrap()).collect()
}

#[tokio::test]
async fn contacts_and_segment_members_export_as_csv() {
    let s = TestServer::start();
    let mut c = s.client().await;
    let (wk, sk) = (&s.keys.write_key, &s.keys.secret_key);
    // More contacts than one page of the export (1 000), a tenth of them gold.
    for chunk in (0..2_300).collect::<Vec<u32>>().chunks(250) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|i| {
                json!({"type": "identify", "userId": format!("u{i}"),
                             "traits": {"email": format!("p{i}@example.com"), "first_name": format!("P{i}"),
                                        "plan": if i % 10 == 0 { "gold" } else { "basic" }}})
            })
            .collect();
        assert_eq!(c.post_json("/v1/batch", wk, &json!({ "batch": batch })).await.unwrap().status, 200);
    }
    let evil = json!({"userId": "u-evil", "traits": {"email": "evil@example.com", "first_name": "=HYPERLINK(\"http://x\",\"y\")"}});
    assert_eq!(c.post_json("/v1/identify", wk, &evil).await.unwrap().status, 200);

    let r = c.get("/api/v1/contacts/export", sk).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    let text = std::str::from_utf8(&r.body).unwrap().to_string();
    assert!(text.starts_with("id,email,phone,user_id,first_name,last_name,email_consent"), "{}", &text[..80]);
    let all = rows(&text);
    assert_eq!(all.len(), 2_301, "every contact, once, across pages");
    let evil_row = all.iter().find(|r| &r[1] == "evil@example.com").unwrap();
    assert!(evil_row[4].starts_with("'="), "a formula is neutralised: {:?}", &evil_row[4]);

    let seg = c
        .post_json("/api/v1/segments", sk, &json!({"name": "Gold", "definition": "trait.plan = \"gold\""}))
        .await
        .unwrap();
    assert_eq!(seg.status, 201, "{:?}", seg.json());
    let id = seg.json()["id"].as_str().unwrap().to_string();
    let r = c.get(&format!("/api/v1/contacts/export?segment={id}"), sk).await.unwrap();
    assert_eq!(r.status, 200);
    let gold = rows(std::str::from_utf8(&r.body).unwrap());
    assert_eq!(gold.len(), 230);
    assert!(gold.iter().all(|r| r[1].starts_with('p')));
    assert_eq!(c.get("/api/v1/contacts/export?segment=seg_nope", sk).await.unwrap().status, 404);
    assert!([401, 403].contains(&c.get("/api/v1/contacts/export", wk).await.unwrap().status));
}
