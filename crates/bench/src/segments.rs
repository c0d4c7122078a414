//! `kairos bench segments`: the segment engine over synthetic contacts held in memory, as the committer holds
//! them: full evaluation of a 5-condition segment, incremental update per event, memory per contact (the
//! profiles and the segment state measured apart), and the first evaluation of a segment reading a field no
//! segment read before (its column is filled from the profiles first).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kairos_domain::{ConsentStatus, Contact, ContactId, Event, JsonMap, Money, Timestamp, WorkspaceId};
use kairos_engine::profiles::ProfileMap;
use kairos_engine::segments::{Change, SegDef, Segments};
use rand::{RngExt, SeedableRng};
use serde_json::json;

const DEFINITION: &str = "orders.count >= 2 and orders.total_spent > 100 and trait.city = \"Helsinki\" \
    and did \"Product Viewed\" where category = \"bicycles\" within 30d and subscribed email";
const CITIES: &[&str] = &["Helsinki", "Tampere", "Turku", "Oulu", "Espoo"];
const CATEGORIES: &[&str] = &["bicycles", "helmets", "lights", "clothing", "tools", "parts"];
/// A second segment, created after the measurements: `trait.first_name` is read by no segment before it.
const NEW_FIELD_DEFINITION: &str = "trait.first_name = \"Aino\" and orders.count >= 1";
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

fn install(seg: &mut Segments, ws: WorkspaceId, definition: &str, row: i64, now: Timestamp) -> anyhow::Result<u32> {
    let expr = kairos_segment::parse::parse(definition).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (node, refs) = seg.compile(ws, &expr, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let def = SegDef {
        row,
        public_id: format!("seg_bench{row}"),
        ws,
        name: format!("bench {row}"),
        expr,
        node,
        refs,
        created_at: now,
        updated_at: now,
    };
    Ok(seg.install(def, None))
}

fn progress(what: &'static str, n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} contacts"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn run(contacts: usize, events_per_contact: usize, updates: usize) -> anyhow::Result<()> {
    let ws = WorkspaceId(1);
    let now = Timestamp::from_secs(1_900_000_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut events_rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut seg = Segments::default();
    let idx = install(&mut seg, ws, DEFINITION, 1, now)?;
    let _ = seg.take_pending_backfill();

    // The profiles first, then the segment state, so each one's resident memory is measured on its own.
    let rss_start = rss_bytes();
    let bar = progress("profiles", contacts);
    // Held as the committer holds a loaded store's profiles: packed until used.
    let mut people = ProfileMap::with_capacity(contacts);
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
        people.insert_packed(&c);
        if i % 10_000 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let rss_profiles = rss_bytes();
    let packed = people.packed_bytes();
    // What the committer does for each new contact: its row takes the profile at commit, its events are
    // recorded in the conditions they match.
    let bar = progress("segment state", contacts);
    for i in 0..contacts {
        let id = ContactId(i as i64 + 1);
        seg.refresh(&[id], &people);
        for _ in 0..events_per_contact {
            let at = now.as_micros() - events_rng.random_range(0..60 * DAY_US);
            let category = CATEGORIES[events_rng.random_range(0..CATEGORIES.len())];
            seg.record(ws, id, &view_event(at, category), now);
        }
        if i % 10_000 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let rss_segments = rss_bytes();

    let started = Instant::now();
    let changed = seg.full_evaluation(idx, &people, &[], now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let full = started.elapsed();
    let size = seg.size(idx);

    // The same evaluation again (no membership changes now) on one thread and on the automatic number, to
    // show what the split buys.
    let mut again = |threads: usize| -> anyhow::Result<f64> {
        seg.set_full_evaluation_threads(threads);
        let started = Instant::now();
        seg.full_evaluation(idx, &people, &[], now).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    };
    let (one_thread, automatic) = (again(1)?, again(0)?);
    let threads = seg.full_evaluation_threads();

    // Incremental: a new event for a random contact, then re-evaluation of its segments (as the committer does
    // for each event); then, apart, the refresh of the contact's row that the commit does once per contact the
    // transaction changed.
    let mut changes: Vec<Change> = Vec::new();
    let mut latencies = Vec::with_capacity(updates);
    let mut refreshes = Vec::with_capacity(updates);
    for n in 0..updates {
        let id = ContactId(rng.random_range(1..=contacts as i64));
        let c = people.get(&id).expect("every id 1..=N is held");
        let ev = view_event(now.as_micros() - (n as i64 % 1000), CATEGORIES[n % CATEGORIES.len()]);
        let t0 = Instant::now();
        seg.record(ws, c.id, &ev, now);
        seg.evaluate(ws, &c, now, &mut changes);
        let t1 = Instant::now();
        seg.refresh(&[c.id], &people);
        refreshes.push(t1.elapsed().as_nanos() as u64);
        latencies.push((t1 - t0).as_nanos() as u64);
    }
    latencies.sort_unstable();
    refreshes.sort_unstable();
    let pct = |xs: &[u64], p: f64| xs[((xs.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    let mean = |xs: &[u64]| xs.iter().sum::<u64>() as f64 / xs.len().max(1) as f64 / 1000.0;
    let counted = seg.memory_bytes();

    let second = install(&mut seg, ws, NEW_FIELD_DEFINITION, 2, now)?;
    let started = Instant::now();
    seg.full_evaluation(second, &people, &[], now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let new_field = started.elapsed();

    let per = |bytes: u64| bytes as f64 / contacts.max(1) as f64;
    println!(
        "kairos bench segments: {contacts} contacts, {events_per_contact} events each, {updates} incremental updates"
    );
    println!("  definition: {DEFINITION}");
    println!("  full evaluation: {:.0} ms ({} members, {} changed)", full.as_secs_f64() * 1000.0, size, changed.len());
    println!("  again, no membership changing: {one_thread:.0} ms on 1 thread, {automatic:.0} ms on {threads} threads");
    println!(
        "  incremental update per event: mean {:.2} us, p50 {:.2} us, p99 {:.2} us ({} membership changes); \
         commit refresh per changed contact: mean {:.2} us, p99 {:.2} us",
        mean(&latencies),
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        changes.len(),
        mean(&refreshes),
        pct(&refreshes, 0.99)
    );
    println!(
        "  memory: {:.0} bytes per contact resident (profile + segment state): profiles {:.0} ({:.0} packed), \
         segment state {:.0} ({:.0} counted)",
        per(rss_segments.saturating_sub(rss_start)),
        per(rss_profiles.saturating_sub(rss_start)),
        per(packed as u64),
        per(rss_segments.saturating_sub(rss_profiles)),
        per(counted as u64)
    );
    println!(
        "  first evaluation of a segment reading a new field ({NEW_FIELD_DEFINITION}): {:.0} ms ({} members)",
        new_field.as_secs_f64() * 1000.0,
        seg.size(second)
    );
    Ok(())
}
