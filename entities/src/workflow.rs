//! A workflow (`WFL-…`): its editable draft (nodes, edges, trigger) and whether a published
//! version is in force.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    /// The draft's nodes as the client sent them (`[{id, type, data, position?}]`).
    pub nodes: Json,
    /// The draft's edges (`[{id?, source, target, condition?}]`).
    pub edges: Json,
    /// The draft's trigger when it is not a node (`{type, event?, …}`).
    pub trigger: Option<Json>,
    /// New executions may start (on the latest published version).
    pub is_published: bool,
    /// The latest published version (0: never published).
    pub version: i32,
    pub published_at: Option<DateTimeUtc>,
    /// The event that starts the published version (`call.completed`, …), if any.
    pub trigger_event: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
