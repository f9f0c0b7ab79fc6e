//! Twilio REST client (2010-04-01 API: accounts, phone numbers, calls, messages) and the
//! `X-Twilio-Signature` webhook helpers. Form-encoded requests, JSON responses, HTTP Basic
//! auth; retries only where a repeat cannot duplicate an effect (see [`TwilioClient`]).
#![forbid(unsafe_code)]

pub mod a2p;

use std::{
    error::Error as _,
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::{CodedError, ErrorCode};

/// Twilio's production API host for the 2010 API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
const API_VERSION: &str = "2010-04-01";
/// List endpoints follow `next_page_uri` at most this many pages.
const MAX_PAGES: usize = 20;
/// A `Retry-After` longer than this is not waited out: the error goes back to the caller.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(3);
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// Configuration and errors
// ---------------------------------------------------------------------------------------------

/// Settings shared by every request of a [`TwilioClient`].
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Scheme and host of the 2010 API, e.g. `https://api.twilio.com` (no trailing path needed).
    pub api_base: String,
    /// Whole-request timeout (connect, send, and read the full body), per attempt.
    pub timeout: Duration,
    /// Extra attempts after the first one, for the requests that may be retried.
    pub max_retries: u32,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            timeout: Duration::from_secs(15),
            max_retries: 2,
        }
    }
}

/// Everything a Twilio call can fail with, already sorted into what the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// 401 or code 20003: wrong Account SID / Auth Token pair.
    #[error("Twilio rejected the credentials: {message}")]
    AuthFailed { code: Option<i64>, message: String },
    /// Codes 20005 / 10001, or an account whose status is `suspended` or `closed`.
    #[error("Twilio account is not active: {message}")]
    AccountSuspended { code: Option<i64>, message: String },
    /// 404 or code 20404.
    #[error("Twilio resource not found: {message}")]
    NotFound { code: Option<i64>, message: String },
    /// Codes 21211, 21214, 21217, 21421, 21422, 21614.
    #[error("invalid or unavailable phone number: {message}")]
    InvalidNumber { code: Option<i64>, message: String },
    /// Code 21610: the recipient replied STOP to this sender.
    #[error("recipient has opted out: {message}")]
    OptedOut { code: Option<i64>, message: String },
    /// 403 or code 21408 (region/permission not enabled).
    #[error("Twilio permission denied: {message}")]
    PermissionDenied { code: Option<i64>, message: String },
    /// 429 or code 20429; `retry_after` is the server's `Retry-After` in seconds.
    #[error("Twilio rate limit reached (retry after {retry_after:?} s)")]
    RateLimited { retry_after: Option<u64> },
    /// Any other 4xx.
    #[error("Twilio API error: HTTP {status}, code {code:?}: {message}")]
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// Network error, timeout, or 5xx (after retries where retries apply). For a POST that
    /// creates something the outcome is unknown: reconcile (e.g. `list_calls_to`) before redoing.
    #[error("Twilio unavailable: {0}")]
    Unavailable(String),
    /// A success status with a body that is not the expected JSON.
    #[error("could not decode Twilio response: {0}")]
    Decode(String),
}

impl CodedError for TwilioError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AuthFailed { .. } => ErrorCode::TwilioAuthFailed,
            Self::AccountSuspended { .. } => ErrorCode::TwilioAccountSuspended,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::InvalidNumber { .. } => ErrorCode::InvalidNumber,
            Self::PermissionDenied { .. } => ErrorCode::TwilioPermissionDenied,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::UpstreamUnavailable,
            Self::OptedOut { .. } | Self::Api { .. } | Self::Decode(_) => ErrorCode::TelephonyError,
        }
    }
}

impl TwilioError {
    /// Twilio's numeric error code, when the response carried one.
    #[must_use]
    pub fn twilio_code(&self) -> Option<i64> {
        match self {
            Self::AuthFailed { code, .. }
            | Self::AccountSuspended { code, .. }
            | Self::NotFound { code, .. }
            | Self::InvalidNumber { code, .. }
            | Self::OptedOut { code, .. }
            | Self::PermissionDenied { code, .. }
            | Self::Api { code, .. } => *code,
            Self::RateLimited { .. } | Self::Unavailable(_) | Self::Decode(_) => None,
        }
    }

    /// True when trying again later may succeed (rate limit, outage, timeout).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types (responses: snake_case JSON; unknown fields ignored, optional ones may be absent)
// ---------------------------------------------------------------------------------------------

/// `GET /2010-04-01/Accounts/{Sid}.json`. The account's own `auth_token` field is not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `active`, `suspended` or `closed`.
    #[serde(default)]
    pub status: String,
    /// `Trial` or `Full`.
    #[serde(default, rename = "type")]
    pub account_type: Option<String>,
    #[serde(default)]
    pub owner_account_sid: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

/// Number capabilities. Accepts `voice`/`sms`/`mms`/`fax` and the capitalised `SMS`/`MMS`
/// keys of `IncomingPhoneNumber`, with boolean (or `"true"`) values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, alias = "Voice", alias = "VOICE", deserialize_with = "flex_bool")]
    pub voice: bool,
    #[serde(default, alias = "SMS", alias = "Sms", deserialize_with = "flex_bool")]
    pub sms: bool,
    #[serde(default, alias = "MMS", alias = "Mms", deserialize_with = "flex_bool")]
    pub mms: bool,
    #[serde(default, alias = "Fax", alias = "FAX", deserialize_with = "flex_bool")]
    pub fax: bool,
}

/// One result of `AvailablePhoneNumbers/{CC}/{Local|TollFree|Mobile}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailableNumber {
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub iso_country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub locality: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub rate_center: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub lata: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub latitude: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub longitude: Option<String>,
    /// `none`, `any`, `local` or `foreign`.
    #[serde(default)]
    pub address_requirements: Option<String>,
    #[serde(default)]
    pub beta: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub capabilities: Capabilities,
}

/// An owned number (`IncomingPhoneNumbers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingNumber {
    /// `PN...`
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub voice_url: Option<String>,
    #[serde(default)]
    pub voice_method: Option<String>,
    #[serde(default)]
    pub voice_fallback_url: Option<String>,
    #[serde(default)]
    pub voice_application_sid: Option<String>,
    #[serde(default)]
    pub sms_url: Option<String>,
    #[serde(default)]
    pub sms_method: Option<String>,
    #[serde(default)]
    pub sms_application_sid: Option<String>,
    #[serde(default)]
    pub status_callback: Option<String>,
    #[serde(default)]
    pub status_callback_method: Option<String>,
    #[serde(default)]
    pub trunk_sid: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub capabilities: Capabilities,
    /// e.g. `in-use`.
    #[serde(default)]
    pub status: Option<String>,
    /// `local`, `mobile`, `tollfree`, ...
    #[serde(default, rename = "type")]
    pub number_type: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub address_requirements: Option<String>,
    #[serde(default)]
    pub bundle_sid: Option<String>,
    #[serde(default)]
    pub emergency_status: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

/// A call resource (`CA...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub parent_call_sid: Option<String>,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to_formatted: Option<String>,
    #[serde(default)]
    pub from_formatted: Option<String>,
    #[serde(default)]
    pub phone_number_sid: Option<String>,
    /// `queued`, `ringing`, `in-progress`, `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    #[serde(default)]
    pub status: String,
    /// `inbound`, `outbound-api`, `outbound-dial`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// Seconds, as Twilio's string.
    #[serde(default, deserialize_with = "opt_string")]
    pub duration: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub queue_time: Option<String>,
    #[serde(default)]
    pub caller_name: Option<String>,
    #[serde(default)]
    pub forwarded_from: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
}

/// A message resource (`SM...`/`MM...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub sid: String,
    #[serde(default)]
    pub account_sid: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `accepted`, `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, ...
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub num_segments: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub num_media: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub date_sent: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Request types (sent as PascalCase form parameters)
// ---------------------------------------------------------------------------------------------

/// Which `AvailablePhoneNumbers` sub-resource to search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NumberKind {
    #[default]
    Local,
    TollFree,
    Mobile,
}

impl NumberKind {
    fn resource(self) -> &'static str {
        match self {
            Self::Local => "Local.json",
            Self::TollFree => "TollFree.json",
            Self::Mobile => "Mobile.json",
        }
    }
}

/// Search for numbers to buy. `None` fields are not sent.
#[derive(Debug, Clone)]
pub struct NumberSearch {
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub country: String,
    pub kind: NumberKind,
    pub area_code: Option<String>,
    /// Digits/letters pattern; `*` matches one digit.
    pub contains: Option<String>,
    pub sms_enabled: Option<bool>,
    pub voice_enabled: Option<bool>,
    pub mms_enabled: Option<bool>,
    /// Sent as `PageSize` (1..=1000).
    pub limit: Option<u32>,
}

impl Default for NumberSearch {
    fn default() -> Self {
        Self {
            country: "US".to_owned(),
            kind: NumberKind::Local,
            area_code: None,
            contains: None,
            sms_enabled: None,
            voice_enabled: None,
            mms_enabled: None,
            limit: None,
        }
    }
}

/// Buy (provision) a number: `POST IncomingPhoneNumbers.json`.
#[derive(Debug, Clone, Default)]
pub struct BuyNumber {
    /// E.164, as returned by [`TwilioClient::search_available`].
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub voice_method: Option<String>,
    pub sms_url: Option<String>,
    pub sms_method: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
}

/// Change an owned number. `None` leaves a field unchanged; `Some(String::new())` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateNumber {
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub voice_method: Option<String>,
    pub voice_fallback_url: Option<String>,
    pub sms_url: Option<String>,
    pub sms_method: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
}

/// Place an outbound call. Give exactly one of `url` or `twiml`.
#[derive(Debug, Clone, Default)]
pub struct CreateCall {
    pub to: String,
    pub from: String,
    pub url: Option<String>,
    pub method: Option<String>,
    pub twiml: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    /// Sent as repeated `StatusCallbackEvent` (`initiated`, `ringing`, `answered`, `completed`).
    pub status_callback_events: Vec<String>,
    /// Ring timeout in seconds.
    pub timeout: Option<u32>,
    /// Maximum call length in seconds.
    pub time_limit: Option<u32>,
    /// `Enable` or `DetectMessageEnd`.
    pub machine_detection: Option<String>,
    pub machine_detection_timeout: Option<u32>,
    pub async_amd: Option<bool>,
    pub async_amd_status_callback: Option<String>,
    pub async_amd_status_callback_method: Option<String>,
    pub record: Option<bool>,
    /// Any other documented parameter, sent as is (`PascalCase` name, value).
    pub extra: Vec<(String, String)>,
}

/// Send an SMS/MMS. Give `from` or `messaging_service_sid`, and `body` or `media_urls`.
#[derive(Debug, Clone, Default)]
pub struct SendMessage {
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: Option<String>,
    /// Sent as repeated `MediaUrl`.
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
    /// Any other documented parameter, sent as is (`PascalCase` name, value).
    pub extra: Vec<(String, String)>,
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryPolicy {
    /// GET and DELETE: repeat on network errors, timeouts, 5xx and 429.
    Safe,
    /// POST: repeat only on a connect error (DNS/TCP/TLS failed, so no request byte was sent).
    /// A timeout, a reset after sending, a 5xx or a 429 is returned to the caller as is.
    ConnectOnly,
}

/// Twilio REST client for one account. Cheap to clone.
///
/// Retries: GETs and DELETEs are retried up to `max_retries` times on network errors,
/// timeouts, 5xx and 429 (exponential backoff from 200 ms, capped at 3 s, with jitter; a
/// `Retry-After` in seconds is honoured, and one above 10 s is not waited out). POSTs (buy a
/// number, create a call, send a message, and the updates) are retried only when the connection
/// could not be established, because then Twilio never saw the request. A POST that fails
/// any later way returns `Unavailable` and its effect is unknown.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    config: TwilioConfig,
    account_sid: String,
    auth_token: String,
    /// Scheme and host of the Messaging v1 API (see [`a2p`]).
    messaging_base: String,
    /// Scheme and host of the TrustHub v1 API (see [`a2p`]).
    trusthub_base: String,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("config", &self.config)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    #[must_use]
    pub fn new(http: reqwest::Client, cfg: TwilioConfig, account_sid: String, auth_token: String) -> Self {
        Self {
            http,
            config: cfg,
            account_sid,
            auth_token,
            messaging_base: a2p::DEFAULT_MESSAGING_BASE.to_owned(),
            trusthub_base: a2p::DEFAULT_TRUSTHUB_BASE.to_owned(),
        }
    }

    /// Points the Messaging and TrustHub v1 APIs elsewhere (tests use a local fake).
    #[must_use]
    pub fn with_v1_hosts(mut self, messaging_base: &str, trusthub_base: &str) -> Self {
        messaging_base.clone_into(&mut self.messaging_base);
        trusthub_base.clone_into(&mut self.trusthub_base);
        self
    }

    #[must_use]
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Fetches the account; also the "test these credentials" call. An account whose status is
    /// `suspended` or `closed` yields [`TwilioError::AccountSuspended`].
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        self.check_account_sid()?;
        let url = self.url(&[API_VERSION, "Accounts", &format!("{}.json", self.account_sid)], &[])?;
        let account: Account = self.get_json(url).await?;
        match account.status.as_str() {
            "suspended" | "closed" => Err(TwilioError::AccountSuspended {
                code: None,
                message: format!("Twilio account {} is {}", account.sid, account.status),
            }),
            _ => Ok(account),
        }
    }

    /// One page (`limit`, default Twilio's) of numbers available to buy.
    pub async fn search_available(&self, q: &NumberSearch) -> Result<Vec<AvailableNumber>, TwilioError> {
        let country = q.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(TwilioError::Api {
                status: 400,
                code: None,
                message: format!("country must be an ISO 3166-1 alpha-2 code, got {country:?}"),
            });
        }
        let mut query = Vec::new();
        push_opt(&mut query, "AreaCode", q.area_code.as_deref());
        push_opt(&mut query, "Contains", q.contains.as_deref());
        push_bool(&mut query, "SmsEnabled", q.sms_enabled);
        push_bool(&mut query, "VoiceEnabled", q.voice_enabled);
        push_bool(&mut query, "MmsEnabled", q.mms_enabled);
        if let Some(limit) = q.limit {
            query.push(("PageSize".to_owned(), limit.clamp(1, 1000).to_string()));
        }
        let url = self.account_url(&["AvailablePhoneNumbers", &country, q.kind.resource()], &query)?;
        let body = self.execute(Method::GET, url, None, RetryPolicy::Safe).await?;
        let (items, _) = split_page::<AvailableNumber>(&body, "available_phone_numbers")?;
        Ok(items)
    }

    /// Buys a number. Not retried after the request may have reached Twilio.
    pub async fn buy_number(&self, req: &BuyNumber) -> Result<IncomingNumber, TwilioError> {
        let mut form = vec![("PhoneNumber".to_owned(), req.phone_number.clone())];
        push_opt(&mut form, "FriendlyName", req.friendly_name.as_deref());
        push_opt(&mut form, "VoiceUrl", req.voice_url.as_deref());
        push_opt(&mut form, "VoiceMethod", req.voice_method.as_deref());
        push_opt(&mut form, "SmsUrl", req.sms_url.as_deref());
        push_opt(&mut form, "SmsMethod", req.sms_method.as_deref());
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", req.status_callback_method.as_deref());
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &[])?;
        self.post_json(url, &form).await
    }

    /// Every owned number, following `next_page_uri` for at most 20 pages.
    pub async fn list_incoming_numbers(&self, page_size: u32) -> Result<Vec<IncomingNumber>, TwilioError> {
        let query = [("PageSize".to_owned(), page_size.clamp(1, 1000).to_string())];
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &query)?;
        self.list_all(url, "incoming_phone_numbers").await
    }

    /// The owned number whose `phone_number` equals `phone_number` exactly (E.164), if any.
    pub async fn find_incoming_number(&self, phone_number: &str) -> Result<Option<IncomingNumber>, TwilioError> {
        let query = [
            ("PhoneNumber".to_owned(), phone_number.to_owned()),
            ("PageSize".to_owned(), "50".to_owned()),
        ];
        let url = self.account_url(&["IncomingPhoneNumbers.json"], &query)?;
        // Twilio's PhoneNumber filter is a partial match: keep only the exact one.
        let numbers: Vec<IncomingNumber> = self.list_all(url, "incoming_phone_numbers").await?;
        Ok(numbers.into_iter().find(|n| n.phone_number == phone_number))
    }

    /// Updates an owned number (`VoiceUrl`, `SmsUrl`, ...).
    pub async fn update_number(&self, sid: &str, upd: &UpdateNumber) -> Result<IncomingNumber, TwilioError> {
        check_sid(sid)?;
        let mut form = Vec::new();
        push_opt(&mut form, "FriendlyName", upd.friendly_name.as_deref());
        push_opt(&mut form, "VoiceUrl", upd.voice_url.as_deref());
        push_opt(&mut form, "VoiceMethod", upd.voice_method.as_deref());
        push_opt(&mut form, "VoiceFallbackUrl", upd.voice_fallback_url.as_deref());
        push_opt(&mut form, "SmsUrl", upd.sms_url.as_deref());
        push_opt(&mut form, "SmsMethod", upd.sms_method.as_deref());
        push_opt(&mut form, "StatusCallback", upd.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", upd.status_callback_method.as_deref());
        let url = self.account_url(&["IncomingPhoneNumbers", &format!("{sid}.json")], &[])?;
        self.post_json(url, &form).await
    }

    /// Releases an owned number. A 404 counts as already released.
    pub async fn release_number(&self, sid: &str) -> Result<(), TwilioError> {
        check_sid(sid)?;
        let url = self.account_url(&["IncomingPhoneNumbers", &format!("{sid}.json")], &[])?;
        match self.execute(Method::DELETE, url, None, RetryPolicy::Safe).await {
            Ok(_) | Err(TwilioError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Places an outbound call. Not retried after the request may have reached Twilio: on
    /// `Unavailable`, look the call up with [`Self::list_calls_to`] before dialling again.
    pub async fn create_call(&self, req: &CreateCall) -> Result<Call, TwilioError> {
        let mut form = vec![("To".to_owned(), req.to.clone()), ("From".to_owned(), req.from.clone())];
        push_opt(&mut form, "Url", req.url.as_deref());
        push_opt(&mut form, "Method", req.method.as_deref());
        push_opt(&mut form, "Twiml", req.twiml.as_deref());
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        push_opt(&mut form, "StatusCallbackMethod", req.status_callback_method.as_deref());
        for event in &req.status_callback_events {
            form.push(("StatusCallbackEvent".to_owned(), event.clone()));
        }
        push_num(&mut form, "Timeout", req.timeout);
        push_num(&mut form, "TimeLimit", req.time_limit);
        push_opt(&mut form, "MachineDetection", req.machine_detection.as_deref());
        push_num(&mut form, "MachineDetectionTimeout", req.machine_detection_timeout);
        push_bool(&mut form, "AsyncAmd", req.async_amd);
        push_opt(
            &mut form,
            "AsyncAmdStatusCallback",
            req.async_amd_status_callback.as_deref(),
        );
        push_opt(
            &mut form,
            "AsyncAmdStatusCallbackMethod",
            req.async_amd_status_callback_method.as_deref(),
        );
        push_bool(&mut form, "Record", req.record);
        form.extend(req.extra.iter().cloned());
        let url = self.account_url(&["Calls.json"], &[])?;
        self.post_json(url, &form).await
    }

    /// Hangs up (`Status=completed`), cancels (`Status=canceled`) or redirects (`Twiml`) a call.
    pub async fn update_call(&self, sid: &str, status: Option<&str>, twiml: Option<&str>) -> Result<Call, TwilioError> {
        check_sid(sid)?;
        let mut form = Vec::new();
        push_opt(&mut form, "Status", status);
        push_opt(&mut form, "Twiml", twiml);
        let url = self.account_url(&["Calls", &format!("{sid}.json")], &[])?;
        self.post_json(url, &form).await
    }

    pub async fn fetch_call(&self, sid: &str) -> Result<Call, TwilioError> {
        check_sid(sid)?;
        let url = self.account_url(&["Calls", &format!("{sid}.json")], &[])?;
        self.get_json(url).await
    }

    /// Calls from `from` to `to` (newest first), to reconcile a dial whose outcome is unknown.
    /// `start_after` is sent as `StartTime>` (`YYYY-MM-DD` or ISO 8601, inclusive); note that
    /// Twilio matches it against `start_time`, which a still-queued call may not have yet.
    pub async fn list_calls_to(
        &self,
        to: &str,
        from: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<Call>, TwilioError> {
        let mut query = vec![("To".to_owned(), to.to_owned()), ("From".to_owned(), from.to_owned())];
        push_opt(&mut query, "StartTime>", start_after);
        query.push(("PageSize".to_owned(), "50".to_owned()));
        let url = self.account_url(&["Calls.json"], &query)?;
        self.list_all(url, "calls").await
    }

    /// Sends an SMS/MMS. Not retried after the request may have reached Twilio.
    pub async fn send_message(&self, req: &SendMessage) -> Result<Message, TwilioError> {
        let mut form = vec![("To".to_owned(), req.to.clone())];
        push_opt(&mut form, "From", req.from.as_deref());
        push_opt(&mut form, "MessagingServiceSid", req.messaging_service_sid.as_deref());
        push_opt(&mut form, "Body", req.body.as_deref());
        for media in &req.media_urls {
            form.push(("MediaUrl".to_owned(), media.clone()));
        }
        push_opt(&mut form, "StatusCallback", req.status_callback.as_deref());
        form.extend(req.extra.iter().cloned());
        let url = self.account_url(&["Messages.json"], &[])?;
        self.post_json(url, &form).await
    }

    // -- plumbing ------------------------------------------------------------------------------

    fn check_account_sid(&self) -> Result<(), TwilioError> {
        if is_valid_sid(&self.account_sid) {
            Ok(())
        } else {
            Err(TwilioError::AuthFailed {
                code: None,
                message: "malformed Account SID".to_owned(),
            })
        }
    }

    /// `{api_base}/2010-04-01/Accounts/{AccountSid}/{tail...}?{query}`.
    fn account_url(&self, tail: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        self.check_account_sid()?;
        let mut segments = vec![API_VERSION, "Accounts", self.account_sid.as_str()];
        segments.extend_from_slice(tail);
        self.url(&segments, query)
    }

    fn url(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        let mut url = Url::parse(&self.config.api_base)
            .map_err(|e| TwilioError::Unavailable(format!("invalid Twilio api_base configuration: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| TwilioError::Unavailable("invalid Twilio api_base configuration".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Absolute URL for a `next_page_uri`, accepted only under this account's path so that the
    /// credentials are never sent anywhere else.
    fn next_page_url(&self, uri: &str) -> Result<Url, TwilioError> {
        let prefix = format!("/{API_VERSION}/Accounts/{}/", self.account_sid);
        if !uri.starts_with(&prefix) {
            return Err(TwilioError::Decode(format!("unexpected next_page_uri {uri:?}")));
        }
        let joined = format!("{}{uri}", self.config.api_base.trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| TwilioError::Decode(format!("bad next_page_uri: {e}")))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, TwilioError> {
        let body = self.execute(Method::GET, url, None, RetryPolicy::Safe).await?;
        decode(&body)
    }

    async fn post_json<T: DeserializeOwned>(&self, url: Url, form: &[(String, String)]) -> Result<T, TwilioError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let bytes = self
            .execute(Method::POST, url, Some(body), RetryPolicy::ConnectOnly)
            .await?;
        decode(&bytes)
    }

    async fn list_all<T: DeserializeOwned>(&self, first: Url, key: &str) -> Result<Vec<T>, TwilioError> {
        let mut out = Vec::new();
        let mut url = first;
        for page in 0..MAX_PAGES {
            let body = self.execute(Method::GET, url.clone(), None, RetryPolicy::Safe).await?;
            let (items, next) = split_page::<T>(&body, key)?;
            out.extend(items);
            let Some(next) = next else {
                return Ok(out);
            };
            let next = self.next_page_url(&next)?;
            if next == url {
                return Ok(out);
            }
            if page + 1 == MAX_PAGES {
                tracing::warn!(
                    path = url.path(),
                    pages = MAX_PAGES,
                    "Twilio list truncated at the page cap"
                );
            }
            url = next;
        }
        Ok(out)
    }

    /// Sends one logical request, retrying per `policy`. Returns the body of a 2xx response.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        form: Option<String>,
        policy: RetryPolicy,
    ) -> Result<Vec<u8>, TwilioError> {
        let mut attempt: u32 = 0;
        loop {
            let may_retry = attempt < self.config.max_retries;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .timeout(self.config.timeout)
                .header(header::ACCEPT, "application/json");
            if let Some(body) = &form {
                request = request
                    .header(header::CONTENT_TYPE, FORM_CONTENT_TYPE)
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = parse_retry_after(response.headers());
                    response.bytes().await.map(|body| (status, retry_after, body.to_vec()))
                }
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) => {
                    let connect = e.is_connect();
                    if may_retry && (connect || policy == RetryPolicy::Safe) {
                        let wait = backoff(attempt);
                        tracing::warn!(
                            method = %method, path = url.path(), attempt, connect,
                            timeout = e.is_timeout(), wait = ?wait,
                            "Twilio request failed, retrying"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    tracing::warn!(method = %method, path = url.path(), attempt, "Twilio request failed");
                    return Err(TwilioError::Unavailable(describe(&e)));
                }
                Ok((status, _, body)) if status.is_success() => {
                    tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), "Twilio request ok");
                    return Ok(body);
                }
                Ok((status, retry_after, body)) => {
                    let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if transient && may_retry && policy == RetryPolicy::Safe {
                        let wait = retry_after.map_or_else(|| backoff(attempt), Duration::from_secs);
                        if wait <= MAX_RETRY_AFTER {
                            tracing::warn!(
                                method = %method, path = url.path(), status = status.as_u16(),
                                attempt, wait = ?wait,
                                "Twilio answered with a transient error, retrying"
                            );
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    let err = classify(status, retry_after, &body);
                    tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), error = %err, "Twilio request rejected");
                    return Err(err);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Twilio SIDs are two letters and 32 hex digits; accept any short alphanumeric token so
/// that nothing can escape its path segment.
fn is_valid_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_sid(sid: &str) -> Result<(), TwilioError> {
    if is_valid_sid(sid) {
        Ok(())
    } else {
        Err(TwilioError::NotFound {
            code: None,
            message: format!("malformed SID {sid:?}"),
        })
    }
}

fn push_opt(pairs: &mut Vec<(String, String)>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_owned()));
    }
}

fn push_bool(pairs: &mut Vec<(String, String)>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_string()));
    }
}

fn push_num(pairs: &mut Vec<(String, String)>, key: &str, value: Option<u32>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_string()));
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, TwilioError> {
    serde_json::from_slice(body).map_err(|e| TwilioError::Decode(e.to_string()))
}

/// Items under `key` and the `next_page_uri` of a 2010-API list page.
fn split_page<T: DeserializeOwned>(body: &[u8], key: &str) -> Result<(Vec<T>, Option<String>), TwilioError> {
    let mut page: serde_json::Map<String, serde_json::Value> = decode(body)?;
    let next = match page.remove("next_page_uri") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let items = match page.remove(key) {
        Some(value @ serde_json::Value::Array(_)) => {
            serde_json::from_value(value).map_err(|e| TwilioError::Decode(format!("{key}: {e}")))?
        }
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(_) => return Err(TwilioError::Decode(format!("{key} is not a list"))),
    };
    Ok((items, next))
}

fn parse_retry_after(headers: &header::HeaderMap) -> Option<u64> {
    headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(8));
    let base = exp.min(BACKOFF_CAP);
    let jitter_range = u64::try_from(base.as_millis() / 4).unwrap_or(0).max(1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    base + Duration::from_millis(nanos % jitter_range)
}

/// The error and its causes, on one line (reqwest's top-level message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "opt_i64")]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// Sorts a non-2xx answer into a [`TwilioError`] by Twilio code first, then HTTP status.
fn classify(status: StatusCode, retry_after: Option<u64>, body: &[u8]) -> TwilioError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let message = parsed.and_then(|b| b.message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text: String = text.trim().chars().take(200).collect();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        }
    });
    let http = status.as_u16();
    match (http, code) {
        (_, Some(20005 | 10001)) => TwilioError::AccountSuspended { code, message },
        (_, Some(20003)) | (401, _) => TwilioError::AuthFailed { code, message },
        (_, Some(21610)) => TwilioError::OptedOut { code, message },
        (_, Some(21211 | 21214 | 21217 | 21421 | 21422 | 21614)) => TwilioError::InvalidNumber { code, message },
        (_, Some(21408)) | (403, _) => TwilioError::PermissionDenied { code, message },
        (_, Some(20429)) | (429, _) => TwilioError::RateLimited { retry_after },
        (_, Some(20404)) | (404, _) => TwilioError::NotFound { code, message },
        (500..=599, _) => TwilioError::Unavailable(format!("HTTP {http}, code {code:?}: {message}")),
        _ => TwilioError::Api {
            status: http,
            code,
            message,
        },
    }
}

fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|v| v != 0.0),
        _ => false,
    })
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Webhook signatures (X-Twilio-Signature)
// ---------------------------------------------------------------------------------------------

/// Base64 HMAC-SHA1 (key = auth token) of `url` followed by every POST parameter as
/// `key + value`, sorted by key and then value, identical pairs once (as twilio-python does).
/// For GET webhooks pass no params (the query string is part of `url`).
#[must_use]
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC accepts keys of any length, so this never fails in practice.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks an `X-Twilio-Signature` header in constant time against `url` as given, and also
/// with the port removed and with the scheme's default port added (as Twilio's SDKs do).
#[must_use]
pub fn validate_signature(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let header = header.trim();
    if header.is_empty() {
        return false;
    }
    let mut candidates = vec![url.to_owned()];
    candidates.extend(port_variants(url));
    let mut ok = subtle::Choice::from(0u8);
    for candidate in &candidates {
        let expected = compute_signature(auth_token, candidate, params);
        ok |= expected.as_bytes().ct_eq(header.as_bytes());
    }
    ok.into()
}

/// `url` without its explicit port, or with the default port (`:443`/`:80`) when it has none.
/// Works on the string so that the rest of the URL stays byte-for-byte as Twilio signed it.
fn port_variants(url: &str) -> Vec<String> {
    let Some(scheme_end) = url.find("://") else {
        return Vec::new();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let host_start = authority_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &url[host_start..authority_end];
    // Skip an IPv6 literal's brackets before looking for the port's colon.
    let search_from = host_port.rfind(']').map_or(0, |i| i + 1);
    match host_port[search_from..].rfind(':') {
        Some(i) => {
            let colon = host_start + search_from + i;
            vec![format!("{}{}", &url[..colon], &url[authority_end..])]
        }
        None => {
            let port = match url[..scheme_end].to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                "http" | "ws" => 80,
                _ => return Vec::new(),
            };
            vec![format!("{}:{port}{}", &url[..authority_end], &url[authority_end..])]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// Twilio's published request-validation example (token `12345`).
    fn documented_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675309"),
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    #[test]
    fn signature_matches_twilio_documented_example() {
        let sig = compute_signature("12345", DOC_URL, &documented_params());
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(validate_signature(
            "12345",
            DOC_URL,
            &documented_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn signature_sorts_repeated_keys_by_value() {
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute_signature("12345", DOC_URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn signature_port_variants_match_sdk_vectors() {
        let p = documented_params();
        // Signed with ":443" added; the request URL has no port.
        assert!(validate_signature("12345", DOC_URL, &p, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        // Signed without the port; the request URL carries one.
        assert!(validate_signature(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // http with ":80" added.
        assert!(validate_signature(
            "12345",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &p,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        // A custom port kept as is.
        assert!(validate_signature(
            "12345",
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        // The host's case is signed as given, not normalised.
        assert!(validate_signature(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p,
            "g9IN/x4Cft2g517EjYvEvM/W7LU="
        ));
        assert!(!validate_signature(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn signature_rejects_tampering() {
        let p = documented_params();
        let good = compute_signature("12345", DOC_URL, &p);
        let mut tampered = p.clone();
        tampered[2].1 = "9999".to_owned();
        assert!(!validate_signature("12345", DOC_URL, &tampered, &good));
        assert!(!validate_signature("other", DOC_URL, &p, &good));
        assert!(!validate_signature("12345", &format!("{DOC_URL}&x=1"), &p, &good));
        assert!(!validate_signature("12345", DOC_URL, &p, ""));
        assert!(!validate_signature("12345", DOC_URL, &p, "garbage"));
    }

    #[test]
    fn port_variants_handle_userinfo_and_ipv6() {
        assert_eq!(
            port_variants("https://u:p@host.example/a?b=1"),
            vec!["https://u:p@host.example:443/a?b=1".to_owned()]
        );
        assert_eq!(
            port_variants("https://u:p@host.example:8443/a"),
            vec!["https://u:p@host.example/a".to_owned()]
        );
        assert_eq!(port_variants("http://[::1]:8080/x"), vec!["http://[::1]/x".to_owned()]);
        assert_eq!(port_variants("http://[::1]"), vec!["http://[::1]:80".to_owned()]);
        assert!(port_variants("not a url").is_empty());
    }

    #[test]
    fn classify_maps_twilio_codes() {
        let body = |code: i64| format!(r#"{{"code":{code},"message":"m","status":400}}"#);
        let c = |status: u16, code: i64| {
            classify(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                None,
                body(code).as_bytes(),
            )
        };
        assert!(matches!(c(401, 20003), TwilioError::AuthFailed { .. }));
        assert!(matches!(c(401, 20005), TwilioError::AccountSuspended { .. }));
        assert!(matches!(c(403, 10001), TwilioError::AccountSuspended { .. }));
        assert!(matches!(c(404, 20404), TwilioError::NotFound { .. }));
        for code in [21211, 21214, 21217, 21421, 21422, 21614] {
            assert!(matches!(c(400, code), TwilioError::InvalidNumber { .. }));
        }
        assert!(matches!(c(400, 21610), TwilioError::OptedOut { .. }));
        assert!(matches!(c(400, 21408), TwilioError::PermissionDenied { .. }));
        assert!(matches!(c(403, 1), TwilioError::PermissionDenied { .. }));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(3), b""),
            TwilioError::RateLimited { retry_after: Some(3) }
        ));
        assert!(matches!(c(503, 20500), TwilioError::Unavailable(_)));
        match c(400, 21205) {
            TwilioError::Api {
                status: 400,
                code: Some(21205),
                message,
            } => assert_eq!(message, "m"),
            other => panic!("unexpected {other:?}"),
        }
        let e = classify(StatusCode::BAD_REQUEST, None, b"<html>oops</html>");
        assert!(matches!(e, TwilioError::Api { ref message, .. } if message.contains("oops")));
    }

    #[test]
    fn contract_codes() {
        let m = || "m".to_owned();
        let cases = [
            (
                TwilioError::AuthFailed {
                    code: None,
                    message: m(),
                },
                "TWILIO_AUTH_FAILED",
            ),
            (
                TwilioError::AccountSuspended {
                    code: None,
                    message: m(),
                },
                "TWILIO_ACCOUNT_SUSPENDED",
            ),
            (
                TwilioError::NotFound {
                    code: None,
                    message: m(),
                },
                "NOT_FOUND",
            ),
            (
                TwilioError::InvalidNumber {
                    code: None,
                    message: m(),
                },
                "INVALID_NUMBER",
            ),
            (
                TwilioError::OptedOut {
                    code: None,
                    message: m(),
                },
                "TELEPHONY_ERROR",
            ),
            (
                TwilioError::PermissionDenied {
                    code: None,
                    message: m(),
                },
                "TWILIO_PERMISSION_DENIED",
            ),
            (TwilioError::RateLimited { retry_after: None }, "RATE_LIMITED"),
            (
                TwilioError::Api {
                    status: 400,
                    code: None,
                    message: m(),
                },
                "TELEPHONY_ERROR",
            ),
            (TwilioError::Unavailable(m()), "UPSTREAM_UNAVAILABLE"),
            (TwilioError::Decode(m()), "TELEPHONY_ERROR"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code().as_str(), code, "{err:?}");
        }
    }

    #[test]
    fn capabilities_accept_both_spellings() {
        let lower: Capabilities =
            serde_json::from_str(r#"{"voice":true,"sms":true,"mms":false,"fax":false}"#).unwrap_or_default();
        let upper: Capabilities =
            serde_json::from_str(r#"{"voice":true,"SMS":"true","MMS":false}"#).unwrap_or_default();
        assert_eq!(lower, upper);
        assert!(lower.voice && lower.sms && !lower.mms && !lower.fax);
        let n: IncomingNumber =
            serde_json::from_str(r#"{"sid":"PN1","phone_number":"+15005550006","capabilities":null,"extra":1}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.capabilities, Capabilities::default());
    }

    #[test]
    fn debug_redacts_token() {
        let client = TwilioClient::new(
            reqwest::Client::new(),
            TwilioConfig::default(),
            "AC1".to_owned(),
            "super-secret-token".to_owned(),
        );
        assert!(!format!("{client:?}").contains("super-secret-token"));
    }
}
