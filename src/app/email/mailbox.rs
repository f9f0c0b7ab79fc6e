//! An agent's mailbox: an address on one of the organisation's verified domains.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, IntoActiveModel, prelude::*};
use thruai_entities::{agent, values::email::Mailbox};

use super::{Email, MailError};
use crate::{
    domain::email::{domain_of, parse_address},
    store::{self, email as mail},
};

/// What an agent's mailbox is set to.
#[derive(Debug, Clone, Default)]
pub struct MailboxIn {
    /// `sam@mail.example.com`; or `local_part` with `domain_id`.
    pub address: Option<String>,
    pub local_part: Option<String>,
    pub domain_id: Option<String>,
    pub display_name: Option<String>,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    pub auto_reply: bool,
}

impl Email {
    /// Gives the agent a mailbox (`Some`) or takes it away (`None`).
    ///
    /// # Errors
    /// Another organisation's or an unknown agent; an address not on one of the
    /// organisation's domains, or on one not verified; an address another agent has.
    pub async fn configure_mailbox(
        &self,
        org_id: &str,
        agent_id: &str,
        input: Option<MailboxIn>,
    ) -> Result<Option<Mailbox>, MailError> {
        let txn = crate::store::begin(&self.db).await?;
        let agent = store::agents::find(&txn, org_id, agent_id)
            .await?
            .ok_or_else(|| MailError::NotFound("Agent", agent_id.to_string()))?;
        let mailbox = match input {
            None => None,
            Some(input) => Some(self.mailbox_for(&txn, org_id, &agent, input).await?),
        };
        let mut row: agent::ActiveModel = agent.into_active_model();
        row.email_config = Set(mailbox.clone());
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        txn.commit().await?;
        Ok(mailbox)
    }

    /// The mailbox `input` describes for `agent`, checked (the caller stores it).
    ///
    /// # Errors
    /// As [`Email::configure_mailbox`].
    pub async fn mailbox_for(
        &self,
        db: &impl ConnectionTrait,
        org_id: &str,
        agent: &agent::Model,
        input: MailboxIn,
    ) -> Result<Mailbox, MailError> {
        let (field, raw) = match (&input.address, &input.local_part, &input.domain_id) {
            (Some(a), _, _) => ("address", a.clone()),
            (None, Some(local), Some(domain_id)) => {
                let domain = mail::find_domain(db, org_id, domain_id)
                    .await?
                    .ok_or_else(|| MailError::field("domainId", format!("email domain '{domain_id}' not found")))?;
                ("localPart", format!("{local}@{}", domain.name))
            }
            _ => return Err(MailError::field("address", "give address, or localPart with domainId")),
        };
        let address = parse_address(&raw)
            .map(|a| a.to_ascii_lowercase())
            .ok_or_else(|| MailError::field(field, format!("'{raw}' is not an email address")))?;
        if address.split('@').next().is_some_and(|l| l.contains('+')) {
            return Err(MailError::field(
                field,
                "'+' is reserved: replies to a thread are addressed local+t_<token>@domain",
            ));
        }
        let name = domain_of(&address).unwrap_or_default();
        let domain = mail::domain_named(db, &name)
            .await?
            .filter(|d| d.org_id == org_id)
            .ok_or_else(|| {
                MailError::field(
                    field,
                    format!(
                        "'{name}' is not one of this organization's email domains — add it with POST /email-domains"
                    ),
                )
            })?;
        if domain.status != "verified" {
            return Err(MailError::NotVerified {
                id: domain.id,
                name: domain.name,
                status: domain.status,
            });
        }
        let reply_to = match &input.reply_to {
            Some(r) => Some(
                parse_address(r)
                    .ok_or_else(|| MailError::field("replyTo", format!("'{r}' is not an email address")))?,
            ),
            None => None,
        };
        if let Some(other) = mail::agents_with_mailbox(db, org_id, Some(&domain.id))
            .await?
            .into_iter()
            .find(|a| a.id != agent.id && a.email_config.as_ref().is_some_and(|m| m.address == address))
        {
            return Err(MailError::Conflict(format!(
                "'{address}' is already the mailbox of agent '{}'",
                other.id
            )));
        }
        Ok(Mailbox {
            domain_id: domain.id,
            address,
            display_name: input.display_name.filter(|d| !d.trim().is_empty()),
            reply_to,
            signature: input.signature.filter(|s| !s.trim().is_empty()),
            auto_reply: input.auto_reply,
        })
    }
}
