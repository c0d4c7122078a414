//! The events Kairos itself writes into contacts' timelines. They travel like ingested events (segments count
//! them, flows are triggered by and wait for them), so their names are API: defined once, here.
//!
//! SPEC 2 also names generic message events (`Message Opened`, `Message Clicked`, `Message Bounced`, `Message
//! Delivered`); Kairos emits the channel's own event (`Email Opened`, ...) and reads the generic names as aliases
//! wherever a definition names an event (flow triggers, `wait_for`, segment `did` / `count`): [`canonical`].

use crate::vocab::wire_enum;

wire_enum! {
    /// An event Kairos emits.
    pub enum SystemEvent {
        /// The contact entered a segment (`segment_id`, `segment_name`).
        SegmentEntered = "Segment Entered",
        SegmentExited = "Segment Exited",
        /// The contact started a run of a flow (`flow_id`, `flow_name`).
        FlowEntered = "Flow Entered",
        /// A message went out (`message_id`, `channel`, `flow_id` / `campaign_id`, `step_id`).
        MessageSent = "Message Sent",
        /// The open pixel was fetched (`machine`: a scanner or a proxy, within 2 s of sending).
        EmailOpened = "Email Opened",
        /// A tracked link was followed (`url`, `machine`).
        EmailClicked = "Email Clicked",
        /// A bounce report (`kind`: hard or soft).
        EmailBounced = "Email Bounced",
        /// A complaint (feedback loop report): the address is suppressed and unsubscribed.
        EmailMarkedAsSpam = "Email Marked as Spam",
        /// The recipient unsubscribed through a message's link.
        Unsubscribed = "Unsubscribed",
        /// The SMS provider reported the text delivered.
        SmsDelivered = "SMS Delivered",
        /// The SMS provider reported the text undelivered or failed.
        SmsFailed = "SMS Failed",
        /// The contact was given a coupon code (`pool`, `code`, `expires_at`), by a flow or a campaign.
        CouponIssued = "Coupon Issued",
        /// A flow opened a task for the team (`flow_id`, `step_id`, `task`: the rendered text).
        TaskCreated = "Task Created",
        /// A form was submitted (`form_id`, `form_name`, `page`, `consent`).
        FormSubmitted = "Form Submitted",
        /// The contact's email consent became subscribed, from any source (`source`: form, api, shopify,
        /// double_opt_in, ...; `form_id` when a form): what the library's welcome series waits for (SPEC 16 "Site").
        EmailSubscribed = "Email Subscribed",
        /// The contact's SMS consent became subscribed (`source`).
        SmsSubscribed = "SMS Subscribed",
        /// A landing page revealed a coupon code for the contact's email (`landing_page_id`, `page`, `pool`, `code`):
        /// a signup on the page.
        CouponRevealed = "Coupon Revealed",
        /// The contact's lifecycle stage changed (`from`: the stage before or null, `to`: the new stage or null).
        LifecycleStageChanged = "Lifecycle Stage Changed",
    }
}

/// SPEC 2's generic names, read as the events Kairos emits for them.
pub const ALIASES: [(&str, SystemEvent); 4] = [
    ("Message Opened", SystemEvent::EmailOpened),
    ("Message Clicked", SystemEvent::EmailClicked),
    ("Message Bounced", SystemEvent::EmailBounced),
    ("Message Delivered", SystemEvent::SmsDelivered),
];

impl SystemEvent {
    /// The system event an event name stands for: its wire name or one of the [`ALIASES`].
    pub fn named(name: &str) -> Option<SystemEvent> {
        SystemEvent::parse(name).or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, e)| *e))
    }
}

/// The name a definition's event name is matched as: an alias becomes the emitted event's name, anything else
/// stays as written.
pub fn canonical(name: &str) -> &str {
    match ALIASES.iter().find(|(a, _)| *a == name) {
        Some((_, e)) => e.as_str(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_name_emitted_events() {
        assert_eq!(canonical("Message Clicked"), "Email Clicked");
        assert_eq!(canonical("Email Clicked"), "Email Clicked");
        assert_eq!(canonical("Order Completed"), "Order Completed");
        assert_eq!(SystemEvent::named("Message Bounced"), Some(SystemEvent::EmailBounced));
        assert_eq!(SystemEvent::named("Segment Entered"), Some(SystemEvent::SegmentEntered));
        assert_eq!(SystemEvent::named("Checkout Started"), None);
        for (alias, _) in ALIASES {
            assert!(SystemEvent::parse(alias).is_none(), "an alias is not also a wire name");
        }
    }
}
