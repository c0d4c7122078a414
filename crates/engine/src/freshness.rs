//! Freshness at hand-off (SPEC 17): a message is right when it reaches its transport, not only when its send
//! was decided.
//!
//! A send is rendered when it is decided (`crate::flow_runtime::deliver`), which for most messages is moments
//! before the hand-off in the same transaction. Some wait longer: a transient failure retried with backoff (up
//! to hours), a transport that is busy or away. Such a message keeps its send (template, trigger event, run
//! coupon) in its row, and when it is claimed after more than [`RERENDER_AFTER`] it is checked and rendered
//! again from it: a product sold out meanwhile is dropped (or the message skipped `sold_out`), prices are
//! current, an expired or redeemed coupon is replaced from its pool (or the message skipped), and a topic the
//! person left since stops it. Its id, and so its Message-ID and idempotency key, stay the same.

use kairos_domain::{Channel, Duration, SkipReason, Timestamp};

use crate::EngineError;
use crate::dispatch::{Outbound, message_data};
use crate::render::Composed;
use crate::state::State;

/// How long a rendered message may wait for its transport before it is rendered again at hand-off: every retry
/// (the first waits this long) is.
pub(crate) const RERENDER_AFTER: Duration = Duration::from_secs(crate::dispatch::BACKOFF_SECS[0]);

impl State {
    /// Brings a message about to be claimed up to date. `Some(reason)` when it must not go (recorded by the
    /// caller); otherwise its content, in the row and in `o`, is as rendered now when it had waited.
    pub(crate) fn refresh_outbound(&mut self, o: &mut Outbound, now: Timestamp) -> Result<Option<String>, EngineError> {
        let Some(mut p) = o.data.pending.clone() else { return Ok(None) };
        let contact = self.follow(o.contact);
        let left_topic =
            |c: &kairos_domain::Contact| p.topic.as_ref().is_some_and(|t| c.consent.topics_out.contains(t));
        if !p.transactional && self.identity.contacts.get(&contact).is_some_and(|c| left_topic(&c)) {
            return Ok(Some(SkipReason::TopicUnsubscribed.as_str().into()));
        }
        if o.data.rendered_at.is_some_and(|t| now.saturating_sub(RERENDER_AFTER) < t) {
            return Ok(None);
        }
        if let Some(problem) = self.fresh_coupon(o.workspace, &mut p.trigger, contact, now)? {
            return Ok(Some(problem.as_str().into()));
        }
        // The same subject line as when it was first rendered: a variant test counts each message once, as sent.
        let variant = o.data.subject_variant.map(usize::from);
        let (parts, links, warnings, version, variant) =
            match self.compose(o.workspace, &p.template, contact, &p.trigger, &o.message_id, now, true, variant)? {
                Composed::Skip { reason, .. } => return Ok(Some(reason)),
                Composed::Ready { version, parts, links, warnings, variant } => {
                    (parts, links, warnings, version, variant)
                }
            };
        let Some(m) = self.w.message_tx().message(&o.message_id)? else { return Ok(None) };
        let mut data = message_data(&m);
        (data.subject, data.html, data.text, data.body) = (parts.subject, parts.html, parts.text, parts.body);
        // The same line, unless the template no longer has it (its variants were edited meanwhile).
        (data.preview_text, data.subject_variant) = (parts.preview_text, variant.and_then(|v| u8::try_from(v).ok()));
        (data.links, data.warnings, data.template_version) = (links, warnings, Some(version));
        data.unsubscribe_url = (m.channel == Channel::Email).then(|| self.unsubscribe_link(&m.id, now));
        data.pending = Some(p);
        data.rendered_at = Some(now);
        self.w.message_tx().update_message(&m.id, m.status, &data.to_json())?;
        tracing::debug!(message = %m.id, "rendered again at hand-off");
        o.data = data;
        Ok(None)
    }
}
