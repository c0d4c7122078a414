//! Report numbers (SPEC 10) from stored rows: attribution of orders to the messages that led to them, message
//! numbers per flow, step and campaign, and store KPIs over a date range.
//!
//! Pure: no I/O, no clock (`now` is an argument). The rows come from `kairos_store::read::ReportReads`; the
//! caller (the server's reports module) reads them and hands them here. Amounts are integer cents ([`Money`]);
//! instants are microseconds; ranges are half-open `[from, to)`.

mod attribution;
mod experiment;
mod kpis;
mod landing;
mod messages;
mod series;

use kairos_domain::{ContactId, Duration, MessageStatus, Money, SystemEvent, Timestamp};

pub use attribution::{attribute, attribute_orders, orders, touch_range, touches};
pub use experiment::{
    CONFIDENCE_DECIDED, Lead, SUBJECT_LINE_DELIVERED_MIN, SubjectLead, confidence, lead, phi, subject_lead,
};
pub use kpis::{DayPoint, KpiRows, Kpis, daily_series, kpis, order_horizon};
pub use landing::{LandingNumbers, Visit, landing_numbers};
pub use messages::{
    CampaignReport, FlowReport, MessageFacts, MessageNumbers, TemplateReport, campaign_reports, flow_reports,
    message_facts, recipients, template_reports,
};
pub use series::{ActivityDay, activity_series, days, local_date};

/// The order event (Segment's e-commerce spec) whose amount is revenue.
pub const ORDER_EVENT: &str = "Order Completed";
/// Cart events whose contacts may abandon the cart.
pub const CART_EVENTS: [&str; 2] = ["Checkout Started", "Product Added"];
/// An order this long after a cart event means the cart was not abandoned.
pub const CART_RECOVERY: Duration = Duration::from_secs(86_400);
/// Longest span of a daily series.
pub const SERIES_DAYS_MAX: usize = 3_660;
/// Touches that can earn an order: (event, SMS only). SMS has no opens: receiving it is the touch.
pub const TOUCH_EVENTS: [(SystemEvent, bool); 3] =
    [(SystemEvent::EmailOpened, false), (SystemEvent::EmailClicked, false), (SystemEvent::MessageSent, true)];
/// Reactions to a message recorded as events (the message's status history may miss some, e.g. an unsubscribe
/// after a bounce).
pub const REACTION_EVENTS: [SystemEvent; 5] = [
    SystemEvent::EmailOpened,
    SystemEvent::EmailClicked,
    SystemEvent::Unsubscribed,
    SystemEvent::EmailBounced,
    SystemEvent::EmailMarkedAsSpam,
];

/// Attribution windows per channel (workspace setting `attribution_window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub email: Duration,
    pub sms: Duration,
}

impl Default for Windows {
    /// SPEC 10: five days for email, one day for SMS.
    fn default() -> Self {
        Windows { email: Duration::from_secs(5 * 86_400), sms: Duration::from_secs(86_400) }
    }
}

impl Windows {
    /// The window of a touch on `channel`: SMS has its own, every other channel uses the email window.
    pub fn of(&self, channel: &str) -> Duration {
        if channel == "sms" { self.sms } else { self.email }
    }
    pub fn longest(&self) -> Duration {
        self.email.max(self.sms)
    }
}

/// What a contact did with a message that can earn it an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchKind {
    /// A human (not machine) `Email Opened`.
    Open,
    /// A human `Email Clicked` (an email link, or a tracked link in an SMS).
    Click,
    /// An SMS that was sent (`Message Sent` with channel `sms`): SMS has no opens, receiving it is the touch.
    Sent,
}

impl TouchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Open => "open",
            TouchKind::Click => "click",
            TouchKind::Sent => MessageStatus::Sent.as_str(),
        }
    }
}

/// One `Order Completed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    /// `total`, else `revenue`, else `value`, else the products' sum: the amount the profile aggregates use.
    pub amount: Money,
    /// `properties.order_id` as text.
    pub order_id: Option<String>,
}

/// One touch: an open, a click or an SMS send, with the message it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    pub seq: i64,
    pub contact: ContactId,
    pub at: Timestamp,
    pub kind: TouchKind,
    pub channel: String,
    pub message_id: Option<String>,
    pub flow_id: Option<String>,
    pub step_id: Option<String>,
    pub campaign_id: Option<String>,
}

/// An order with the touch that earned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    pub order: Order,
    pub touch: Touch,
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// `total / n` rounded half away from zero to the cent, in integers (as `Orders::average_value`).
fn average(total: Money, n: u64) -> Money {
    if n == 0 {
        return Money::ZERO;
    }
    let (t, n) = (i128::from(total.cents()), i128::from(n));
    Money::from_cents(((2 * t + n * t.signum()) / (2 * n)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_averages_round_half_away_from_zero() {
        assert_eq!(average(Money(28_050), 4), Money(7_013));
        assert_eq!(average(Money(100), 3), Money(33));
        assert_eq!(average(Money(-100), 3), Money(-33));
        assert_eq!(average(Money(5), 0), Money::ZERO);
    }

    #[test]
    fn sms_has_its_own_window() {
        let w = Windows { email: Duration::from_secs(10), sms: Duration::from_secs(3) };
        assert_eq!((w.of("sms"), w.of("email"), w.of("push"), w.longest()), (w.sms, w.email, w.email, w.email));
        assert_eq!(ratio(1, 4), 0.25);
        assert_eq!(ratio(1, 0), 0.0);
    }
}
