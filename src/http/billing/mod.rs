//! Billing: plans, the subscription, Checkout and portal sessions, saved cards, statements
//! and direct charges; the provider's signed webhook (`provider.rs`) and the sandbox's
//! Checkout and portal pages (`sandbox.rs`). The use cases are `app::billing`'s.

mod provider;
mod sandbox;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::core::{
    envelope::{self, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::{PAGED, RouteSpec},
    validation::{Validate, Validator},
};
use crate::{
    app::billing::{
        ChargeIn, ChargeView, CheckoutIn, Invoice, PaymentMethodView, PlanView, SessionView, SubscriptionView,
    },
    error::ApiResult,
};

const READ: Option<&str> = Some("billing:read");
const WRITE: Option<&str> = Some("billing:write");

/// Stripe's smallest and a sane largest single charge, in cents.
const MIN_CHARGE_CENTS: i64 = 50;
const MAX_CHARGE_CENTS: i64 = 1_000_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    provider::configure(cfg);
    sandbox::configure(cfg);
}

fn check_url(v: &mut Validator, field: &str, value: Option<&str>) {
    if let Some(u) = value {
        let ok = url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        v.check(
            ok && u.len() <= 2048,
            field,
            "must be an http(s) URL of at most 2048 characters",
        );
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckoutBody {
    /// The plan to subscribe to (`GET /billing/plans`); without one, the session saves a
    /// card.
    #[serde(alias = "plan")]
    pub plan_id: Option<String>,
    /// `subscription` (with a plan) or `setup` (save a card for charges).
    pub mode: Option<String>,
    /// Where Checkout sends the person when done; may hold `{CHECKOUT_SESSION_ID}`.
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
}

impl Validate for CheckoutBody {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("planId", self.plan_id.as_deref(), 1, 64);
        v.one_of("mode", self.mode.as_deref(), &["subscription", "setup"]);
        check_url(v, "successUrl", self.success_url.as_deref());
        check_url(v, "cancelUrl", self.cancel_url.as_deref());
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortalBody {
    /// Where the portal's "return" link goes.
    pub return_url: Option<String>,
}

impl Validate for PortalBody {
    fn validate(&self, v: &mut Validator) {
        check_url(v, "returnUrl", self.return_url.as_deref());
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChargeBody {
    /// USD (at least 0.50), added to the prepaid balance once paid. Or `amountCents`.
    pub amount: Option<f64>,
    pub amount_cents: Option<i64>,
    /// `usd` (the ledger's currency).
    pub currency: Option<String>,
    pub description: Option<String>,
}

impl ChargeBody {
    fn cents(&self) -> Option<i64> {
        match (self.amount, self.amount_cents) {
            (Some(usd), None) if usd.is_finite() => Some((usd * 100.0).round() as i64),
            (None, Some(c)) => Some(c),
            _ => None,
        }
    }
}

impl Validate for ChargeBody {
    fn validate(&self, v: &mut Validator) {
        match (self.amount, self.amount_cents, self.cents()) {
            (None, None, _) => v.check(false, "amount", "required (USD), or amountCents"),
            (Some(_), Some(_), _) => v.check(false, "amount", "give amount or amountCents, not both"),
            (_, _, c) => v.check(
                c.is_some_and(|c| (MIN_CHARGE_CENTS..=MAX_CHARGE_CENTS).contains(&c)),
                if self.amount.is_some() { "amount" } else { "amountCents" },
                "must be between $0.50 and $10,000.00",
            ),
        }
        if let Some(amount) = self.amount {
            v.check(
                ((amount * 100.0).round() - amount * 100.0).abs() < 1e-6,
                "amount",
                "at most two decimals (cents)",
            );
        }
        v.check(
            self.currency.as_deref().is_none_or(|c| c.eq_ignore_ascii_case("usd")),
            "currency",
            "only usd is charged (the ledger's currency)",
        );
        v.opt_length("description", self.description.as_deref(), 1, 500);
    }
}

/// `GET /billing/plans`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlansOut {
    pub plans: Vec<PlanView>,
    /// The plan new organisations start on.
    pub default_plan: String,
}

/// `GET /billing/payment-methods`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodsOut {
    pub payment_methods: Vec<PaymentMethodView>,
}

pub async fn plans(ctx: Ctx) -> ApiResult<HttpResponse> {
    let out = PlansOut {
        plans: ctx.state.billing.plans(),
        default_plan: ctx.state.settings.rate_limit.default_plan.clone(),
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn subscription(ctx: Ctx) -> ApiResult<HttpResponse> {
    let out = ctx.state.billing.subscription(ctx.org()).await?;
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn checkout(ctx: Ctx, Body(input): Body<CheckoutBody>) -> ApiResult<HttpResponse> {
    let input = CheckoutIn {
        plan_id: input.plan_id,
        mode: input.mode,
        success_url: input.success_url,
        cancel_url: input.cancel_url,
    };
    let key = ctx.idempotency_key().map(str::to_string);
    let out = ctx.state.billing.checkout(ctx.org(), input, key).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(out)).await
}

pub async fn portal(ctx: Ctx, Body(input): Body<PortalBody>) -> ApiResult<HttpResponse> {
    let out = ctx.state.billing.portal(ctx.org(), input.return_url).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(out)).await
}

pub async fn payment_methods(ctx: Ctx) -> ApiResult<HttpResponse> {
    let payment_methods = ctx.state.billing.payment_methods(ctx.org()).await?;
    Ok(envelope::ok(&Sorted(PaymentMethodsOut { payment_methods })))
}

pub async fn invoices(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = ctx
        .state
        .billing
        .invoices(ctx.org(), page.offset(), page.page_size)
        .await?;
    Ok(envelope::list("invoices", &rows, page.info(total)))
}

pub async fn invoice(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let out = ctx.state.billing.invoice(ctx.org(), &id).await?;
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn charge(ctx: Ctx, Body(input): Body<ChargeBody>) -> ApiResult<HttpResponse> {
    let cents = input.cents().unwrap_or_default();
    let charge = ChargeIn {
        amount_cents: cents,
        currency: "usd".into(),
        description: input.description,
    };
    let out = ctx
        .state
        .billing
        .charge(ctx.org(), charge, ctx.idempotency_key())
        .await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(out)).await
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/billing/plans",
            "billing",
            "list_plans",
            "List available plans",
            |r| r.to(plans),
        )
        .key(READ)
        .returns::<PlansOut>(),
        RouteSpec::new(
            M::POST,
            "/billing/checkout",
            "billing",
            "create_checkout_session",
            "Create checkout session",
            |r| r.to(checkout),
        )
        .key(WRITE)
        .body::<CheckoutBody>()
        .example(|| json!({ "planId": "pro" }))
        .returns::<SessionView>(),
        RouteSpec::new(
            M::POST,
            "/billing/portal",
            "billing",
            "create_portal_session",
            "Create billing portal session",
            |r| r.to(portal),
        )
        .key(WRITE)
        .body::<PortalBody>()
        .example(|| json!({}))
        .returns::<SessionView>(),
        RouteSpec::new(
            M::GET,
            "/billing/subscription",
            "billing",
            "get_subscription",
            "Get subscription status",
            |r| r.to(subscription),
        )
        .key(READ)
        .returns::<SubscriptionView>(),
        RouteSpec::new(
            M::GET,
            "/billing/payment-methods",
            "billing",
            "list_payment_methods",
            "List payment methods",
            |r| r.to(payment_methods),
        )
        .key(READ)
        .returns::<PaymentMethodsOut>(),
        RouteSpec::new(
            M::GET,
            "/billing/invoices",
            "billing",
            "list_invoices",
            "List invoices",
            |r| r.to(invoices),
        )
        .key(READ)
        .query(PAGED)
        .returns_list::<Invoice>("invoices"),
        RouteSpec::new(
            M::GET,
            "/billing/invoices/:id",
            "billing",
            "get_invoice",
            "Get invoice by ID",
            |r| r.to(invoice),
        )
        .key(READ)
        .returns::<Invoice>(),
        RouteSpec::new(
            M::POST,
            "/billing/charge",
            "billing",
            "create_charge",
            "Create a direct usage charge against the default payment method",
            |r| r.to(charge),
        )
        .billed()
        .key(WRITE)
        .body::<ChargeBody>()
        .example(|| json!({ "amount": 25.00, "description": "Prepaid credit" }))
        .returns::<ChargeView>(),
    ]
}
