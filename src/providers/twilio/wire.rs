//! Twilio's wire types: responses (snake_case JSON; unknown fields ignored, optional ones
//! may be absent) and requests (sent as PascalCase form parameters).

use serde::{Deserialize, Deserializer, Serialize};

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
    pub(super) fn resource(self) -> &'static str {
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

pub(super) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
