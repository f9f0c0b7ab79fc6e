//! An object of the sandbox payment provider (Stripe's test mode, kept here): a customer,
//! payment method, Checkout Session, subscription, PaymentIntent or meter event, in
//! Stripe's JSON shape.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_stripe_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Stripe's `object`: `customer`, `payment_method`, `checkout.session`, …
    pub kind: String,
    pub customer_id: Option<String>,
    /// The request's `Idempotency-Key` (a meter event's `identifier`): one object per key.
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub body: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
