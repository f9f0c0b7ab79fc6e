//! Billing, the use cases: the plans, an organisation's subscription and balance, Checkout
//! and portal sessions, saved cards, direct charges (`charges.rs`), monthly statements from
//! the usage ledger (`statements.rs`), what the payment provider reports (`events.rs`),
//! reporting the ledger to its meter (`meter.rs`), and the gate that refuses paid work to
//! an organisation that is not paid up (`admit`).
//!
//! Accounting: statements and usage run by calendar month (UTC). A plan includes some usage
//! each month; usage beyond it is billed by the provider's meter while a paid subscription
//! is active, and otherwise drawn from the prepaid credit that charges buy — the balance is
//! that credit less what closed months drew and what this month has drawn so far.

mod charges;
mod events;
mod meter;
mod statements;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use schemars::JsonSchema;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::billing_account;

pub use self::{
    charges::{ChargeIn, ChargeView},
    statements::{Invoice, InvoiceLine},
};
use crate::{
    config::{BillingPlan, BillingSettings, PlanLimit},
    domain::pricing::{micros, usd},
    error::{CodedError, ErrorCode, db_code},
    providers::{
        PaymentsProvider,
        payments::{CheckoutMode, CheckoutRequest, PaymentError, PaymentMethod, Payments},
        sandbox::stripe::SandboxStripe,
    },
    store::{accounts, billing as store},
};

/// Subscription statuses under which a paid plan is in force.
const IN_FORCE: &[&str] = &["active", "trialing"];
/// Statuses a subscription can still be paid or renewed from (a second one is refused).
const LIVE: &[&str] = &["active", "trialing", "past_due", "unpaid", "incomplete", "paused"];

/// The billing service.
#[derive(Clone)]
pub struct Billing {
    db: DatabaseConnection,
    settings: Arc<BillingSettings>,
    /// The request rate of each plan (`[rate_limit.plans]`).
    rates: Arc<BTreeMap<String, PlanLimit>>,
    default_plan: String,
    public_base_url: String,
    payments: Option<Arc<dyn Payments>>,
    sandbox: Option<Arc<SandboxStripe>>,
    /// Organisations found paid up, and when (see `billing.admit_cache_ms`).
    admitted: Arc<Mutex<HashMap<String, Instant>>>,
}

/// Why a billing use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("Payments are not configured on this server (billing.provider = \"none\")")]
    NotConfigured,
    #[error("{0}")]
    InvalidPlan(String),
    #[error(
        "The organization already has a {status} subscription to '{plan}': change or cancel it in the portal (POST /billing/portal)"
    )]
    SubscriptionExists { plan: String, status: String },
    #[error("No billing or owner email found for the organization")]
    MissingEmail,
    #[error("No billing customer exists yet: start with POST /billing/checkout")]
    NoCustomer,
    #[error("{reason}")]
    Required {
        reason: String,
        checkout_url: Option<String>,
    },
    #[error("{0} '{1}' not found")]
    NotFound(&'static str, String),
    #[error("Validation failed: {field}: {message}")]
    Field { field: String, message: String },
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl BillingError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl CodedError for BillingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotConfigured => ErrorCode::StripeNotConfigured,
            Self::InvalidPlan(_) => ErrorCode::InvalidPlan,
            Self::SubscriptionExists { .. } => ErrorCode::SubscriptionExists,
            Self::MissingEmail => ErrorCode::MissingEmail,
            Self::NoCustomer => ErrorCode::NoCustomer,
            Self::Required { .. } => ErrorCode::BillingRequired,
            Self::NotFound(..) => ErrorCode::NotFound,
            Self::Field { .. } => ErrorCode::ValidationError,
            Self::Payment(e) => e.code(),
            Self::Db(e) => db_code(e),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Required { checkout_url, .. } => Some(json!({
                "checkoutUrl": checkout_url,
                "nextAction": match checkout_url {
                    Some(url) => format!("Open {url} to subscribe or save a card, then POST /billing/charge to add credit"),
                    None => "POST /billing/checkout to subscribe or save a card, then POST /billing/charge to add credit".into(),
                },
            })),
            Self::Field { field, message } => Some(json!([{ "field": field, "message": message }])),
            Self::Payment(e) => e.details(),
            _ => None,
        }
    }
}

/// A plan as listed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// USD a month.
    pub monthly_price: f64,
    pub currency: String,
    /// USD of usage (at the price table) included each month.
    pub included_usage: f64,
    pub max_concurrent_calls: u32,
    /// The authenticated request rate the rate limiter enforces for the plan.
    pub requests_per_second: f64,
    pub burst: u32,
    /// Whether `POST /billing/checkout {planId}` can sell it here.
    pub purchasable: bool,
}

/// A range of time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeriodView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One component's use this month.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageComponent {
    pub component: String,
    pub unit: String,
    pub quantity: f64,
    /// USD.
    pub cost: f64,
}

/// Use this calendar month against what the plan includes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeriodUsage {
    pub period: PeriodView,
    /// USD of usage so far.
    pub total: f64,
    pub included: f64,
    /// USD beyond what is included.
    pub overage: f64,
    pub by_component: Vec<UsageComponent>,
}

/// `GET /billing/subscription`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    /// The plan in force (its limits apply).
    pub plan: PlanView,
    /// `active` (a free plan, or a paid subscription in force), or the provider's status of
    /// the subscription: `trialing`, `past_due`, `canceled`, `unpaid`, `incomplete`…
    pub status: String,
    pub subscription_id: Option<String>,
    /// The subscription's billing period (a free plan's: the calendar month).
    pub current_period: PeriodView,
    pub cancel_at_period_end: bool,
    pub usage: PeriodUsage,
    /// USD: prepaid credit less the usage it has paid for (negative: owed).
    pub balance: f64,
    /// USD of credit bought through charges, in all.
    pub credit: f64,
    pub has_customer: bool,
    /// `stripe`, `sandbox` or `none`.
    pub payment_provider: String,
    /// Whether calls and messages need a plan in force and a balance not below zero.
    pub enforced: bool,
}

/// A Checkout or portal session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    /// Where to send the person.
    pub url: String,
    /// `subscription`, `setup` or `portal`.
    pub mode: String,
    pub plan_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A saved card.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub is_default: bool,
}

impl From<PaymentMethod> for PaymentMethodView {
    fn from(p: PaymentMethod) -> Self {
        Self {
            id: p.id,
            kind: p.kind,
            brand: p.brand,
            last4: p.last4,
            exp_month: p.exp_month,
            exp_year: p.exp_year,
            is_default: p.is_default,
        }
    }
}

/// What a checkout asks for.
#[derive(Debug, Clone, Default)]
pub struct CheckoutIn {
    pub plan_id: Option<String>,
    /// `subscription` or `setup`; default: `subscription` with a plan, else `setup`.
    pub mode: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
}

/// The first instant of the calendar month holding `t`.
pub fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(t, |d| Utc.from_utc_datetime(&d))
}

pub fn next_month(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_add_months(Months::new(1)).unwrap_or(t)
}

fn at(unix: Option<i64>) -> Option<DateTime<Utc>> {
    unix.and_then(|t| Utc.timestamp_opt(t, 0).single())
}

impl Billing {
    pub fn new(
        db: DatabaseConnection,
        settings: BillingSettings,
        rates: BTreeMap<String, PlanLimit>,
        default_plan: String,
        public_base_url: String,
        payments: Option<PaymentsProvider>,
    ) -> Self {
        let (payments, sandbox) = payments.map_or((None, None), |p| (Some(p.payments), p.sandbox));
        Self {
            db,
            settings: Arc::new(settings),
            rates: Arc::new(rates),
            default_plan,
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            payments,
            sandbox,
            admitted: Arc::default(),
        }
    }

    /// The sandbox provider, when it is the one in use (its pages complete through it).
    pub fn sandbox(&self) -> Option<&Arc<SandboxStripe>> {
        self.sandbox.as_ref()
    }

    fn provider_name(&self) -> &'static str {
        match (&self.payments, &self.sandbox) {
            (None, _) => "none",
            (Some(_), Some(_)) => "sandbox",
            (Some(_), None) => "stripe",
        }
    }

    fn payments(&self) -> Result<&Arc<dyn Payments>, BillingError> {
        self.payments.as_ref().ok_or(BillingError::NotConfigured)
    }

    fn plan(&self, id: &str) -> Option<&BillingPlan> {
        self.settings.plans.get(id)
    }

    /// The Stripe Price a plan is sold at (the sandbox sells every paid plan).
    fn price_of(&self, id: &str, plan: &BillingPlan) -> Option<String> {
        if plan.monthly_price_usd <= 0.0 {
            None
        } else if !plan.stripe_price.is_empty() {
            Some(plan.stripe_price.clone())
        } else {
            self.sandbox.is_some().then(|| format!("price_sandbox_{id}"))
        }
    }

    fn plan_view(&self, id: &str, plan: &BillingPlan) -> PlanView {
        let rate = self.rates.get(id).copied().unwrap_or(PlanLimit {
            requests_per_second: 0.0,
            burst: 0,
        });
        PlanView {
            id: id.to_string(),
            name: plan.name.clone(),
            description: plan.description.clone(),
            monthly_price: plan.monthly_price_usd,
            currency: "usd".into(),
            included_usage: plan.included_usage_usd,
            max_concurrent_calls: plan.max_concurrent_calls,
            requests_per_second: rate.requests_per_second,
            burst: rate.burst,
            purchasable: self.payments.is_some() && self.price_of(id, plan).is_some(),
        }
    }

    /// Every plan, cheapest first.
    pub fn plans(&self) -> Vec<PlanView> {
        let mut out: Vec<PlanView> = self
            .settings
            .plans
            .iter()
            .map(|(id, p)| self.plan_view(id, p))
            .collect();
        out.sort_by(|a, b| a.monthly_price.total_cmp(&b.monthly_price).then(a.id.cmp(&b.id)));
        out
    }

    async fn org_plan(&self, org_id: &str) -> Result<String, BillingError> {
        Ok(accounts::find_org(&self.db, org_id)
            .await?
            .ok_or_else(|| BillingError::NotFound("Organization", org_id.into()))?
            .plan)
    }

    /// Closed months' usage beyond what the plan included, drawn from the credit while no
    /// paid subscription covered it; advances `settled_through` to this month.
    async fn settle(&self, mut acct: billing_account::Model, plan: &str) -> Result<billing_account::Model, DbErr> {
        let this_month = month_start(Utc::now());
        let from = match acct.settled_through {
            Some(t) => t,
            None => match store::first_usage(&self.db, &acct.org_id).await? {
                Some(t) => month_start(t),
                None => this_month,
            },
        };
        if from >= this_month && acct.settled_through.is_some() {
            return Ok(acct);
        }
        let covered = self.covered(&acct);
        let included = self.plan(plan).map_or(0, |p| micros(p.included_usage_usd));
        let mut debit = 0;
        let mut m = from;
        while m < this_month && !covered {
            let used: i64 = store::usage_by_component(&self.db, &acct.org_id, m, next_month(m))
                .await?
                .iter()
                .map(|l| l.amount_micros)
                .sum();
            debit += (used - included).max(0);
            m = next_month(m);
        }
        let mut row: billing_account::ActiveModel = acct.clone().into();
        row.debit_micros = Set(acct.debit_micros + debit);
        row.settled_through = Set(Some(this_month));
        acct = store::save(&self.db, row).await?;
        Ok(acct)
    }

    /// Whether a paid subscription is in force (usage beyond the inclusion is invoiced).
    fn covered(&self, acct: &billing_account::Model) -> bool {
        acct.subscription_status
            .as_deref()
            .is_some_and(|s| IN_FORCE.contains(&s))
    }

    async fn this_month(&self, org_id: &str, plan: &str) -> Result<PeriodUsage, DbErr> {
        let start = month_start(Utc::now());
        let end = next_month(start);
        let lines = store::usage_by_component(&self.db, org_id, start, end).await?;
        let total: i64 = lines.iter().map(|l| l.amount_micros).sum();
        let included = self.plan(plan).map_or(0, |p| micros(p.included_usage_usd));
        Ok(PeriodUsage {
            period: PeriodView { start, end },
            total: usd(total),
            included: usd(included),
            overage: usd((total - included).max(0)),
            by_component: lines
                .into_iter()
                .map(|l| UsageComponent {
                    component: l.component,
                    unit: l.unit,
                    quantity: l.quantity,
                    cost: usd(l.amount_micros),
                })
                .collect(),
        })
    }

    /// The balance in USD millionths (negative: owed), with the account and this month.
    async fn standing(&self, org_id: &str) -> Result<(billing_account::Model, String, PeriodUsage, i64), BillingError> {
        let plan = self.org_plan(org_id).await?;
        let acct = store::account(&self.db, org_id).await?;
        let acct = self.settle(acct, &plan).await?;
        let usage = self.this_month(org_id, &plan).await?;
        let drawn = if self.covered(&acct) { 0 } else { micros(usage.overage) };
        let balance = acct.credit_micros - acct.debit_micros - drawn;
        Ok((acct, plan, usage, balance))
    }

    /// `GET /billing/subscription`.
    pub async fn subscription(&self, org_id: &str) -> Result<SubscriptionView, BillingError> {
        let (acct, plan_id, usage, balance) = self.standing(org_id).await?;
        let plan = self
            .plan(&plan_id)
            .map(|p| self.plan_view(&plan_id, p))
            .ok_or_else(|| {
                BillingError::InvalidPlan(format!("The organization's plan '{plan_id}' is not configured"))
            })?;
        let paid = plan.monthly_price > 0.0;
        let (status, current_period) = match (&acct.subscription_status, at_period(&acct)) {
            (Some(s), Some(p)) if paid || s != "canceled" => (s.clone(), p),
            _ => ("active".to_string(), usage.period.clone()),
        };
        Ok(SubscriptionView {
            plan,
            status,
            subscription_id: acct.subscription_id.clone(),
            current_period,
            cancel_at_period_end: acct.cancel_at_period_end,
            usage,
            balance: usd(balance),
            credit: usd(acct.credit_micros),
            has_customer: acct.customer_id.is_some(),
            payment_provider: self.provider_name().into(),
            enforced: self.settings.enforce,
        })
    }

    /// The organisation's customer, made with the owner's email on first use.
    async fn customer(&self, org_id: &str) -> Result<String, BillingError> {
        let acct = store::account(&self.db, org_id).await?;
        if let Some(c) = acct.customer_id {
            return Ok(c);
        }
        let org = accounts::find_org(&self.db, org_id)
            .await?
            .ok_or_else(|| BillingError::NotFound("Organization", org_id.into()))?;
        let email = org.owner_email.trim();
        if email.is_empty() {
            return Err(BillingError::MissingEmail);
        }
        let id = self.payments()?.create_customer(org_id, email, &org.name).await?;
        let acct = store::account(&self.db, org_id).await?;
        let mut row: billing_account::ActiveModel = acct.into();
        row.customer_id = Set(Some(id.clone()));
        store::save(&self.db, row).await?;
        Ok(id)
    }

    fn own_page(&self, path: &str) -> String {
        format!("{}{path}", self.public_base_url)
    }

    /// `POST /billing/checkout`.
    pub async fn checkout(
        &self,
        org_id: &str,
        input: CheckoutIn,
        idempotency_key: Option<String>,
    ) -> Result<SessionView, BillingError> {
        let payments = self.payments()?.clone();
        let mode = match (input.mode.as_deref(), &input.plan_id) {
            (Some("setup"), _) | (None, None) => CheckoutMode::Setup,
            (Some("subscription") | None, Some(id)) => {
                let plan = self
                    .plan(id)
                    .ok_or_else(|| BillingError::InvalidPlan(format!("Plan '{id}' not found: GET /billing/plans")))?;
                let price = self.price_of(id, plan).ok_or_else(|| {
                    BillingError::InvalidPlan(if plan.monthly_price_usd <= 0.0 {
                        format!("Plan '{id}' is free: nothing to buy")
                    } else {
                        format!(
                            "Plan '{id}' is not sold through Checkout here (billing.plans.{id}.stripe_price is not set)"
                        )
                    })
                })?;
                let acct = store::account(&self.db, org_id).await?;
                if let (Some(status), Some(plan)) = (&acct.subscription_status, &acct.subscription_plan)
                    && LIVE.contains(&status.as_str())
                {
                    return Err(BillingError::SubscriptionExists {
                        plan: plan.clone(),
                        status: status.clone(),
                    });
                }
                CheckoutMode::Subscription {
                    plan: id.clone(),
                    price,
                }
            }
            (Some("subscription"), None) => {
                return Err(BillingError::InvalidPlan(
                    "A subscription checkout needs a planId".into(),
                ));
            }
            (Some(other), _) => {
                return Err(BillingError::field(
                    "mode",
                    format!("expected `subscription` or `setup`, got `{other}`"),
                ));
            }
        };
        let customer = self.customer(org_id).await?;
        let plan_id = match &mode {
            CheckoutMode::Subscription { plan, .. } => Some(plan.clone()),
            CheckoutMode::Setup => None,
        };
        let session = payments
            .checkout(CheckoutRequest {
                org_id: org_id.to_string(),
                customer,
                mode: mode.clone(),
                success_url: input.success_url.unwrap_or_else(|| {
                    default_url(&self.settings.success_url, || {
                        self.own_page("/_sandbox/stripe/done?session_id={CHECKOUT_SESSION_ID}")
                    })
                }),
                cancel_url: input.cancel_url.unwrap_or_else(|| {
                    default_url(&self.settings.cancel_url, || self.own_page("/_sandbox/stripe/done"))
                }),
                idempotency_key: idempotency_key.map(|k| format!("thruai-checkout-{org_id}-{k}")),
            })
            .await?;
        Ok(SessionView {
            session_id: session.id,
            url: session.url,
            mode: mode.as_str().into(),
            plan_id,
            expires_at: at(session.expires_at),
        })
    }

    /// `POST /billing/portal`.
    pub async fn portal(&self, org_id: &str, return_url: Option<String>) -> Result<SessionView, BillingError> {
        let payments = self.payments()?;
        let customer = store::account(&self.db, org_id)
            .await?
            .customer_id
            .ok_or(BillingError::NoCustomer)?;
        let return_url = return_url
            .unwrap_or_else(|| default_url(&self.settings.cancel_url, || self.own_page("/_sandbox/stripe/done")));
        let session = payments.portal(&customer, &return_url).await?;
        Ok(SessionView {
            session_id: session.id,
            url: session.url,
            mode: "portal".into(),
            plan_id: None,
            expires_at: at(session.expires_at),
        })
    }

    /// `GET /billing/payment-methods` (none before a customer exists).
    pub async fn payment_methods(&self, org_id: &str) -> Result<Vec<PaymentMethodView>, BillingError> {
        let payments = self.payments()?;
        let Some(customer) = store::account(&self.db, org_id).await?.customer_id else {
            return Ok(Vec::new());
        };
        Ok(payments
            .payment_methods(&customer)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// `BILLING_REQUIRED`, with a Checkout URL to resolve it when one can be made.
    async fn required(&self, org_id: &str, reason: &str) -> BillingError {
        let checkout_url = match self.payments {
            Some(_) => self
                .checkout(
                    org_id,
                    CheckoutIn::default(),
                    Some(format!("required-{}", Utc::now().date_naive())),
                )
                .await
                .ok()
                .map(|s| s.url),
            None => None,
        };
        BillingError::Required {
            reason: reason.to_string(),
            checkout_url,
        }
    }

    /// The gate before paid work (calls, campaigns, SMS, email): with `billing.enforce` on,
    /// a paid plan needs its subscription in force, and an organisation without one needs
    /// a balance not below zero. Calls already live are never asked.
    pub async fn admit(&self, org_id: &str) -> Result<(), BillingError> {
        if !self.settings.enforce {
            return Ok(());
        }
        let fresh = Duration::from_millis(self.settings.admit_cache_ms);
        let recently = |map: &HashMap<String, Instant>| map.get(org_id).is_some_and(|t| t.elapsed() < fresh);
        if self.admitted.lock().is_ok_and(|m| recently(&m)) {
            return Ok(());
        }
        let (acct, plan, _, balance) = self.standing(org_id).await?;
        let paid_plan = self.plan(&plan).is_some_and(|p| p.monthly_price_usd > 0.0);
        if paid_plan && !self.covered(&acct) {
            let status = acct.subscription_status.as_deref().unwrap_or("missing");
            return Err(self
                .required(
                    org_id,
                    &format!("The '{plan}' plan's subscription is {status}: update the payment method in the portal (POST /billing/portal)"),
                )
                .await);
        }
        if !self.covered(&acct) && balance < 0 {
            return Err(self
                .required(
                    org_id,
                    &format!(
                        "The balance is ${:.2}: this month's usage is beyond what the plan includes; subscribe or add credit (POST /billing/charge)",
                        usd(balance)
                    ),
                )
                .await);
        }
        if let Ok(mut m) = self.admitted.lock() {
            m.retain(|_, t| t.elapsed() < fresh);
            m.insert(org_id.to_string(), Instant::now());
        }
        Ok(())
    }
}

/// The subscription's period, rolled forward month by month when no renewal was heard of.
fn at_period(acct: &billing_account::Model) -> Option<PeriodView> {
    let (mut start, mut end) = (acct.period_start?, acct.period_end?);
    let now = Utc::now();
    while end <= now
        && acct
            .subscription_status
            .as_deref()
            .is_some_and(|s| IN_FORCE.contains(&s))
    {
        start = end;
        end = next_month(end);
    }
    Some(PeriodView { start, end })
}

fn default_url(configured: &str, own: impl FnOnce() -> String) -> String {
    if configured.is_empty() {
        own()
    } else {
        configured.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_and_follow() {
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 13, 5, 0).single().unwrap_or_default();
        let start = month_start(t);
        assert_eq!(start.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(next_month(start).to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }
}
