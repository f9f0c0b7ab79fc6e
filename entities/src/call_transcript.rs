//! One line of a call's transcript, numbered per call. An agent line cut by a barge-in
//! holds what the caller heard (empty when nothing was: such lines are not shown).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_transcript")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub call_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// `agent` or `caller`.
    pub speaker: String,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Milliseconds since the call was answered.
    pub at_ms: i64,
    pub interrupted: bool,
    pub partial: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
