//! One event to deliver to one subscription (a message): its payload bytes, state and lease.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub webhook_id: String,
    /// Also the `webhook-id` header: stable across retries and replays.
    pub event_id: String,
    pub event_type: String,
    /// The exact bytes signed and sent on every attempt.
    pub payload: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts in the current round (a replay starts a new round).
    pub attempts: i32,
    /// Attempts ever made, across rounds.
    pub attempts_total: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_token: Option<String>,
    pub last_http_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
