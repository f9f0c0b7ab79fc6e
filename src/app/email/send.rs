//! Sending: from an agent's mailbox or an address on a verified domain, in a thread (new or
//! given), recorded before it leaves and settled with the provider's answer.

use std::collections::BTreeMap;

use chrono::Utc;
use rand::distr::{Alphanumeric, SampleString};
use thruai_entities::{
    email_domain, email_message, email_thread,
    values::{
        StringList, StringMap,
        email::{EmailTag, EmailTags},
    },
};

use super::{Email, MailError};
use crate::{
    domain::{
        email::{bare_address, domain_of, normalise_subject, parse_address, reply_subject, tokenised},
        ids,
    },
    providers::email::OutgoingEmail,
    store::{self, email as mail, ledger::Used},
};

/// At most this many recipients (to, cc and bcc together), as Resend takes them.
pub const MAX_RECIPIENTS: usize = 50;

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    /// From this agent's mailbox.
    pub agent_id: Option<String>,
    /// From this address on one of the organisation's domains (`Name <a@domain>` allowed).
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    /// Defaults to `Re: <thread subject>` in a thread.
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub reply_to: Option<String>,
    /// Reply in this thread (`ETH-…`); otherwise a new one.
    pub thread_id: Option<String>,
    pub tags: Vec<EmailTag>,
    pub idempotency_key: Option<String>,
    /// The message's id (`EML-…`), when its caller chose it (a workflow step derives it
    /// from its key); else a fresh one.
    pub id: Option<String>,
    /// Written by the agent on its own, answering an inbound message.
    pub auto_reply: bool,
}

/// Who a message is from.
struct Sender {
    address: String,
    display_name: Option<String>,
    agent_id: Option<String>,
    reply_to: Option<String>,
    signature: Option<String>,
    domain: email_domain::Model,
}

fn addresses(field: &str, raw: &[String]) -> Result<Vec<String>, MailError> {
    raw.iter()
        .enumerate()
        .map(|(i, a)| {
            parse_address(a)
                .ok_or_else(|| MailError::field(format!("{field}[{i}]"), format!("'{a}' is not an email address")))
        })
        .collect()
}

impl Email {
    /// Sends one message and answers it as recorded (`sent`, or further when the provider
    /// reported at once).
    ///
    /// # Errors
    /// Bad or suppressed recipients, no usable sender, a domain not verified, another
    /// organisation's thread or agent, the provider failing (the message is then recorded
    /// as `failed`, never as sent).
    pub async fn send(&self, org_id: &str, req: SendRequest) -> Result<email_message::Model, MailError> {
        let thread = match &req.thread_id {
            Some(id) => Some(
                mail::find_thread(&self.db, org_id, id)
                    .await?
                    .ok_or_else(|| MailError::NotFound("Email thread", id.clone()))?,
            ),
            None => None,
        };
        let sender = self.sender(org_id, &req, thread.as_ref()).await?;
        if sender.domain.status != "verified" {
            return Err(MailError::NotVerified {
                id: sender.domain.id.clone(),
                name: sender.domain.name.clone(),
                status: sender.domain.status.clone(),
            });
        }
        let mut to = addresses("to", &req.to)?;
        let cc = addresses("cc", &req.cc)?;
        let bcc = addresses("bcc", &req.bcc)?;
        if to.is_empty() {
            match &thread {
                Some(t) => to.push(t.counterpart.clone()),
                None => return Err(MailError::field("to", "at least one recipient is required")),
            }
        }
        if to.len() + cc.len() + bcc.len() > MAX_RECIPIENTS {
            return Err(MailError::field(
                "to",
                format!("at most {MAX_RECIPIENTS} recipients (to, cc and bcc together)"),
            ));
        }
        let everyone: Vec<String> = to
            .iter()
            .chain(&cc)
            .chain(&bcc)
            .map(|a| a.to_ascii_lowercase())
            .collect();
        if let Some(s) = mail::suppressed(&self.db, org_id, &everyone).await?.first() {
            return Err(MailError::field(
                "to",
                format!(
                    "'{}' {} on {} and is suppressed for this organization; nothing was sent",
                    s.address,
                    if s.reason == "complained" {
                        "marked a message as spam"
                    } else {
                        "bounced"
                    },
                    s.created_at.format("%Y-%m-%d")
                ),
            ));
        }
        let subject = match (&req.subject, &thread) {
            (Some(s), _) if !s.trim().is_empty() => s.trim().to_string(),
            (_, Some(t)) => reply_subject(&t.subject),
            _ => return Err(MailError::field("subject", "is required for a new thread")),
        };
        if req.text.as_deref().is_none_or(str::is_empty) && req.html.as_deref().is_none_or(str::is_empty) {
            return Err(MailError::field("text", "give text, html or both"));
        }
        let text = req.text.as_ref().map(|t| match &sender.signature {
            Some(sig) => format!("{t}\n\n-- \n{sig}"),
            None => t.clone(),
        });
        let reply_to = match &req.reply_to {
            Some(r) => Some(
                parse_address(r)
                    .ok_or_else(|| MailError::field("replyTo", format!("'{r}' is not an email address")))?,
            ),
            None => sender.reply_to.clone(),
        };

        // Threading: the reply names what it answers (RFC 5322 §3.6.4).
        let history = match &thread {
            Some(t) => mail::thread_history(&self.db, &t.id, 1).await?,
            None => Vec::new(),
        };
        let parent = history.last();
        let in_reply_to = parent.map(|p| p.provider_message_id.clone().unwrap_or_else(|| p.message_id.clone()));
        // RFC 5322 §3.6.4: the parent's References (or, without them, its In-Reply-To),
        // then the parent itself.
        let mut references: Vec<String> = parent
            .map(|p| match (&p.references.0[..], &p.in_reply_to) {
                ([], Some(up)) => vec![up.clone()],
                (refs, _) => refs.to_vec(),
            })
            .unwrap_or_default();
        if let Some(p) = parent {
            for id in [Some(&p.message_id), p.provider_message_id.as_ref()]
                .into_iter()
                .flatten()
            {
                if !references.contains(id) {
                    references.push(id.clone());
                }
            }
        }
        let id = req.id.clone().unwrap_or_else(|| ids::new_id(ids::EMAIL));
        let message_id = format!("<{id}@{}>", sender.domain.name);
        let now = Utc::now();
        let thread_row = thread.clone().unwrap_or_else(|| email_thread::Model {
            id: ids::new_id(ids::EMAIL_THREAD),
            org_id: org_id.to_string(),
            agent_id: sender.agent_id.clone(),
            domain_id: Some(sender.domain.id.clone()),
            token: Alphanumeric.sample_string(&mut rand::rng(), 20),
            subject: subject.clone(),
            subject_norm: normalise_subject(&subject),
            counterpart: to[0].to_ascii_lowercase(),
            status: "waiting".into(),
            message_count: 0,
            last_message_at: now,
            created_at: now,
            updated_at: now,
        });
        // Replies come back to the thread through the tokenised Reply-To, whatever the
        // provider does to Message-IDs.
        let reply_to = reply_to.or_else(|| Some(tokenised(&sender.address, &thread_row.token)));
        let mut headers = BTreeMap::new();
        headers.insert("Message-ID".to_string(), message_id.clone());
        if let Some(parent) = &in_reply_to {
            headers.insert("In-Reply-To".to_string(), parent.clone());
            headers.insert("References".to_string(), references.join(" "));
        }
        if req.auto_reply {
            headers.insert("Auto-Submitted".to_string(), "auto-replied".to_string());
        }

        let txn = crate::store::begin(&self.db).await?;
        if thread.is_none() {
            mail::insert_thread(&txn, thread_row.clone()).await?;
        }
        let row = mail::insert_message(
            &txn,
            email_message::Model {
                id: id.clone(),
                org_id: org_id.to_string(),
                thread_id: thread_row.id.clone(),
                agent_id: sender.agent_id.clone(),
                direction: "outbound".into(),
                provider: self.provider.name().to_string(),
                provider_email_id: None,
                message_id: message_id.clone(),
                provider_message_id: None,
                in_reply_to: in_reply_to.clone(),
                references: StringList(references),
                from_address: sender.address.clone(),
                to_addresses: StringList(to.clone()),
                cc_addresses: StringList(cc.clone()),
                bcc_addresses: StringList(bcc.clone()),
                reply_to: reply_to.clone(),
                subject: subject.clone(),
                text_body: text.clone(),
                html_body: req.html.clone(),
                headers: StringMap(headers.clone()),
                tags: EmailTags(req.tags.clone()),
                status: "queued".into(),
                error: None,
                auto_reply: req.auto_reply,
                auto_submitted: false,
                reply_status: None,
                reply_note: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        mail::touch_thread(&txn, &thread_row.id, false, now).await?;
        txn.commit().await?;

        let outgoing = OutgoingEmail {
            from: Some(match &sender.display_name {
                Some(name) => format!("{} <{}>", name.replace(['<', '>', '"'], ""), sender.address),
                None => sender.address.clone(),
            }),
            to,
            cc,
            bcc,
            reply_to,
            subject,
            text,
            html: req.html.clone(),
            headers,
            tags: req.tags.clone(),
            idempotency_key: req.idempotency_key.clone(),
        };
        let mut row = row;
        match self.provider.send(outgoing.clone()).await {
            Ok(provider_id) => {
                row.provider_email_id = Some(provider_id.clone());
                row.status = "sent".into();
                // The Message-ID it really went out with, when the provider rewrote ours.
                match self.provider.sent_message_id(&provider_id).await {
                    Ok(real) => row.provider_message_id = real.filter(|m| *m != row.message_id),
                    Err(e) => tracing::debug!(email = %row.id, error = %e, "the provider's Message-ID is not known"),
                }
                row.updated_at = Utc::now();
                // Sent, and on the ledger, together.
                let txn = crate::store::begin(&self.db).await?;
                let used = Used {
                    source: format!("email:{}", row.id),
                    component: "email",
                    provider: row.provider.clone(),
                    quantity: 1.0,
                    agent_id: row.agent_id.clone(),
                    call_id: None,
                    occurred_at: row.updated_at,
                };
                store::ledger::record(&txn, org_id, &self.prices, vec![used]).await?;
                let mut row = mail::save_message(&txn, row).await?;
                txn.commit().await?;
                for event in self.provider.simulated_events(&provider_id, &outgoing) {
                    self.settle(event).await?;
                }
                if let Some(fresh) = mail::find_message(&self.db, &row.id).await? {
                    row = fresh;
                }
                crate::metrics::counter(
                    "thruai_emails_total",
                    &[("direction", "outbound"), ("result", "sent")],
                    1.0,
                );
                Ok(row)
            }
            Err(e) => {
                row.status = "failed".into();
                row.error = Some(e.to_string());
                row.updated_at = Utc::now();
                mail::save_message(&self.db, row).await?;
                crate::metrics::counter(
                    "thruai_emails_total",
                    &[("direction", "outbound"), ("result", "failed")],
                    1.0,
                );
                Err(e.into())
            }
        }
    }

    async fn sender(
        &self,
        org_id: &str,
        req: &SendRequest,
        thread: Option<&email_thread::Model>,
    ) -> Result<Sender, MailError> {
        let agent_id = req.agent_id.clone().or_else(|| {
            req.from
                .is_none()
                .then(|| thread.and_then(|t| t.agent_id.clone()))
                .flatten()
        });
        if let Some(agent_id) = agent_id {
            let field = if req.agent_id.is_some() { "agentId" } else { "threadId" };
            let agent = store::agents::find(&self.db, org_id, &agent_id)
                .await?
                .ok_or_else(|| MailError::NotFound("Agent", agent_id.clone()))?;
            let mailbox = agent.email_config.filter(|m| !m.address.is_empty()).ok_or_else(|| {
                MailError::field(
                    field,
                    format!("agent '{agent_id}' has no mailbox — give it one with PUT /agents/{agent_id}/email"),
                )
            })?;
            let domain = mail::find_domain(&self.db, org_id, &mailbox.domain_id)
                .await?
                .ok_or_else(|| {
                    MailError::field(
                        field,
                        format!("the mailbox of agent '{agent_id}' has no domain any more"),
                    )
                })?;
            return Ok(Sender {
                address: mailbox.address,
                display_name: mailbox.display_name.or(Some(agent.name)),
                agent_id: Some(agent.id),
                reply_to: mailbox.reply_to,
                signature: mailbox.signature,
                domain,
            });
        }
        let raw = match (&req.from, thread) {
            (Some(f), _) => f.clone(),
            (None, Some(t)) => {
                // An organisation thread: from the address it was last written from.
                let last = mail::thread_history(&self.db, &t.id, 50)
                    .await?
                    .into_iter()
                    .rev()
                    .find(|m| m.direction == "outbound");
                last.map(|m| m.from_address)
                    .ok_or_else(|| MailError::field("from", "give from (an address on one of your verified domains)"))?
            }
            (None, None) => {
                return Err(MailError::field(
                    "from",
                    "give agentId (an agent with a mailbox) or from (an address on one of your verified domains)",
                ));
            }
        };
        let address =
            parse_address(&raw).ok_or_else(|| MailError::field("from", format!("'{raw}' is not an email address")))?;
        let name = domain_of(&address).unwrap_or_default();
        let domain = mail::domain_named(&self.db, &name)
            .await?
            .filter(|d| d.org_id == org_id)
            .ok_or_else(|| {
                MailError::field(
                    "from",
                    format!(
                        "'{name}' is not one of this organization's email domains — add it with POST /email-domains"
                    ),
                )
            })?;
        let display = bare_address(&raw) != raw.trim();
        Ok(Sender {
            display_name: display
                .then(|| {
                    raw.split('<')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .trim_matches('"')
                        .to_string()
                })
                .filter(|n| !n.is_empty()),
            address,
            agent_id: None,
            reply_to: None,
            signature: None,
            domain,
        })
    }
}
