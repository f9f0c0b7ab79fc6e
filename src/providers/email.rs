//! E-mail: the `EmailSender` port, the sandbox (messages kept in the database, readable
//! from loopback) and the Resend client.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use thruai_entities::sandbox_email;

use crate::{
    config::{EmailProviderKind, Settings},
    domain::ids,
    error::{ApiError, ErrorCode},
    store,
};

#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Passed to the provider so a retried send is not delivered twice.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("email provider rejected the request: {0}")]
    Rejected(String),
    #[error("email provider authentication failed")]
    Auth,
    #[error("email provider rate limited the request")]
    RateLimited,
    #[error("email provider unavailable: {0}")]
    Unavailable(String),
    #[error("email store failed: {0}")]
    Store(#[from] sea_orm::DbErr),
}

impl From<EmailError> for ApiError {
    fn from(err: EmailError) -> Self {
        match err {
            EmailError::Unavailable(_) => ApiError::internal(ErrorCode::UpstreamUnavailable, err),
            EmailError::Store(e) => ApiError::from(e),
            _ => ApiError::internal(ErrorCode::EmailProviderError, err),
        }
    }
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    /// Sends one message; returns the provider's message id.
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError>;
    fn is_sandbox(&self) -> bool;
    fn name(&self) -> &'static str;
}

/// # Errors
/// When the settings select Resend without a usable client.
pub fn from_settings(settings: &Settings, db: DatabaseConnection) -> anyhow::Result<Arc<dyn EmailSender>> {
    let from = settings.email.from.clone();
    Ok(match settings.email_provider().map_err(anyhow::Error::msg)? {
        EmailProviderKind::Sandbox => Arc::new(SandboxEmail { db, from }),
        EmailProviderKind::Resend => Arc::new(ResendEmail {
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(settings.email.timeout_ms))
                .build()?,
            base_url: settings.email.resend_base_url.trim_end_matches('/').to_string(),
            api_key: settings.email.resend_api_key.clone(),
            from,
        }),
    })
}

/// Keeps every message in `sandbox_emails`.
pub struct SandboxEmail {
    db: DatabaseConnection,
    from: String,
}

#[async_trait]
impl EmailSender for SandboxEmail {
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError> {
        let id = ids::new_id(ids::EMAIL);
        store::sandbox_emails::insert(
            &self.db,
            sandbox_email::Model {
                id: id.clone(),
                to_address: email.to,
                from_address: self.from.clone(),
                subject: email.subject,
                text_body: email.text,
                html_body: email.html,
                created_at: chrono::Utc::now(),
            },
        )
        .await?;
        Ok(id)
    }

    fn is_sandbox(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "sandbox"
    }
}

/// Resend's `POST /emails`.
pub struct ResendEmail {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    from: String,
}

#[derive(Deserialize)]
struct ResendSent {
    id: String,
}

#[derive(Deserialize)]
struct ResendErrorBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
}

#[async_trait]
impl EmailSender for ResendEmail {
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError> {
        let mut body = serde_json::json!({
            "from": self.from,
            "to": [email.to],
            "subject": email.subject,
            "text": email.text,
        });
        if let Some(html) = &email.html {
            body["html"] = serde_json::json!(html);
        }
        let mut req = self
            .http
            .post(format!("{}/emails", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&body);
        if let Some(key) = &email.idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        let res = req.send().await.map_err(|e| EmailError::Unavailable(without_url(&e)))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| EmailError::Unavailable(without_url(&e)))?;
        if status.is_success() {
            return serde_json::from_str::<ResendSent>(&text)
                .map(|s| s.id)
                .map_err(|_| EmailError::Unavailable("unreadable response from Resend".into()));
        }
        let err: ResendErrorBody = serde_json::from_str(&text).unwrap_or(ResendErrorBody {
            name: String::new(),
            message: String::new(),
        });
        Err(match (status.as_u16(), err.name.as_str()) {
            (401 | 403, _) | (_, "missing_api_key" | "invalid_api_key" | "restricted_api_key") => EmailError::Auth,
            (429, _) => EmailError::RateLimited,
            (500.., _) => EmailError::Unavailable(format!("HTTP {status}")),
            _ => EmailError::Rejected(format!("{} {}", err.name, err.message).trim().to_string()),
        })
    }

    fn is_sandbox(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "resend"
    }
}

fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
