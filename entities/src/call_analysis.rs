//! A call's post-call analysis: pending from the call's end until the worker has written it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub call_id: String,
    pub org_id: String,
    pub agent_id: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// `llm` (the agent's language model) or `sandbox` (deterministic rules).
    pub method: Option<String>,
    pub summary: Option<String>,
    /// `positive`, `neutral`, `negative` or `unknown`.
    pub sentiment: Option<String>,
    /// Whether the caller's goal was met.
    pub resolved: Option<bool>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
