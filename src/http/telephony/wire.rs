//! Wire types of the telephony domain: numbers, credentials, searches and their checks.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thruai_entities::{phone_number, values::status::NumberStatus};

use crate::{
    app::carriers::Mode,
    error::{ApiError, ApiResult},
    http::core::{
        extract::ListQuery,
        validation::{Validate, Validator, double_option},
    },
    providers::telephony::{AvailableNumber, Capabilities, SearchQuery},
};

const DEFAULT_SEARCH_LIMIT: u32 = 10;

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberOut {
    pub id: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    /// `twilio` or `sandbox`.
    pub provider: String,
    pub provider_sid: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub voice_webhook_url: Option<String>,
    pub sms_webhook_url: Option<String>,
    pub agent_id: Option<String>,
    pub status: String,
    pub country: String,
    pub capabilities: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<phone_number::Model> for PhoneNumberOut {
    fn from(m: phone_number::Model) -> Self {
        Self {
            id: m.id,
            phone_number: m.phone_number,
            friendly_name: m.friendly_name,
            provider: m.provider.to_string(),
            provider_sid: m.provider_sid,
            twilio_account_sid: m.twilio_account_sid,
            voice_webhook_url: m.voice_webhook_url,
            sms_webhook_url: m.sms_webhook_url,
            agent_id: m.agent_id,
            status: m.status.as_str().into(),
            country: m.country,
            capabilities: m.capabilities,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// `byoc` (the organisation's own Twilio account), `platform` or `sandbox`.
pub(super) fn mode_name(mode: Mode) -> String {
    match mode {
        Mode::Byoc => "byoc",
        Mode::Platform => "platform",
        Mode::Sandbox => "sandbox",
    }
    .into()
}

/// What a number can do.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesOut {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

impl From<Capabilities> for CapabilitiesOut {
    fn from(c: Capabilities) -> Self {
        Self {
            voice: c.voice,
            sms: c.sms,
            mms: c.mms,
        }
    }
}

/// The BYOC credentials as validated with Twilio (the token is never returned).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsOut {
    pub configured: bool,
    pub provider: String,
    /// `byoc`.
    pub mode: String,
    pub account_sid: String,
    pub friendly_name: Option<String>,
    /// `Trial` or `Full`.
    pub account_type: Option<String>,
    /// `active`, `suspended` or `closed`.
    pub account_status: String,
    pub validated_at: DateTime<Utc>,
}

/// A number offered for sale.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AvailableNumberOut {
    pub phone_number: String,
    pub friendly_name: String,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub capabilities: CapabilitiesOut,
}

impl From<AvailableNumber> for AvailableNumberOut {
    fn from(n: AvailableNumber) -> Self {
        Self {
            phone_number: n.phone_number,
            friendly_name: n.friendly_name,
            locality: n.locality,
            region: n.region,
            country: n.country,
            capabilities: n.capabilities.into(),
        }
    }
}

/// Numbers for sale that no organisation here owns yet.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NumberSearchOut {
    pub numbers: Vec<AvailableNumberOut>,
    /// `twilio` or `sandbox`.
    pub provider: String,
    /// `byoc`, `platform` or `sandbox`.
    pub mode: String,
    pub sandbox: bool,
}

/// A number of the organisation's Twilio account, and whether it is (or can be) imported.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalNumberOut {
    /// Twilio's number SID (`PN…`).
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    pub capabilities: CapabilitiesOut,
    /// Already imported into this organisation (as `phoneNumberId`).
    pub imported: bool,
    pub phone_number_id: Option<String>,
    /// No organisation here has it yet.
    pub importable: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalNumbersOut {
    pub numbers: Vec<ExternalNumberOut>,
    pub account_sid: Option<String>,
    /// `byoc` or `platform`.
    pub mode: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialsIn {
    /// Twilio Account SID: `AC` followed by 32 hex characters.
    pub account_sid: String,
    /// Twilio Auth Token; stored encrypted, never returned.
    pub auth_token: String,
    pub friendly_name: Option<String>,
}

impl Validate for CredentialsIn {
    fn validate(&self, v: &mut Validator) {
        let sid = self.account_sid.trim();
        v.check(
            sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()),
            "accountSid",
            "must be 'AC' followed by 32 hex characters",
        );
        v.length("authToken", self.auth_token.trim(), 8, 128);
        v.opt_length("friendlyName", self.friendly_name.as_deref(), 1, 64);
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchIn {
    /// Three-digit area code (US/CA), e.g. `415`.
    pub area_code: Option<String>,
    /// ISO 3166-1 alpha-2 country, default `US`.
    pub country: Option<String>,
    /// Digits the number must contain; `*` matches any one digit.
    pub contains: Option<String>,
    /// 1–50, default 10.
    pub limit: Option<u32>,
}

impl Validate for SearchIn {
    fn validate(&self, v: &mut Validator) {
        if let Some(area) = &self.area_code {
            v.check(
                area.len() == 3 && area.bytes().all(|b| b.is_ascii_digit()) && !area.starts_with(['0', '1']),
                "areaCode",
                "must be a three-digit area code not starting with 0 or 1",
            );
        }
        if let Some(country) = &self.country {
            v.check(
                country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()),
                "country",
                "must be an ISO 3166-1 alpha-2 code such as US",
            );
        }
        if let Some(contains) = &self.contains {
            v.check(
                (1..=16).contains(&contains.len()) && contains.bytes().all(|b| b.is_ascii_digit() || b == b'*'),
                "contains",
                "must be 1–16 digits, '*' matching any digit",
            );
        }
        v.range("limit", self.limit, 1, 50);
    }
}

impl SearchIn {
    pub(super) fn query(&self) -> SearchQuery {
        SearchQuery {
            country: self.country.as_deref().unwrap_or("US").to_ascii_uppercase(),
            area_code: self.area_code.clone(),
            contains: self.contains.clone(),
            limit: self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT),
        }
    }

    pub(super) fn from_query(q: &ListQuery) -> ApiResult<Self> {
        let limit =
            match q.get("limit") {
                None | Some("") => None,
                Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                    ApiError::field("limit", format!("must be an integer between 1 and 50 (got '{raw}')"))
                })?),
            };
        let owned = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_string);
        let input = Self {
            area_code: owned("areaCode"),
            country: owned("country"),
            contains: owned("contains"),
            limit,
        };
        let mut v = Validator::default();
        input.validate(&mut v);
        v.finish()?;
        Ok(input)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvisionIn {
    /// The E.164 number to buy (from a search); or give `areaCode` to take the first available.
    pub phone_number: Option<String>,
    pub area_code: Option<String>,
    pub country: Option<String>,
    pub friendly_name: Option<String>,
    /// Assign the new number to this agent.
    pub agent_id: Option<String>,
}

impl Validate for ProvisionIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            self.phone_number.is_some() || self.area_code.is_some(),
            "phoneNumber",
            "give phoneNumber (E.164) or areaCode",
        );
        SearchIn {
            area_code: self.area_code.clone(),
            country: self.country.clone(),
            contains: None,
            limit: None,
        }
        .validate(v);
        v.opt_length("friendlyName", self.friendly_name.as_deref(), 1, 64);
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImportIn {
    /// The E.164 number, owned by your Twilio account.
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub agent_id: Option<String>,
}

impl Validate for ImportIn {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("friendlyName", self.friendly_name.as_deref(), 1, 64);
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NumberPatch {
    pub friendly_name: Option<String>,
    /// Assign to an agent; `null` unassigns.
    #[serde(default, deserialize_with = "double_option")]
    pub agent_id: Option<Option<String>>,
    /// `active` or `inactive` (inactive numbers reject calls).
    pub status: Option<String>,
}

impl Validate for NumberPatch {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("friendlyName", self.friendly_name.as_deref(), 1, 64);
        v.one_of("status", self.status.as_deref(), NumberStatus::VALUES);
        v.check(
            self.friendly_name.is_some() || self.agent_id.is_some() || self.status.is_some(),
            "body",
            "at least one of friendlyName, agentId, status is required",
        );
    }
}
