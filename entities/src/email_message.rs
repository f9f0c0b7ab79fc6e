//! One email, sent or received, in its thread.
use sea_orm::entity::prelude::*;

use crate::values::{StringList, StringMap, email::EmailTags};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub thread_id: String,
    pub agent_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `resend` or `sandbox`.
    pub provider: String,
    /// The provider's id of the email (Resend's uuid).
    pub provider_email_id: Option<String>,
    /// The RFC 5322 Message-ID we minted (outbound) or received (inbound), with brackets.
    pub message_id: String,
    /// The Message-ID the provider actually sent with, when it rewrote ours.
    pub provider_message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: StringList,
    pub from_address: String,
    pub to_addresses: StringList,
    pub cc_addresses: StringList,
    pub bcc_addresses: StringList,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub headers: StringMap,
    pub tags: EmailTags,
    /// `queued`, `sent`, `delivered`, `bounced`, `complained`, `failed` (outbound);
    /// `received` (inbound).
    pub status: String,
    pub error: Option<String>,
    /// Written by the agent on its own, answering an inbound message.
    pub auto_reply: bool,
    /// Inbound, marked as automatic (`Auto-Submitted`, `Precedence: bulk`…): never answered.
    pub auto_submitted: bool,
    /// Inbound to an answering agent: `pending`, `sent`, `skipped` or `failed`.
    pub reply_status: Option<String>,
    pub reply_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
