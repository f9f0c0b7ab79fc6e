//! The event outbox: domain events written in the same transaction as the change that
//! caused them, delivered later by the webhook actors.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, prelude::*};
use serde_json::Value;
use thruai_entities::outbox_event;

use crate::domain::ids;

/// Every event name the platform emits (and webhooks may subscribe to).
pub const EVENT_TYPES: &[&str] = &[
    "call.started",
    "call.completed",
    "call.failed",
    "transcript.ready",
    "workflow.triggered",
    "workflow.completed",
    "agent.updated",
    "a2p.brand.status_changed",
    "a2p.campaign.status_changed",
];

/// The organisation's events of a type from `since` on, oldest first.
pub async fn of_type_since(
    db: &impl ConnectionTrait,
    org_id: &str,
    event_type: &str,
    since: chrono::DateTime<Utc>,
    limit: u64,
) -> Result<Vec<outbox_event::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    outbox_event::Entity::find()
        .filter(outbox_event::Column::OrgId.eq(org_id))
        .filter(outbox_event::Column::EventType.eq(event_type))
        .filter(outbox_event::Column::CreatedAt.gte(since))
        .order_by_asc(outbox_event::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Records `event_type` for `org_id`; pass the transaction that makes the change.
pub async fn record(
    db: &impl ConnectionTrait,
    org_id: &str,
    event_type: &str,
    payload: Value,
) -> Result<outbox_event::Model, DbErr> {
    outbox_event::ActiveModel {
        id: Set(ids::new_id(ids::EVENT)),
        org_id: Set(org_id.to_string()),
        event_type: Set(event_type.to_string()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
        dispatched_at: Set(None),
    }
    .insert(db)
    .await
}

/// Records several events in one statement (pass the transaction that makes the change).
pub async fn record_many(db: &impl ConnectionTrait, events: Vec<(String, &str, Value)>) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    outbox_event::Entity::insert_many(events.into_iter().map(|(org_id, event_type, payload)| {
        outbox_event::ActiveModel {
            id: Set(ids::new_id(ids::EVENT)),
            org_id: Set(org_id),
            event_type: Set(event_type.to_string()),
            payload: Set(payload),
            created_at: Set(now),
            dispatched_at: Set(None),
        }
    }))
    .exec_without_returning(db)
    .await
    .map(drop)
}
