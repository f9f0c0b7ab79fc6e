//! A call: lifecycle columns for filters and recovery, the ownership epoch, and the
//! versioned snapshot (transcript, timeline, usage) as JSON.
use sea_orm::entity::prelude::*;

use crate::values::{
    StringMap,
    status::{CallStatus, Direction, TelephonyProvider},
};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    /// `inbound` or `outbound`.
    pub direction: Direction,
    pub status: CallStatus,
    pub from_number: String,
    pub to_number: String,
    pub phone_number_id: Option<String>,
    /// `twilio` or `sandbox`.
    pub provider: TelephonyProvider,
    pub provider_call_sid: Option<String>,
    pub session_id: String,
    pub stream_token: String,
    pub end_reason: Option<String>,
    pub variables: StringMap,
    pub metadata: Json,
    pub owner_epoch: i64,
    pub duration_secs: i32,
    pub snapshot: Json,
    pub answered_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
