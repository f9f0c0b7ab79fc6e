//! Outbound integrations, each a trait with a real client and a sandbox.

pub mod a2p;
pub mod catalog;
pub mod chat;
pub mod email;
pub mod embeddings;
pub mod live;
pub mod llm;
pub mod payments;
pub mod realtime;
pub mod resend;
pub mod sandbox;
pub mod speech;
pub mod stripe;
pub mod telephony;
pub mod twilio;
pub mod ws;

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use self::{
    email::EmailSender,
    payments::Payments,
    resend::ResendEmail,
    sandbox::{email::SandboxEmail, stripe::SandboxStripe},
    stripe::StripePayments,
};
use crate::config::{EmailProviderKind, PaymentsKind, Settings};

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

/// The payment provider in use, and the sandbox's own handle when it is the sandbox (its
/// Checkout and portal pages complete through it).
pub struct PaymentsProvider {
    pub payments: Arc<dyn Payments>,
    pub sandbox: Option<Arc<SandboxStripe>>,
}

/// The payment provider the settings choose (`None`: payments are off).
///
/// # Errors
/// When the settings name an unknown provider or Stripe without a key.
pub fn payments(settings: &Settings, db: DatabaseConnection) -> anyhow::Result<Option<PaymentsProvider>> {
    let b = &settings.billing;
    Ok(match settings.payments().map_err(anyhow::Error::msg)? {
        PaymentsKind::None => None,
        PaymentsKind::Sandbox => {
            let sandbox = Arc::new(SandboxStripe::new(db, &settings.server.public_base_url));
            Some(PaymentsProvider {
                payments: sandbox.clone(),
                sandbox: Some(sandbox),
            })
        }
        PaymentsKind::Stripe => Some(PaymentsProvider {
            payments: Arc::new(StripePayments::new(
                reqwest::Client::builder()
                    .timeout(Duration::from_millis(b.timeout_ms))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?,
                &b.stripe_base_url,
                &b.stripe_api_key,
                &b.stripe_api_version,
            )),
            sandbox: None,
        }),
    })
}
