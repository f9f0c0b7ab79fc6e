//! An organisation's account with the payment provider: its customer, its subscription as
//! last applied from the provider, and its prepaid credit.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: String,
    /// The provider's customer (`cus_…`), once one exists.
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    /// The plan the subscription is for.
    pub subscription_plan: Option<String>,
    /// Stripe's subscription status: `incomplete`, `trialing`, `active`, `past_due`,
    /// `canceled`, `unpaid`, `paused`, `incomplete_expired`.
    pub subscription_status: Option<String>,
    pub period_start: Option<DateTimeUtc>,
    pub period_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    /// When the current subscription first became active.
    pub subscribed_at: Option<DateTimeUtc>,
    /// The end of the last period an invoice was paid for.
    pub paid_through: Option<DateTimeUtc>,
    /// Prepaid credit bought through charges, in USD millionths.
    pub credit_micros: i64,
    /// Usage beyond the plan's inclusion in closed periods, drawn from the credit.
    pub debit_micros: i64,
    /// The start of the first period not yet settled into `debit_micros`.
    pub settled_through: Option<DateTimeUtc>,
    /// `created` of the newest subscription state applied (older events change nothing).
    pub subscription_seen_at: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
