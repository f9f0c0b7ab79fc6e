//! The sandbox payment provider: Stripe's test mode on this machine. Customers, payment
//! methods, Checkout Sessions, subscriptions, PaymentIntents and meter events are kept in
//! `sandbox_stripe_objects` in Stripe's JSON shapes; Checkout and the portal are pages this
//! server serves (`/_sandbox/stripe/…`), completed with Stripe's test cards:
//!
//! | card | behaviour |
//! |---|---|
//! | 4242 4242 4242 4242, 5555 5555 5555 4444 | succeeds |
//! | 4000 0000 0000 0002 | declined (`generic_decline`) |
//! | 4000 0000 0000 9995 | declined (`insufficient_funds`) |
//! | 4000 0027 6000 3184 | needs its holder: fine in Checkout, `authentication_required` off-session |
//!
//! Completing a page produces the events Stripe would send, which the caller applies like
//! webhook deliveries. A subscription renews when read after its period ended.

use async_trait::async_trait;
use chrono::{DateTime, Months, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::{Value, json};
use thruai_entities::sandbox_stripe_object::{self as object, Entity as Objects};

use crate::providers::{
    payments::{
        ChargeRequest, CheckoutMode, CheckoutRequest, MeterEvent, PaymentError, PaymentEvent, PaymentIntent,
        PaymentMethod, Payments, Session, Subscription,
    },
    stripe::payment_method,
};

/// How long a Checkout Session stays open.
const SESSION_SECS: i64 = 24 * 3600;

pub struct SandboxStripe {
    db: DatabaseConnection,
    base_url: String,
}

/// What a test card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    Succeeds,
    Declined,
    InsufficientFunds,
    NeedsAuthentication,
}

impl Card {
    /// The test card a number is (spaces allowed); `None`: not a test card.
    pub fn of(number: &str) -> Option<(Self, &'static str)> {
        let digits: String = number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        Some(match digits.as_str() {
            "4242424242424242" => (Self::Succeeds, "visa"),
            "5555555555554444" => (Self::Succeeds, "mastercard"),
            "4000000000000002" => (Self::Declined, "visa"),
            "4000000000009995" => (Self::InsufficientFunds, "visa"),
            "4000002760003184" => (Self::NeedsAuthentication, "visa"),
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeds => "succeeds",
            Self::Declined => "declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::NeedsAuthentication => "authentication_required",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "declined" => Self::Declined,
            "insufficient_funds" => Self::InsufficientFunds,
            "authentication_required" => Self::NeedsAuthentication,
            _ => Self::Succeeds,
        }
    }

    /// The error an off-session payment with this card gets (`None`: it is paid).
    fn off_session_error(self, payment_intent: &str) -> Option<PaymentError> {
        let (code, decline, message) = match self {
            Self::Succeeds => return None,
            Self::Declined => ("card_declined", Some("generic_decline"), "Your card was declined."),
            Self::InsufficientFunds => (
                "card_declined",
                Some("insufficient_funds"),
                "Your card has insufficient funds.",
            ),
            Self::NeedsAuthentication => (
                "authentication_required",
                Some("authentication_required"),
                "This payment requires the cardholder to authenticate.",
            ),
        };
        Some(PaymentError::Card {
            code: code.into(),
            decline_code: decline.map(str::to_string),
            message: message.into(),
            payment_intent: Some(payment_intent.to_string()),
        })
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

fn period_end(start: i64) -> i64 {
    Utc.timestamp_opt(start, 0)
        .single()
        .and_then(|t| t.checked_add_months(Months::new(1)))
        .map_or(start + 30 * 86_400, |t| t.timestamp())
}

fn event(kind: &str, object: Value) -> PaymentEvent {
    PaymentEvent {
        id: new_id("evt"),
        kind: kind.into(),
        created: Utc::now().timestamp(),
        object,
    }
}

fn missing(what: &'static str) -> PaymentError {
    PaymentError::NotFound(what)
}

impl SandboxStripe {
    pub fn new(db: DatabaseConnection, base_url: &str) -> Self {
        Self {
            db,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    async fn insert(
        &self,
        id: &str,
        kind: &str,
        customer: Option<&str>,
        key: Option<String>,
        body: Value,
    ) -> Result<(), PaymentError> {
        object::ActiveModel {
            id: Set(id.to_string()),
            kind: Set(kind.to_string()),
            customer_id: Set(customer.map(str::to_string)),
            idempotency_key: Set(key),
            body: Set(body),
            created_at: Set(Utc::now()),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    async fn load(&self, id: &str, kind: &str, what: &'static str) -> Result<Value, PaymentError> {
        Objects::find_by_id(id)
            .filter(object::Column::Kind.eq(kind))
            .one(&self.db)
            .await?
            .map(|o| o.body)
            .ok_or(missing(what))
    }

    async fn by_key(&self, key: &str) -> Result<Option<Value>, PaymentError> {
        Ok(Objects::find()
            .filter(object::Column::IdempotencyKey.eq(key))
            .one(&self.db)
            .await?
            .map(|o| o.body))
    }

    async fn save(&self, id: &str, body: Value) -> Result<(), PaymentError> {
        object::ActiveModel {
            id: Set(id.to_string()),
            body: Set(body),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        Ok(())
    }

    /// The objects of one kind, of one customer when given, oldest first.
    async fn objects(&self, kind: &str, customer: Option<&str>) -> Result<Vec<Value>, PaymentError> {
        let mut q = Objects::find().filter(object::Column::Kind.eq(kind));
        if let Some(c) = customer {
            q = q.filter(object::Column::CustomerId.eq(c));
        }
        Ok(q.order_by_asc(object::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| o.body)
            .collect())
    }

    /// A Checkout Session as its page shows it.
    ///
    /// # Errors
    /// When there is no such session.
    pub async fn session(&self, id: &str) -> Result<Value, PaymentError> {
        self.load(id, "checkout.session", "checkout session").await
    }

    /// Completes a Checkout Session with a test card: saves the card as the customer's
    /// default and, for a subscription, starts it. Returns where to send the person and the
    /// events Stripe would deliver.
    ///
    /// # Errors
    /// A card that is not a test card, or declines (the session stays open); a session
    /// already completed or expired.
    pub async fn complete_checkout(
        &self,
        session_id: &str,
        card_number: &str,
    ) -> Result<(String, Vec<PaymentEvent>), PaymentError> {
        let mut session = self.session(session_id).await?;
        let now = Utc::now().timestamp();
        if session["status"] != "open" || session["expires_at"].as_i64().is_some_and(|t| t < now) {
            return Err(PaymentError::Invalid(format!(
                "This Checkout Session is {}",
                if session["status"] == "open" {
                    "expired"
                } else {
                    "already complete"
                }
            )));
        }
        let (card, brand) = Card::of(card_number).ok_or_else(|| {
            PaymentError::Invalid("Your card number is not a test card: use 4242 4242 4242 4242".into())
        })?;
        let customer = session["customer"].as_str().unwrap_or_default().to_string();
        if session["mode"] == "subscription" && matches!(card, Card::Declined | Card::InsufficientFunds) {
            return Err(card
                .off_session_error("")
                .unwrap_or_else(|| PaymentError::Invalid("declined".into())));
        }
        let digits: String = card_number.chars().filter(char::is_ascii_digit).collect();
        let pm = new_id("pm");
        let pm_body = json!({
            "id": pm, "object": "payment_method", "type": "card", "customer": customer, "created": now,
            "card": { "brand": brand, "last4": &digits[digits.len().saturating_sub(4)..], "exp_month": 12,
                      "exp_year": Utc::now().format("%Y").to_string().parse::<i64>().unwrap_or(2030) + 3,
                      "funding": "credit", "country": "US" },
            "billing_details": {}, "metadata": { "sandbox_behaviour": card.as_str() },
        });
        self.insert(&pm, "payment_method", Some(&customer), None, pm_body)
            .await?;
        self.set_default_payment_method(&customer, &pm).await?;
        let mut events = Vec::new();
        if session["mode"] == "subscription" {
            let sub = new_id("sub");
            let end = period_end(now);
            let body = json!({
                "id": sub, "object": "subscription", "customer": customer, "status": "active",
                "metadata": session["metadata"], "cancel_at_period_end": false, "created": now, "start_date": now,
                "default_payment_method": pm, "collection_method": "charge_automatically",
                "items": { "object": "list", "data": [{ "id": new_id("si"), "object": "subscription_item",
                    "price": { "id": session["price"], "object": "price" }, "quantity": 1,
                    "current_period_start": now, "current_period_end": end }] },
            });
            self.insert(&sub, "subscription", Some(&customer), None, body.clone())
                .await?;
            session["subscription"] = json!(sub);
            session["payment_status"] = json!("paid");
            events.push(event("customer.subscription.created", body));
            events.push(event(
                "invoice.paid",
                json!({
                    "id": new_id("in"), "object": "invoice", "customer": customer, "subscription": sub,
                    "status": "paid", "period_start": now, "period_end": end, "billing_reason": "subscription_create",
                    "parent": { "subscription_details": { "subscription": sub } },
                }),
            ));
        } else {
            session["payment_status"] = json!("no_payment_required");
            session["setup_intent"] = json!(new_id("seti"));
        }
        session["status"] = json!("complete");
        self.save(session_id, session.clone()).await?;
        events.insert(0, event("checkout.session.completed", session.clone()));
        let redirect = session["success_url"]
            .as_str()
            .unwrap_or_default()
            .replace("{CHECKOUT_SESSION_ID}", session_id);
        Ok((redirect, events))
    }

    /// A portal session's customer, subscriptions and cards, as its page shows them.
    ///
    /// # Errors
    /// When there is no such session.
    pub async fn portal_view(&self, id: &str) -> Result<(Value, Vec<Value>, Vec<PaymentMethod>), PaymentError> {
        let session = self.load(id, "billing_portal.session", "portal session").await?;
        let customer = session["customer"].as_str().unwrap_or_default().to_string();
        let subs = self.objects("subscription", Some(&customer)).await?;
        Ok((session, subs, self.payment_methods(&customer).await?))
    }

    /// Cancels a subscription at once from the portal; returns the event Stripe would send.
    ///
    /// # Errors
    /// When there is no such subscription or it belongs to another customer.
    pub async fn cancel_subscription(&self, customer: &str, id: &str) -> Result<PaymentEvent, PaymentError> {
        let mut sub = self.load(id, "subscription", "subscription").await?;
        if sub["customer"] != customer {
            return Err(missing("subscription"));
        }
        let now = Utc::now().timestamp();
        sub["status"] = json!("canceled");
        sub["canceled_at"] = json!(now);
        sub["ended_at"] = json!(now);
        self.save(id, sub.clone()).await?;
        Ok(event("customer.subscription.deleted", sub))
    }

    /// Renews a subscription whose period has ended, charging its default card.
    async fn renewed(&self, mut sub: Value) -> Result<Value, PaymentError> {
        let now = Utc::now().timestamp();
        let mut changed = false;
        while let Some(start) = sub["items"]["data"][0]["current_period_end"]
            .as_i64()
            .filter(|end| sub["status"] == "active" && *end <= now)
        {
            let card = match sub["default_payment_method"].as_str() {
                Some(pm) => self.load(pm, "payment_method", "payment method").await?,
                None => Value::Null,
            };
            let paid =
                Card::parse(card["metadata"]["sandbox_behaviour"].as_str().unwrap_or_default()) == Card::Succeeds;
            let item = &mut sub["items"]["data"][0];
            if paid {
                item["current_period_start"] = json!(start);
                item["current_period_end"] = json!(period_end(start));
            } else {
                sub["status"] = json!("past_due");
            }
            changed = true;
        }
        if changed && let Some(id) = sub["id"].as_str() {
            self.save(id, sub.clone()).await?;
        }
        Ok(sub)
    }
}

#[async_trait]
impl Payments for SandboxStripe {
    async fn create_customer(&self, org_id: &str, email: &str, name: &str) -> Result<String, PaymentError> {
        let key = format!("customer:{org_id}");
        if let Some(existing) = self.by_key(&key).await? {
            return Ok(existing["id"].as_str().unwrap_or_default().to_string());
        }
        let id = new_id("cus");
        let body = json!({
            "id": id, "object": "customer", "email": email, "name": name, "balance": 0, "currency": "usd",
            "delinquent": false, "invoice_settings": { "default_payment_method": null },
            "metadata": { "org_id": org_id }, "livemode": false, "created": Utc::now().timestamp(),
        });
        self.insert(&id, "customer", Some(&id), Some(key), body).await?;
        Ok(id)
    }

    async fn checkout(&self, req: CheckoutRequest) -> Result<Session, PaymentError> {
        let key = req.idempotency_key.as_ref().map(|k| format!("checkout:{k}"));
        if let Some(k) = &key
            && let Some(existing) = self.by_key(k).await?
        {
            return session_of(&existing);
        }
        self.load(&req.customer, "customer", "customer").await?;
        let id = format!("cs_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
        let now = Utc::now().timestamp();
        let (plan, price) = match &req.mode {
            CheckoutMode::Subscription { plan, price } => (Some(plan.clone()), Some(price.clone())),
            CheckoutMode::Setup => (None, None),
        };
        let body = json!({
            "id": id, "object": "checkout.session", "url": format!("{}/_sandbox/stripe/checkout/{id}", self.base_url),
            "mode": req.mode.as_str(), "status": "open", "payment_status": "unpaid", "customer": req.customer,
            "client_reference_id": req.org_id, "metadata": { "org_id": req.org_id, "plan": plan },
            "success_url": req.success_url, "cancel_url": req.cancel_url, "expires_at": now + SESSION_SECS,
            "price": price, "subscription": null, "livemode": false, "created": now,
        });
        self.insert(&id, "checkout.session", Some(&req.customer), key, body.clone())
            .await?;
        session_of(&body)
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<Session, PaymentError> {
        self.load(customer, "customer", "customer").await?;
        let id = new_id("bps");
        let body = json!({
            "id": id, "object": "billing_portal.session", "customer": customer, "return_url": return_url,
            "url": format!("{}/_sandbox/stripe/portal/{id}", self.base_url), "livemode": false,
            "created": Utc::now().timestamp(),
        });
        self.insert(&id, "billing_portal.session", Some(customer), None, body.clone())
            .await?;
        session_of(&body)
    }

    async fn payment_methods(&self, customer: &str) -> Result<Vec<PaymentMethod>, PaymentError> {
        let c = self.load(customer, "customer", "customer").await?;
        let default = c["invoice_settings"]["default_payment_method"].as_str();
        Ok(self
            .objects("payment_method", Some(customer))
            .await?
            .iter()
            .filter_map(|v| payment_method(v, default))
            .collect())
    }

    async fn set_default_payment_method(&self, customer: &str, payment_method: &str) -> Result<(), PaymentError> {
        let mut c = self.load(customer, "customer", "customer").await?;
        c["invoice_settings"]["default_payment_method"] = json!(payment_method);
        self.save(customer, c).await
    }

    async fn subscription(&self, id: &str) -> Result<Subscription, PaymentError> {
        let sub = self.load(id, "subscription", "subscription").await?;
        let sub = self.renewed(sub).await?;
        Subscription::from_stripe(&sub).ok_or(missing("subscription"))
    }

    async fn charge(&self, req: ChargeRequest) -> Result<PaymentIntent, PaymentError> {
        let key = format!("payment_intent:{}", req.idempotency_key);
        let replay = self.by_key(&key).await?;
        let pi = match replay {
            Some(pi) => pi,
            None => {
                if req.amount_cents < 50 {
                    return Err(PaymentError::Invalid("Amount must be at least $0.50 usd".into()));
                }
                let card = self
                    .load(&req.payment_method, "payment_method", "payment method")
                    .await?;
                if card["customer"] != req.customer.as_str() {
                    return Err(missing("payment method"));
                }
                let id = new_id("pi");
                let behaviour = Card::parse(card["metadata"]["sandbox_behaviour"].as_str().unwrap_or_default());
                let status = if behaviour == Card::Succeeds {
                    "succeeded"
                } else {
                    "requires_payment_method"
                };
                let body = json!({
                    "id": id, "object": "payment_intent", "amount": req.amount_cents, "currency": req.currency,
                    "customer": req.customer, "payment_method": req.payment_method, "status": status,
                    "description": req.description, "metadata": { "org_id": req.org_id, "charge_id": req.charge_id },
                    "latest_charge": (status == "succeeded").then(|| new_id("ch")),
                    "last_payment_error": (status != "succeeded").then(|| behaviour.as_str()),
                    "created": Utc::now().timestamp(), "livemode": false,
                });
                self.insert(&id, "payment_intent", Some(&req.customer), Some(key), body.clone())
                    .await?;
                body
            }
        };
        let id = pi["id"].as_str().unwrap_or_default().to_string();
        if let Some(failure) = pi["last_payment_error"].as_str()
            && let Some(err) = Card::parse(failure).off_session_error(&id)
        {
            return Err(err);
        }
        Ok(PaymentIntent {
            id,
            status: pi["status"].as_str().unwrap_or_default().to_string(),
        })
    }

    async fn meter_event(&self, event: MeterEvent) -> Result<(), PaymentError> {
        let body = json!({
            "object": "billing.meter_event", "event_name": event.event_name, "identifier": event.identifier,
            "payload": { "stripe_customer_id": event.customer, "value": event.value.to_string() },
            "timestamp": event.timestamp, "created": Utc::now().timestamp(), "livemode": false,
        });
        Objects::insert(object::ActiveModel {
            id: Set(new_id("mtrev")),
            kind: Set("billing.meter_event".into()),
            customer_id: Set(Some(event.customer)),
            idempotency_key: Set(Some(format!("meter:{}", event.identifier))),
            body: Set(body),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(object::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    fn is_sandbox(&self) -> bool {
        true
    }
}

fn session_of(v: &Value) -> Result<Session, PaymentError> {
    Ok(Session {
        id: v["id"].as_str().unwrap_or_default().to_string(),
        url: v["url"].as_str().unwrap_or_default().to_string(),
        expires_at: v["expires_at"].as_i64(),
    })
}

/// When a Unix time is, for pages.
pub fn when(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|t: DateTime<Utc>| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_and_what_they_do_off_session() {
        assert_eq!(Card::of("4242 4242 4242 4242"), Some((Card::Succeeds, "visa")));
        assert_eq!(
            Card::of("4000-0000-0000-9995").map(|c| c.0),
            Some(Card::InsufficientFunds)
        );
        assert_eq!(Card::of("1234"), None);
        assert!(Card::Succeeds.off_session_error("pi").is_none());
        match Card::NeedsAuthentication.off_session_error("pi_1") {
            Some(PaymentError::Card { code, .. }) => assert_eq!(code, "authentication_required"),
            other => panic!("{other:?}"),
        }
        for c in [
            Card::Declined,
            Card::InsufficientFunds,
            Card::NeedsAuthentication,
            Card::Succeeds,
        ] {
            assert_eq!(Card::parse(c.as_str()), c);
        }
    }

    #[test]
    fn a_period_is_a_calendar_month() {
        let jan31 = Utc
            .with_ymd_and_hms(2026, 1, 31, 12, 0, 0)
            .single()
            .map(|t| t.timestamp());
        let end = jan31.map(period_end).and_then(|t| Utc.timestamp_opt(t, 0).single());
        assert_eq!(
            end.map(|t| t.format("%Y-%m-%d").to_string()).as_deref(),
            Some("2026-02-28")
        );
    }
}
