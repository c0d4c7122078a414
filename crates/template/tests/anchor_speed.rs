//! Renders/s of the anchor template on one thread, and of its parts, for quick measurements while working on the
//! renderer (`kairos bench render` is the measurement of record):
//! `cargo test --release -p kairos-template --test anchor_speed -- --ignored --nocapture`.

mod anchor;
mod reference {
    pub mod text;
}

use std::time::Instant;

/// Renders per measurement, and measurements (the median is printed).
const RENDERS: usize = 20_000;
const ROUNDS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[test]
#[ignore = "a measurement, not a check: run it in release"]
fn anchor_renders_per_second() {
    let (_, template) = anchor::compile().unwrap();
    let store = anchor::store();
    let now: jiff::Timestamp = anchor::NOW.parse().unwrap();
    let mut shopper = anchor::Shopper::new();
    shopper.personalise(4);
    let html = template.render(&shopper.globals(&store, now)).unwrap().html.unwrap();
    let (mut full, mut globals, mut text, mut text_before) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for i in 0..RENDERS {
            shopper.personalise(i);
            std::hint::black_box(template.render(&shopper.globals(&store, now)).unwrap());
        }
        full.push(RENDERS as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for _ in 0..RENDERS {
            std::hint::black_box(shopper.globals(&store, now));
        }
        globals.push(t.elapsed().as_secs_f64() * 1e6 / RENDERS as f64);
        let t = Instant::now();
        for _ in 0..RENDERS {
            std::hint::black_box(kairos_template::html_to_text(std::hint::black_box(&html)));
        }
        text.push(t.elapsed().as_secs_f64() * 1e6 / RENDERS as f64);
        let t = Instant::now();
        for _ in 0..RENDERS {
            std::hint::black_box(reference::text::html_to_text(std::hint::black_box(&html)));
        }
        text_before.push(t.elapsed().as_secs_f64() * 1e6 / RENDERS as f64);
    }
    println!(
        "anchor: {:.0} renders/s (personalising included); Globals {:.2} µs; html_to_text {:.2} µs (before issue \
         17: {:.2} µs)",
        median(full),
        median(globals),
        median(text),
        median(text_before)
    );
}
