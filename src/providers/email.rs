//! E-mail: the `EmailSender` port — sending, sending domains, what the provider reports back
//! — with the Resend client (`resend.rs`) and the sandbox (`sandbox/email.rs`) behind it
//! (chosen by `providers::email_sender`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use thruai_entities::values::email::{DnsRecord, EmailTag};

use crate::error::{CodedError, ErrorCode, db_code};

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct OutgoingEmail {
    /// `Name <a@domain>`; `None`: the platform's sender (`email.from`).
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Extra headers (`In-Reply-To`, `References`, `Auto-Submitted`, `Message-ID`).
    pub headers: BTreeMap<String, String>,
    pub tags: Vec<EmailTag>,
    /// Passed to the provider so a retried send is not delivered twice.
    pub idempotency_key: Option<String>,
}

impl OutgoingEmail {
    /// A plain-text notice from the platform's sender to one address.
    pub fn notice(to: &str, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to: vec![to.to_string()],
            subject: subject.into(),
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// Every recipient: to, cc and bcc.
    pub fn recipients(&self) -> impl Iterator<Item = &String> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }
}

/// A domain as the provider has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDomain {
    pub id: String,
    /// `not_started`, `pending`, `verified`, `partially_verified`, `partially_failed`, `failed`.
    pub status: String,
    pub records: Vec<DnsRecord>,
}

/// A message the provider received for one of the organisation's domains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundEmail {
    pub provider_email_id: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Vec<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// With brackets, as sent.
    pub message_id: Option<String>,
    /// Every header, names as sent.
    pub headers: BTreeMap<String, String>,
}

impl InboundEmail {
    /// A header by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the provider reports about a message or a domain (its webhooks; the sandbox's
/// simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailEvent {
    Sent {
        email_id: String,
    },
    Delivered {
        email_id: String,
    },
    DeliveryDelayed {
        email_id: String,
    },
    Bounced {
        email_id: String,
        to: Vec<String>,
        reason: Option<String>,
    },
    Complained {
        email_id: String,
        to: Vec<String>,
    },
    Failed {
        email_id: String,
        reason: Option<String>,
    },
    Received {
        email_id: String,
    },
    DomainUpdated {
        domain_id: String,
    },
    /// A type this platform does not act on (opened, clicked, contact.*…).
    Other {
        kind: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("email provider rejected the request: {0}")]
    Rejected(String),
    #[error("email provider authentication failed")]
    Auth,
    #[error("email provider rate limited the request")]
    RateLimited,
    #[error("email provider has no such {0}")]
    NotFound(&'static str),
    #[error("email provider unavailable: {0}")]
    Unavailable(String),
    #[error("email store failed: {0}")]
    Store(#[from] sea_orm::DbErr),
}

impl CodedError for EmailError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) | Self::RateLimited => ErrorCode::UpstreamUnavailable,
            Self::Store(e) => db_code(e),
            _ => ErrorCode::EmailProviderError,
        }
    }
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends one message; returns the provider's id of the email.
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError>;

    /// The Message-ID the provider sent the email with (it may rewrite ours).
    async fn sent_message_id(&self, email_id: &str) -> Result<Option<String>, EmailError>;

    async fn create_domain(&self, name: &str, region: &str, receiving: bool) -> Result<ProviderDomain, EmailError>;

    /// Asks the provider to check the records now, and answers what it found.
    async fn verify_domain(&self, domain_id: &str) -> Result<ProviderDomain, EmailError>;

    async fn delete_domain(&self, domain_id: &str) -> Result<(), EmailError>;

    /// The whole of a received message (its webhook carries only metadata).
    async fn received_email(&self, email_id: &str) -> Result<InboundEmail, EmailError>;

    /// What the provider will report about a message just sent, for a sandbox that reports
    /// it at once; a real provider reports through its webhook and answers nothing here.
    fn simulated_events(&self, _email_id: &str, _email: &OutgoingEmail) -> Vec<EmailEvent> {
        Vec::new()
    }

    fn is_sandbox(&self) -> bool;
    fn name(&self) -> &'static str;
}
