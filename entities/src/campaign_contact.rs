//! A contact of a campaign: its place in the queue and where it is in its lifecycle
//! (`queued → in_progress → completed / failed / suppressed`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub campaign_id: String,
    pub org_id: String,
    /// Queue order within the campaign.
    pub position: i64,
    pub phone_number: String,
    pub name: Option<String>,
    pub custom_data: Json,
    /// IANA time zone overriding the campaign's calling window zone.
    pub timezone: Option<String>,
    pub status: String,
    pub attempts: i32,
    /// Not dialled before this time (retry delay, closed calling window).
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_outcome: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
