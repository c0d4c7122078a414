//! Daily series for charts: the days of a range in the workspace's time zone, and per day what a cohort of
//! messages earned (human opens and clicks by the day they happened, attributed orders by the day they were
//! placed). The day still running when the range ends is marked `partial`, so a chart shows it as "so far"
//! rather than as a dip.

use std::collections::{HashMap, HashSet};

use kairos_domain::{Money, SystemEvent, Timestamp};
use kairos_store::reports::{MessageEventRow, MessageRow};

use crate::{Attributed, SERIES_DAYS_MAX};

/// The local days of `[from, to)` in `timezone` (UTC when unknown), oldest first, and whether the last one is cut
/// short by `to` (it does not end at the next local midnight).
pub fn days(from: Timestamp, to: Timestamp, timezone: &str) -> (Vec<String>, bool) {
    let zone = if Timestamp::from_micros(0).to_jiff().in_tz(timezone).is_ok() { timezone } else { "UTC" };
    let day = |t: Timestamp| t.to_jiff().in_tz(zone).map(|z| z.date());
    let (Ok(first), Ok(last)) = (day(from), day(Timestamp::from_micros(to.as_micros().saturating_sub(1)))) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut d = first;
    while d <= last && out.len() < SERIES_DAYS_MAX {
        out.push(d.to_string());
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    // The last day is whole when `to` is its end, a local midnight: the instant where the date changes.
    let whole = day(to).is_ok_and(|d| d != last);
    (out, !whole)
}

/// The local date of `t` in `timezone` (UTC when unknown).
pub fn local_date(t: Timestamp, timezone: &str) -> Option<String> {
    let zone = if Timestamp::from_micros(0).to_jiff().in_tz(timezone).is_ok() { timezone } else { "UTC" };
    t.to_jiff().in_tz(zone).ok().map(|z| z.date().to_string())
}

/// What a cohort of messages earned on one local day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityDay {
    /// `YYYY-MM-DD` in the workspace's time zone.
    pub date: String,
    /// Messages first opened by a person that day (a click proves the open).
    pub opened: u64,
    /// Messages first clicked by a person that day.
    pub clicked: u64,
    /// Orders placed that day and attributed to these messages.
    pub conversions: u64,
    pub revenue: Money,
    /// The day was still running when the range ended.
    pub partial: bool,
}

/// Per local day of `[from, to)`: first human opens and clicks of the messages `rows`, and the orders attributed
/// to them, by the day each happened.
pub fn activity_series<'a>(
    rows: &'a [MessageRow],
    reactions: &'a [MessageEventRow],
    attributed: &[Attributed],
    from: Timestamp,
    to: Timestamp,
    timezone: &str,
) -> Vec<ActivityDay> {
    let (dates, partial) = days(from, to, timezone);
    let index: HashMap<&str, usize> = dates.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let mut out: Vec<ActivityDay> =
        dates.iter().map(|d| ActivityDay { date: d.clone(), ..ActivityDay::default() }).collect();
    if let Some(last) = out.last_mut() {
        last.partial = partial;
    }
    let ids: HashSet<&'a str> = rows.iter().map(|m| m.id.as_str()).collect();
    // The first human open and click of each message.
    let mut first_open: HashMap<&'a str, Timestamp> = HashMap::new();
    let mut first_click: HashMap<&'a str, Timestamp> = HashMap::new();
    for r in reactions.iter().filter(|r| !r.message.machine) {
        let Some(id) = r.message.message_id.as_deref().filter(|id| ids.contains(id)) else { continue };
        let kind = SystemEvent::parse(&r.name);
        let note = |m: &mut HashMap<&'a str, Timestamp>| {
            let e = m.entry(id).or_insert(r.at);
            *e = (*e).min(r.at);
        };
        match kind {
            Some(SystemEvent::EmailOpened) => note(&mut first_open),
            Some(SystemEvent::EmailClicked) => {
                note(&mut first_click);
                note(&mut first_open);
            }
            _ => {}
        }
    }
    let slot = |t: Timestamp| local_date(t, timezone).and_then(|d| index.get(d.as_str()).copied());
    for t in first_open.values() {
        if let Some(i) = slot(*t) {
            out[i].opened += 1;
        }
    }
    for t in first_click.values() {
        if let Some(i) = slot(*t) {
            out[i].clicked += 1;
        }
    }
    for a in attributed.iter().filter(|a| a.touch.message_id.as_deref().is_some_and(|id| ids.contains(id))) {
        if let Some(i) = slot(a.order.at) {
            out[i].conversions += 1;
            out[i].revenue = out[i].revenue.saturating_add(a.order.amount);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use kairos_domain::ContactId;
    use kairos_store::reports::MessageRef;

    use super::*;
    use crate::{Order, Touch, TouchKind};

    const H: i64 = 3_600_000_000;

    fn row(id: &str) -> MessageRow {
        MessageRow {
            id: id.into(),
            contact: ContactId(1),
            flow_id: None,
            campaign_id: Some("cmp".into()),
            step_id: None,
            variant: None,
            subject_variant: None,
            status: "sent".into(),
            statuses: vec!["sent".into()],
        }
    }

    fn reaction(id: &str, name: SystemEvent, at_h: i64, machine: bool) -> MessageEventRow {
        MessageEventRow {
            seq: at_h,
            contact: ContactId(1),
            at: Timestamp(at_h * H),
            name: name.as_str().into(),
            message: MessageRef { message_id: Some(id.into()), machine, ..MessageRef::default() },
        }
    }

    #[test]
    fn days_in_the_zone_with_the_running_day_marked() {
        // 2030-03-01T00:00Z .. 2030-03-03T12:00Z in UTC: three days, the last cut short.
        let from = Timestamp::parse("2030-03-01T00:00:00Z").unwrap();
        let noon = Timestamp::parse("2030-03-03T12:00:00Z").unwrap();
        assert_eq!(
            days(from, noon, "UTC"),
            (vec!["2030-03-01".into(), "2030-03-02".into(), "2030-03-03".into()], true)
        );
        let midnight = Timestamp::parse("2030-03-03T00:00:00Z").unwrap();
        assert_eq!(days(from, midnight, "UTC"), (vec!["2030-03-01".into(), "2030-03-02".into()], false));
        // Helsinki is UTC+2: 2030-03-03T22:00Z is its midnight, so that range ends whole.
        let hel = Timestamp::parse("2030-03-02T22:00:00Z").unwrap();
        assert_eq!(days(from, hel, "Europe/Helsinki"), (vec!["2030-03-01".into(), "2030-03-02".into()], false));
    }

    #[test]
    fn first_human_opens_and_clicks_and_attributed_orders_by_the_day_they_happened() {
        let from = Timestamp(0);
        let to = Timestamp(60 * H); // two days and a half
        let rows = [row("a"), row("b")];
        let reactions = [
            reaction("a", SystemEvent::EmailOpened, 1, false),
            reaction("a", SystemEvent::EmailOpened, 30, false), // a second open: not counted again
            reaction("b", SystemEvent::EmailOpened, 2, true),   // a machine: never counted
            reaction("b", SystemEvent::EmailClicked, 50, false), // a click proves the open
            reaction("x", SystemEvent::EmailClicked, 3, false), // another cohort's message
        ];
        let order =
            Order { seq: 1, contact: ContactId(1), at: Timestamp(26 * H), amount: Money(4_500), order_id: None };
        let touch = Touch {
            seq: 1,
            contact: ContactId(1),
            at: Timestamp(H),
            kind: TouchKind::Open,
            channel: "email".into(),
            message_id: Some("a".into()),
            flow_id: None,
            step_id: None,
            campaign_id: Some("cmp".into()),
        };
        let s = activity_series(&rows, &reactions, &[Attributed { order, touch }], from, to, "UTC");
        let got: Vec<(u64, u64, u64, i64, bool)> =
            s.iter().map(|d| (d.opened, d.clicked, d.conversions, d.revenue.cents(), d.partial)).collect();
        assert_eq!(got, [(1, 0, 0, 0, false), (0, 0, 1, 4_500, false), (1, 1, 0, 0, true)]);
    }
}
