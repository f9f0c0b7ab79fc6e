//! Payments: the `Payments` port — customers, Checkout and portal sessions, payment methods,
//! subscriptions, off-session charges and meter events — with the Stripe client
//! (`stripe.rs`) and the sandbox (`sandbox/stripe.rs`) behind it (chosen by
//! `providers::payments`).

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::{CodedError, ErrorCode, db_code};

/// What a Checkout Session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutMode {
    /// A subscription to `plan` at the Stripe Price `price`.
    Subscription { plan: String, price: String },
    /// Saving a card for later off-session charges.
    Setup,
}

impl CheckoutMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Subscription { .. } => "subscription",
            Self::Setup => "setup",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub org_id: String,
    pub customer: String,
    pub mode: CheckoutMode,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: Option<String>,
}

/// A Checkout or portal session: where to send the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub url: String,
    /// Unix seconds; `None` for a portal session.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: String,
    pub kind: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub is_default: bool,
}

/// A subscription as the provider has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    /// `metadata.plan`, as Checkout set it.
    pub plan: Option<String>,
    /// The first item's Price.
    pub price: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub cancel_at_period_end: bool,
}

impl Subscription {
    /// From Stripe's JSON: the period sits on the first item since API version 2025-03-31,
    /// on the subscription before it.
    pub fn from_stripe(v: &Value) -> Option<Self> {
        let item = &v["items"]["data"][0];
        let period = |key: &str| item[key].as_i64().or_else(|| v[key].as_i64());
        Some(Self {
            id: v["id"].as_str()?.to_string(),
            customer: match &v["customer"] {
                Value::String(s) => s.clone(),
                other => other["id"].as_str()?.to_string(),
            },
            status: v["status"].as_str()?.to_string(),
            plan: v["metadata"]["plan"].as_str().map(str::to_string),
            price: match &item["price"] {
                Value::String(s) => Some(s.clone()),
                other => other["id"].as_str().map(str::to_string),
            },
            period_start: period("current_period_start"),
            period_end: period("current_period_end"),
            cancel_at_period_end: v["cancel_at_period_end"].as_bool().unwrap_or(false),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub org_id: String,
    pub charge_id: String,
    pub customer: String,
    pub payment_method: String,
    pub amount_cents: i64,
    pub currency: String,
    pub description: Option<String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    /// `succeeded`, `processing`, `requires_action`, …
    pub status: String,
}

/// One usage report to a Billing Meter.
#[derive(Debug, Clone)]
pub struct MeterEvent {
    pub event_name: String,
    pub customer: String,
    pub value: i64,
    /// Stripe's dedupe key (24 h): the ledger entry's id.
    pub identifier: String,
    pub timestamp: i64,
}

/// A provider event (`evt_…`) as its webhook carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentEvent {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Value,
}

impl PaymentEvent {
    /// Stripe's event envelope.
    ///
    /// # Errors
    /// When the body is not an event.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let text = |k: &str| v[k].as_str().map(str::to_string).ok_or(format!("`{k}` is missing"));
        if v["object"] != "event" {
            return Err("not a Stripe event (`object` is not \"event\")".into());
        }
        Ok(Self {
            id: text("id")?,
            kind: text("type")?,
            created: v["created"].as_i64().unwrap_or_default(),
            object: v["data"]["object"].clone(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// A card declined or needing its holder (HTTP 402 `card_error`).
    #[error("{message}")]
    Card {
        code: String,
        decline_code: Option<String>,
        message: String,
        payment_intent: Option<String>,
    },
    #[error("payment provider refused the request: {0}")]
    Invalid(String),
    #[error("payment provider authentication failed")]
    Auth,
    #[error("payment provider denied permission: {0}")]
    Permission(String),
    #[error("payment provider has no such {0}")]
    NotFound(&'static str),
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    #[error("payment store failed: {0}")]
    Store(#[from] sea_orm::DbErr),
}

impl CodedError for PaymentError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Card { .. } => ErrorCode::PaymentFailed,
            Self::Invalid(_) => ErrorCode::StripeInvalidRequest,
            Self::Auth => ErrorCode::StripeAuthError,
            Self::Permission(_) => ErrorCode::StripePermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unavailable(_) => ErrorCode::StripeUnavailable,
            Self::Store(e) => db_code(e),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Card {
                code,
                decline_code,
                payment_intent,
                ..
            } => Some(json!({
                "code": code,
                "declineCode": decline_code,
                "paymentIntent": payment_intent,
                "nextAction": if code == "authentication_required" {
                    "The card needs its holder to authenticate: save it again with POST /billing/checkout {\"mode\":\"setup\"}, or use another card"
                } else {
                    "Use another card: POST /billing/checkout {\"mode\":\"setup\"}"
                },
            })),
            _ => None,
        }
    }
}

#[async_trait]
pub trait Payments: Send + Sync {
    /// A customer for the organisation; returns `cus_…`.
    async fn create_customer(&self, org_id: &str, email: &str, name: &str) -> Result<String, PaymentError>;

    async fn checkout(&self, req: CheckoutRequest) -> Result<Session, PaymentError>;

    async fn portal(&self, customer: &str, return_url: &str) -> Result<Session, PaymentError>;

    /// The customer's cards, the default one marked.
    async fn payment_methods(&self, customer: &str) -> Result<Vec<PaymentMethod>, PaymentError>;

    async fn set_default_payment_method(&self, customer: &str, payment_method: &str) -> Result<(), PaymentError>;

    async fn subscription(&self, id: &str) -> Result<Subscription, PaymentError>;

    /// An off-session PaymentIntent, confirmed at once.
    async fn charge(&self, req: ChargeRequest) -> Result<PaymentIntent, PaymentError>;

    /// Accepted once per identifier; a repeat of an accepted one is `Ok`.
    async fn meter_event(&self, event: MeterEvent) -> Result<(), PaymentError>;

    fn is_sandbox(&self) -> bool;
}
