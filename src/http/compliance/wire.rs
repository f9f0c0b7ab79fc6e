//! Wire types of the compliance domain and their field-level checks, shared by the
//! submissions (400 on any error) and the `validate` dry runs (errors listed, 200).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::reference::{
    BRAND_TYPES, BUSINESS_TYPES, COMPANY_TYPES, DESCRIPTION_LEN, JOB_POSITIONS, KEYWORD_MESSAGE_LEN, MESSAGE_FLOW_LEN,
    SAMPLE_LEN, SAMPLES_COUNT, STOCK_EXCHANGES, VERTICALS, use_case_codes,
};
use crate::{
    domain::{is_e164, normalize_email},
    error::FieldError,
    http::core::validation::{Validate, Validator, suggest},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddressIn {
    pub street: Option<String>,
    pub city: Option<String>,
    /// Two-letter state or region code.
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactIn {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// E.164 (for sole proprietors, the mobile that receives the verification code).
    pub phone: Option<String>,
    pub title: Option<String>,
    pub job_position: Option<String>,
}

/// A brand registration (see `GET /compliance/a2p/config` for the allowed values).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BrandIn {
    /// `sole_proprietor` or `standard`.
    pub brand_type: Option<String>,
    /// Legal name (sole proprietors: the person's or business's name).
    pub company_name: Option<String>,
    pub display_name: Option<String>,
    /// US EIN, `12-3456789` (standard brands).
    pub ein: Option<String>,
    pub business_type: Option<String>,
    /// `private`, `public`, `non_profit` or `government` (standard brands).
    pub company_type: Option<String>,
    pub stock_exchange: Option<String>,
    pub stock_ticker: Option<String>,
    pub vertical: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<AddressIn>,
    /// The authorised representative.
    pub contact: Option<ContactIn>,
}

/// A dry run: the same body as a submission, answered with the problems found.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct BrandCheck(pub BrandIn);

impl Validate for BrandCheck {}

fn s(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim)
}

fn required(v: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> bool {
    let ok = value.is_some_and(|s| !s.trim().is_empty());
    if !ok {
        v.push(FieldError::new(field, "is required"));
    }
    ok
}

fn one_of(v: &mut Vec<FieldError>, field: &str, value: Option<&str>, allowed: &[&str]) {
    if let Some(value) = value
        && !allowed.contains(&value)
    {
        let mut e = FieldError::new(field, format!("must be one of: {} (got '{value}')", allowed.join(", ")));
        e.suggestion = suggest(value, allowed.iter().copied()).or_else(|| {
            let upper = value.to_ascii_uppercase().replace([' ', '-'], "_");
            allowed.contains(&upper.as_str()).then_some(upper)
        });
        v.push(e);
    }
}

fn length(v: &mut Vec<FieldError>, field: &str, value: Option<&str>, (min, max): (usize, usize)) {
    if let Some(s) = value {
        let n = s.chars().count();
        if !(min..=max).contains(&n) {
            v.push(FieldError::new(
                field,
                format!("must be between {min} and {max} characters (got {n})"),
            ));
        }
    }
}

fn email(v: &mut Vec<FieldError>, field: &str, value: Option<&str>) {
    if let Some(e) = value
        && normalize_email(e).is_none()
    {
        v.push(FieldError::new(field, format!("'{e}' is not an e-mail address")));
    }
}

fn phone(v: &mut Vec<FieldError>, field: &str, value: Option<&str>) {
    if let Some(p) = value
        && !is_e164(p)
    {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        let mut e = FieldError::new(field, format!("'{p}' is not E.164"));
        e.suggestion = match digits.len() {
            10 => Some(format!("+1{digits}")),
            11 if digits.starts_with('1') => Some(format!("+{digits}")),
            _ => None,
        };
        v.push(e);
    }
}

impl BrandIn {
    /// Every problem of the registration, field by field.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut v = Vec::new();
        if required(&mut v, "brandType", s(&self.brand_type)) {
            one_of(&mut v, "brandType", s(&self.brand_type), BRAND_TYPES);
        }
        let standard = self.brand_type.as_deref() == Some("standard");
        required(&mut v, "companyName", s(&self.company_name));
        length(&mut v, "companyName", s(&self.company_name), (2, 255));
        if required(&mut v, "vertical", s(&self.vertical)) {
            one_of(&mut v, "vertical", s(&self.vertical), VERTICALS);
        }
        if required(&mut v, "email", s(&self.email)) {
            email(&mut v, "email", s(&self.email));
        }
        if required(&mut v, "phone", s(&self.phone)) {
            phone(&mut v, "phone", s(&self.phone));
        }
        if standard {
            if required(&mut v, "ein", s(&self.ein)) {
                let digits: String = self
                    .ein
                    .iter()
                    .flat_map(|e| e.chars())
                    .filter(char::is_ascii_digit)
                    .collect();
                if digits.len() != 9 {
                    let mut e = FieldError::new("ein", "must be 9 digits, written 12-3456789");
                    e.suggestion = Some("12-3456789".into());
                    v.push(e);
                }
            }
            if required(&mut v, "businessType", s(&self.business_type)) {
                one_of(&mut v, "businessType", s(&self.business_type), BUSINESS_TYPES);
            }
            if required(&mut v, "companyType", s(&self.company_type)) {
                one_of(&mut v, "companyType", s(&self.company_type), COMPANY_TYPES);
            }
            if self.company_type.as_deref() == Some("public") {
                if required(&mut v, "stockExchange", s(&self.stock_exchange)) {
                    one_of(&mut v, "stockExchange", s(&self.stock_exchange), STOCK_EXCHANGES);
                }
                required(&mut v, "stockTicker", s(&self.stock_ticker));
            }
            required(&mut v, "website", s(&self.website));
        }
        if let Some(w) = s(&self.website)
            && !(w.starts_with("https://") || w.starts_with("http://"))
        {
            let mut e = FieldError::new("website", "must be an http(s) URL");
            e.suggestion = Some(format!("https://{w}"));
            v.push(e);
        }
        match &self.address {
            None => v.push(FieldError::new(
                "address",
                "is required (street, city, state, postalCode, country)",
            )),
            Some(a) => {
                required(&mut v, "address.street", s(&a.street));
                required(&mut v, "address.city", s(&a.city));
                required(&mut v, "address.state", s(&a.state));
                required(&mut v, "address.postalCode", s(&a.postal_code));
                if required(&mut v, "address.country", s(&a.country))
                    && a.country.as_deref().is_some_and(|c| c.len() != 2)
                {
                    v.push(FieldError::new(
                        "address.country",
                        "must be a two-letter country code such as US",
                    ));
                }
            }
        }
        match &self.contact {
            None => v.push(FieldError::new(
                "contact",
                "is required (firstName, lastName, email, phone)",
            )),
            Some(c) => {
                required(&mut v, "contact.firstName", s(&c.first_name));
                required(&mut v, "contact.lastName", s(&c.last_name));
                if required(&mut v, "contact.email", s(&c.email)) {
                    email(&mut v, "contact.email", s(&c.email));
                }
                if required(&mut v, "contact.phone", s(&c.phone)) {
                    phone(&mut v, "contact.phone", s(&c.phone));
                }
                one_of(&mut v, "contact.jobPosition", s(&c.job_position), JOB_POSITIONS);
            }
        }
        v
    }
}

impl Validate for BrandIn {
    fn validate(&self, v: &mut Validator) {
        for e in self.problems() {
            v.push(e);
        }
    }
}

/// An A2P campaign registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignIn {
    /// The approved brand (`BRN-…`).
    pub brand_id: Option<String>,
    /// A use case code from `GET /compliance/a2p/config`.
    pub use_case: Option<String>,
    /// What the campaign sends, 40–4096 characters.
    pub description: Option<String>,
    /// How recipients opt in, 40–2048 characters.
    pub message_flow: Option<String>,
    /// 2–5 examples, 20–1024 characters each.
    pub message_samples: Option<Vec<String>>,
    pub has_embedded_links: Option<bool>,
    pub has_embedded_phone: Option<bool>,
    pub opt_in_message: Option<String>,
    pub opt_out_message: Option<String>,
    /// Also the answer to HELP on the campaign's numbers.
    pub help_message: Option<String>,
    pub privacy_policy_url: Option<String>,
    pub terms_url: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CampaignCheck(pub CampaignIn);

impl Validate for CampaignCheck {}

impl CampaignIn {
    /// Schema problems and (as suggestions) what reviewers usually ask for.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut v = Vec::new();
        required(&mut v, "brandId", s(&self.brand_id));
        if required(&mut v, "useCase", s(&self.use_case)) {
            one_of(&mut v, "useCase", s(&self.use_case), &use_case_codes());
        }
        if required(&mut v, "description", s(&self.description)) {
            length(&mut v, "description", s(&self.description), DESCRIPTION_LEN);
        }
        if required(&mut v, "messageFlow", s(&self.message_flow)) {
            length(&mut v, "messageFlow", s(&self.message_flow), MESSAGE_FLOW_LEN);
        }
        match &self.message_samples {
            None => v.push(FieldError::new("messageSamples", "is required (2–5 examples)")),
            Some(samples) => {
                let (min, max) = SAMPLES_COUNT;
                if !(min..=max).contains(&samples.len()) {
                    v.push(FieldError::new(
                        "messageSamples",
                        format!("must hold between {min} and {max} samples (got {})", samples.len()),
                    ));
                }
                for (i, sample) in samples.iter().enumerate() {
                    length(&mut v, &format!("messageSamples[{i}]"), Some(sample.trim()), SAMPLE_LEN);
                }
                let mentions_opt_out = samples.iter().any(|m| m.to_ascii_uppercase().contains("STOP"));
                if !mentions_opt_out && self.opt_out_message.is_none() {
                    let mut e = FieldError::new("messageSamples", "no sample tells recipients how to opt out");
                    e.suggestion = Some("end one sample with \"Reply STOP to unsubscribe.\"".into());
                    v.push(e);
                }
                let links = samples.iter().any(|m| m.contains("http://") || m.contains("https://"));
                if links && self.has_embedded_links == Some(false) {
                    let mut e = FieldError::new(
                        "hasEmbeddedLinks",
                        "samples contain links but hasEmbeddedLinks is false",
                    );
                    e.suggestion = Some("true".into());
                    v.push(e);
                }
            }
        }
        if self.has_embedded_links.is_none() {
            v.push(FieldError::new("hasEmbeddedLinks", "is required (true or false)"));
        }
        if self.has_embedded_phone.is_none() {
            v.push(FieldError::new("hasEmbeddedPhone", "is required (true or false)"));
        }
        for (field, value) in [
            ("optInMessage", &self.opt_in_message),
            ("optOutMessage", &self.opt_out_message),
            ("helpMessage", &self.help_message),
        ] {
            length(&mut v, field, s(value), KEYWORD_MESSAGE_LEN);
        }
        v
    }
}

impl Validate for CampaignIn {
    fn validate(&self, v: &mut Validator) {
        for e in self.problems() {
            v.push(e);
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkIn {
    /// The number's id (`TEL-…`), or give `phoneNumber`.
    pub phone_number_id: Option<String>,
    /// The number in E.164.
    pub phone_number: Option<String>,
}

impl Validate for LinkIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            self.phone_number_id.is_some() != self.phone_number.is_some(),
            "phoneNumberId",
            "give exactly one of phoneNumberId or phoneNumber",
        );
    }
}

/// Where a registration stands, as the API shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BrandOut {
    pub id: String,
    /// Same as `id` (the Application ID).
    pub application_id: String,
    pub brand_type: String,
    pub company_name: Option<String>,
    /// `pending`, `in_review`, `approved`, `rejected` or `failed`.
    pub status: String,
    /// The carrier's own status (`PENDING`, `IN_REVIEW`, `APPROVED`, `FAILED`…).
    pub substatus: Option<String>,
    pub carrier_sid: Option<String>,
    pub rejection_reason: Option<String>,
    pub next_action: Option<String>,
    pub registration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LinkedNumberOut {
    pub phone_number_id: String,
    pub phone_number: String,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOut {
    pub id: String,
    pub brand_id: String,
    pub use_case: String,
    pub status: String,
    pub substatus: Option<String>,
    pub carrier_sid: Option<String>,
    pub rejection_reason: Option<String>,
    pub next_action: Option<String>,
    pub phone_numbers: Vec<LinkedNumberOut>,
    pub registration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// A field's problem, as a dry run lists it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
    /// The closest allowed value, when the given one is near it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl From<FieldError> for FieldProblem {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
            suggestion: e.suggestion,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldSuggestion {
    pub field: String,
    pub suggestion: String,
}

/// A dry-run validation: what submitting would refuse, nothing submitted.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DryRunOut {
    pub valid: bool,
    pub errors: Vec<FieldProblem>,
    /// The errors that come with a suggested value.
    pub suggestions: Vec<FieldSuggestion>,
    /// Always false.
    pub submitted: bool,
}

/// A campaign's dry run, with the status of the brand it names.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDryRunOut {
    #[serde(flatten)]
    pub dry_run: DryRunOut,
    /// Null when no brand was named or it does not exist.
    pub brand_status: Option<String>,
}
