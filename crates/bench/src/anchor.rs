//! The anchor workload (issue 17): Segment-shaped events as a real store sends them, written once to a file of
//! batch lines so Kairos and the baselines (PostgreSQL COPY, plain SQLite) ingest the very same bytes.
//!
//! What makes it realistic, unlike the synthetic bench: message ids are random UUIDs (no locality in a
//! unique index), shoppers come back in sessions spread over a month and the file is not in time order (a
//! shopper's session from day 3 may arrive after one from day 20, so cart events older than the cart's last
//! change are common and their share grows as the store fills), and there are 8 kinds of events: page, identify,
//! Product List Viewed, Product Viewed, Product Added, Cart Viewed, Checkout Started, Order Completed.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use kairos_sample as sample;

/// Events written when `--events` is not given.
pub const ANCHOR_EVENTS_DEFAULT: usize = 1_000_000;
/// The sessions are spread over this many days before the generator's fixed start.
const SPAN_DAYS: i64 = 30;
/// The generator's seed: the same file every time.
const SEED: u64 = 0x4b41_4952_4f53;
/// Share of sessions with a cart that also view it.
const CART_VIEWED_SHARE: f64 = 0.5;

/// A random version-4 UUID from `rng`, as Segment's libraries write message ids.
fn uuid(rng: &mut impl RngExt) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// One session of a random shopper at a random time of the span, with a `Cart Viewed` after some carts.
fn session(
    shoppers: &mut [sample::Shopper],
    catalog: &[sample::SampleProduct],
    end: jiff::Timestamp,
    rng: &mut rand::rngs::StdRng,
) -> Vec<Value> {
    let idx = rng.random_range(0..shoppers.len());
    let secs = rng.random_range(0..SPAN_DAYS * 86_400);
    let start = end.checked_sub(jiff::SignedDuration::from_secs(secs)).unwrap_or(end);
    let mut ids = Vec::new();
    for _ in 0..16 {
        ids.push(uuid(rng));
    }
    let mut next = ids.into_iter();
    let mut next_id = || next.next().unwrap_or_default();
    let mut events = sample::session(&mut shoppers[idx], catalog, start, rng, &mut next_id);
    if let Some(last_add) = events.iter().rposition(|e| e["event"] == "Product Added")
        && rng.random_bool(CART_VIEWED_SHARE)
    {
        let added = &events[last_add];
        let products: Vec<Value> =
            events.iter().filter(|e| e["event"] == "Product Added").map(|e| e["properties"].clone()).collect();
        let mut viewed = added.clone();
        viewed["event"] = json!("Cart Viewed");
        viewed["messageId"] = json!(uuid(rng));
        viewed["properties"] = json!({"products": products, "currency": "EUR"});
        events.insert(last_add + 1, viewed);
    }
    events
}

/// Writes `events` events of `shoppers` shoppers to `out`, `batch` events per line.
pub fn generate(events: usize, shoppers: usize, batch: usize, out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(shoppers >= 1 && batch >= 1, "--shoppers and --batch-size must be at least 1");
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let catalog = sample::catalog(&mut rng);
    let mut people: Vec<sample::Shopper> = (0..shoppers).map(|i| sample::shopper(i, &mut rng)).collect();
    let end: jiff::Timestamp = "2026-11-01T00:00:00Z".parse()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let bar = ProgressBar::new(events as u64);
    bar.set_style(
        ProgressStyle::with_template("gen-events {bar:40} {pos}/{len} events")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut written, mut pending, mut kinds) = (0usize, Vec::with_capacity(batch), std::collections::BTreeMap::new());
    while written < events {
        for e in session(&mut people, &catalog, end, &mut rng) {
            if written + pending.len() >= events {
                break;
            }
            let kind =
                e["event"].as_str().map_or_else(|| e["type"].as_str().unwrap_or("?").to_string(), str::to_string);
            *kinds.entry(kind).or_insert(0usize) += 1;
            pending.push(e);
            if pending.len() == batch {
                written += flush(&mut file, &mut pending)?;
                bar.set_position(written as u64);
            }
        }
        if written + pending.len() >= events {
            written += flush(&mut file, &mut pending)?;
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
        assert!(backwards > 100, "sessions arrive out of time order: {backwards}");
        // The same file every time.
        let again = dir.path().join("again.jsonl");
        generate(5_000, 300, 100, &again).unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
    }
}
