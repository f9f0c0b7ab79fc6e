//! The rows analytics sums, in a time range, organisation-scoped: only the columns needed,
//! bucketed by the caller (no dialect-specific date SQL).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, prelude::*};
use thruai_entities::{call, email_message, sms_message, usage_entry};

type Range = (DateTime<Utc>, DateTime<Utc>);

/// `(created_at, direction, duration_secs)` of the calls started in the range.
pub async fn calls(
    db: &impl ConnectionTrait,
    org_id: &str,
    (from, to): Range,
    agent_id: Option<&str>,
) -> Result<Vec<(DateTime<Utc>, String, i32)>, DbErr> {
    let mut q = call::Entity::find()
        .select_only()
        .column(call::Column::CreatedAt)
        .column(call::Column::Direction)
        .column(call::Column::DurationSecs)
        .filter(call::Column::OrgId.eq(org_id))
        .filter(call::Column::CreatedAt.gte(from))
        .filter(call::Column::CreatedAt.lt(to));
    if let Some(a) = agent_id {
        q = q.filter(call::Column::AgentId.eq(a));
    }
    q.into_tuple().all(db).await
}

/// `(occurred_at, component, quantity, amount in USD millionths)` of the ledger's entries.
pub async fn ledger(
    db: &impl ConnectionTrait,
    org_id: &str,
    (from, to): Range,
    agent_id: Option<&str>,
) -> Result<Vec<(DateTime<Utc>, String, f64, i64)>, DbErr> {
    let mut q = usage_entry::Entity::find()
        .select_only()
        .column(usage_entry::Column::OccurredAt)
        .column(usage_entry::Column::Component)
        .column(usage_entry::Column::Quantity)
        .column(usage_entry::Column::AmountMicros)
        .filter(usage_entry::Column::OrgId.eq(org_id))
        .filter(usage_entry::Column::OccurredAt.gte(from))
        .filter(usage_entry::Column::OccurredAt.lt(to));
    if let Some(a) = agent_id {
        q = q.filter(usage_entry::Column::AgentId.eq(a));
    }
    q.into_tuple().all(db).await
}

/// When each SMS of the range was sent or received.
pub async fn sms(db: &impl ConnectionTrait, org_id: &str, (from, to): Range) -> Result<Vec<DateTime<Utc>>, DbErr> {
    sms_message::Entity::find()
        .select_only()
        .column(sms_message::Column::CreatedAt)
        .filter(sms_message::Column::OrgId.eq(org_id))
        .filter(sms_message::Column::CreatedAt.gte(from))
        .filter(sms_message::Column::CreatedAt.lt(to))
        .into_tuple()
        .all(db)
        .await
}

/// `(created_at, direction)` of the emails of the range.
pub async fn emails(
    db: &impl ConnectionTrait,
    org_id: &str,
    (from, to): Range,
    agent_id: Option<&str>,
) -> Result<Vec<(DateTime<Utc>, String)>, DbErr> {
    let mut q = email_message::Entity::find()
        .select_only()
        .column(email_message::Column::CreatedAt)
        .column(email_message::Column::Direction)
        .filter(email_message::Column::OrgId.eq(org_id))
        .filter(email_message::Column::CreatedAt.gte(from))
        .filter(email_message::Column::CreatedAt.lt(to));
    if let Some(a) = agent_id {
        q = q.filter(email_message::Column::AgentId.eq(a));
    }
    q.into_tuple().all(db).await
}

/// What per-agent analytics reads of each call of the range.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct CallFacts {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub direction: String,
    pub status: String,
    pub end_reason: Option<String>,
    pub duration_secs: i32,
}

/// The agent's calls started in the range.
pub async fn agent_calls(
    db: &impl ConnectionTrait,
    org_id: &str,
    agent_id: &str,
    (from, to): Range,
) -> Result<Vec<CallFacts>, DbErr> {
    call::Entity::find()
        .select_only()
        .column(call::Column::Id)
        .column(call::Column::CreatedAt)
        .column(call::Column::Direction)
        .column(call::Column::Status)
        .column(call::Column::EndReason)
        .column(call::Column::DurationSecs)
        .filter(call::Column::OrgId.eq(org_id))
        .filter(call::Column::AgentId.eq(agent_id))
        .filter(call::Column::CreatedAt.gte(from))
        .filter(call::Column::CreatedAt.lt(to))
        .into_model::<CallFacts>()
        .all(db)
        .await
}

/// Talk of these calls, from their snapshots' usage: `(agent audio heard, caller speech,
/// connected time)` in ms, one per call.
pub async fn talk_of(db: &impl ConnectionTrait, call_ids: &[String]) -> Result<Vec<(u64, u64, u64)>, DbErr> {
    let mut out = Vec::with_capacity(call_ids.len());
    for chunk in call_ids.chunks(500) {
        let snapshots: Vec<serde_json::Value> = call::Entity::find()
            .select_only()
            .column(call::Column::Snapshot)
            .filter(call::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(snapshots.into_iter().map(|s| {
            let usage = &s["usage"];
            let ms = |k: &str| usage[k].as_u64().unwrap_or(0);
            (ms("agentAudioMs"), ms("callerSpeechMs"), ms("telephonyMs"))
        }));
    }
    Ok(out)
}

/// `(call_id, kind, detail)` of these calls' timeline entries of these kinds.
pub async fn timeline_of(
    db: &impl ConnectionTrait,
    call_ids: &[String],
    kinds: &[&str],
) -> Result<Vec<(String, String, serde_json::Value)>, DbErr> {
    let mut out = Vec::new();
    for chunk in call_ids.chunks(500) {
        let rows: Vec<(String, String, serde_json::Value)> = thruai_entities::call_timeline::Entity::find()
            .select_only()
            .column(thruai_entities::call_timeline::Column::CallId)
            .column(thruai_entities::call_timeline::Column::Kind)
            .column(thruai_entities::call_timeline::Column::Detail)
            .filter(thruai_entities::call_timeline::Column::CallId.is_in(chunk.iter().cloned()))
            .filter(thruai_entities::call_timeline::Column::Kind.is_in(kinds.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}
