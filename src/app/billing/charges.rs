//! Direct charges (`POST /billing/charge`): written `pending` before the provider is asked,
//! settled with its answer, credited once; those whose answer was lost are asked again by
//! the billing worker and given up past the provider's idempotency window.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thruai_entities::billing_charge;

use super::{Billing, BillingError};
use crate::{
    domain::{ids, pricing::usd},
    providers::payments::{ChargeRequest, PaymentError, Payments},
    store::billing as store,
};

/// A direct charge.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChargeView {
    pub id: String,
    /// USD.
    pub amount: f64,
    pub amount_cents: i64,
    pub currency: String,
    pub description: Option<String>,
    /// `succeeded`, `processing`, `requires_action`, `failed`.
    pub status: String,
    pub payment_intent_id: Option<String>,
    pub payment_method_id: Option<String>,
    /// USD, after this charge.
    pub balance: f64,
    pub created_at: DateTime<Utc>,
}

/// What a charge asks for.
#[derive(Debug, Clone)]
pub struct ChargeIn {
    pub amount_cents: i64,
    pub currency: String,
    pub description: Option<String>,
}

impl Billing {
    /// `POST /billing/charge`: an off-session payment against the default card, recorded
    /// before the provider is asked; one charge per idempotency key.
    pub async fn charge(
        &self,
        org_id: &str,
        input: ChargeIn,
        idempotency_key: Option<&str>,
    ) -> Result<ChargeView, BillingError> {
        let payments = self.payments()?.clone();
        let customer = store::account(&self.db, org_id).await?.customer_id;
        let Some(customer) = customer else {
            return Err(self
                .required(org_id, "No payment method on file: save a card first")
                .await);
        };
        let cards = payments.payment_methods(&customer).await?;
        let Some(card) = cards.iter().find(|c| c.is_default).or(cards.first()).cloned() else {
            return Err(self
                .required(org_id, "No payment method on file: save a card first")
                .await);
        };
        let id = ids::new_id("CHG");
        // The provider's key: the client's (scoped to the organisation) or the charge's own.
        let key = match idempotency_key {
            Some(k) => format!("thruai-charge-{org_id}-{k}"),
            None => format!("thruai-charge-{id}"),
        };
        let now = Utc::now();
        let row = match store::charge_by_key(&self.db, &key).await? {
            Some(existing) if existing.status == "succeeded" => return self.charge_view(existing).await,
            Some(existing) => existing,
            None => {
                store::insert_charge(
                    &self.db,
                    billing_charge::Model {
                        id,
                        org_id: org_id.to_string(),
                        amount_cents: input.amount_cents,
                        currency: input.currency.clone(),
                        description: input.description.clone(),
                        status: "pending".into(),
                        payment_intent_id: None,
                        payment_method_id: Some(card.id.clone()),
                        failure_code: None,
                        failure_message: None,
                        idempotency_key: key.clone(),
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?
            }
        };
        let row = self.ask(&payments, row, &customer, card.id).await?;
        self.charge_view(row).await
    }

    /// Asks the provider for a recorded charge (under its key: a repeat gets the first
    /// answer) and settles it with the answer; a card error settles it `failed` and is
    /// returned; an unknown outcome (timeout, provider down) leaves it `pending`.
    async fn ask(
        &self,
        payments: &Arc<dyn Payments>,
        row: billing_charge::Model,
        customer: &str,
        card: String,
    ) -> Result<billing_charge::Model, BillingError> {
        let asked = payments
            .charge(ChargeRequest {
                org_id: row.org_id.clone(),
                charge_id: row.id.clone(),
                customer: customer.to_string(),
                payment_method: row.payment_method_id.clone().unwrap_or(card),
                amount_cents: row.amount_cents,
                currency: row.currency.clone(),
                description: row.description.clone(),
                idempotency_key: row.idempotency_key.clone(),
            })
            .await;
        let (status, intent, failure) = match &asked {
            Ok(pi) => (
                match pi.status.as_str() {
                    "succeeded" => "succeeded",
                    "requires_action" => "requires_action",
                    _ => "processing",
                },
                Some(pi.id.as_str()),
                None,
            ),
            Err(PaymentError::Card {
                code,
                decline_code,
                message,
                payment_intent,
            }) => (
                "failed",
                payment_intent.as_deref(),
                Some((decline_code.as_deref().unwrap_or(code), message.as_str())),
            ),
            Err(_) => return asked.map(|_| row).map_err(Into::into),
        };
        let txn = crate::store::begin(&self.db).await?;
        let settled = store::settle_charge(&txn, &row.id, status, intent, failure)
            .await?
            .unwrap_or(row);
        txn.commit().await?;
        match asked {
            Ok(_) => Ok(settled),
            Err(e) => Err(e.into()),
        }
    }

    /// Charges left `pending` since before `older_than` (their answer was lost) are asked
    /// again under their key; those pending since before `give_up_before` (beyond the
    /// provider's idempotency window) end `failed` with the reason — a late
    /// `payment_intent.succeeded` still settles one. Returns how many were settled.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn settle_pending(
        &self,
        older_than: DateTime<Utc>,
        give_up_before: DateTime<Utc>,
    ) -> Result<usize, BillingError> {
        let Some(payments) = self.payments.clone() else {
            return Ok(0);
        };
        let mut settled = 0;
        for row in store::pending_charges(&self.db, older_than).await? {
            if row.created_at < give_up_before {
                let txn = crate::store::begin(&self.db).await?;
                store::settle_charge(
                    &txn,
                    &row.id,
                    "failed",
                    None,
                    Some((
                        "unknown_outcome",
                        "The payment provider never answered; no credit was added",
                    )),
                )
                .await?;
                txn.commit().await?;
                settled += 1;
                continue;
            }
            let customer = store::account(&self.db, &row.org_id).await?.customer_id;
            let (Some(customer), Some(card)) = (customer, row.payment_method_id.clone()) else {
                continue;
            };
            match self.ask(&payments, row, &customer, card).await {
                Ok(_) | Err(BillingError::Payment(PaymentError::Card { .. })) => settled += 1,
                Err(BillingError::Db(e)) => return Err(e.into()),
                Err(e) => tracing::info!(error = %e, "a pending charge is still without an answer"),
            }
        }
        Ok(settled)
    }

    async fn charge_view(&self, row: billing_charge::Model) -> Result<ChargeView, BillingError> {
        let (.., balance) = self.standing(&row.org_id).await?;
        Ok(ChargeView {
            id: row.id,
            amount: row.amount_cents as f64 / 100.0,
            amount_cents: row.amount_cents,
            currency: row.currency,
            description: row.description,
            status: row.status,
            payment_intent_id: row.payment_intent_id,
            payment_method_id: row.payment_method_id,
            balance: usd(balance),
            created_at: row.created_at,
        })
    }
}
