//! The email resources on the wire: requests, and what each route answers.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thruai_entities::{
    email_domain, email_message, email_thread,
    values::email::{DnsRecord, EmailTag, Mailbox},
};

use crate::{
    app::email::{MailboxIn, REGIONS, SendRequest},
    http::core::validation::{Validate, Validator},
};

/// One address or a list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// A tag, as Resend takes them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagIn {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DomainIn {
    /// `mail.example.com` (internationalised names accepted; stored as punycode).
    #[serde(alias = "name")]
    pub domain: String,
    /// `us-east-1` (default), `eu-west-1`, `sa-east-1` or `ap-northeast-1`.
    pub region: Option<String>,
    /// Receive replies on this domain (an MX record to publish); default true.
    pub receiving: Option<bool>,
}

impl Validate for DomainIn {
    fn validate(&self, v: &mut Validator) {
        v.length("domain", &self.domain, 1, 253);
        v.one_of("region", self.region.as_deref(), REGIONS);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordOut {
    /// `SPF`, `DKIM`, `Receiving` (MX for replies) or `DMARC` (recommended).
    pub record: String,
    /// `TXT`, `MX` or `CNAME`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub value: String,
    pub priority: Option<u16>,
    pub ttl: String,
    /// `not_started`, `pending`, `verified`, `failed`; `optional` for DMARC.
    pub status: String,
    pub required: bool,
}

impl From<&DnsRecord> for RecordOut {
    fn from(r: &DnsRecord) -> Self {
        Self {
            record: r.record.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            value: r.value.clone(),
            priority: r.priority,
            ttl: r.ttl.clone(),
            status: r.status.clone(),
            required: r.required,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DomainOut {
    pub id: String,
    pub name: String,
    /// `not_started`, `pending`, `verified`, `partially_verified`, `partially_failed`, `failed`.
    pub status: String,
    pub region: String,
    pub provider: String,
    pub sending: bool,
    pub receiving: bool,
    /// The records to publish at the registrar, each with its own status.
    pub records: Vec<RecordOut>,
    /// Why verification failed.
    pub failure_reason: Option<String>,
    pub next_action: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<email_domain::Model> for DomainOut {
    fn from(d: email_domain::Model) -> Self {
        let next_action = match d.status.as_str() {
            "verified" => Some(format!(
                "Give an agent a mailbox: PUT /agents/:id/email {{\"address\": \"name@{}\"}}",
                d.name
            )),
            "failed" => Some(format!(
                "Check the records at your registrar, then POST /email-domains/{}/verify",
                d.id
            )),
            _ => Some(format!(
                "Publish the records at your registrar, then POST /email-domains/{}/verify",
                d.id
            )),
        };
        Self {
            records: d.records.0.iter().map(RecordOut::from).collect(),
            next_action,
            sending: true,
            id: d.id,
            name: d.name,
            status: d.status,
            region: d.region,
            provider: d.provider,
            receiving: d.receiving,
            failure_reason: d.failure_reason,
            verified_at: d.verified_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// What a verification found.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOut {
    pub verified: bool,
    /// The required records not verified yet.
    pub missing: Vec<RecordOut>,
    pub domain: DomainOut,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DomainDeletedOut {
    pub id: String,
    pub name: String,
    pub deleted: bool,
    /// The agents whose mailbox was on this domain, now without one.
    pub cleared_agents: Vec<String>,
    pub message: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MailboxBody {
    /// `sam@mail.example.com`, on one of your verified domains.
    #[serde(alias = "email", alias = "fromAddress")]
    pub address: Option<String>,
    /// The part before `@`, with `domainId` instead of `address`.
    pub local_part: Option<String>,
    pub domain_id: Option<String>,
    #[serde(alias = "fromName")]
    pub display_name: Option<String>,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    /// `true`: the agent answers inbound mail through its language model; `false` (default):
    /// inbound mail is only recorded.
    #[serde(alias = "autoRespond")]
    pub auto_reply: Option<bool>,
}

impl Validate for MailboxBody {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("address", self.address.as_deref(), 3, 254);
        v.opt_length("localPart", self.local_part.as_deref(), 1, 64);
        v.opt_length("displayName", self.display_name.as_deref(), 1, 100);
        v.opt_length("signature", self.signature.as_deref(), 1, 2000);
        v.check(
            self.address.is_some() || (self.local_part.is_some() && self.domain_id.is_some()),
            "address",
            "give address, or localPart with domainId",
        );
    }
}

impl From<MailboxBody> for MailboxIn {
    fn from(b: MailboxBody) -> Self {
        Self {
            address: b.address,
            local_part: b.local_part,
            domain_id: b.domain_id,
            display_name: b.display_name,
            reply_to: b.reply_to,
            signature: b.signature,
            auto_reply: b.auto_reply.unwrap_or(false),
        }
    }
}

/// An agent's mailbox, as `GET /agents/:id` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailboxConfig {
    pub domain_id: String,
    pub address: String,
    pub display_name: Option<String>,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    pub auto_reply: bool,
}

impl From<Mailbox> for MailboxConfig {
    fn from(m: Mailbox) -> Self {
        Self {
            domain_id: m.domain_id,
            address: m.address,
            display_name: m.display_name,
            reply_to: m.reply_to,
            signature: m.signature,
            auto_reply: m.auto_reply,
        }
    }
}

/// An agent's mailbox (`null` when it has none).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailboxOut {
    pub agent_id: String,
    pub domain_id: Option<String>,
    pub address: Option<String>,
    pub display_name: Option<String>,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
    pub auto_reply: bool,
}

impl MailboxOut {
    pub fn of(agent_id: String, m: Option<Mailbox>) -> Self {
        let m = m.unwrap_or_default();
        let set = |s: String| Some(s).filter(|s| !s.is_empty());
        Self {
            agent_id,
            domain_id: set(m.domain_id),
            address: set(m.address),
            display_name: m.display_name,
            reply_to: m.reply_to,
            signature: m.signature,
            auto_reply: m.auto_reply,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendIn {
    /// Send from this agent's mailbox.
    pub agent_id: Option<String>,
    /// Or from this address on one of your verified domains (`Name <a@domain>` allowed).
    pub from: Option<String>,
    /// One address or a list (optional when replying in a thread: its counterpart).
    pub to: Option<OneOrMany>,
    pub cc: Option<OneOrMany>,
    pub bcc: Option<OneOrMany>,
    /// Required for a new thread; `Re: …` of the thread's by default.
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    #[serde(alias = "reply_to")]
    pub reply_to: Option<String>,
    /// Reply in this thread (`ETH-…`).
    pub thread_id: Option<String>,
    /// `[{name, value}]`: ASCII letters, digits, `_` and `-`.
    pub tags: Option<Vec<TagIn>>,
}

impl Validate for SendIn {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("subject", self.subject.as_deref(), 1, 998);
        v.opt_length("text", self.text.as_deref(), 1, 1_000_000);
        v.opt_length("html", self.html.as_deref(), 1, 1_000_000);
        if let Some(tags) = &self.tags {
            v.check(tags.len() <= 20, "tags", "at most 20 tags");
            for TagIn { name, value } in tags {
                let ok = |s: &str| {
                    !s.is_empty()
                        && s.len() <= 256
                        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                };
                v.check(
                    ok(name) && ok(value),
                    "tags",
                    "names and values are ASCII letters, digits, '_' or '-' (at most 256)",
                );
            }
        }
    }
}

impl SendIn {
    pub fn into_request(self, idempotency_key: Option<String>) -> SendRequest {
        let list = |o: Option<OneOrMany>| o.map(OneOrMany::into_vec).unwrap_or_default();
        SendRequest {
            agent_id: self.agent_id,
            from: self.from,
            to: list(self.to),
            cc: list(self.cc),
            bcc: list(self.bcc),
            subject: self.subject,
            text: self.text,
            html: self.html,
            reply_to: self.reply_to,
            thread_id: self.thread_id,
            tags: self
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| EmailTag {
                    name: t.name,
                    value: t.value,
                })
                .collect(),
            idempotency_key,
            id: None,
            auto_reply: false,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TagOut {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmailOut {
    pub id: String,
    pub thread_id: String,
    pub agent_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// `queued`, `sent`, `delivered`, `bounced`, `complained`, `failed` (outbound);
    /// `received` (inbound).
    pub status: String,
    pub error: Option<String>,
    /// The RFC 5322 Message-ID.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub provider: String,
    pub provider_email_id: Option<String>,
    pub tags: Vec<TagOut>,
    /// Written by the agent on its own.
    pub auto_reply: bool,
    /// Inbound to an answering agent: `pending`, `sent`, `skipped` or `failed`.
    pub reply_status: Option<String>,
    pub reply_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<email_message::Model> for EmailOut {
    fn from(m: email_message::Model) -> Self {
        Self {
            id: m.id,
            thread_id: m.thread_id,
            agent_id: m.agent_id,
            direction: m.direction,
            from: m.from_address,
            to: m.to_addresses.0,
            cc: m.cc_addresses.0,
            bcc: m.bcc_addresses.0,
            reply_to: m.reply_to,
            subject: m.subject,
            text: m.text_body,
            html: m.html_body,
            status: m.status,
            error: m.error,
            message_id: m.message_id,
            in_reply_to: m.in_reply_to,
            provider: m.provider,
            provider_email_id: m.provider_email_id,
            tags: m
                .tags
                .0
                .into_iter()
                .map(|t| TagOut {
                    name: t.name,
                    value: t.value,
                })
                .collect(),
            auto_reply: m.auto_reply,
            reply_status: m.reply_status,
            reply_note: m.reply_note,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThreadOut {
    pub id: String,
    pub agent_id: Option<String>,
    pub domain_id: Option<String>,
    pub subject: String,
    /// The other party.
    pub counterpart: String,
    /// `open` (their word last), `waiting` (ours last) or `closed`.
    pub status: String,
    pub message_count: i32,
    pub last_message_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<email_thread::Model> for ThreadOut {
    fn from(t: email_thread::Model) -> Self {
        Self {
            id: t.id,
            agent_id: t.agent_id,
            domain_id: t.domain_id,
            subject: t.subject,
            counterpart: t.counterpart,
            status: t.status,
            message_count: t.message_count,
            last_message_at: t.last_message_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}
