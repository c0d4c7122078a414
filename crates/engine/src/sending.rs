//! Sending discipline (SPEC 6): smart sending, frequency caps and quiet hours in the contact's time zone.
//! A marketing send they block is deferred to the earliest allowed moment (or skipped when the step says so);
//! transactional sends bypass them. Pure decisions over a per-contact log of recent sends.

use std::collections::HashMap;

use kairos_domain::Channel;
use kairos_domain::{ContactId, Duration, SkipReason, Timestamp};

/// Workspace rules. Defaults follow SPEC 16 (`[sending]`): smart sending 16 h (per channel, as Klaviyo does),
/// SMS quiet hours 21:00–09:00.
#[derive(Debug, Clone)]
pub struct Rules {
    pub smart_sending: Option<Duration>,
    /// Local quiet window per channel, in minutes after midnight (start, end), wrapping midnight.
    pub quiet_hours: HashMap<Channel, (u32, u32)>,
    /// Most marketing messages per channel in a rolling day.
    pub daily_cap: HashMap<Channel, usize>,
    /// Most marketing messages per channel in a rolling week.
    pub weekly_cap: HashMap<Channel, usize>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            smart_sending: Some(Duration::from_secs(16 * 3600)),
            quiet_hours: HashMap::from([(Channel::Sms, (21 * 60, 9 * 60))]),
            daily_cap: HashMap::new(),
            weekly_cap: HashMap::new(),
        }
    }
}

/// How long sends are remembered for smart sending and caps.
pub const SEND_LOG_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const DAY: Duration = Duration::from_secs(86_400);
const WEEK: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Not before `until`; `reason` names the rule, `behind` the earlier send it waits for (smart sending, caps).
    Blocked {
        until: Timestamp,
        reason: SkipReason,
        behind: Option<String>,
    },
}

/// One remembered marketing send.
#[derive(Debug, Clone)]
struct Sent {
    channel: Channel,
    at: Timestamp,
    priority: u8,
    message: String,
}

/// Recent marketing sends per contact and channel, with their priorities.
#[derive(Default)]
pub struct SendLog {
    sends: HashMap<ContactId, Vec<Sent>>,
}

impl SendLog {
    pub fn record(&mut self, contact: ContactId, channel: Channel, at: Timestamp, priority: u8, message: &str) {
        let list = self.sends.entry(contact).or_default();
        list.retain(|s| s.at > at.saturating_sub(SEND_LOG_WINDOW));
        list.push(Sent { channel, at, priority, message: message.to_string() });
    }

    fn of(&self, contact: ContactId) -> &[Sent] {
        self.sends.get(&contact).map_or(&[], Vec::as_slice)
    }
}

/// The next instant at or after `now` outside the local quiet window `(start, end)` in `tz`.
fn after_quiet(now: Timestamp, tz: &jiff::tz::TimeZone, (start, end): (u32, u32)) -> Option<Timestamp> {
    let zoned = now.to_jiff().to_zoned_datetime(tz.clone());
    let minute = u32::from(zoned.hour() as u8) * 60 + u32::from(zoned.minute() as u8);
    let quiet = if start <= end { minute >= start && minute < end } else { minute >= start || minute < end };
    if !quiet {
        return None;
    }
    // The window ends today at `end` if we are before it, else tomorrow; DST gaps resolve forward.
    let mut date = zoned.date();
    if start > end && minute >= start {
        date = date.tomorrow().ok()?;
    }
    let local = date.at((end / 60) as i8, (end % 60) as i8, 0, 0);
    let end_at = tz.to_ambiguous_timestamp(local).compatible().ok()?;
    Some(kairos_domain::Timestamp::from_micros(end_at.as_microsecond()))
}

/// A marketing send to decide.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub contact: ContactId,
    pub tz: Option<&'a str>,
    pub channel: Channel,
    /// The step's smart-sending window (`Some(None)`: off; None: the workspace's).
    pub smart: Option<Option<Duration>>,
    /// The person chose at most this many marketing messages on the channel in any 7 days (preference centre).
    pub chosen_per_week: Option<usize>,
    /// The flow's or campaign's priority: only sends of at least this priority make it wait.
    pub priority: u8,
    pub now: Timestamp,
}

/// Decides a marketing send now. Smart sending and the workspace's caps count only earlier sends of at least
/// the same priority, so a higher priority never waits behind a lower one (SPEC 16 "Priority"); the person's own
/// frequency choice counts every marketing send (it is theirs, not the store's ranking).
pub fn decide_for(rules: &Rules, log: &SendLog, ask: &Ask) -> Decision {
    let (channel, now) = (ask.channel, ask.now);
    let mut until: Option<(Timestamp, SkipReason, Option<&str>)> = None;
    fn later<'a>(
        until: &mut Option<(Timestamp, SkipReason, Option<&'a str>)>,
        t: Timestamp,
        reason: SkipReason,
        behind: Option<&'a str>,
    ) {
        if until.is_none_or(|(u, _, _)| t > u) {
            *until = Some((t, reason, behind));
        }
    }
    let sent = log.of(ask.contact);
    let ranked = |s: &&Sent| s.channel == channel && s.priority >= ask.priority;
    if let Some(window) = ask.smart.unwrap_or(rules.smart_sending)
        && let Some(last) =
            sent.iter().filter(ranked).filter(|s| s.at > now.saturating_sub(window)).max_by_key(|s| s.at)
    {
        later(&mut until, last.at.saturating_add(window), SkipReason::SmartSending, Some(&last.message));
    }
    let caps = [
        (rules.daily_cap.get(&channel).copied(), DAY, SkipReason::FrequencyCap, true),
        (rules.weekly_cap.get(&channel).copied(), WEEK, SkipReason::WeeklyCap, true),
        (ask.chosen_per_week, WEEK, SkipReason::ChosenFrequency, false),
    ];
    for (cap, span, reason, by_priority) in caps {
        if let Some(cap) = cap {
            let mut recent: Vec<&Sent> = sent
                .iter()
                .filter(|s| s.channel == channel && (!by_priority || s.priority >= ask.priority))
                .filter(|s| s.at > now.saturating_sub(span))
                .collect();
            if recent.len() >= cap {
                recent.sort_by_key(|s| s.at);
                // Allowed again when the oldest send within the span leaves the rolling window.
                let oldest = recent[recent.len() - cap];
                later(&mut until, oldest.at.saturating_add(span), reason, Some(&oldest.message));
            }
        }
    }
    if let Some(&window) = rules.quiet_hours.get(&channel) {
        let zone = ask.tz.and_then(|z| jiff::tz::db().get(z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
        // Quiet hours apply at the moment the other rules allow, not only now.
        let at = until.map_or(now, |(t, _, _)| t);
        if let Some(t) = after_quiet(at, &zone, window) {
            later(&mut until, t, SkipReason::QuietHours, None);
        }
    }
    match until {
        Some((until, reason, behind)) if until > now => {
            Decision::Blocked { until, reason, behind: behind.map(str::to_string) }
        }
        _ => Decision::Send,
    }
}

/// The next instant after `now` at local `minutes` after midnight on one of `weekdays` (0 = Monday; empty = any)
/// in `tz` (a `delay ... until` step). DST gaps resolve forward.
pub fn next_local_slot(now: Timestamp, tz: Option<&str>, minutes: u32, weekdays: &[u8]) -> Timestamp {
    let zone = tz.and_then(|z| jiff::tz::db().get(z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = now.to_jiff().to_zoned_datetime(zone.clone()).date();
    for d in 0..=7i64 {
        let Ok(date) = today.checked_add(jiff::SignedDuration::from_hours(24 * d)) else { continue };
        let weekday = date.weekday().to_monday_zero_offset() as u8;
        if !weekdays.is_empty() && !weekdays.contains(&weekday) {
            continue;
        }
        let local = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
        if let Ok(t) = zone.to_ambiguous_timestamp(local).compatible() {
            let t = Timestamp::from_micros(t.as_microsecond());
            if t > now {
                return t;
            }
        }
    }
    kairos_flow::run::next_slot(now, minutes, weekdays)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flow's send (priority 50) without a frequency choice.
    fn decide(
        rules: &Rules,
        log: &SendLog,
        contact: ContactId,
        tz: Option<&str>,
        channel: Channel,
        smart: Option<Option<Duration>>,
        now: Timestamp,
    ) -> Decision {
        let ask = Ask { contact, tz, channel, smart, chosen_per_week: None, priority: 50, now };
        decide_for(rules, log, &ask)
    }

    fn blocked(until: Timestamp, reason: SkipReason, behind: Option<&str>) -> Decision {
        Decision::Blocked { until, reason, behind: behind.map(str::to_string) }
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn smart_sending_defers_until_the_window_passes() {
        let rules = Rules::default();
        let mut log = SendLog::default();
        let c = ContactId(1);
        log.record(c, Channel::Email, at("2026-11-23T10:00:00Z"), 50, "m1");
        let d = decide(&rules, &log, c, None, Channel::Email, None, at("2026-11-23T12:00:00Z"));
        assert_eq!(d, blocked(at("2026-11-24T02:00:00Z"), SkipReason::SmartSending, Some("m1")));
        assert_eq!(
            decide(&rules, &log, c, None, Channel::Email, Some(None), at("2026-11-23T12:00:00Z")),
            Decision::Send
        );
        assert_eq!(decide(&rules, &log, c, None, Channel::Email, None, at("2026-11-24T02:00:01Z")), Decision::Send);
    }

    #[test]
    fn quiet_hours_follow_the_contact_zone_across_dst() {
        let rules = Rules { smart_sending: None, ..Rules::default() };
        let log = SendLog::default();
        let c = ContactId(1);
        // 22:30 in Helsinki (UTC+2 in winter) waits for 09:00 local = 07:00 UTC next day.
        let d = decide(&rules, &log, c, Some("Europe/Helsinki"), Channel::Sms, None, at("2026-11-23T20:30:00Z"));
        assert_eq!(d, blocked(at("2026-11-24T07:00:00Z"), SkipReason::QuietHours, None));
        // The night the clocks go forward (2026-03-29 in the EU): 09:00 local is then UTC+3.
        let d = decide(&rules, &log, c, Some("Europe/Helsinki"), Channel::Sms, None, at("2026-03-28T22:00:00Z"));
        assert_eq!(d, blocked(at("2026-03-29T06:00:00Z"), SkipReason::QuietHours, None));
        // And back (2026-10-25): 09:00 local is UTC+2 again.
        let d = decide(&rules, &log, c, Some("Europe/Helsinki"), Channel::Sms, None, at("2026-10-24T22:00:00Z"));
        assert_eq!(d, blocked(at("2026-10-25T07:00:00Z"), SkipReason::QuietHours, None));
        // Early morning before 09:00 waits for the same day; daytime sends; email has no quiet hours.
        let d = decide(&rules, &log, c, Some("America/New_York"), Channel::Sms, None, at("2026-11-23T11:00:00Z"));
        assert_eq!(d, blocked(at("2026-11-23T14:00:00Z"), SkipReason::QuietHours, None));
        assert_eq!(
            decide(&rules, &log, c, Some("Europe/Helsinki"), Channel::Sms, None, at("2026-11-23T10:00:00Z")),
            Decision::Send
        );
        assert_eq!(
            decide(&rules, &log, c, Some("Europe/Helsinki"), Channel::Email, None, at("2026-11-23T20:30:00Z")),
            Decision::Send
        );
    }

    #[test]
    fn caps_count_a_rolling_day() {
        let rules = Rules {
            smart_sending: None,
            quiet_hours: HashMap::new(),
            daily_cap: HashMap::from([(Channel::Email, 2)]),
            weekly_cap: HashMap::from([(Channel::Sms, 1)]),
        };
        let mut log = SendLog::default();
        let c = ContactId(1);
        log.record(c, Channel::Email, at("2026-11-23T08:00:00Z"), 50, "m2");
        log.record(c, Channel::Email, at("2026-11-23T09:00:00Z"), 50, "m3");
        let d = decide(&rules, &log, c, None, Channel::Email, None, at("2026-11-23T10:00:00Z"));
        assert_eq!(d, blocked(at("2026-11-24T08:00:00Z"), SkipReason::FrequencyCap, Some("m2")));
        assert_eq!(decide(&rules, &log, c, None, Channel::Sms, None, at("2026-11-23T10:00:00Z")), Decision::Send);
        log.record(c, Channel::Sms, at("2026-11-20T10:00:00Z"), 50, "m4");
        let d = decide(&rules, &log, c, None, Channel::Sms, None, at("2026-11-23T10:00:00Z"));
        assert_eq!(d, blocked(at("2026-11-27T10:00:00Z"), SkipReason::WeeklyCap, Some("m4")));
    }

    #[test]
    fn a_higher_priority_never_waits_behind_a_lower_one() {
        let rules = Rules { daily_cap: HashMap::from([(Channel::Email, 1)]), ..Rules::default() };
        let mut log = SendLog::default();
        let c = ContactId(1);
        let ask = |priority, now| Ask {
            contact: c,
            tz: None,
            channel: Channel::Email,
            smart: None,
            chosen_per_week: None,
            priority,
            now,
        };
        // A promotional campaign went out at 10:00.
        log.record(c, Channel::Email, at("2026-11-23T10:00:00Z"), 20, "campaign");
        // The cart reminder at 11:00 goes at once: neither smart sending nor the cap holds it behind a campaign.
        assert_eq!(decide_for(&rules, &log, &ask(80, at("2026-11-23T11:00:00Z"))), Decision::Send);
        log.record(c, Channel::Email, at("2026-11-23T11:00:00Z"), 80, "cart");
        // Another campaign at 12:00 waits behind the reminder (the cap's day from 11:00 outlasts smart sending).
        let d = decide_for(&rules, &log, &ask(20, at("2026-11-23T12:00:00Z")));
        assert_eq!(d, blocked(at("2026-11-24T11:00:00Z"), SkipReason::FrequencyCap, Some("cart")));
        // A browse reminder (60) waits behind the cart reminder too, not behind the campaign.
        let d = decide_for(&rules, &log, &ask(60, at("2026-11-23T12:00:00Z")));
        assert_eq!(d, blocked(at("2026-11-24T11:00:00Z"), SkipReason::FrequencyCap, Some("cart")));
        // The person's own weekly choice counts every marketing send, whatever its priority.
        let mine = Ask { chosen_per_week: Some(2), ..ask(90, at("2026-11-23T12:00:00Z")) };
        let d = decide_for(&Rules { smart_sending: None, ..Rules::default() }, &log, &mine);
        assert_eq!(d, blocked(at("2026-11-30T10:00:00Z"), SkipReason::ChosenFrequency, Some("campaign")));
    }
}
