//! The demo's history, lived rather than written: the engine runs on a clock that walks through the past days
//! a few minutes at a time. Shoppers browse, leave carts and buy; the library flows and the campaigns send
//! through the real engine; people open, click, unsubscribe and buy after a click, each through the same path a
//! real recipient takes (signed links, `Order Completed`). So every number the UI shows (flow entries, recovered
//! revenue, the A/B winner, tasks) comes out of the product itself, not out of made-up rows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use kairos_domain::{ContactId, Event, Timestamp, WorkspaceId};
use kairos_engine::{Clock, Engine, ManualClock};
use kairos_sample::behaviour::{self, Reaction};
use kairos_sample::{SampleProduct, Shopper};
use rand::RngExt;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::demo_content;

mod catalog;
mod reactions;

const MINUTE_US: i64 = 60_000_000;
pub(crate) const DAY_US: i64 = 24 * 60 * MINUTE_US;
/// Simulated time between two looks at the store (sessions, reactions, timers): a flow's delay fires at most
/// this late.
const STEP_US: i64 = 10 * MINUTE_US;
/// How long before the history starts the store's existing customers came over: old enough that those who
/// never open become "Unengaged 180 days" before the history ends.
const IMPORT_BEFORE_US: i64 = 100 * DAY_US;
/// One in this many shoppers is a customer from before Kairos.
const EXISTING_ONE_IN: usize = 4;
/// Campaigns go out at this time of their day (UTC): late morning in the store's Europe.
const CAMPAIGN_AT_US: i64 = 9 * 60 * MINUTE_US;
/// The mail app the history's readers open and click in (a person's, not a scanner's).
const READER_AGENT: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";

/// What the history produced, for the closing line.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub events: usize,
    pub emails: usize,
    pub opens: usize,
    pub clicks: usize,
    pub orders_after_click: usize,
}

/// Something waiting for its time.
enum Due {
    /// A recipient's reaction to a message.
    Reaction { message: String, shopper: usize, reaction: Reaction },
    /// A shopper returns an order (its `Order Completed` event).
    Refund { shopper: usize, order: Value },
}

pub(crate) struct History {
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub ws: WorkspaceId,
    pub rng: StdRng,
    pub catalog: Vec<SampleProduct>,
    pub shoppers: Vec<Shopper>,
    /// Carts left at checkout, by shopper: what an abandoned-cart email brings back.
    carts: HashMap<usize, Vec<Value>>,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    due: HashMap<u64, Due>,
    /// Numbers the sample events' ids and the scheduled items.
    ids: u64,
    /// Events are read for sends up to this sequence.
    seen_seq: i64,
    who: HashMap<ContactId, Option<usize>>,
    segments: HashMap<String, String>,
    pub tally: Tally,
}

type Res<T> = anyhow::Result<T>;

fn at(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl History {
    pub fn new(
        engine: Arc<Engine>,
        clock: Arc<ManualClock>,
        ws: WorkspaceId,
        rng: StdRng,
        catalog: Vec<SampleProduct>,
        shoppers: Vec<Shopper>,
    ) -> History {
        History {
            engine,
            clock,
            ws,
            rng,
            catalog,
            shoppers,
            carts: HashMap::new(),
            queue: BinaryHeap::new(),
            due: HashMap::new(),
            ids: 0,
            seen_seq: 0,
            who: HashMap::new(),
            segments: HashMap::new(),
            tally: Tally::default(),
        }
    }

    fn next_id(&mut self) -> String {
        event_id(&mut self.ids)
    }

    /// Stores sample events (Segment's wire shape) received at the clock's time, after moving it to the
    /// latest of them.
    async fn ingest(&mut self, values: Vec<Value>) -> Res<()> {
        if values.is_empty() {
            return Ok(());
        }
        let latest = values.iter().filter_map(|v| v["timestamp"].as_str()?.parse::<jiff::Timestamp>().ok()).max();
        if let Some(t) = latest {
            self.clock.advance_to(Timestamp::from_micros(t.as_microsecond()));
        }
        let now = self.clock.now();
        self.tally.events += values.len();
        let events = values
            .into_iter()
            .map(|v| Event::from_segment(v, None, now, &mut crate::demo::unreachable_id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("sample event: {e}"))?;
        self.engine.ingest(self.ws, true, events).await?;
        Ok(())
    }

    /// The customers the store had before Kairos: known from `first - IMPORT_BEFORE_US`, with orders since.
    pub async fn existing_customers(&mut self, first: i64) -> Res<()> {
        let import = first - IMPORT_BEFORE_US;
        self.clock.advance_to(Timestamp::from_micros(import));
        let mut n = 0u64;
        let window = (at(import), at(first - MINUTE_US), IMPORT_BEFORE_US - DAY_US);
        let events = behaviour::existing_customers(
            &mut self.shoppers,
            &self.catalog,
            EXISTING_ONE_IN,
            window,
            &mut self.rng,
            &mut || {
                n += 1;
                format!("demo-before-{n:07}")
            },
        );
        // A week at a time, the clock just past each week's last order: nothing arrives from the future.
        let mut week: Vec<Value> = Vec::new();
        let mut week_end = import + 7 * DAY_US;
        for v in events {
            let t = v["timestamp"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
            if t.is_some_and(|t| t.as_microsecond() >= week_end) {
                self.ingest(std::mem::take(&mut week)).await?;
                week_end += 7 * DAY_US;
            }
            week.push(v);
        }
        self.ingest(week).await
    }

    /// Creates the demo's segments (remembered by name for the campaigns).
    pub async fn segments(&mut self) -> Res<()> {
        for (name, definition) in demo_content::SEGMENTS {
            let expr =
                kairos_segment::parse::parse(definition).map_err(|e| anyhow::anyhow!("demo segment {name}: {e}"))?;
            let reply = self
                .engine
                .segment(self.ws, kairos_engine::SegmentCmd::Create { name: name.to_string(), expr })
                .await?;
            if let kairos_engine::SegmentReply::Info(info) = reply {
                self.segments.insert(name.to_string(), info.id);
            }
        }
        Ok(())
    }

    /// Lives `days` days from `first`, reporting each finished day to `day_done`.
    pub async fn live(&mut self, first: i64, days: u32, mut day_done: impl FnMut(&Tally)) -> Res<()> {
        let end = first + i64::from(days) * DAY_US;
        // On its day at 09:00 UTC, never before the history starts.
        let on_day = |share: f64| {
            let day = (first + (share * f64::from(days)).floor() as i64 * DAY_US).div_euclid(DAY_US) * DAY_US;
            (day + CAMPAIGN_AT_US).max(first)
        };
        let campaigns: Vec<i64> = demo_content::CAMPAIGNS.iter().map(|c| on_day(c.at)).collect();
        let mut launched = vec![false; campaigns.len()];
        let moments: Vec<i64> = demo_content::CATALOG_MOMENTS.iter().map(|(share, _)| on_day(*share)).collect();
        let mut happened = vec![false; moments.len()];
        for day in 0..days {
            let day_start = first + i64::from(day) * DAY_US;
            let mut sessions = self.sessions(day_start).into_iter().peekable();
            let mut t = day_start;
            while t < (day_start + DAY_US).min(end) {
                let step_end = (t + STEP_US).min(end);
                // Not on the minute: people and timers do not act on round numbers.
                let jitter = self.rng.random_range(0..30_000_000).min(step_end - t - 1);
                let now = self.clock.advance_to(Timestamp::from_micros(step_end - jitter)).as_micros();
                for (i, when) in campaigns.iter().enumerate() {
                    if !launched[i] && *when <= now {
                        launched[i] = true;
                        self.launch(i).await?;
                    }
                }
                for (i, when) in moments.iter().enumerate() {
                    if !happened[i] && *when <= now {
                        happened[i] = true;
                        self.catalog_moment(demo_content::CATALOG_MOMENTS[i].1).await?;
                    }
                }
                let orders = self.react(now).await?;
                let mut batch: Vec<Value> = orders;
                batch.extend(self.take_sessions(&mut sessions, now));
                self.ingest(batch).await?;
                self.engine.tick().await?;
                self.read_sends().await?;
                t = step_end;
            }
            day_done(&self.tally);
        }
        Ok(())
    }

    /// Browsing sessions of the day starting at `day_start`, by time: (timestamp, shopper, event).
    fn sessions(&mut self, day_start: i64) -> Vec<(i64, (usize, Value))> {
        let mut out = Vec::new();
        for i in 0..self.shoppers.len() {
            // Engaged shoppers visit more often; everyone visits now and then.
            if !self.rng.random_bool(0.02 + 0.08 * self.shoppers[i].propensity) {
                continue;
            }
            let start = at(day_start + self.rng.random_range(0..DAY_US));
            let ids = &mut self.ids;
            let mut next_id = || event_id(ids);
            let events =
                kairos_sample::session(&mut self.shoppers[i], &self.catalog, start, &mut self.rng, &mut next_id);
            for v in events {
                let ts = v["timestamp"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
                out.push((ts.map_or(day_start, |t| t.as_microsecond()), (i, v)));
            }
        }
        out.sort_by_key(|(ts, _)| *ts);
        out
    }

    /// The sessions' events up to `now`, noting carts left and carts bought.
    fn take_sessions(
        &mut self,
        sessions: &mut std::iter::Peekable<impl Iterator<Item = (i64, (usize, Value))>>,
        now: i64,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some((_, (shopper, v))) = sessions.next_if(|(ts, _)| *ts <= now) {
            match v["event"].as_str() {
                Some("Checkout Started") => {
                    let items = v["properties"]["products"].as_array().cloned().unwrap_or_default();
                    self.carts.insert(shopper, items);
                }
                Some("Order Completed") => {
                    self.carts.remove(&shopper);
                    self.maybe_refund(shopper, &v);
                }
                _ => {}
            }
            out.push(v);
        }
        out
    }
}

/// The next sample event id of the history.
fn event_id(counter: &mut u64) -> String {
    *counter += 1;
    format!("demo-{counter:09}")
}
