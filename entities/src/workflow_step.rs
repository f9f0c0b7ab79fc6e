//! The journal of an execution: one row per step taken, written before the step's effect
//! and completed after it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub execution_id: String,
    /// Position in the execution (0, 1, …).
    pub seq: i32,
    pub node_id: String,
    pub node_type: String,
    /// The how-many-th time the execution entered this node (1, 2, …).
    pub visit: i32,
    pub attempt: i32,
    /// `running`, `waiting`, `succeeded`, `failed`.
    pub status: String,
    /// `<executionId>:<nodeId>:<visit>`: carried to every external effect.
    pub idempotency_key: String,
    pub input: Json,
    pub output: Option<Json>,
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
