//! What the provider reports: delivery, bounces and complaints (which suppress the address)
//! and inbound mail, which lands in its thread — by the thread's Reply-To token, then by
//! `In-Reply-To`/`References`, then by subject and counterpart within a week — and is
//! answered by the agent when its mailbox says so, with a loop guard.

use std::time::Duration;

use chrono::Utc;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::prelude::*;
use thruai_actors::call::{
    chat::{ChatRole, ChatTurn},
    ports::LlmRequest,
};
use thruai_entities::{
    email_message, email_thread,
    values::{
        StringList, StringMap,
        email::{EmailTag, EmailTags},
    },
};

use super::{Email, MailError, SendRequest};
use crate::{
    domain::{
        email::{
            bare_address, domain_of, is_automatic, mailbox_of, message_ids, normalise_subject, parse_address,
            thread_token,
        },
        ids,
    },
    providers::{
        email::{EmailEvent, InboundEmail},
        live,
    },
    store::{self, email as mail},
};

/// A reply found by subject must follow the thread's last message within this long.
const SUBJECT_WINDOW_DAYS: i64 = 7;
/// Messages of the thread the agent reads before answering.
const HISTORY: u64 = 20;
/// The tag on an agent's answer naming the message it answers.
const ANSWERS: &str = "answers";

/// How far a status has come: a late `sent` never undoes `delivered`.
fn rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sent" => 1,
        "delivered" => 2,
        _ => 3,
    }
}

impl Email {
    /// Applies one provider event. Events about unknown messages are ignored.
    ///
    /// # Errors
    /// When the database or (for inbound mail) the provider fails: the provider retries.
    pub async fn apply_event(&self, event: EmailEvent) -> Result<(), MailError> {
        match event {
            EmailEvent::Received { email_id } => {
                let inbound = self.provider.received_email(&email_id).await?;
                self.receive(inbound).await?;
                Ok(())
            }
            EmailEvent::DomainUpdated { domain_id } => self.refresh_domain(&domain_id).await,
            other => self.settle(other).await,
        }
    }

    /// Applies what the provider says of a sent message: its status, and the addresses
    /// that bounced or complained, suppressed.
    pub(super) async fn settle(&self, event: EmailEvent) -> Result<(), MailError> {
        let (email_id, status, error, suppress) = match event {
            EmailEvent::Sent { email_id } => (email_id, "sent", None, Vec::new()),
            EmailEvent::Delivered { email_id } => (email_id, "delivered", None, Vec::new()),
            EmailEvent::Bounced { email_id, to, reason } => (email_id, "bounced", reason, to),
            EmailEvent::Complained { email_id, to } => (email_id, "complained", None, to),
            EmailEvent::Failed { email_id, reason } => (email_id, "failed", reason, Vec::new()),
            _ => return Ok(()),
        };
        let Some(mut row) = mail::by_provider_id(&self.db, &email_id).await? else {
            tracing::debug!(email_id, status, "an event about an email this platform did not send");
            return Ok(());
        };
        let txn = crate::store::begin(&self.db).await?;
        if matches!(status, "bounced" | "complained") {
            let who = if suppress.is_empty() {
                row.to_addresses
                    .0
                    .iter()
                    .chain(&row.cc_addresses.0)
                    .chain(&row.bcc_addresses.0)
                    .cloned()
                    .collect()
            } else {
                suppress
            };
            for address in who {
                mail::suppress(&txn, &row.org_id, bare_address(&address), status, Some(&row.id)).await?;
            }
        }
        // Bounced and complained outrank delivered; nothing moves a message backwards.
        if rank(status) > rank(&row.status) || (rank(status) == 3 && row.status != status && status != "failed") {
            row.status = status.to_string();
            if error.is_some() {
                row.error = error;
            }
            row.updated_at = Utc::now();
            mail::save_message(&txn, row).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Records an inbound message in its thread; answers it later when the agent does so.
    /// `None` when it is for no domain of this platform.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn receive(&self, inbound: InboundEmail) -> Result<Option<email_message::Model>, MailError> {
        // The organisation: the first recipient on one of its domains.
        let mut target = None;
        for to in inbound.to.iter().chain(&inbound.cc) {
            let Some(name) = domain_of(to) else { continue };
            if let Some(domain) = mail::domain_named(&self.db, &name).await? {
                target = Some((domain, to.clone()));
                break;
            }
        }
        let Some((domain, recipient)) = target else {
            tracing::info!(to = ?inbound.to, "inbound email for no domain of this platform, dropped");
            return Ok(None);
        };
        let org_id = domain.org_id.clone();
        let message_id = inbound.message_id.clone().filter(|m| !m.trim().is_empty()).map_or_else(
            || format!("<{}@{}>", ids::new_id(ids::EMAIL), domain.name),
            |m| message_ids(&m).remove(0),
        );
        // The same message delivered twice (two events, a retried simulator) is kept once.
        if let Some(seen) = mail::by_message_ids(&self.db, &org_id, std::slice::from_ref(&message_id))
            .await?
            .filter(|m| m.direction == "inbound")
        {
            return Ok(Some(seen));
        }
        let from = parse_address(&inbound.from).unwrap_or_else(|| bare_address(&inbound.from).to_string());
        let counterpart = from.to_ascii_lowercase();
        let in_reply_to = inbound.header("in-reply-to").map(message_ids).unwrap_or_default();
        let references = inbound.header("references").map(message_ids).unwrap_or_default();

        // 1. the thread's token in the address replied to.
        let mut thread = None;
        for to in inbound.to.iter().chain(&inbound.cc) {
            if let Some(token) = thread_token(to) {
                thread = mail::thread_by_token(&self.db, &org_id, token).await?;
                if thread.is_some() {
                    break;
                }
            }
        }
        // 2. the message it answers, then any it references (newest first).
        if thread.is_none() {
            let mut wanted = in_reply_to.clone();
            wanted.extend(references.iter().rev().cloned());
            for id in wanted {
                if let Some(parent) = mail::by_message_ids(&self.db, &org_id, std::slice::from_ref(&id)).await? {
                    thread = mail::find_thread(&self.db, &org_id, &parent.thread_id).await?;
                    break;
                }
            }
        }
        // 3. the same subject with the same counterpart, lately.
        let subject_norm = normalise_subject(&inbound.subject);
        if thread.is_none() {
            let since = Utc::now() - chrono::Duration::days(SUBJECT_WINDOW_DAYS);
            thread = mail::thread_by_subject(&self.db, &org_id, &counterpart, &subject_norm, since).await?;
        }
        // The agent: the thread's, or the one whose mailbox was written to.
        let mailbox = mailbox_of(&recipient);
        let mailbox_agent = mail::agents_with_mailbox(&self.db, &org_id, Some(&domain.id))
            .await?
            .into_iter()
            .find(|a| a.email_config.as_ref().is_some_and(|m| m.address == mailbox));
        let agent_id = thread
            .as_ref()
            .and_then(|t| t.agent_id.clone())
            .or_else(|| mailbox_agent.as_ref().map(|a| a.id.clone()));
        let agent = match &agent_id {
            Some(id) => store::agents::find(&self.db, &org_id, id).await?,
            None => None,
        };
        let automatic = is_automatic(|h| inbound.header(h).map(str::to_string), &inbound.from);
        let answers = agent
            .as_ref()
            .is_some_and(|a| a.email_config.as_ref().is_some_and(|m| m.auto_reply));
        let (reply_status, reply_note) = match (answers, automatic) {
            (false, _) => (None, None),
            (true, true) => (
                Some("skipped".to_string()),
                Some(
                    "an automatic message (Auto-Submitted, Precedence or a mailer address) is never answered"
                        .to_string(),
                ),
            ),
            (true, false) => (Some("pending".to_string()), None),
        };

        let now = Utc::now();
        let txn = crate::store::begin(&self.db).await?;
        let thread = match thread {
            Some(t) => t,
            None => {
                mail::insert_thread(
                    &txn,
                    email_thread::Model {
                        id: ids::new_id(ids::EMAIL_THREAD),
                        org_id: org_id.clone(),
                        agent_id: agent_id.clone(),
                        domain_id: Some(domain.id.clone()),
                        token: Alphanumeric.sample_string(&mut rand::rng(), 20),
                        subject: inbound.subject.clone(),
                        subject_norm,
                        counterpart: counterpart.clone(),
                        status: "open".into(),
                        message_count: 0,
                        last_message_at: now,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?
            }
        };
        let row = mail::insert_message(
            &txn,
            email_message::Model {
                id: ids::new_id(ids::EMAIL),
                org_id: org_id.clone(),
                thread_id: thread.id.clone(),
                agent_id: agent_id.clone(),
                direction: "inbound".into(),
                provider: self.provider.name().to_string(),
                provider_email_id: inbound.provider_email_id.clone(),
                message_id,
                provider_message_id: None,
                in_reply_to: in_reply_to.first().cloned(),
                references: StringList(references),
                from_address: from,
                to_addresses: StringList(inbound.to.clone()),
                cc_addresses: StringList(inbound.cc.clone()),
                bcc_addresses: StringList::default(),
                reply_to: inbound.reply_to.first().cloned(),
                subject: inbound.subject.clone(),
                text_body: inbound.text.clone(),
                html_body: inbound.html.clone(),
                headers: StringMap(inbound.headers.clone()),
                tags: EmailTags::default(),
                status: "received".into(),
                error: None,
                auto_reply: false,
                auto_submitted: automatic,
                reply_status,
                reply_note,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        mail::touch_thread(&txn, &thread.id, true, now).await?;
        txn.commit().await?;
        crate::metrics::counter(
            "thruai_emails_total",
            &[("direction", "inbound"), ("result", "received")],
            1.0,
        );
        if row.reply_status.as_deref() == Some("pending") {
            let this = self.clone();
            let id = row.id.clone();
            tokio::spawn(async move { this.answer(&id).await });
        }
        Ok(Some(row))
    }

    /// Answers the inbound messages a restart left waiting.
    pub async fn resume_replies(&self) {
        match mail::pending_replies(&self.db, 100).await {
            Ok(rows) => {
                for row in rows {
                    self.answer(&row.id).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the email replies left waiting"),
        }
    }

    /// The agent answers one inbound message, at most once, within its timeout; the outcome
    /// is kept on the message (`sent`, `skipped` or `failed` with a note).
    pub async fn answer(&self, message_id: &str) {
        let timeout = Duration::from_millis(self.settings.auto_reply_timeout_ms);
        let outcome = match tokio::time::timeout(timeout, self.reply_to(message_id)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => Some(("failed", e.to_string())),
            Err(_) => Some((
                "failed",
                format!(
                    "the agent did not answer within {} ms",
                    self.settings.auto_reply_timeout_ms
                ),
            )),
        };
        let Some((status, note)) = outcome else { return };
        if let Err(e) = email_message::Entity::update_many()
            .col_expr(email_message::Column::ReplyStatus, Expr::value(status))
            .col_expr(email_message::Column::ReplyNote, Expr::value(note))
            .col_expr(email_message::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(email_message::Column::Id.eq(message_id))
            .filter(email_message::Column::ReplyStatus.eq("pending"))
            .exec(&self.db)
            .await
        {
            tracing::warn!(message = message_id, error = %e, "could not record the email reply's outcome");
        }
    }

    /// `None` when the message was already answered (or is not waiting).
    async fn reply_to(&self, message_id: &str) -> Result<Option<(&'static str, String)>, MailError> {
        let Some(msg) = mail::find_message(&self.db, message_id).await? else {
            return Ok(None);
        };
        if msg.reply_status.as_deref() != Some("pending") {
            return Ok(None);
        }
        let Some(agent) = (match &msg.agent_id {
            Some(id) => store::agents::find(&self.db, &msg.org_id, id).await?,
            None => None,
        }) else {
            return Ok(Some(("skipped", "the thread has no agent".into())));
        };
        if !agent.email_config.as_ref().is_some_and(|m| m.auto_reply) {
            return Ok(Some(("skipped", "the agent's mailbox only records mail".into())));
        }
        let limit = self.settings.auto_reply_per_thread_per_hour;
        let recent =
            mail::auto_replies_since(&self.db, &msg.thread_id, Utc::now() - chrono::Duration::hours(1)).await?;
        if recent >= u64::from(limit) {
            return Ok(Some((
                "skipped",
                format!("loop guard: {recent} automatic replies in this thread within the hour (limit {limit})"),
            )));
        }
        if !mail::suppressed(&self.db, &msg.org_id, &[msg.from_address.to_ascii_lowercase()])
            .await?
            .is_empty()
        {
            return Ok(Some(("skipped", "the sender's address is suppressed".into())));
        }
        let history = mail::thread_history(&self.db, &msg.thread_id, HISTORY).await?;
        // Answered already, by a process that stopped before it could say so.
        if let Some(done) = history.iter().find(|m| {
            m.auto_reply && m.status != "failed" && m.tags.0.iter().any(|t| t.name == ANSWERS && t.value == msg.id)
        }) {
            return Ok(Some(("sent", done.id.clone())));
        }
        let conversation = history
            .iter()
            .map(|m| {
                let body = m.text_body.clone().unwrap_or_default();
                if m.direction == "inbound" {
                    ChatTurn::new(
                        ChatRole::User,
                        format!("From: {}\nSubject: {}\n\n{body}", m.from_address, m.subject),
                    )
                } else {
                    ChatTurn::new(ChatRole::Assistant, body)
                }
            })
            .collect();
        let mut system = agent.system_prompt.clone().unwrap_or_default();
        system.push_str(
            "\n\nYou are answering an email in an ongoing thread. Write only the body of your reply, in plain text, \
             without a subject line or a signature.",
        );
        let llm = live::clients_for(&agent, &self.llm.providers, &self.llm.http)
            .llm
            .unwrap_or_else(|| self.llm.sandbox.clone());
        let reply = llm
            .respond(&LlmRequest {
                system_prompt: system,
                first_message: None,
                conversation,
                tools: Vec::new(),
                knowledge: Vec::new(),
            })
            .await
            .map_err(|e| MailError::Model(e.to_string()))?;
        let text = reply.text.trim();
        if text.is_empty() {
            return Ok(Some(("skipped", "the agent had nothing to say".into())));
        }
        let sent = self
            .send(
                &msg.org_id,
                SendRequest {
                    agent_id: Some(agent.id.clone()),
                    to: vec![msg.reply_to.clone().unwrap_or_else(|| msg.from_address.clone())],
                    text: Some(text.to_string()),
                    thread_id: Some(msg.thread_id.clone()),
                    // A resumed answer reaches the provider once.
                    idempotency_key: Some(format!("auto-reply-{}", msg.id)),
                    tags: vec![EmailTag {
                        name: ANSWERS.into(),
                        value: msg.id.clone(),
                    }],
                    auto_reply: true,
                    ..SendRequest::default()
                },
            )
            .await?;
        Ok(Some(("sent", sent.id)))
    }
}
