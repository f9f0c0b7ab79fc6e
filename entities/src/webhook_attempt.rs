//! The delivery log: one row per HTTP attempt actually made.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub webhook_id: String,
    pub delivery_id: String,
    pub event_id: String,
    pub event_type: String,
    /// 1-based, across every round of the delivery.
    pub attempt: i32,
    /// `pending` (in flight), `sent`, `failed` or `retrying`.
    pub status: String,
    pub http_status: Option<i32>,
    pub response_time_ms: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub next_retry_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
