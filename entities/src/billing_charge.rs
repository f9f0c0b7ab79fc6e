//! A direct charge against an organisation's default payment method (`POST
//! /billing/charge`), written before the provider is asked and settled with its answer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_charges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub description: Option<String>,
    /// `pending`, `succeeded`, `failed`, `requires_action`.
    pub status: String,
    pub payment_intent_id: Option<String>,
    pub payment_method_id: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Sent to the provider as `Idempotency-Key`: one charge per key.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
