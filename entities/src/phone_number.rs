//! A phone number an organisation owns (bought, imported or from the sandbox carrier).
use sea_orm::entity::prelude::*;

use crate::values::status::{NumberStatus, TelephonyProvider};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "phone_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    #[sea_orm(unique)]
    pub phone_number: String,
    pub friendly_name: Option<String>,
    /// `twilio` or `sandbox`.
    pub provider: TelephonyProvider,
    pub provider_sid: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub voice_webhook_url: Option<String>,
    pub sms_webhook_url: Option<String>,
    pub agent_id: Option<String>,
    pub status: NumberStatus,
    pub country: String,
    pub capabilities: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
