//! Stripe's HTTP API (PROVIDERS.md §3): form-encoded requests with bracket keys, Bearer
//! auth, `Idempotency-Key` on writes, errors mapped on HTTP status first, then `type`.

use async_trait::async_trait;
use serde_json::Value;

use super::payments::{
    ChargeRequest, CheckoutMode, CheckoutRequest, MeterEvent, PaymentError, PaymentIntent, PaymentMethod, Payments,
    Session, Subscription,
};

pub struct StripePayments {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    api_version: String,
}

type Form = Vec<(String, String)>;

fn form(pairs: &[(&str, &str)]) -> Form {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn unreadable() -> PaymentError {
    PaymentError::Unavailable("unreadable response from Stripe".into())
}

/// The error a Stripe answer means (HTTP status first, then `error.type`).
fn error_of(status: u16, body: &str, missing: &'static str) -> PaymentError {
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    let text = |k: &str| e[k].as_str().map(str::to_string);
    let message = text("message").unwrap_or_else(|| format!("HTTP {status}"));
    match (status, e["type"].as_str().unwrap_or_default()) {
        (402, _) | (_, "card_error") => PaymentError::Card {
            code: text("code").unwrap_or_else(|| "card_declined".into()),
            decline_code: text("decline_code"),
            message,
            payment_intent: e["payment_intent"]["id"].as_str().map(str::to_string),
        },
        (401, _) | (_, "authentication_error") => PaymentError::Auth,
        (403, _) => PaymentError::Permission(message),
        (404, _) => PaymentError::NotFound(missing),
        (409 | 429, _) | (500.., _) => PaymentError::Unavailable(format!("HTTP {status}: {message}")),
        _ => PaymentError::Invalid(message),
    }
}

impl StripePayments {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: &str, api_version: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            api_version: api_version.to_string(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Form>,
        idempotency_key: Option<&str>,
        missing: &'static str,
    ) -> Result<Value, PaymentError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key);
        if !self.api_version.is_empty() {
            req = req.header("Stripe-Version", &self.api_version);
        }
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(pairs) = body {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded);
        }
        let res = req
            .send()
            .await
            .map_err(|e| PaymentError::Unavailable(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| PaymentError::Unavailable(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            serde_json::from_str(&text).map_err(|_| unreadable())
        } else {
            Err(error_of(status, &text, missing))
        }
    }

    async fn post(
        &self,
        path: &str,
        body: Form,
        key: Option<&str>,
        missing: &'static str,
    ) -> Result<Value, PaymentError> {
        self.call(reqwest::Method::POST, path, Some(body), key, missing).await
    }

    async fn get(&self, path: &str, missing: &'static str) -> Result<Value, PaymentError> {
        self.call(reqwest::Method::GET, path, None, None, missing).await
    }
}

fn session(v: &Value) -> Result<Session, PaymentError> {
    Ok(Session {
        id: v["id"].as_str().ok_or_else(unreadable)?.to_string(),
        url: v["url"].as_str().ok_or_else(unreadable)?.to_string(),
        expires_at: v["expires_at"].as_i64(),
    })
}

/// A Stripe `payment_method` object.
pub fn payment_method(v: &Value, default: Option<&str>) -> Option<PaymentMethod> {
    let id = v["id"].as_str()?.to_string();
    let card = &v["card"];
    Some(PaymentMethod {
        is_default: default == Some(id.as_str()),
        id,
        kind: v["type"].as_str().unwrap_or("card").to_string(),
        brand: card["brand"].as_str().map(str::to_string),
        last4: card["last4"].as_str().map(str::to_string),
        exp_month: card["exp_month"].as_i64(),
        exp_year: card["exp_year"].as_i64(),
    })
}

#[async_trait]
impl Payments for StripePayments {
    async fn create_customer(&self, org_id: &str, email: &str, name: &str) -> Result<String, PaymentError> {
        // One customer per organisation, however often this is retried.
        let key = format!("thruai-customer-{org_id}");
        let v = self
            .post(
                "/v1/customers",
                form(&[("email", email), ("name", name), ("metadata[org_id]", org_id)]),
                Some(&key),
                "customer",
            )
            .await?;
        v["id"].as_str().map(str::to_string).ok_or_else(unreadable)
    }

    async fn checkout(&self, req: CheckoutRequest) -> Result<Session, PaymentError> {
        let mut body = form(&[
            ("mode", req.mode.as_str()),
            ("customer", &req.customer),
            ("success_url", &req.success_url),
            ("cancel_url", &req.cancel_url),
            ("client_reference_id", &req.org_id),
            ("metadata[org_id]", &req.org_id),
        ]);
        match &req.mode {
            CheckoutMode::Subscription { plan, price } => body.extend(form(&[
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("metadata[plan]", plan),
                ("subscription_data[metadata][org_id]", &req.org_id),
                ("subscription_data[metadata][plan]", plan),
            ])),
            CheckoutMode::Setup => body.extend(form(&[("payment_method_types[0]", "card")])),
        }
        let v = self
            .post(
                "/v1/checkout/sessions",
                body,
                req.idempotency_key.as_deref(),
                "checkout session",
            )
            .await?;
        session(&v)
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<Session, PaymentError> {
        let v = self
            .post(
                "/v1/billing_portal/sessions",
                form(&[("customer", customer), ("return_url", return_url)]),
                None,
                "customer",
            )
            .await?;
        session(&v)
    }

    async fn payment_methods(&self, customer: &str) -> Result<Vec<PaymentMethod>, PaymentError> {
        let c = self.get(&format!("/v1/customers/{customer}"), "customer").await?;
        let default = c["invoice_settings"]["default_payment_method"].as_str();
        let list = self
            .get(
                &format!("/v1/customers/{customer}/payment_methods?type=card&limit=100"),
                "customer",
            )
            .await?;
        Ok(list["data"]
            .as_array()
            .ok_or_else(unreadable)?
            .iter()
            .filter_map(|v| payment_method(v, default))
            .collect())
    }

    async fn set_default_payment_method(&self, customer: &str, payment_method: &str) -> Result<(), PaymentError> {
        self.post(
            &format!("/v1/customers/{customer}"),
            form(&[("invoice_settings[default_payment_method]", payment_method)]),
            None,
            "customer",
        )
        .await
        .map(drop)
    }

    async fn subscription(&self, id: &str) -> Result<Subscription, PaymentError> {
        let v = self.get(&format!("/v1/subscriptions/{id}"), "subscription").await?;
        Subscription::from_stripe(&v).ok_or_else(unreadable)
    }

    async fn charge(&self, req: ChargeRequest) -> Result<PaymentIntent, PaymentError> {
        let amount = req.amount_cents.to_string();
        let mut body = form(&[
            ("amount", &amount),
            ("currency", &req.currency),
            ("customer", &req.customer),
            ("payment_method", &req.payment_method),
            ("off_session", "true"),
            ("confirm", "true"),
            ("payment_method_types[0]", "card"),
            ("metadata[org_id]", &req.org_id),
            ("metadata[charge_id]", &req.charge_id),
        ]);
        if let Some(d) = &req.description {
            body.push(("description".into(), d.clone()));
        }
        let v = self
            .post(
                "/v1/payment_intents",
                body,
                Some(&req.idempotency_key),
                "payment method",
            )
            .await?;
        Ok(PaymentIntent {
            id: v["id"].as_str().ok_or_else(unreadable)?.to_string(),
            status: v["status"].as_str().ok_or_else(unreadable)?.to_string(),
        })
    }

    async fn meter_event(&self, event: MeterEvent) -> Result<(), PaymentError> {
        let (value, timestamp) = (event.value.to_string(), event.timestamp.to_string());
        let body = form(&[
            ("event_name", &event.event_name),
            ("payload[stripe_customer_id]", &event.customer),
            ("payload[value]", &value),
            ("identifier", &event.identifier),
            ("timestamp", &timestamp),
        ]);
        match self.post("/v1/billing/meter_events", body, None, "meter").await {
            // Already accepted under this identifier (a retry after a lost answer).
            Err(PaymentError::Invalid(m)) if m.contains("already exists") => Ok(()),
            other => other.map(drop),
        }
    }

    fn is_sandbox(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_on_status_then_type() {
        let card = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_1","status":"requires_payment_method"}}}"#;
        match error_of(402, card, "x") {
            PaymentError::Card {
                code,
                decline_code,
                payment_intent,
                ..
            } => {
                assert_eq!(code, "card_declined");
                assert_eq!(decline_code.as_deref(), Some("insufficient_funds"));
                assert_eq!(payment_intent.as_deref(), Some("pi_1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(error_of(401, "{}", "x"), PaymentError::Auth));
        assert!(matches!(error_of(403, "{}", "x"), PaymentError::Permission(_)));
        assert!(matches!(
            error_of(404, "{}", "customer"),
            PaymentError::NotFound("customer")
        ));
        assert!(matches!(error_of(409, "{}", "x"), PaymentError::Unavailable(_)));
        assert!(matches!(error_of(503, "<html>", "x"), PaymentError::Unavailable(_)));
        let bad = r#"{"error":{"type":"invalid_request_error","message":"No such price: 'price_x'"}}"#;
        assert!(matches!(error_of(400, bad, "x"), PaymentError::Invalid(m) if m.contains("price_x")));
    }

    #[test]
    fn subscriptions_read_the_period_from_the_item_or_the_top() {
        let new = serde_json::json!({"id":"sub_1","customer":"cus_1","status":"active","metadata":{"plan":"pro"},
            "items":{"data":[{"price":{"id":"price_pro"},"current_period_start":10,"current_period_end":20}]}});
        let s = Subscription::from_stripe(&new).unwrap_or_else(|| panic!("parses"));
        assert_eq!(
            (s.period_start, s.period_end, s.price.as_deref()),
            (Some(10), Some(20), Some("price_pro"))
        );
        let old = serde_json::json!({"id":"sub_1","customer":{"id":"cus_1"},"status":"past_due",
            "current_period_start":1,"current_period_end":2,"items":{"data":[]}});
        let s = Subscription::from_stripe(&old).unwrap_or_else(|| panic!("parses"));
        assert_eq!((s.customer.as_str(), s.period_end, s.plan), ("cus_1", Some(2), None));
    }
}
