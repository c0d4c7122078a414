//! `kairos bench render`: Liquid rendering as the sender does it (SPEC 15: ≥ 20 000 personalised emails/s with a
//! product loop). The anchor template (`render_anchor`: a ~10 KB abandoned-cart email in a layout, with a 3-item
//! product loop, `money` and `date` in the contact's time zone) is compiled once; then, for each of `n` distinct
//! synthetic contacts, their data is converted once (`Globals`) and every part is rendered: subject, html
//! (escaped data, layout, footer partial) and the text part derived from the html.
//!
//! Then, on one thread, the same template rendered by Kairos and by the `liquid` crate (`render_liquid`) in
//! alternating rounds, so both see the same machine at the same moments: renders/s per core and their ratio.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::render_anchor::{self as anchor, Shopper};
use crate::render_liquid::Liquid;

/// Renders between progress-bar updates (the bar is shared by the threads).
const PROGRESS_EVERY: u64 = 1024;
/// Alternating rounds of the per-core comparison (Kairos, then liquid, in each).
const COMPARE_ROUNDS: usize = 7;
/// Contacts made ready at once in the comparison (their data written before the clock starts).
const COMPARE_BATCH: usize = 500;

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Renders for `n` contacts on `threads` threads (throughput, latency), then the per-core comparison with the
/// `liquid` crate over `n` renders of each.
pub fn run(n: usize, threads: usize) -> anyhow::Result<()> {
    throughput(n, threads)?;
    compare(n)
}

fn throughput(n: usize, threads: usize) -> anyhow::Result<()> {
    let threads = threads.max(1);
    let (_renderer, template) = anchor::compile().map_err(|e| anyhow::anyhow!("benchmark template: {e}"))?;
    let store = anchor::store();
    let now: jiff::Timestamp = anchor::NOW.parse()?;

    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("rendering {bar:40} {pos}/{len}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<Duration>, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (template, store, bar) = (&template, &store, &bar);
                s.spawn(move || -> anyhow::Result<(Vec<Duration>, usize)> {
                    let mut shopper = Shopper::new();
                    let mut latencies = Vec::with_capacity(n / threads + 1);
                    let mut html_bytes = 0;
                    for i in (w..n).step_by(threads) {
                        shopper.personalise(i);
                        let t0 = Instant::now();
                        let globals = shopper.globals(store, now);
                        let out = template.render(&globals).map_err(|e| anyhow::anyhow!("render {i}: {e}"))?;
                        latencies.push(t0.elapsed());
                        html_bytes = out.html.as_ref().map_or(0, String::len);
                        if (latencies.len() as u64).is_multiple_of(PROGRESS_EVERY) {
                            bar.inc(PROGRESS_EVERY);
                        }
                    }
                    Ok((latencies, html_bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("render thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut latencies = Vec::with_capacity(n);
    let mut html_bytes = 0;
    for r in results {
        let (l, b) = r?;
        latencies.extend(l);
        html_bytes = html_bytes.max(b);
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).map_or(0, Duration::as_micros);
    println!(
        "render: {n} renders in {elapsed:.1} s = {} renders/s ({threads} threads), p50 {} µs, p99 {} µs",
        group((n as f64 / elapsed) as u64),
        pct(0.5),
        pct(0.99)
    );
    println!(
        "  per render: data → Globals, subject, {:.1} KB html (layout, footer partial, 3-item loop, money, date in 4 \
         zones), text part derived from the html",
        html_bytes as f64 / 1024.0
    );
    Ok(())
}

/// The CPU time this thread has run (Linux's schedstat), or None elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Renders per second of CPU time (of wall-clock time where it cannot be read) of `renders` renders of contacts
/// `first..`, one thread. CPU time: the cores here are shared, and a render waiting for its turn is not a slow
/// one. The contacts are made ready [`COMPARE_BATCH`] at a time, outside the measured time.
fn rate(
    renders: usize,
    first: usize,
    mut render: impl FnMut(&Shopper) -> anyhow::Result<usize>,
) -> anyhow::Result<f64> {
    let mut batch: Vec<Shopper> = (0..COMPARE_BATCH.min(renders)).map(|_| Shopper::new()).collect();
    let mut spent = Duration::ZERO;
    for start in (first..first + renders).step_by(COMPARE_BATCH) {
        let count = COMPARE_BATCH.min(first + renders - start);
        for (k, shopper) in batch.iter_mut().take(count).enumerate() {
            shopper.personalise(start + k);
        }
        let (cpu, wall) = (thread_cpu(), Instant::now());
        for shopper in &batch[..count] {
            std::hint::black_box(render(shopper)?);
        }
        spent += match (cpu, thread_cpu()) {
            (Some(a), Some(b)) => b - a,
            _ => wall.elapsed(),
        };
    }
    Ok(renders as f64 / spent.as_secs_f64())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// One thread: Kairos and the `liquid` crate in alternating rounds over the same contacts.
fn compare(n: usize) -> anyhow::Result<()> {
    let (_renderer, template) = anchor::compile().map_err(|e| anyhow::anyhow!("benchmark template: {e}"))?;
    let liquid = Liquid::compile()?;
    let store = anchor::store();
    let now: jiff::Timestamp = anchor::NOW.parse()?;
    let per_round = (n / COMPARE_ROUNDS).max(1);
    let kairos = |s: &Shopper| -> anyhow::Result<usize> {
        let out = template.render(&s.globals(&store, now)).map_err(|e| anyhow::anyhow!("render: {e}"))?;
        Ok(out.html.map_or(0, |h| h.len()) + out.text.map_or(0, |t| t.len()))
    };
    let (mut k, mut l, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..COMPARE_ROUNDS {
        let first = round * per_round;
        let kr = rate(per_round, first, kairos)?;
        let lr = rate(per_round, first, |s| liquid.render(s))?;
        k.push(kr);
        l.push(lr);
        ratios.push(kr / lr);
    }
    let (k, l) = (median(k), median(l));
    println!(
        "render per core (1 thread, {COMPARE_ROUNDS} alternating rounds of {} renders, medians, per second of CPU): \
         Kairos {} renders/s, the liquid crate {} renders/s: {:.2}x (median of the rounds' ratios {:.2}x)",
        group(per_round as u64),
        group(k as u64),
        group(l as u64),
        k / l,
        median(ratios)
    );
    println!(
        "  liquid renders the same sources and data (converted per render) without escaping, in UTC, and without \
         the text part"
    );
    Ok(())
}
