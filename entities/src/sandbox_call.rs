//! A call the sandbox carrier placed: the carrier's own record, looked up by intent key
//! when a campaign reconciles an in-doubt dial.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sid: String,
    pub org_id: String,
    pub intent_key: Option<String>,
    pub from_number: String,
    pub to_number: String,
    /// `answered`, `busy`, `no-answer` or `failed`.
    pub outcome: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
