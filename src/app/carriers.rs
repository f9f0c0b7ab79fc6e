//! Which carrier and which Twilio credentials apply: the one rule, used alike by buying and
//! importing numbers, dialling, sending SMS, A2P registration and checking the signatures of
//! the carrier's voice, status and SMS webhooks.
//!
//! - A new number or registration goes to the organisation's own Twilio account (BYOC,
//!   `PUT /telephony/credentials`) when it has one, else the platform account, else the
//!   sandbox.
//! - An existing number stays with the account it was bought or imported on (recorded on
//!   the number): the organisation's own when the account ids match, else the platform's
//!   when they match. A number bought on the platform account keeps it after the
//!   organisation adds its own credentials — for dialling and for its webhooks alike.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use serde::Serialize;
use thruai_entities::{call, phone_number};

use crate::{
    config::{ProviderSettings, Settings},
    crypto::Crypto,
    domain::TelephonyProvider,
    providers::{
        sandbox::{
            carrier::SandboxCarrier,
            far_end::{FarEndEnv, SANDBOX_ACCOUNT_SID},
        },
        telephony::{Telephony, TelephonyError, TwilioCarrier},
        twilio::{TwilioClient, TwilioConfig},
    },
    store,
};

/// Whose Twilio account an organisation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The organisation's own credentials (`PUT /telephony/credentials`).
    Byoc,
    /// The platform-wide account of `providers.twilio`.
    Platform,
    Sandbox,
}

/// A Twilio account and its credentials.
#[derive(Clone)]
pub struct TwilioAccount {
    pub mode: Mode,
    pub account_sid: String,
    auth_token: String,
}

/// Where a line (a number, or a call on it) lives.
pub enum Account {
    Sandbox,
    Twilio(TwilioAccount),
}

/// Which webhook a carrier signed: the sandbox carrier signs voice and SMS webhooks with
/// tokens of their own (`calls.sandbox_auth_token`, `sms.sandbox_auth_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Voice,
    Sms,
}

/// What decides a line's account: the organisation, the provider and, for Twilio, the
/// account the number was bought or imported on.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub org_id: &'a str,
    pub provider: TelephonyProvider,
    pub twilio_account_sid: Option<&'a str>,
}

impl<'a> From<&'a phone_number::Model> for Line<'a> {
    fn from(n: &'a phone_number::Model) -> Self {
        Self {
            org_id: &n.org_id,
            provider: n.provider,
            twilio_account_sid: n.twilio_account_sid.as_deref(),
        }
    }
}

/// The sandbox carrier's settings.
#[derive(Clone)]
struct SandboxSettings {
    voice_token: String,
    sms_token: String,
    sms_delivery_step: Duration,
    far_end: FarEndEnv,
}

/// The carriers service: decides accounts and builds carrier clients.
#[derive(Clone)]
pub struct Carriers {
    db: DatabaseConnection,
    crypto: Crypto,
    http: reqwest::Client,
    providers: Arc<ProviderSettings>,
    sandbox: Arc<SandboxSettings>,
}

impl Carriers {
    pub fn new(db: DatabaseConnection, crypto: Crypto, http: reqwest::Client, settings: &Settings) -> Self {
        let sandbox = SandboxSettings {
            voice_token: settings.calls.sandbox_auth_token.clone(),
            sms_token: settings.sms.sandbox_auth_token.clone(),
            sms_delivery_step: Duration::from_millis(settings.sms.sandbox_delivery_ms),
            far_end: FarEndEnv {
                http: http.clone(),
                auth_token: settings.calls.sandbox_auth_token.clone(),
                account_sid: SANDBOX_ACCOUNT_SID.into(),
                max_call: Duration::from_secs(settings.calls.sandbox_max_call_secs),
            },
        };
        Self {
            db,
            crypto,
            http,
            providers: Arc::new(settings.providers.clone()),
            sandbox: Arc::new(sandbox),
        }
    }

    /// A Twilio client for an account id and token (e.g. credentials being validated).
    pub fn twilio_client(&self, account_sid: &str, auth_token: &str) -> TwilioClient {
        let cfg = &self.providers;
        TwilioClient::new(
            self.http.clone(),
            TwilioConfig {
                api_base: cfg.twilio.api_base.clone(),
                timeout: Duration::from_millis(cfg.timeout_ms),
                max_retries: cfg.twilio.max_retries,
            },
            account_sid.to_string(),
            auth_token.to_string(),
        )
        .with_v1_hosts(&cfg.twilio.messaging_base, &cfg.twilio.trusthub_base)
    }

    pub fn client(&self, account: &TwilioAccount) -> TwilioClient {
        self.twilio_client(&account.account_sid, &account.auth_token)
    }

    /// The organisation's own Twilio account, if it configured one.
    async fn byoc(&self, org_id: &str) -> Result<Option<TwilioAccount>, TelephonyError> {
        let Some(creds) = store::telephony::credentials(&self.db, org_id).await? else {
            return Ok(None);
        };
        Ok(Some(TwilioAccount {
            mode: Mode::Byoc,
            auth_token: self.crypto.decrypt(&creds.auth_token_ciphertext).await?,
            account_sid: creds.account_sid,
        }))
    }

    fn platform(&self) -> Option<TwilioAccount> {
        let p = &self.providers.twilio;
        p.configured().then(|| TwilioAccount {
            mode: Mode::Platform,
            account_sid: p.account_sid.clone(),
            auth_token: p.auth_token.clone(),
        })
    }

    /// The Twilio account new numbers and registrations of an organisation go to: its own,
    /// else the platform's; `None` means the sandbox.
    ///
    /// # Errors
    /// When the stored credentials cannot be read or decrypted.
    pub async fn org_account(&self, org_id: &str) -> Result<Option<TwilioAccount>, TelephonyError> {
        Ok(match self.byoc(org_id).await? {
            Some(own) => Some(own),
            None => self.platform(),
        })
    }

    /// The account an existing line lives on.
    ///
    /// # Errors
    /// `NotConfigured` when the line's Twilio account is no longer configured; when the
    /// stored credentials cannot be read.
    pub async fn line_account(&self, line: Line<'_>) -> Result<Account, TelephonyError> {
        if line.provider == TelephonyProvider::Sandbox {
            return Ok(Account::Sandbox);
        }
        let matches = |account: &TwilioAccount| line.twilio_account_sid.is_none_or(|sid| sid == account.account_sid);
        if let Some(own) = self.byoc(line.org_id).await?
            && matches(&own)
        {
            return Ok(Account::Twilio(own));
        }
        match self.platform() {
            Some(platform) if matches(&platform) => Ok(Account::Twilio(platform)),
            _ => Err(TelephonyError::NotConfigured),
        }
    }

    /// The Twilio client an organisation uses, if any (BYOC, then the platform account).
    ///
    /// # Errors
    /// When the stored credentials cannot be read or decrypted.
    pub async fn twilio_for(&self, org_id: &str) -> Result<Option<(Mode, TwilioClient)>, TelephonyError> {
        Ok(self.org_account(org_id).await?.map(|a| (a.mode, self.client(&a))))
    }

    /// The carrier an organisation buys numbers from: Twilio when configured, else the sandbox.
    ///
    /// # Errors
    /// When the stored credentials cannot be read or decrypted.
    pub async fn for_org(&self, org_id: &str) -> Result<(Mode, Arc<dyn Telephony>), TelephonyError> {
        Ok(match self.org_account(org_id).await? {
            Some(a) => (a.mode, Arc::new(TwilioCarrier::new(self.client(&a)))),
            None => (Mode::Sandbox, Arc::new(self.sandbox_carrier(org_id))),
        })
    }

    /// The carrier holding an existing number (to dial from it, send from it, release it).
    ///
    /// # Errors
    /// `NotConfigured` when the number's Twilio account is no longer configured.
    pub async fn of_number(&self, number: &phone_number::Model) -> Result<Arc<dyn Telephony>, TelephonyError> {
        Ok(match self.line_account(number.into()).await? {
            Account::Sandbox => Arc::new(
                self.sandbox_carrier(&number.org_id)
                    .for_calls(self.sandbox.far_end.clone()),
            ),
            Account::Twilio(a) => Arc::new(TwilioCarrier::new(self.client(&a))),
        })
    }

    /// The token the carrier signs a line's webhooks with.
    ///
    /// # Errors
    /// As [`Carriers::line_account`].
    pub async fn signing_token(&self, line: Line<'_>, hook: Hook) -> Result<String, TelephonyError> {
        Ok(match self.line_account(line).await? {
            Account::Sandbox => match hook {
                Hook::Voice => self.sandbox.voice_token.clone(),
                Hook::Sms => self.sandbox.sms_token.clone(),
            },
            Account::Twilio(a) => a.auth_token,
        })
    }

    /// The token a call's voice and status webhooks are signed with: its number's, by the
    /// rule above (a number released since counts as the call's provider on the
    /// organisation's account).
    ///
    /// # Errors
    /// As [`Carriers::line_account`]; database failures.
    pub async fn call_signing_token(&self, call: &call::Model) -> Result<String, TelephonyError> {
        let number = match &call.phone_number_id {
            Some(id) => store::phone_numbers::find(&self.db, &call.org_id, id).await?,
            None => None,
        };
        let line = number.as_ref().map_or(
            Line {
                org_id: &call.org_id,
                provider: call.provider,
                twilio_account_sid: None,
            },
            Line::from,
        );
        self.signing_token(line, Hook::Voice).await
    }

    fn sandbox_carrier(&self, org_id: &str) -> SandboxCarrier {
        SandboxCarrier::new(self.db.clone(), org_id).with_delivery_step(self.sandbox.sms_delivery_step)
    }
}
