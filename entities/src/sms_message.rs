//! One SMS, inbound or outbound, with its carrier delivery status.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub conversation_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub body: String,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, `received`.
    pub status: String,
    /// `twilio` or `sandbox`.
    pub provider: String,
    pub provider_sid: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub num_segments: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
