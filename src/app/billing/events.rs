//! What the payment provider reports (its webhook; the sandbox's pages): Checkout
//! completed, subscriptions created, changed and deleted, invoices paid or not, payments
//! succeeded or failed — applied to the organisation's account. Events arrive in any order
//! and more than once, so a subscription is re-read from the provider rather than taken
//! from the event, and a state older than the one applied changes nothing.

use chrono::{TimeZone, Utc};
use sea_orm::ActiveValue::Set;
use serde_json::Value;
use thruai_entities::billing_account;

use super::{Billing, BillingError, LIVE};
use crate::{
    providers::payments::{PaymentEvent, Subscription},
    store::{accounts, billing as store},
};

/// What an event changed, for the log and the webhook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Subscription {
        org_id: String,
        status: String,
    },
    Invoice {
        org_id: String,
    },
    Charge {
        charge_id: String,
        status: String,
    },
    /// Not about an organisation this server knows, or a type it does not act on.
    Ignored,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match &v[key] {
        Value::String(s) => Some(s.as_str()),
        other => other["id"].as_str(),
    }
}

impl Billing {
    /// Applies one provider event (de-duplication by event id is the caller's).
    ///
    /// # Errors
    /// When the provider cannot be asked or the store fails (the provider then retries).
    pub async fn apply_event(&self, event: &PaymentEvent) -> Result<Applied, BillingError> {
        let o = &event.object;
        match event.kind.as_str() {
            "checkout.session.completed" => {
                let Some(org_id) = self.org_of(o).await? else {
                    return Ok(Applied::Ignored);
                };
                if let Some(customer) = text(o, "customer") {
                    self.link_customer(&org_id, customer).await?;
                }
                if let Some(sub) = text(o, "subscription") {
                    return self.refresh_subscription(&org_id, sub, event.created).await;
                }
                // A card saved in setup mode becomes the default when there is none.
                if let (Some(customer), Ok(payments)) = (text(o, "customer"), self.payments()) {
                    let cards = payments.payment_methods(customer).await?;
                    if !cards.iter().any(|c| c.is_default)
                        && let Some(newest) = cards.last()
                    {
                        payments.set_default_payment_method(customer, &newest.id).await?;
                    }
                }
                Ok(Applied::Subscription {
                    org_id,
                    status: "setup".into(),
                })
            }
            "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
                let (Some(org_id), Some(id)) = (self.org_of(o).await?, text(o, "id")) else {
                    return Ok(Applied::Ignored);
                };
                self.refresh_subscription(&org_id, id, event.created).await
            }
            "invoice.paid" | "invoice.payment_failed" => {
                let Some(org_id) = self.org_of(o).await? else {
                    return Ok(Applied::Ignored);
                };
                if event.kind == "invoice.paid"
                    && let Some(end) = o["period_end"].as_i64().and_then(|t| Utc.timestamp_opt(t, 0).single())
                {
                    let acct = store::account(&self.db, &org_id).await?;
                    if acct.paid_through.is_none_or(|p| p < end) {
                        let mut row: billing_account::ActiveModel = acct.into();
                        row.paid_through = Set(Some(end));
                        store::save(&self.db, row).await?;
                    }
                }
                let sub =
                    text(o, "subscription").or_else(|| o["parent"]["subscription_details"]["subscription"].as_str());
                if let Some(sub) = sub {
                    self.refresh_subscription(&org_id, sub, event.created).await?;
                }
                Ok(Applied::Invoice { org_id })
            }
            "payment_intent.succeeded" | "payment_intent.payment_failed" => {
                let Some(pi) = text(o, "id") else {
                    return Ok(Applied::Ignored);
                };
                let charge = match o["metadata"]["charge_id"].as_str() {
                    Some(id) => Some(id.to_string()),
                    None => store::charge_by_intent(&self.db, pi).await?.map(|c| c.id),
                };
                let Some(charge_id) = charge else {
                    return Ok(Applied::Ignored);
                };
                let (status, failure) = if event.kind == "payment_intent.succeeded" {
                    ("succeeded", None)
                } else {
                    let e = &o["last_payment_error"];
                    (
                        "failed",
                        Some((
                            e["decline_code"]
                                .as_str()
                                .or(e["code"].as_str())
                                .unwrap_or("card_declined")
                                .to_string(),
                            e["message"].as_str().unwrap_or("Payment failed").to_string(),
                        )),
                    )
                };
                let txn = crate::store::begin(&self.db).await?;
                let row = store::settle_charge(
                    &txn,
                    &charge_id,
                    status,
                    Some(pi),
                    failure.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
                )
                .await?;
                txn.commit().await?;
                Ok(row.map_or(Applied::Ignored, |r| Applied::Charge {
                    charge_id: r.id,
                    status: r.status,
                }))
            }
            _ => Ok(Applied::Ignored),
        }
    }

    /// The organisation an object is about: its metadata (as Checkout set it), or its
    /// customer.
    async fn org_of(&self, o: &Value) -> Result<Option<String>, BillingError> {
        let named = o["metadata"]["org_id"]
            .as_str()
            .or(o["client_reference_id"].as_str())
            .or(o["subscription_details"]["metadata"]["org_id"].as_str())
            .or(o["parent"]["subscription_details"]["metadata"]["org_id"].as_str());
        if let Some(org) = named
            && accounts::find_org(&self.db, org).await?.is_some()
        {
            // The customer must be this organisation's, when it already has one.
            let acct = store::account(&self.db, org).await?;
            let customer = text(o, "customer");
            if acct.customer_id.is_none() || customer.is_none() || acct.customer_id.as_deref() == customer {
                return Ok(Some(org.to_string()));
            }
        }
        match text(o, "customer") {
            Some(c) => Ok(store::by_customer(&self.db, c).await?.map(|a| a.org_id)),
            None => Ok(None),
        }
    }

    async fn link_customer(&self, org_id: &str, customer: &str) -> Result<(), BillingError> {
        let acct = store::account(&self.db, org_id).await?;
        if acct.customer_id.is_none() {
            let mut row: billing_account::ActiveModel = acct.into();
            row.customer_id = Set(Some(customer.to_string()));
            store::save(&self.db, row).await?;
        }
        Ok(())
    }

    /// Reads the subscription from the provider and applies it, unless a newer state was
    /// applied already; the organisation's plan follows it (back to the default plan when
    /// it ends).
    async fn refresh_subscription(&self, org_id: &str, id: &str, created: i64) -> Result<Applied, BillingError> {
        let sub = self.payments()?.subscription(id).await?;
        let acct = store::account(&self.db, org_id).await?;
        if acct.subscription_seen_at > created && acct.subscription_id.as_deref() == Some(id) {
            return Ok(Applied::Subscription {
                org_id: org_id.into(),
                status: acct.subscription_status.unwrap_or_default(),
            });
        }
        // Another subscription still live is not replaced by an ended one.
        if acct.subscription_id.as_deref().is_some_and(|s| s != id)
            && acct.subscription_status.as_deref().is_some_and(|s| LIVE.contains(&s))
            && !LIVE.contains(&sub.status.as_str())
        {
            return Ok(Applied::Ignored);
        }
        let plan = self.plan_of(&sub);
        self.save_subscription(acct, &sub, plan.clone(), created).await?;
        let in_force = super::IN_FORCE.contains(&sub.status.as_str()) || sub.status == "past_due";
        let org_plan = match (&plan, in_force) {
            (Some(p), true) => p.clone(),
            _ => self.default_plan.clone(),
        };
        accounts::set_plan(&self.db, org_id, &org_plan).await?;
        Ok(Applied::Subscription {
            org_id: org_id.into(),
            status: sub.status,
        })
    }

    /// The plan a subscription is for: its metadata, else the plan sold at its Price.
    fn plan_of(&self, sub: &Subscription) -> Option<String> {
        if let Some(p) = &sub.plan
            && self.settings.plans.contains_key(p)
        {
            return Some(p.clone());
        }
        let price = sub.price.as_deref()?;
        self.settings
            .plans
            .iter()
            .find(|(id, p)| p.stripe_price == price || format!("price_sandbox_{id}") == price)
            .map(|(id, _)| id.clone())
    }

    async fn save_subscription(
        &self,
        acct: billing_account::Model,
        sub: &Subscription,
        plan: Option<String>,
        created: i64,
    ) -> Result<(), BillingError> {
        let at = |t: Option<i64>| t.and_then(|t| Utc.timestamp_opt(t, 0).single());
        let first_active = acct.subscribed_at.is_none() || acct.subscription_id.as_deref() != Some(&sub.id);
        let active = super::IN_FORCE.contains(&sub.status.as_str());
        let mut row: billing_account::ActiveModel = acct.into();
        row.customer_id = Set(Some(sub.customer.clone()));
        row.subscription_id = Set(Some(sub.id.clone()));
        row.subscription_plan = Set(plan);
        row.subscription_status = Set(Some(sub.status.clone()));
        row.period_start = Set(at(sub.period_start));
        row.period_end = Set(at(sub.period_end));
        row.cancel_at_period_end = Set(sub.cancel_at_period_end);
        row.subscription_seen_at = Set(created);
        if first_active && active {
            row.subscribed_at = Set(Some(Utc::now()));
        }
        store::save(&self.db, row).await?;
        Ok(())
    }
}
