//! One run of a workflow version (`EXE-…`): its status, where it is, and its timer and lease.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_executions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub workflow_id: String,
    pub version: i32,
    /// `queued`, `running`, `waiting`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    /// What started it: `{type: "manual"|"event"|"campaign", …}`.
    pub trigger: Json,
    /// The event (or campaign contact) that started it; unique per workflow.
    pub trigger_key: Option<String>,
    pub input: Json,
    /// The state machine's state (current node, visits, variables, step outputs, path).
    pub state: Json,
    /// A dry run: effects are simulated, nothing leaves the server.
    pub dry_run: bool,
    pub error: Option<String>,
    /// When a waiting execution is due (its timer, its next retry, its next look at a call).
    pub wake_at: Option<DateTimeUtc>,
    /// The event type a waiting step waits for (the event feed wakes it).
    pub awaiting_event: Option<String>,
    /// A process runs it until then.
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
