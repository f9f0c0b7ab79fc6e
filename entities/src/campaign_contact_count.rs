//! A campaign's contacts per status, kept in the transaction of every write that adds or
//! moves a contact (the stats read this row, not the whole queue).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_contact_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign_id: String,
    pub queued: i64,
    pub in_progress: i64,
    pub completed: i64,
    pub failed: i64,
    pub suppressed: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
