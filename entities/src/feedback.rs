//! Feedback an organisation submitted (bug reports, feature requests, …).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub kind: String,
    pub subject: Option<String>,
    pub message: String,
    pub rating: Option<i32>,
    /// `low`, `medium` or `high`.
    pub priority: Option<String>,
    pub status: String,
    pub response: Option<String>,
    pub responded_at: Option<DateTimeUtc>,
    pub metadata: Json,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
