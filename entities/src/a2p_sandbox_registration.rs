//! The sandbox A2P registry's side of a submission (what TCR / Twilio would hold).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "a2p_sandbox_registrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sid: String,
    pub org_id: String,
    /// `brand` or `campaign`.
    pub kind: String,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub name: String,
    pub reject_reason: Option<String>,
    /// How long review takes, from `created_at`.
    pub review_ms: i64,
    /// How many submit requests named this key (1 unless a client repeated itself).
    pub submissions: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
