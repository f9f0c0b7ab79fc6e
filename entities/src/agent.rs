//! An AI voice agent: prompt, pipeline and provider settings; nested configs are JSON
//! columns typed by `values::agent` (validated on the way in by the HTTP wire types).
use sea_orm::entity::prelude::*;

use crate::values::{
    StringList, StringMap,
    agent::{InterruptionSettings, LlmConfig, MemoryPolicy, S2sConfig, S2sTurnDetection, SttConfig, VoiceConfig},
    email::Mailbox,
    status::{AgentStatus, PipelineMode},
};

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
    pub status: AgentStatus,
    pub pipeline_mode: PipelineMode,
    pub s2s_provider: Option<String>,
    pub s2s_model: Option<String>,
    pub s2s_voice: Option<String>,
    pub s2s_config: S2sConfig,
    pub s2s_turn_detection: Option<S2sTurnDetection>,
    pub interruption_settings: Option<InterruptionSettings>,
    pub voice_config: Option<VoiceConfig>,
    pub llm_config: Option<LlmConfig>,
    pub stt_config: Option<SttConfig>,
    /// Tool ids, in the order given.
    pub enabled_tools: StringList,
    pub memory_policy: Option<MemoryPolicy>,
    pub variables: StringMap,
    /// The longest a call may last once answered; `None`: the platform's default.
    pub max_duration_secs: Option<i32>,
    /// The agent's mailbox, when it has one.
    pub email_config: Option<Mailbox>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
