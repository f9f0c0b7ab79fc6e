//! Outbound integrations, each a trait with a real client and a sandbox.

pub mod a2p;
pub mod catalog;
pub mod chat;
pub mod email;
pub mod live;
pub mod llm;
pub mod realtime;
pub mod resend;
pub mod sandbox;
pub mod speech;
pub mod telephony;
pub mod twilio;
pub mod ws;

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use self::{email::EmailSender, resend::ResendEmail, sandbox::email::SandboxEmail};
use crate::config::{EmailProviderKind, Settings};

/// The email provider the settings choose: Resend with a key, else the sandbox.
///
/// # Errors
/// When the settings select Resend without a usable client.
pub fn email_sender(settings: &Settings, db: DatabaseConnection) -> anyhow::Result<Arc<dyn EmailSender>> {
    let from = settings.email.from.clone();
    Ok(match settings.email_provider().map_err(anyhow::Error::msg)? {
        EmailProviderKind::Sandbox => Arc::new(SandboxEmail::new(db, from)),
        EmailProviderKind::Resend => Arc::new(ResendEmail::new(
            reqwest::Client::builder()
                .timeout(Duration::from_millis(settings.email.timeout_ms))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            &settings.email.resend_base_url,
            &settings.email.resend_api_key,
            from,
        )),
    })
}
