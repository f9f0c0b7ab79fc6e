//! A phone number linked to an A2P campaign (one campaign per number).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "a2p_campaign_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub phone_number_id: String,
    pub org_id: String,
    pub campaign_id: String,
    pub phone_number: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
