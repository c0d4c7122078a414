//! The anchor workload (issue 17): Segment-shaped events as a busy store sends them, written once to a file of
//! batch lines so Kairos and the baselines (PostgreSQL COPY, plain SQLite) ingest the very same bytes.
//!
//! What makes it hard, unlike the synthetic bench: message ids are random UUIDs (no locality in a unique
//! index); each event comes from one of 100 000 shoppers at a random time of the last 30 days, so the file is
//! not in time order and, as shoppers come back, more and more cart events arrive older than the cart's last
//! change (about 4 % of the events at the start, a third at the end, a quarter overall); the 8 kinds of events
//! are equally likely (page, identify, Product Viewed, Product Added, Product Removed, Cart Viewed, Checkout
//! Started, Order Completed).

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use kairos_sample as sample;

/// Events written when `--events` is not given.
pub const ANCHOR_EVENTS_DEFAULT: usize = 1_000_000;
/// Events fall at random times of this many days before the generator's fixed end.
const SPAN_DAYS: i64 = 30;
/// The generator's seed: the same file every time.
const SEED: u64 = 0x4b41_4952_4f53;
/// Share of shoppers who are known customers (their events carry a `userId`).
const IDENTIFIED_SHARE: f64 = 0.6;
/// The kinds of events, equally likely.
const KINDS: [&str; 8] = [
    "page",
    "identify",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
];

/// A random version-4 UUID from `rng`, as Segment's libraries write message ids.
fn uuid(rng: &mut impl RngExt) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// One event of a random shopper at a random time of the span.
fn event(
    shoppers: &[sample::Shopper],
    catalog: &[sample::SampleProduct],
    end: jiff::Timestamp,
    rng: &mut rand::rngs::StdRng,
) -> Value {
    let s = &shoppers[rng.random_range(0..shoppers.len())];
    let at = end.checked_sub(jiff::SignedDuration::from_secs(rng.random_range(0..SPAN_DAYS * 86_400))).unwrap_or(end);
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    let product = &catalog[rng.random_range(0..catalog.len())];
    let (path, title) = match kind {
        "page" => ("/".to_string(), "Velo Shop".to_string()),
        "identify" => ("/account".to_string(), "Account".to_string()),
        "Cart Viewed" => ("/cart".to_string(), "Cart".to_string()),
        "Checkout Started" | "Order Completed" => ("/checkout".to_string(), "Checkout".to_string()),
        _ => (format!("/products/{}", product.id), product.title.clone()),
    };
    let mut v = json!({
        "type": match kind { "page" | "identify" => kind, _ => "track" },
        "messageId": uuid(rng),
        "anonymousId": s.anonymous_id,
        "timestamp": at.to_string(),
        "context": sample::context(s, &path, &title),
    });
    if rng.random_bool(IDENTIFIED_SHARE) || kind == "identify" {
        v["userId"] = json!(s.user_id);
    }
    match kind {
        "page" => v["name"] = json!("Home"),
        "identify" => {
            v["traits"] = json!({"email": s.email, "first_name": s.first_name, "last_name": s.last_name,
                "city": s.city, "timezone": s.timezone});
        }
        "Product Viewed" | "Product Added" | "Product Removed" => {
            v["event"] = json!(kind);
            v["properties"] = product.props(1);
        }
        _ => {
            let items: Vec<&sample::SampleProduct> =
                (0..rng.random_range(1..4)).map(|_| &catalog[rng.random_range(0..catalog.len())]).collect();
            let value: u32 = items.iter().map(|p| p.price_cents).sum();
            let products: Vec<Value> = items.iter().map(|p| p.props(1)).collect();
            v["event"] = json!(kind);
            v["properties"] = json!({"value": value as f64 / 100.0, "currency": "EUR", "products": products});
            if kind == "Order Completed" {
                v["properties"]["order_id"] = json!(format!("ord-{}", uuid(rng)));
                v["properties"]["total"] = json!(value as f64 / 100.0);
            }
        }
    }
    v
}

/// Writes `events` events of `shoppers` shoppers to `out`, `batch` events per line.
pub fn generate(events: usize, shoppers: usize, batch: usize, out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(shoppers >= 1 && batch >= 1, "--shoppers and --batch-size must be at least 1");
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let catalog = sample::catalog(&mut rng);
    let people: Vec<sample::Shopper> = (0..shoppers).map(|i| sample::shopper(i, &mut rng)).collect();
    let end: jiff::Timestamp = "2026-11-01T00:00:00Z".parse()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let bar = ProgressBar::new(events as u64);
    bar.set_style(
        ProgressStyle::with_template("gen-events {bar:40} {pos}/{len} events")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut written, mut pending, mut kinds) = (0usize, Vec::with_capacity(batch), std::collections::BTreeMap::new());
    while written < events {
        let e = event(&people, &catalog, end, &mut rng);
        let kind = e["event"].as_str().or(e["type"].as_str()).unwrap_or("?").to_string();
        *kinds.entry(kind).or_insert(0usize) += 1;
        pending.push(e);
        if pending.len() == batch || written + pending.len() == events {
            written += flush(&mut file, &mut pending)?;
            bar.set_position(written as u64);
        }
    }
    file.flush()?;
    bar.finish_and_clear();
    let bytes = std::fs::metadata(out)?.len();
    println!(
        "wrote {written} events of {shoppers} shoppers to {} ({:.1} MB, {} per line)",
        out.display(),
        bytes as f64 / 1e6,
        batch
    );
    for (kind, n) in kinds {
        println!("  {kind:<20} {n}");
    }
    Ok(())
}

fn flush(file: &mut impl Write, pending: &mut Vec<Value>) -> anyhow::Result<usize> {
    if pending.is_empty() {
        return Ok(0);
    }
    let n = pending.len();
    serde_json::to_writer(&mut *file, &json!({ "batch": std::mem::take(pending) }))?;
    file.write_all(b"\n")?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids_and_the_file_is_out_of_time_order() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let id = uuid(&mut rng);
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.jsonl");
        generate(5_000, 300, 100, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 50);
        let events: Vec<&Value> = lines.iter().flat_map(|l| l["batch"].as_array().unwrap()).collect();
        assert_eq!(events.len(), 5_000);
        let ids: std::collections::HashSet<&str> = events.iter().map(|e| e["messageId"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 5_000, "message ids are unique");
        let kinds: std::collections::HashSet<String> =
            events.iter().map(|e| e["event"].as_str().unwrap_or(e["type"].as_str().unwrap()).to_string()).collect();
        assert_eq!(kinds.len(), 8, "{kinds:?}");
        let times: Vec<&str> = events.iter().map(|e| e["timestamp"].as_str().unwrap()).collect();
        let backwards = times.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(backwards > 1_000, "events arrive out of time order: {backwards}");
        // Cart events older than the shopper's latest cart change: what makes the anchor hard.
        let cart = ["Product Added", "Product Removed", "Cart Viewed", "Checkout Started", "Order Completed"];
        let mut latest = std::collections::HashMap::new();
        let mut late = 0;
        for e in &events {
            if !cart.contains(&e["event"].as_str().unwrap_or("")) {
                continue;
            }
            let (who, at) = (e["anonymousId"].as_str().unwrap(), e["timestamp"].as_str().unwrap());
            match latest.get(who) {
                Some(&l) if at < l => late += 1,
                _ => {
                    latest.insert(who, at);
                }
            }
        }
        assert!(late > 5_000 / 5, "a good share of late cart events: {late} of 5000");
        // The same file every time.
        let again = dir.path().join("again.jsonl");
        generate(5_000, 300, 100, &again).unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
    }
}
