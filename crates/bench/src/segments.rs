//! `kairos bench segments`: the segment engine over synthetic contacts held in memory, as the committer holds
//! them: full evaluation of a 5-condition segment, incremental update per event, memory per contact.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::{ConsentStatus, Contact, ContactId, Event, JsonMap, Money, Timestamp, WorkspaceId};
use kairos_engine::segments::{Change, SegDef, Segments};
use rand::{RngExt, SeedableRng};
use serde_json::json;

const DEFINITION: &str = "orders.count >= 2 and orders.total_spent > 100 and trait.city = \"Helsinki\" \
    and did \"Product Viewed\" where category = \"bicycles\" within 30d and subscribed email";
const CITIES: &[&str] = &["Helsinki", "Tampere", "Turku", "Oulu", "Espoo"];
const CATEGORIES: &[&str] = &["bicycles", "helmets", "lights", "clothing", "tools", "parts"];
const DAY_US: i64 = 86_400_000_000;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn view_event(at: i64, category: &str) -> Event {
    let mut props = JsonMap::new();
    props.insert("category".into(), json!(category));
    props.insert("product_id".into(), json!("p-1"));
    let mut e = Event::system("Product Viewed", String::new(), props, Timestamp::from_micros(at));
    e.system = false;
    e
}

pub fn run(contacts: usize, events_per_contact: usize, updates: usize) -> anyhow::Result<()> {
    let ws = WorkspaceId(1);
    let now = Timestamp::from_secs(1_900_000_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut seg = Segments::default();
    let expr = kairos_segment::parse::parse(DEFINITION).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (node, refs) = seg.compile(ws, &expr, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let idx = seg.install(
        SegDef {
            row: 1,
            public_id: "seg_bench".into(),
            ws,
            name: "bench".into(),
            expr,
            node,
            refs,
            created_at: now,
            updated_at: now,
        },
        None,
    );
    let _ = seg.take_pending_backfill();

    let rss_before = rss_bytes();
    let bar = ProgressBar::new(contacts as u64);
    bar.set_style(
        ProgressStyle::with_template("building {bar:40} {pos}/{len} contacts")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut people: Vec<Contact> = Vec::with_capacity(contacts);
    for i in 0..contacts {
        let id = ContactId(i as i64 + 1);
        let mut c = Contact::new(id, ws, now);
        c.user_id = Some(format!("cust-{i}"));
        c.traits.insert("city".into(), json!(CITIES[rng.random_range(0..CITIES.len())]));
        c.traits.insert("first_name".into(), json!("Aino"));
        c.computed.orders.count = rng.random_range(0..5);
        c.computed.orders.total_spent = Money::from_cents(rng.random_range(0..50_000));
        c.computed.last_seen_at = Some(Timestamp::from_micros(now.as_micros() - rng.random_range(0..90 * DAY_US)));
        if rng.random_bool(0.6) {
            c.set_consent("email", ConsentStatus::Subscribed, now, "bench");
        }
        for _ in 0..events_per_contact {
            let at = now.as_micros() - rng.random_range(0..60 * DAY_US);
            seg.record(ws, id, &view_event(at, CATEGORIES[rng.random_range(0..CATEGORIES.len())]), now);
        }
        people.push(c);
        if i % 10_000 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let rss_after = rss_bytes();

    let started = Instant::now();
    let changed = seg.full_evaluation(idx, people.iter(), now);
    let full = started.elapsed();
    let size = seg.size(idx);

    // Incremental: a new event for a random contact, then re-evaluation of its segments.
    let mut changes: Vec<Change> = Vec::new();
    let mut latencies = Vec::with_capacity(updates);
    let started = Instant::now();
    for n in 0..updates {
        let c = &people[rng.random_range(0..people.len())];
        let ev = view_event(now.as_micros() - (n as i64 % 1000), CATEGORIES[n % CATEGORIES.len()]);
        let t0 = Instant::now();
        seg.record(ws, c.id, &ev, now);
        seg.evaluate(ws, c, now, &mut changes);
        latencies.push(t0.elapsed().as_nanos() as u64);
    }
    let incremental = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;

    println!(
        "kairos bench segments: {contacts} contacts, {events_per_contact} events each, {updates} incremental updates"
    );
    println!("  definition: {DEFINITION}");
    println!("  full evaluation: {:.0} ms ({} members, {} changed)", full.as_secs_f64() * 1000.0, size, changed.len());
    println!(
        "  incremental update per event: mean {:.2} us, p50 {:.2} us, p99 {:.2} us ({} membership changes)",
        incremental.as_secs_f64() * 1e6 / updates.max(1) as f64,
        pct(0.5),
        pct(0.99),
        changes.len()
    );
    println!(
        "  memory: {:.0} bytes per contact resident (profile + segment state), of which segment state {:.0}",
        (rss_after.saturating_sub(rss_before)) as f64 / contacts as f64,
        seg.memory_bytes() as f64 / contacts as f64
    );
    Ok(())
}
