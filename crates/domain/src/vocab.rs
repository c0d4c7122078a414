//! The closed vocabulary Kairos speaks: channels and the statuses of messages, runs, flows and campaigns, and
//! the reasons a send is skipped or deferred. Each wire name is written once, here; everything else uses the
//! enums (a test in `crates/kairos/tests/vocabulary.rs` fails on a status spelled as a string literal elsewhere).
//!
//! Every enum serializes as its wire name, and `parse` reads it back (None for anything else).

/// Defines a closed enum whose values travel as fixed strings (`as_str` / `parse` / serde / `Display`).
macro_rules! wire_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// The value with this wire name.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($wire => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", stringify!($name), " {:?}"), s))
                })
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum! {
    /// What a workspace puts on the store's website (issue 14), each a JSON document under an id unique across
    /// workspaces, since its public address (`/f/{id}`, `/q/{id}`, `/p/{id}`) names no workspace.
    pub enum SiteKind {
        Form = "form",
        Quiz = "quiz",
        Page = "page",
    }
}

wire_enum! {
    /// A store platform Kairos connects to (`/api/v1/integrations/{platform}`, `/hooks/{platform}/...`).
    pub enum Platform {
        Shopify = "shopify",
        Woocommerce = "woocommerce",
        Magento = "magento",
    }
}

wire_enum! {
    /// How a message reaches its recipient.
    pub enum Channel {
        Email = "email",
        Sms = "sms",
        /// A signed HTTP call to the store's system (a flow's `webhook` step).
        Webhook = "webhook",
        /// Telegram.
        Chat = "chat",
    }
}

impl Channel {
    /// Whether sending on this channel needs the contact's consent and honours the suppression list (email and
    /// SMS); webhooks and chat do not.
    pub fn needs_consent(self) -> bool {
        matches!(self, Channel::Email | Channel::Sms)
    }
}

wire_enum! {
    /// Where a message stands. A message's history lists every status it has had; some (`opened`, `clicked`,
    /// `unsubscribed`) are reactions of the recipient after it was sent.
    pub enum MessageStatus {
        /// Waiting for its transport.
        Queued = "queued",
        /// Held by the sending discipline (smart sending, caps, quiet hours, best hour) until `deliver_at`.
        Deferred = "deferred",
        /// A transient failure; tried again at `deliver_at`.
        Retrying = "retrying",
        Sent = "sent",
        /// The provider reported delivery (SMS status callbacks).
        Delivered = "delivered",
        Opened = "opened",
        Clicked = "clicked",
        /// Led to an order (reports' attribution).
        Converted = "converted",
        /// The recipient unsubscribed through it.
        Unsubscribed = "unsubscribed",
        /// A hard bounce: the address is suppressed.
        Bounced = "bounced",
        SoftBounced = "soft_bounced",
        /// The recipient marked it as spam.
        Complained = "complained",
        Failed = "failed",
        /// Not sent, for the reason recorded with it.
        Skipped = "skipped",
    }
}

impl MessageStatus {
    /// The order of a message's progress towards the recipient, used to decide whether a reaction moves its
    /// status (a click after an open does; an open after a click does not). None for the other statuses.
    pub fn progress(self) -> Option<u8> {
        Some(match self {
            MessageStatus::Sent => 0,
            MessageStatus::Delivered => 1,
            MessageStatus::Opened => 2,
            MessageStatus::Clicked => 3,
            MessageStatus::Unsubscribed => 4,
            _ => return None,
        })
    }

    /// Handed to a transport but not settled yet (the dispatcher's outcome is awaited).
    pub fn awaiting_transport(self) -> bool {
        matches!(self, MessageStatus::Queued | MessageStatus::Retrying)
    }
}

wire_enum! {
    /// A contact's run through a flow.
    pub enum RunStatus {
        Active = "active",
        Ended = "ended",
    }
}

wire_enum! {
    /// Why a run ended.
    pub enum RunEnd {
        /// Reached a step without `next`.
        Completed = "completed",
        /// An `exit` step.
        ExitStep = "exit_step",
        /// `exit_when` held: counts as a conversion.
        Goal = "goal",
        /// The contact's data was erased (SPEC 16 "Data rights").
        Erased = "erased",
    }
}

wire_enum! {
    /// A flow's lifecycle: created as a draft, activated, paused (runs hold where they are).
    pub enum FlowStatus {
        Draft = "draft",
        Active = "active",
        Paused = "paused",
    }
}

wire_enum! {
    /// A campaign's lifecycle (SPEC 16; `paused` and `cancelled` arrive with the lifecycle endpoints).
    pub enum CampaignStatus {
        Draft = "draft",
        /// The audience is taken; recipients wait for their due time.
        Scheduled = "scheduled",
        Sending = "sending",
        /// Held while sending (`/pause`); `/resume` carries on with whoever is left.
        Paused = "paused",
        Sent = "sent",
        /// Cancelled while scheduled: nobody is sent to.
        Cancelled = "cancelled",
    }
}

wire_enum! {
    /// Why a send did not go out (`skipped`) or waits (`deferred`): the closed set Kairos decides itself. A
    /// template that fails to render is skipped with `render_error: ...` and the renderer's message.
    pub enum SkipReason {
        /// The contact has no address on the channel.
        NoAddress = "no_address",
        /// The address is on the suppression list (hard bounce, complaint, manual).
        Suppressed = "suppressed",
        /// Marketing without the consent the workspace's consent mode asks for.
        NoConsent = "no_consent",
        /// Withheld at hand-off: the recipient unsubscribed after the message was queued.
        Unsubscribed = "unsubscribed",
        /// The contact no longer exists (merged away, erased).
        NoContact = "no_contact",
        TemplateMissing = "template_missing",
        /// Every product the message would promote is out of stock.
        NothingPromotable = "nothing_promotable",
        /// The product the message is about sold out before it went.
        SoldOut = "sold_out",
        /// The price drop the message announced no longer holds when it goes.
        PriceChanged = "price_changed",
        CouponExpired = "coupon_expired",
        CouponRedeemed = "coupon_redeemed",
        /// Deferred to the contact's best local hour.
        SendTime = "send_time",
        SmartSending = "smart_sending",
        QuietHours = "quiet_hours",
        FrequencyCap = "frequency_cap",
        WeeklyCap = "weekly_cap",
        /// The contact opted out of the topic (list) the flow or campaign writes about.
        TopicUnsubscribed = "topic_unsubscribed",
        /// Deferred: the contact chose to hear from the store less often (preference centre).
        ChosenFrequency = "chosen_frequency",
    }
}

wire_enum! {
    /// How often a person wants marketing email, chosen in the preference centre.
    pub enum EmailFrequency {
        /// Whatever the store sends (within its own caps).
        All = "all",
        TwiceWeekly = "twice_weekly",
        Weekly = "weekly",
    }
}

impl EmailFrequency {
    /// Most marketing emails in any 7 days (None: no limit of the person's own).
    pub fn per_week(self) -> Option<usize> {
        match self {
            EmailFrequency::All => None,
            EmailFrequency::TwiceWeekly => Some(2),
            EmailFrequency::Weekly => Some(1),
        }
    }

    /// The choice in words, for the preference centre.
    pub fn label(self) -> &'static str {
        match self {
            EmailFrequency::All => "Everything you send",
            EmailFrequency::TwiceWeekly => "Up to twice a week",
            EmailFrequency::Weekly => "Once a week at most",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_unique() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            name: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            let mut names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            for v in all {
                assert_eq!(parse(name(*v)), Some(*v));
            }
            names.sort();
            names.dedup();
            assert_eq!(names.len(), all.len(), "duplicate wire names");
        }
        check(Channel::ALL, Channel::as_str, Channel::parse);
        check(MessageStatus::ALL, MessageStatus::as_str, MessageStatus::parse);
        check(RunStatus::ALL, RunStatus::as_str, RunStatus::parse);
        check(RunEnd::ALL, RunEnd::as_str, RunEnd::parse);
        check(FlowStatus::ALL, FlowStatus::as_str, FlowStatus::parse);
        check(CampaignStatus::ALL, CampaignStatus::as_str, CampaignStatus::parse);
        check(SkipReason::ALL, SkipReason::as_str, SkipReason::parse);
        assert_eq!(MessageStatus::parse("sent "), None);
    }

    #[test]
    fn serde_uses_the_wire_name() {
        assert_eq!(serde_json::to_string(&MessageStatus::SoftBounced).unwrap(), "\"soft_bounced\"");
        assert_eq!(serde_json::from_str::<Channel>("\"chat\"").unwrap(), Channel::Chat);
        assert!(serde_json::from_str::<Channel>("\"fax\"").is_err());
    }
}
