//! Delivery queries: the dispatcher (outbox → deliveries), leases and claims, recording
//! attempt results, cancelling, replaying, and the tenant-scoped delivery log.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, prelude::*, sea_query::ExprTrait,
};
use serde_json::json;
use thruai_actors::{
    webhook::ports::{AttemptRecord, ClaimedDelivery, DispatchReport},
    webhook::state::{AttemptStatus, DeliveryStatus},
};
use thruai_entities::{outbox_event, webhook_attempt as attempt, webhook_delivery as delivery};

use super::webhooks;
use crate::domain::ids;

/// Rows per multi-row INSERT (keeps well under every backend's bind-parameter limit).
const INSERT_CHUNK: usize = 200;

/// The body sent for an event: the same bytes on every attempt and replay.
pub fn event_body(event: &outbox_event::Model) -> String {
    json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": event.payload,
    })
    .to_string()
}

/// Moves up to `limit` undispatched events into deliveries for every matching active
/// subscription of the event's organisation created before the event, and stamps the events,
/// all in one transaction. The unique (event, subscription) index makes it exactly-once.
pub async fn dispatch(db: &DatabaseConnection, limit: u64, now: DateTime<Utc>) -> Result<DispatchReport, DbErr> {
    let txn = super::begin(db).await?;
    let events = outbox_event::Entity::find()
        .filter(outbox_event::Column::DispatchedAt.is_null())
        .order_by_asc(outbox_event::Column::CreatedAt)
        .order_by_asc(outbox_event::Column::Id)
        .limit(limit)
        .all(&txn)
        .await?;
    if events.is_empty() {
        txn.commit().await?;
        return Ok(DispatchReport::default());
    }
    let orgs: Vec<String> = events
        .iter()
        .map(|e| e.org_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let subs = webhooks::active_for_orgs(&txn, &orgs).await?;
    let subs: Vec<(thruai_entities::webhook::Model, Vec<String>)> = subs
        .into_iter()
        .map(|s| {
            let events = webhooks::events_of(&s);
            (s, events)
        })
        .collect();
    let mut rows = Vec::new();
    let mut woken = BTreeSet::new();
    for event in &events {
        let body = event_body(event);
        for (sub, names) in &subs {
            if sub.org_id != event.org_id || sub.created_at > event.created_at || !names.contains(&event.event_type) {
                continue;
            }
            woken.insert(sub.id.clone());
            rows.push(delivery::ActiveModel {
                id: Set(ids::new_id(ids::DELIVERY)),
                org_id: Set(event.org_id.clone()),
                webhook_id: Set(sub.id.clone()),
                event_id: Set(event.id.clone()),
                event_type: Set(event.event_type.clone()),
                payload: Set(body.clone()),
                status: Set(DeliveryStatus::Pending.as_str().into()),
                attempts: Set(0),
                attempts_total: Set(0),
                next_attempt_at: Set(now),
                lease_until: Set(None),
                lease_token: Set(None),
                last_http_status: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                completed_at: Set(None),
            });
        }
    }
    while !rows.is_empty() {
        let chunk: Vec<_> = rows.drain(..rows.len().min(INSERT_CHUNK)).collect();
        delivery::Entity::insert_many(chunk)
            .on_conflict_do_nothing_on([delivery::Column::EventId, delivery::Column::WebhookId])
            .exec_without_returning(&txn)
            .await?;
    }
    let event_ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    outbox_event::Entity::update_many()
        .col_expr(outbox_event::Column::DispatchedAt, Expr::value(now))
        .filter(outbox_event::Column::Id.is_in(event_ids))
        .filter(outbox_event::Column::DispatchedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(DispatchReport {
        events: events.len() as u64,
        webhook_ids: woken.into_iter().collect(),
    })
}

fn lease_free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(delivery::Column::LeaseUntil.is_null())
        .add(delivery::Column::LeaseUntil.lt(now))
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .add(delivery::Column::NextAttemptAt.lte(now))
        .add(lease_free(now))
}

/// Subscriptions with due deliveries nobody holds a live lease on.
pub async fn due_webhooks(db: &impl ConnectionTrait, now: DateTime<Utc>, limit: u64) -> Result<Vec<String>, DbErr> {
    delivery::Entity::find()
        .select_only()
        .column(delivery::Column::WebhookId)
        .distinct()
        .filter(due(now))
        .limit(limit)
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Leases up to `limit` due deliveries of `webhook_id`, marks attempts an expired lease left
/// in flight as interrupted, and logs one pending attempt per claimed delivery.
pub async fn claim(
    db: &DatabaseConnection,
    webhook_id: &str,
    limit: u64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedDelivery>, DbErr> {
    let txn = super::begin(db).await?;
    let candidates: Vec<String> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(due(now))
        .order_by_asc(delivery::Column::NextAttemptAt)
        .limit(limit)
        .into_tuple::<String>()
        .all(&txn)
        .await?;
    if candidates.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(delivery::Column::LeaseToken, Expr::value(token.clone()))
        .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
        .col_expr(
            delivery::Column::AttemptsTotal,
            Expr::col(delivery::Column::AttemptsTotal).add(1),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.is_in(candidates))
        .filter(due(now))
        .exec(&txn)
        .await?;
    let rows = delivery::Entity::find()
        .filter(delivery::Column::LeaseToken.eq(token.clone()))
        .all(&txn)
        .await?;
    let claimed_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    attempt::Entity::update_many()
        .col_expr(attempt::Column::Status, Expr::value(AttemptStatus::Retrying.as_str()))
        .col_expr(
            attempt::Column::Error,
            Expr::value("interrupted: the sender stopped during this attempt; retried"),
        )
        .col_expr(attempt::Column::CompletedAt, Expr::value(now))
        .filter(attempt::Column::DeliveryId.is_in(claimed_ids))
        .filter(attempt::Column::Status.eq(AttemptStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut logs = Vec::with_capacity(rows.len());
    for row in rows {
        let attempt_id = ids::new_id(ids::WEBHOOK_ATTEMPT);
        logs.push(attempt::ActiveModel {
            id: Set(attempt_id.clone()),
            org_id: Set(row.org_id.clone()),
            webhook_id: Set(row.webhook_id.clone()),
            delivery_id: Set(row.id.clone()),
            event_id: Set(row.event_id.clone()),
            event_type: Set(row.event_type.clone()),
            attempt: Set(row.attempts_total),
            status: Set(AttemptStatus::Pending.as_str().into()),
            http_status: Set(None),
            response_time_ms: Set(None),
            response_body: Set(None),
            error: Set(None),
            next_retry_at: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
        });
        claimed.push(ClaimedDelivery {
            attempt_number: u32::try_from(row.attempts_total).unwrap_or(1),
            claimed_at: now,
            delivery_id: row.id,
            msg_id: row.event_id,
            event_type: row.event_type,
            payload: row.payload,
            round_attempt: Ord::max(u32::try_from(row.attempts).unwrap_or(1), 1),
            attempt_id,
            lease_token: token.clone(),
        });
    }
    while !logs.is_empty() {
        let chunk: Vec<_> = logs.drain(..logs.len().min(INSERT_CHUNK)).collect();
        attempt::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(claimed)
}

/// Deliveries that end alike: (status, HTTP status, error, lease token).
type GroupKey<'a> = (&'a str, Option<u16>, Option<&'a str>, &'a str);

/// Records attempt results and the deliveries' new states in one transaction. Delivery
/// updates are fenced by the lease token, so a delivery cancelled meanwhile stays cancelled.
pub async fn record(db: &DatabaseConnection, results: Vec<AttemptRecord>, now: DateTime<Utc>) -> Result<(), DbErr> {
    if results.is_empty() {
        return Ok(());
    }
    let txn = super::begin(db).await?;
    // The pending rows logged at claim time are replaced by the final ones: two statements
    // for the whole batch instead of one update per row.
    attempt::Entity::delete_many()
        .filter(attempt::Column::Id.is_in(results.iter().map(|r| r.attempt_id.clone())))
        .exec(&txn)
        .await?;
    let mut logs: Vec<attempt::ActiveModel> = results
        .iter()
        .map(|r| attempt::ActiveModel {
            id: Set(r.attempt_id.clone()),
            org_id: Set(r.org_id.clone()),
            webhook_id: Set(r.webhook_id.clone()),
            delivery_id: Set(r.delivery_id.clone()),
            event_id: Set(r.event_id.clone()),
            event_type: Set(r.event_type.clone()),
            attempt: Set(i32::try_from(r.attempt_number).unwrap_or(i32::MAX)),
            status: Set(r.attempt_status.as_str().into()),
            http_status: Set(r.http_status.map(i32::from)),
            response_time_ms: Set(Some(r.response_time_ms)),
            response_body: Set(r.response_body.clone()),
            error: Set(r.error.clone()),
            next_retry_at: Set(r.next_attempt_at),
            created_at: Set(r.started_at),
            completed_at: Set(Some(now)),
        })
        .collect();
    while !logs.is_empty() {
        let chunk: Vec<_> = logs.drain(..logs.len().min(INSERT_CHUNK)).collect();
        attempt::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
    }
    // Terminal results share their values, so they are written in groups; retries each
    // carry their own (jittered) due time.
    let mut groups: BTreeMap<GroupKey<'_>, Vec<String>> = BTreeMap::new();
    for r in &results {
        if r.delivery_status == DeliveryStatus::Pending {
            delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::NextAttemptAt,
                    Expr::value(r.next_attempt_at.unwrap_or(now)),
                )
                .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(delivery::Column::LeaseToken, Expr::value(Option::<String>::None))
                .col_expr(
                    delivery::Column::LastHttpStatus,
                    Expr::value(r.http_status.map(i32::from)),
                )
                .col_expr(delivery::Column::LastError, Expr::value(r.error.clone()))
                .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                .filter(delivery::Column::Id.eq(r.delivery_id.as_str()))
                .filter(delivery::Column::LeaseToken.eq(r.lease_token.as_str()))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .exec(&txn)
                .await?;
        } else {
            groups
                .entry((
                    r.delivery_status.as_str(),
                    r.http_status,
                    r.error.as_deref(),
                    r.lease_token.as_str(),
                ))
                .or_default()
                .push(r.delivery_id.clone());
        }
    }
    for ((status, http_status, error, token), ids) in groups {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(status))
            .col_expr(delivery::Column::CompletedAt, Expr::value(now))
            .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(delivery::Column::LeaseToken, Expr::value(Option::<String>::None))
            .col_expr(
                delivery::Column::LastHttpStatus,
                Expr::value(http_status.map(i32::from)),
            )
            .col_expr(delivery::Column::LastError, Expr::value(error.map(String::from)))
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::Id.is_in(ids))
            .filter(delivery::Column::LeaseToken.eq(token))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// Cancels every pending delivery of a subscription (disabled or deleted) and closes the
/// log rows of attempts that will never report; returns how many deliveries.
pub async fn cancel_pending(
    db: &impl ConnectionTrait,
    webhook_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Cancelled.as_str()),
        )
        .col_expr(delivery::Column::CompletedAt, Expr::value(now))
        .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(delivery::Column::LeaseToken, Expr::value(Option::<String>::None))
        .col_expr(delivery::Column::LastError, Expr::value(format!("cancelled: {reason}")))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .exec(db)
        .await?;
    attempt::Entity::update_many()
        .col_expr(attempt::Column::Status, Expr::value(AttemptStatus::Failed.as_str()))
        .col_expr(attempt::Column::Error, Expr::value(format!("interrupted: {reason}")))
        .col_expr(attempt::Column::CompletedAt, Expr::value(now))
        .filter(attempt::Column::WebhookId.eq(webhook_id))
        .filter(attempt::Column::Status.eq(AttemptStatus::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Disables the subscription and cancels its pending deliveries, in one transaction.
pub async fn disable(
    db: &DatabaseConnection,
    webhook_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let txn = super::begin(db).await?;
    webhooks::disable(&txn, webhook_id, reason, now).await?;
    let n = cancel_pending(&txn, webhook_id, reason, now).await?;
    txn.commit().await?;
    Ok(n)
}

/// Filters of the delivery log.
#[derive(Debug, Default)]
pub struct LogFilter {
    pub status: Option<String>,
    pub event: Option<String>,
}

/// One page of a subscription's attempt log, newest first, and the total.
pub async fn list_attempts(
    db: &impl ConnectionTrait,
    org_id: &str,
    webhook_id: &str,
    filter: &LogFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<attempt::Model>, u64), DbErr> {
    let mut query = attempt::Entity::find()
        .filter(attempt::Column::OrgId.eq(org_id))
        .filter(attempt::Column::WebhookId.eq(webhook_id));
    if let Some(status) = &filter.status {
        query = query.filter(attempt::Column::Status.eq(status.as_str()));
    }
    if let Some(event) = &filter.event {
        query = query.filter(attempt::Column::EventType.eq(event.as_str()));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(attempt::Column::CreatedAt)
        .order_by_desc(attempt::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// What a replay selects.
#[derive(Debug, Default)]
pub struct ReplaySelection {
    /// Delivery (`DLV-`) or event (`EVT-`) ids.
    pub ids: Option<Vec<String>>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Also replay delivered and cancelled deliveries (never pending ones: already queued).
    pub include_all: bool,
}

/// Puts the selected deliveries back in the queue, keeping their id, `webhook-id` and
/// payload; returns how many were queued.
pub async fn replay(
    db: &impl ConnectionTrait,
    org_id: &str,
    webhook_id: &str,
    sel: &ReplaySelection,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let statuses: Vec<&str> = if sel.include_all {
        vec![
            DeliveryStatus::Failed.as_str(),
            DeliveryStatus::Delivered.as_str(),
            DeliveryStatus::Cancelled.as_str(),
        ]
    } else {
        vec![DeliveryStatus::Failed.as_str()]
    };
    let mut cond = Condition::all()
        .add(delivery::Column::OrgId.eq(org_id))
        .add(delivery::Column::WebhookId.eq(webhook_id))
        .add(delivery::Column::Status.is_in(statuses));
    if let Some(ids) = &sel.ids {
        cond = cond.add(
            Condition::any()
                .add(delivery::Column::Id.is_in(ids.clone()))
                .add(delivery::Column::EventId.is_in(ids.clone())),
        );
    }
    if let Some(since) = sel.since {
        cond = cond.add(delivery::Column::CreatedAt.gte(since));
    }
    if let Some(until) = sel.until {
        cond = cond.add(delivery::Column::CreatedAt.lte(until));
    }
    let res = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Pending.as_str()))
        .col_expr(delivery::Column::Attempts, Expr::value(0))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(delivery::Column::LeaseToken, Expr::value(Option::<String>::None))
        .col_expr(
            delivery::Column::CompletedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(cond)
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deliveries waiting to be sent (due or scheduled for a retry), every subscription's.
pub async fn pending_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    delivery::Entity::find()
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .count(db)
        .await
}

/// Deliveries of a subscription by status (for tests, operators and the bench).
pub async fn count_by_status(db: &impl ConnectionTrait, webhook_id: &str) -> Result<BTreeMap<String, u64>, DbErr> {
    let rows: Vec<(String, i64)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Status)
        .column_as(delivery::Column::Id.count(), "n")
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .group_by(delivery::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
        .collect())
}
