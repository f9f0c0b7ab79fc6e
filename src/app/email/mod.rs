//! Email, the use cases: sending domains and their verification, agent mailboxes, sending in
//! threads, and what the provider reports back — delivery, bounces, complaints and inbound
//! replies, which land in their thread and may be answered by the agent.
//!
//! The service holds what it uses: the database, the `[email]` settings, the provider port,
//! and what it takes to reach an agent's language model.

mod domains;
mod inbound;
mod mailbox;
mod send;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};

pub use self::{
    domains::{DomainDeleted, REGIONS},
    mailbox::MailboxIn,
    send::SendRequest,
};
use super::AgentModels;
use crate::{
    config::EmailSettings,
    domain::pricing::Prices,
    error::{CodedError, ErrorCode, db_code},
    providers::email::{EmailError, EmailSender},
};

/// The email service.
#[derive(Clone)]
pub struct Email {
    db: DatabaseConnection,
    settings: Arc<EmailSettings>,
    /// The ledger's prices: every email sent is an entry.
    prices: Arc<Prices>,
    provider: Arc<dyn EmailSender>,
    llm: AgentModels,
}

impl Email {
    pub fn new(
        db: DatabaseConnection,
        settings: EmailSettings,
        prices: Arc<Prices>,
        provider: Arc<dyn EmailSender>,
        llm: AgentModels,
    ) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            prices,
            provider,
            llm,
        }
    }

    pub fn provider(&self) -> &Arc<dyn EmailSender> {
        &self.provider
    }
}

/// Why an email use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{0} '{1}' not found")]
    NotFound(&'static str, String),
    #[error("Validation failed: {field}: {message}")]
    Field { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("Email domain '{name}' is {status}: verify it with POST /email-domains/{id}/verify before sending from it")]
    NotVerified { id: String, name: String, status: String },
    #[error(transparent)]
    Provider(#[from] EmailError),
    #[error("the agent's language model failed: {0}")]
    Model(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl MailError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl CodedError for MailError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(..) => ErrorCode::NotFound,
            Self::Field { .. } => ErrorCode::ValidationError,
            Self::Conflict(_) => ErrorCode::ResourceConflict,
            Self::NotVerified { .. } => ErrorCode::DomainNotVerified,
            Self::Provider(e) => e.code(),
            Self::Model(_) => ErrorCode::UpstreamUnavailable,
            Self::Db(e) => db_code(e),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Field { field, message } => Some(json!([{ "field": field, "message": message }])),
            Self::NotVerified { id, name, status } => Some(json!({
                "domainId": id,
                "domain": name,
                "status": status,
                "nextAction": format!("Publish the DNS records of GET /email-domains, then POST /email-domains/{id}/verify"),
            })),
            _ => None,
        }
    }
}
