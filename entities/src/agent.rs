//! An AI voice agent: prompt, pipeline and provider settings; nested configs are JSON
//! columns whose shape is fixed (and validated) by the HTTP wire types.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub status: String,
    pub pipeline_mode: String,
    pub s2s_provider: Option<String>,
    pub s2s_model: Option<String>,
    pub s2s_voice: Option<String>,
    pub s2s_config: Json,
    pub s2s_turn_detection: Option<Json>,
    pub interruption_settings: Option<Json>,
    pub voice_config: Option<Json>,
    pub llm_config: Option<Json>,
    pub stt_config: Option<Json>,
    /// Tool ids, in the order given.
    pub enabled_tools: Json,
    pub memory_policy: Option<Json>,
    pub variables: Json,
    /// The longest a call may last once answered; `None`: the platform's default.
    pub max_duration_secs: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
