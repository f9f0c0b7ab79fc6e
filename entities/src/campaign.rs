//! An outbound campaign: configuration, status, the owner lease (epoch + expiry) that
//! fences every write of its actor, and the actor's last snapshot (debug view).
use sea_orm::entity::prelude::*;

use crate::values::{
    StringList,
    campaign::{RetryPolicy, WindowSpec},
    status::CampaignStatus,
};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub agent_id: String,
    pub workflow_id: Option<String>,
    pub from_number: Option<String>,
    /// E.164 numbers dialled from in turn (empty: `from_number` or the agent's number).
    pub number_pool: StringList,
    pub max_concurrent_calls: i32,
    pub calling_window: Option<WindowSpec>,
    pub retry_policy: RetryPolicy,
    pub metadata: Json,
    /// `draft`, `running`, `paused` or `completed`.
    pub status: CampaignStatus,
    pub owner_epoch: i64,
    /// The process holding the lease.
    pub owner_node: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub snapshot: Json,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
