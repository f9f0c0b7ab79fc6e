//! The `Telephony` port for numbers (search, purchase, configure, release) with two
//! carriers: Twilio (per-organisation BYOC credentials or the platform-wide account) and
//! the sandbox carrier, whose deterministic inventory and sales live in the database.

use async_trait::async_trait;
use sea_orm::DbErr;
use serde::Serialize;

use super::twilio::{BuyNumber, NumberSearch, TwilioClient, TwilioError, UpdateNumber};
use crate::{
    crypto::CryptoError,
    domain::TelephonyProvider,
    error::{CodedError, ErrorCode, db_code},
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

/// A number offered for sale.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableNumber {
    pub phone_number: String,
    pub friendly_name: String,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub capabilities: Capabilities,
}

/// A number the account owns at the carrier.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    pub capabilities: Capabilities,
}

/// Where the carrier sends a number's calls and messages.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub voice_url: String,
    pub sms_url: String,
}

impl Webhooks {
    /// `{public_base_url}/twilio/voice` and `/twilio/sms`.
    pub fn for_base(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            voice_url: format!("{base}/twilio/voice"),
            sms_url: format!("{base}/twilio/sms"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub country: String,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub limit: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error("Phone number '{0}' is not available for purchase")]
    Unavailable(String),
    /// Bought by another request a moment ago (a carrier that can tell).
    #[error("Phone number '{0}' is not available")]
    Taken(String),
    #[error("No Twilio credentials configured — use PUT /telephony/credentials to set up BYOC")]
    NotConfigured,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("stored credentials could not be decrypted")]
    Crypto(#[from] CryptoError),
}

impl CodedError for TelephonyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Twilio(e) => e.code(),
            Self::Unavailable(_) => ErrorCode::InvalidNumber,
            Self::Taken(_) => ErrorCode::NumberConflict,
            Self::NotConfigured => ErrorCode::TwilioNotConfigured,
            Self::Db(e) => db_code(e),
            Self::Crypto(_) => ErrorCode::InternalError,
        }
    }
}

/// An SMS to hand to the carrier.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    pub from: String,
    pub to: String,
    pub body: String,
    /// Where the carrier posts delivery status (`/twilio/sms-status`).
    pub status_callback: String,
}

/// The carrier's acknowledgement of an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub sid: String,
    pub status: String,
    pub num_segments: i32,
}

/// Sandbox recipients that simulate delivery failures (like Twilio's magic test numbers).
pub const SANDBOX_FAILED_RECIPIENT: &str = "+15005550006";
pub const SANDBOX_UNDELIVERED_RECIPIENT: &str = "+15005550007";

/// Segments of an SMS body: 160 GSM-7 characters (153 when split) or 70 UCS-2 (67).
pub fn segments(body: &str) -> i32 {
    let n = body.chars().count();
    let gsm = body
        .chars()
        .all(|c| c.is_ascii() && !c.is_ascii_control() || c == '\n' || c == '\r');
    let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
    let count = if n <= single { 1 } else { n.div_ceil(multi) };
    i32::try_from(count).unwrap_or(i32::MAX)
}

#[async_trait]
pub trait Telephony: Send + Sync {
    /// `twilio` or `sandbox` (stored on each number).
    fn provider(&self) -> TelephonyProvider;
    /// The Twilio account in use, for Twilio.
    fn account_sid(&self) -> Option<&str>;
    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, TelephonyError>;
    async fn purchase(&self, e164: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError>;
    async fn find_owned(&self, e164: &str) -> Result<Option<CarrierNumber>, TelephonyError>;
    async fn list_owned(&self) -> Result<Vec<CarrierNumber>, TelephonyError>;
    async fn configure(&self, sid: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError>;
    async fn release(&self, sid: &str) -> Result<(), TelephonyError>;
    /// Sends an SMS; delivery status arrives later through the status callback.
    async fn send_sms(&self, sms: &OutboundSms) -> Result<SentSms, TelephonyError>;
    /// Places an outbound call; the carrier fetches TwiML from `req.url`. Returns its call id.
    async fn place_call(&self, req: &PlaceCall) -> Result<String, TelephonyError>;
    /// Ends a live call.
    async fn hangup(&self, call_sid: &str) -> Result<(), TelephonyError>;
    /// The call placed for a dial intent, if the carrier has one (reconciling a dial whose
    /// acknowledgement a crash lost).
    async fn find_call(&self, lookup: &CallLookup) -> Result<Option<String>, TelephonyError>;
}

/// What identifies a dial at the carrier.
#[derive(Debug, Clone)]
pub struct CallLookup {
    pub intent_key: String,
    pub to: String,
    pub from: String,
    /// The intent was recorded at this time: an older call is another attempt's.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// An outbound call to place.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    pub to: String,
    pub from: String,
    /// Where the carrier fetches TwiML (`/twilio/voice?callId=…`).
    pub url: String,
    /// Where it posts status callbacks (`/twilio/status?callId=…`).
    pub status_callback: String,
    /// The sandbox's scripted far end (ignored by real carriers).
    pub sandbox_script: Option<serde_json::Value>,
    /// The campaign dial intent this call carries out (in the status callback URL too).
    pub intent_key: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Twilio
// ---------------------------------------------------------------------------------------------

pub struct TwilioCarrier {
    client: TwilioClient,
}

impl TwilioCarrier {
    pub fn new(client: TwilioClient) -> Self {
        Self { client }
    }
}

fn twilio_caps(c: super::twilio::Capabilities) -> Capabilities {
    Capabilities {
        voice: c.voice,
        sms: c.sms,
        mms: c.mms,
    }
}

fn from_incoming(n: super::twilio::IncomingNumber) -> CarrierNumber {
    CarrierNumber {
        sid: n.sid,
        phone_number: n.phone_number,
        friendly_name: n.friendly_name,
        voice_url: n.voice_url.filter(|u| !u.is_empty()),
        sms_url: n.sms_url.filter(|u| !u.is_empty()),
        capabilities: twilio_caps(n.capabilities),
    }
}

#[async_trait]
impl Telephony for TwilioCarrier {
    fn provider(&self) -> TelephonyProvider {
        TelephonyProvider::Twilio
    }

    fn account_sid(&self) -> Option<&str> {
        Some(self.client.account_sid())
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, TelephonyError> {
        let found = self
            .client
            .search_available(&NumberSearch {
                country: q.country.clone(),
                area_code: q.area_code.clone(),
                contains: q.contains.clone(),
                limit: Some(q.limit),
                ..NumberSearch::default()
            })
            .await?;
        Ok(found
            .into_iter()
            .map(|n| AvailableNumber {
                friendly_name: n.friendly_name.unwrap_or_else(|| n.phone_number.clone()),
                phone_number: n.phone_number,
                locality: n.locality,
                region: n.region,
                country: n.iso_country.unwrap_or_else(|| q.country.clone()),
                capabilities: twilio_caps(n.capabilities),
            })
            .collect())
    }

    async fn purchase(&self, e164: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        let bought = self
            .client
            .buy_number(&BuyNumber {
                phone_number: e164.to_string(),
                voice_url: Some(hooks.voice_url.clone()),
                voice_method: Some("POST".into()),
                sms_url: Some(hooks.sms_url.clone()),
                sms_method: Some("POST".into()),
                ..BuyNumber::default()
            })
            .await?;
        Ok(from_incoming(bought))
    }

    async fn find_owned(&self, e164: &str) -> Result<Option<CarrierNumber>, TelephonyError> {
        Ok(self.client.find_incoming_number(e164).await?.map(from_incoming))
    }

    async fn list_owned(&self) -> Result<Vec<CarrierNumber>, TelephonyError> {
        Ok(self
            .client
            .list_incoming_numbers(100)
            .await?
            .into_iter()
            .map(from_incoming)
            .collect())
    }

    async fn configure(&self, sid: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        let updated = self
            .client
            .update_number(
                sid,
                &UpdateNumber {
                    voice_url: Some(hooks.voice_url.clone()),
                    voice_method: Some("POST".into()),
                    sms_url: Some(hooks.sms_url.clone()),
                    sms_method: Some("POST".into()),
                    ..UpdateNumber::default()
                },
            )
            .await?;
        Ok(from_incoming(updated))
    }

    async fn release(&self, sid: &str) -> Result<(), TelephonyError> {
        Ok(self.client.release_number(sid).await?)
    }

    async fn send_sms(&self, sms: &OutboundSms) -> Result<SentSms, TelephonyError> {
        let sent = self
            .client
            .send_message(&super::twilio::SendMessage {
                to: sms.to.clone(),
                from: Some(sms.from.clone()),
                body: Some(sms.body.clone()),
                status_callback: Some(sms.status_callback.clone()),
                ..super::twilio::SendMessage::default()
            })
            .await?;
        Ok(SentSms {
            num_segments: sent
                .num_segments
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| segments(&sms.body)),
            sid: sent.sid,
            status: if sent.status.is_empty() {
                "queued".into()
            } else {
                sent.status
            },
        })
    }

    async fn place_call(&self, req: &PlaceCall) -> Result<String, TelephonyError> {
        let call = self
            .client
            .create_call(&super::twilio::CreateCall {
                to: req.to.clone(),
                from: req.from.clone(),
                url: Some(req.url.clone()),
                method: Some("POST".into()),
                status_callback: Some(req.status_callback.clone()),
                status_callback_method: Some("POST".into()),
                status_callback_events: ["initiated", "ringing", "answered", "completed"]
                    .map(String::from)
                    .to_vec(),
                ..super::twilio::CreateCall::default()
            })
            .await?;
        Ok(call.sid)
    }

    async fn hangup(&self, call_sid: &str) -> Result<(), TelephonyError> {
        self.client.update_call(call_sid, Some("completed"), None).await?;
        Ok(())
    }

    /// Twilio keeps no caller-side key: the intent's call is the one from `from` to `to`
    /// created since the intent was recorded (one intent per contact attempt).
    async fn find_call(&self, lookup: &CallLookup) -> Result<Option<String>, TelephonyError> {
        let since = lookup.since - chrono::Duration::seconds(1);
        let day = since.format("%Y-%m-%d").to_string();
        let calls = self.client.list_calls_to(&lookup.to, &lookup.from, Some(&day)).await?;
        Ok(calls
            .into_iter()
            .find(|c| {
                c.date_created
                    .as_deref()
                    .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                    .is_none_or(|d| d >= since)
            })
            .map(|c| c.sid))
    }
}
