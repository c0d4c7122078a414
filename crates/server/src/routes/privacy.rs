//! Platforms' privacy requests (Shopify's mandatory webhooks), handled with the data-rights features:
//! `customers/redact` erases the people it names (by email, phone, customer and order ids), `shop/redact`
//! removes the connection and erases every contact the platform's records created, and
//! `customers/data_request` is written to the audit log with the contacts found, whose export
//! (`GET /api/v1/contacts/{id}/export`) the store owner sends to the person. Every request is audited with
//! the platform as the actor; the person's address never reaches the log.

use kairos_domain::{ContactId, Email, Phone, WorkspaceId};
use kairos_engine::EngineError;
use kairos_engine::integrations::Platform;
use kairos_integrations::{Person, Privacy};
use kairos_store::IdentityKind;

use crate::AppState;
use crate::api::read_log;
use crate::error::ApiError;
use crate::routes::data_rights::audit;

/// Contacts a `shop/redact` erases per pass (it runs until none is left).
const SHOP_REDACT_BATCH: usize = 500;

/// The contacts a request names, by id.
async fn people(app: &AppState, ws: WorkspaceId, person: &Person) -> Result<Vec<ContactId>, ApiError> {
    let mut keys: Vec<(IdentityKind, String)> = Vec::new();
    if let Some(e) = person.email.as_deref().and_then(Email::parse) {
        keys.push((IdentityKind::Email, e.as_str().to_string()));
    }
    if let Some(p) = person.phone.as_deref().and_then(Phone::parse) {
        keys.push((IdentityKind::Phone, p.as_str().to_string()));
    }
    keys.extend(person.anonymous_ids.iter().map(|a| (IdentityKind::AnonymousId, a.clone())));
    // Identities only (never left waiting).
    read_log(app, move |r| {
        let mut found = Vec::new();
        for (kind, value) in &keys {
            if let Some(c) = r.contact_by_identity(ws, *kind, value)?
                && !found.contains(&c.id)
            {
                found.push(c.id);
            }
        }
        Ok(found)
    })
    .await
}

fn listed(ids: &[ContactId]) -> String {
    ids.iter().map(|c| format!("contact:{}", c.0)).collect::<Vec<_>>().join(",")
}

/// Handles a platform's privacy request (after its webhook was verified).
pub(crate) async fn handle(app: &AppState, ws: WorkspaceId, p: Platform, request: Privacy) -> Result<(), ApiError> {
    let actor = p.as_str().to_string();
    match request {
        Privacy::Redact(person) => {
            let found = people(app, ws, &person).await?;
            for id in &found {
                match app.engine.erase_contact(ws, *id, actor.clone()).await {
                    Ok(_) | Err(EngineError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let detail = format!("{p} asked to erase a customer: {} contact(s) erased", found.len());
            audit(app, ws, actor, "privacy.redact", listed(&found), detail).await
        }
        Privacy::DataRequest(person) => {
            let found = people(app, ws, &person).await?;
            let reference = person.reference.map(|r| format!(" {r}")).unwrap_or_default();
            let detail = if found.is_empty() {
                format!("{p} data request{reference}: Kairos holds nothing about this customer")
            } else {
                format!(
                    "{p} data request{reference}: send the customer the export of {} (Contacts, Export data)",
                    listed(&found)
                )
            };
            audit(app, ws, actor, "privacy.data_request", listed(&found), detail).await
        }
        Privacy::ShopRedact => {
            app.engine.set_integration(ws, p, None).await?;
            audit(
                app,
                ws,
                actor,
                "privacy.shop_redact",
                p.as_str().into(),
                format!(
                    "{p} asked to erase the shop's data: the connection was removed and its customers are being erased"
                ),
            )
            .await?;
            let app = app.clone();
            tokio::spawn(async move { erase_platform_contacts(&app, ws, p).await });
            Ok(())
        }
    }
}

/// Erases every contact a platform's records created (an anonymous id `{platform}-...`), a batch at a time;
/// stops when a pass erases nothing (none left, or the database is away).
async fn erase_platform_contacts(app: &AppState, ws: WorkspaceId, p: Platform) {
    let prefix = format!("{p}-");
    let mut erased = 0usize;
    loop {
        let prefix = prefix.clone();
        let batch = match read_log(app, move |r| r.contacts_with_anonymous_prefix(ws, &prefix, SHOP_REDACT_BATCH)).await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%p, error = %e.message, "shop redact stopped: the contacts could not be read");
                break;
            }
        };
        let before = erased;
        for id in batch {
            match app.engine.erase_contact(ws, id, p.as_str().into()).await {
                Ok(_) => erased += 1,
                Err(e) => tracing::warn!(%p, error = %e, "shop redact could not erase a contact"),
            }
        }
        if erased == before {
            break;
        }
    }
    let detail = format!("{p} shop data erased: {erased} contact(s)");
    if let Err(e) = audit(app, ws, p.as_str().into(), "privacy.shop_redact", p.as_str().into(), detail).await {
        tracing::warn!(%p, error = %e.message, "the end of a shop redact could not be audited");
    }
}
