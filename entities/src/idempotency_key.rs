//! A claimed or completed `Idempotency-Key`, keyed by the hash of its scope.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope_hash: String,
    pub org_id: String,
    pub idem_key: String,
    pub method: String,
    pub route: String,
    pub fingerprint: String,
    /// `in_flight` or `completed`.
    pub status: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub lock_token: Option<String>,
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
