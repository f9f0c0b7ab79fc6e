//! A webhook subscription: where an organisation's events are delivered, signed with its secret.
use sea_orm::entity::prelude::*;

use crate::values::StringList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub url: String,
    /// JSON array of event names.
    pub events: StringList,
    /// `whsec_…`; shown to the client on create only.
    pub secret: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts (cleared by a success).
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
