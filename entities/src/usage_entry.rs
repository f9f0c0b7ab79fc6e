//! One entry of the usage ledger: what was used, by whom, and what it cost when written.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// What produced it, unique: `call:CALL-…:stt`, `sms:SMS-…`, `email:EML-…`.
    pub source: String,
    /// `telephony`, `stt`, `llm_input`, `llm_output`, `tts`, `s2s`, `tool_calls`, `sms`, `email`.
    pub component: String,
    pub provider: String,
    /// `minute`, `token`, `character`, `call`, `segment`, `email`.
    pub unit: String,
    pub quantity: f64,
    /// USD per unit, as priced when written.
    pub unit_price: f64,
    /// USD millionths.
    pub amount_micros: i64,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// When the provider's meter accepted it (`None`: not reported yet); set when written
    /// for an organisation without a payment customer (nothing to report).
    pub metered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
