//! Webhook subscription queries, always scoped to the organisation (deleted ones hidden),
//! plus the unscoped reads the delivery machinery needs.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, prelude::*,
};
use thruai_entities::webhook;

/// Every tenant query starts here, so none can forget the tenant filter.
fn scoped(org_id: &str) -> Select<webhook::Entity> {
    webhook::Entity::find()
        .filter(webhook::Column::OrgId.eq(org_id))
        .filter(webhook::Column::DeletedAt.is_null())
}

pub async fn insert(db: &impl ConnectionTrait, row: webhook::Model) -> Result<webhook::Model, DbErr> {
    webhook::ActiveModel {
        id: Set(row.id),
        org_id: Set(row.org_id),
        url: Set(row.url),
        events: Set(row.events),
        secret: Set(row.secret),
        description: Set(row.description),
        is_active: Set(row.is_active),
        disabled_reason: Set(row.disabled_reason),
        failing_since: Set(row.failing_since),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<webhook::Model>, DbErr> {
    scoped(org_id).filter(webhook::Column::Id.eq(id)).one(db).await
}

/// One page, newest first, and the total.
pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    active: Option<bool>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<webhook::Model>, u64), DbErr> {
    let mut query = scoped(org_id);
    if let Some(active) = active {
        query = query.filter(webhook::Column::IsActive.eq(active));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(webhook::Column::CreatedAt)
        .order_by_desc(webhook::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn count(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    scoped(org_id).count(db).await
}

pub async fn update(db: &impl ConnectionTrait, row: webhook::ActiveModel) -> Result<webhook::Model, DbErr> {
    row.update(db).await
}

/// Soft delete: the delivery log keeps pointing at a row.
pub async fn soft_delete(db: &impl ConnectionTrait, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let res = webhook::Entity::update_many()
        .col_expr(webhook::Column::DeletedAt, Expr::value(now))
        .col_expr(webhook::Column::IsActive, Expr::value(false))
        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
        .filter(webhook::Column::OrgId.eq(org_id))
        .filter(webhook::Column::Id.eq(id))
        .filter(webhook::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Unscoped, for the delivery machinery: one subscription (deleted ones excluded).
pub async fn find_any(db: &impl ConnectionTrait, id: &str) -> Result<Option<webhook::Model>, DbErr> {
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::DeletedAt.is_null())
        .one(db)
        .await
}

/// Unscoped: every active subscription.
pub async fn all_active(db: &impl ConnectionTrait) -> Result<Vec<webhook::Model>, DbErr> {
    webhook::Entity::find()
        .filter(webhook::Column::IsActive.eq(true))
        .filter(webhook::Column::DeletedAt.is_null())
        .all(db)
        .await
}

/// Unscoped: active subscriptions of these organisations.
pub async fn active_for_orgs(db: &impl ConnectionTrait, org_ids: &[String]) -> Result<Vec<webhook::Model>, DbErr> {
    webhook::Entity::find()
        .filter(webhook::Column::OrgId.is_in(org_ids.iter().cloned()))
        .filter(webhook::Column::IsActive.eq(true))
        .filter(webhook::Column::DeletedAt.is_null())
        .all(db)
        .await
}

/// Disables a subscription (410, or failing for too long), keeping the reason.
pub async fn disable(db: &impl ConnectionTrait, id: &str, reason: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    webhook::Entity::update_many()
        .col_expr(webhook::Column::IsActive, Expr::value(false))
        .col_expr(webhook::Column::DisabledReason, Expr::value(reason))
        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
        .filter(webhook::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_failing_since(db: &impl ConnectionTrait, id: &str, since: Option<DateTime<Utc>>) -> Result<(), DbErr> {
    webhook::Entity::update_many()
        .col_expr(webhook::Column::FailingSince, Expr::value(since))
        .filter(webhook::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The event names a subscription listens to.
pub fn events_of(row: &webhook::Model) -> Vec<String> {
    row.events.0.clone()
}
