//! Campaigns: recipients (due times, A/B winners) and the numbers of their variants.

use kairos_domain::{CampaignStatus, ContactId, MessageStatus, WorkspaceId};
use serde_json::json;

use super::messages::message;
use super::{at, json, track, workspace, write};
use crate::{Reaction, Recipient, Store, StoredCampaign, VariantResult};

fn campaign(public_id: &str, ws: WorkspaceId, status: &str, t: i64) -> StoredCampaign {
    StoredCampaign {
        row: 0,
        public_id: public_id.into(),
        workspace: ws,
        name: format!("Campaign {public_id}"),
        status: CampaignStatus::parse(status).expect("a campaign status"),
        definition: "{}".into(),
        state: "{}".into(),
        created_at: at(1),
        updated_at: at(t),
    }
}

fn recipient(contact: i64, due: i64, variant: i64) -> Recipient {
    Recipient { contact: ContactId(contact), due_at: at(due), variant }
}

/// Recipients are due in order, marked done, and wait for the A/B winner; variants count what their messages did.
pub fn campaign_recipients_and_variants(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    let other = workspace(store, "Other");
    let spring = write(store, |w| {
        let spring = w.save_campaign(&campaign("cmp_spring", ws, "draft", 1))?;
        assert_eq!(w.save_campaign(&campaign("cmp_spring", ws, "scheduled", 2))?, spring, "saved by public id");
        w.save_campaign(&campaign("cmp_done", ws, "sent", 3))?;
        w.save_campaign(&campaign("cmp_theirs", other, "sending", 4))?;
        assert_eq!(w.campaign_by_id(ws, "cmp_spring")?.map(|c| c.status), Some(CampaignStatus::Scheduled));
        assert_eq!(w.campaign_by_id(other, "cmp_spring")?, None);
        let running: Vec<String> = w.running_campaigns()?.into_iter().map(|c| c.public_id).collect();
        assert_eq!(running, ["cmp_spring", "cmp_theirs"]);

        // Contacts 1-2 test variant 0 and 1; 3-5 wait for the winner (-1).
        w.insert_recipients(spring, &[recipient(1, 10, 0), recipient(2, 5, 1), recipient(3, 10, -1)])?;
        w.insert_recipients(spring, &[recipient(4, 30, -1), recipient(5, 50, -1), recipient(1, 99, 1)])?;
        let due: Vec<(i64, i64)> =
            w.due_recipients(spring, at(10), 10)?.iter().map(|r| (r.contact.0, r.variant)).collect();
        assert_eq!(
            due,
            [(2, 1), (1, 0)],
            "earliest first; a contact listed twice keeps its first row; waiting ones wait"
        );
        assert_eq!(w.due_recipients(spring, at(10), 1)?.len(), 1, "limit");
        assert!(w.due_recipients(spring, at(4), 10)?.is_empty());
        w.recipient_done(spring, ContactId(2))?;
        assert_eq!(w.recipient_counts(spring)?, (1, 3, 1), "(pending, waiting for a winner, done)");
        // The winner goes to those waiting, not before `due` (contact 3 becomes due at 20; 4 and 5 keep 30 and 50).
        assert_eq!(w.assign_winner(spring, 1, at(20))?, 3);
        assert_eq!(w.assign_winner(spring, 0, at(20))?, 0, "decided once");
        let due: Vec<(i64, i64)> =
            w.due_recipients(spring, at(60), 10)?.iter().map(|r| (r.contact.0, r.variant)).collect();
        assert_eq!(due, [(1, 0), (3, 1), (4, 1), (5, 1)]);
        assert_eq!(w.recipient_counts(spring)?, (4, 0, 1));

        // Messages of the variants: statuses, human opens and clicks, and an order after one of them.
        let mut sent = |id: &str, contact: i64, variant: i64, status: &str| {
            let mut m = message(id, ws, contact, status, 10);
            (m.campaign_id, m.flow_id, m.variant) = (Some("cmp_spring".into()), None, Some(variant));
            w.insert_message(&m)
        };
        sent("a1", 1, 0, "sent")?;
        sent("a2", 3, 0, "skipped")?;
        sent("b1", 2, 1, "sent")?;
        sent("b2", 4, 1, "bounced")?;
        sent("b3", 5, 1, "sent")?;
        w.update_message("a1", MessageStatus::Opened, "{}")?;
        w.count_reaction("b1", Reaction::Open)?; // an open that did not move the status (e.g. after an unsubscribe)
        w.count_reaction("b3", Reaction::Click)?;
        w.update_message("b3", MessageStatus::Unsubscribed, "{}")?;
        let order = |id: &str, contact: i64, at_s: i64, total: f64| {
            (ContactId(contact), track(id, "Order Completed", at_s, at_s, json!({"total": total})))
        };
        for (seq, (who, e)) in
            [order("o1", 2, 100, 30.0), order("o2", 2, 10 + 6 * 86_400, 99.0), order("o3", 1, 5, 7.0)]
                .into_iter()
                .enumerate()
        {
            w.insert_event(ws, who, seq as i64 + 1, &e, &json(&e))?;
        }
        Ok(spring)
    });
    let expected = [
        VariantResult { variant: 0, sent: 1, opened: 1, clicked: 0 },
        VariantResult { variant: 1, sent: 2, opened: 1, clicked: 1 },
    ];
    let mut w = store.writer().unwrap();
    assert_eq!(w.variant_results("cmp_spring").unwrap(), expected);
    // Revenue within 5 days after each message: o1 only (o2 is 6 days later, o3 came before the message).
    assert_eq!(w.campaign_revenue("cmp_spring").unwrap(), [(1, 30.0)]);
    assert!(w.variant_results("cmp_none").unwrap().is_empty());

    let r = store.reader().unwrap();
    assert_eq!(r.variant_results("cmp_spring").unwrap(), expected);
    assert_eq!(r.campaign_revenue("cmp_spring").unwrap(), [(1, 30.0)]);
    assert_eq!(r.recipient_counts(spring).unwrap(), (4, 0, 1));
    let listed: Vec<String> = r.campaigns(ws).unwrap().into_iter().map(|c| c.public_id).collect();
    assert_eq!(listed, ["cmp_done", "cmp_spring"], "newest first, this workspace only");
    assert_eq!(r.campaign(ws, "cmp_spring").unwrap().map(|c| c.row), Some(spring));
    assert_eq!(r.campaign(ws, "cmp_theirs").unwrap(), None);
    let mut counts = r.campaign_message_counts("cmp_spring").unwrap();
    counts.sort();
    assert_eq!(
        counts,
        [
            (MessageStatus::Sent, 1),
            (MessageStatus::Opened, 1),
            (MessageStatus::Unsubscribed, 1),
            (MessageStatus::Bounced, 1),
            (MessageStatus::Skipped, 1)
        ]
    );
}

/// A cancelled or re-scheduled campaign drops the recipients not yet sent to; a deleted draft goes with its
/// recipients; paused and cancelled campaigns are not running.
pub fn campaign_lifecycle(store: &dyn Store) {
    let ws = workspace(store, "Shop");
    write(store, |w| {
        let c = w.save_campaign(&campaign("cmp_life", ws, "sending", 1))?;
        let draft = w.save_campaign(&campaign("cmp_draft", ws, "draft", 2))?;
        w.insert_recipients(c, &[recipient(1, 10, 0), recipient(2, 10, 0), recipient(3, 10, -1)])?;
        w.insert_recipients(draft, &[recipient(1, 10, 0)])?;
        w.recipient_done(c, ContactId(1))?;
        assert_eq!(w.drop_pending_recipients(c)?, 2, "the two not sent to, the one waiting for a winner included");
        assert_eq!(w.recipient_counts(c)?, (0, 0, 1), "the one sent to stays");
        for status in ["paused", "cancelled"] {
            w.save_campaign(&campaign("cmp_life", ws, status, 3))?;
            assert!(w.running_campaigns()?.is_empty(), "{status} is not running");
        }
        w.delete_campaign(draft)?;
        assert_eq!(w.campaign_by_id(ws, "cmp_draft")?, None);
        assert_eq!(w.recipient_counts(draft)?, (0, 0, 0), "its recipients went with it");
        assert_eq!(w.campaign_by_id(ws, "cmp_life")?.map(|c| c.status), Some(CampaignStatus::Cancelled));
        Ok(())
    });
}
