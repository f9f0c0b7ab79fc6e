//! Agent queries, always scoped to the organisation.

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    prelude::*,
};
use thruai_entities::agent;

/// Every agent query starts here, so none can forget the tenant filter.
fn scoped(org_id: &str) -> Select<agent::Entity> {
    agent::Entity::find().filter(agent::Column::OrgId.eq(org_id))
}

pub async fn insert(db: &impl ConnectionTrait, row: agent::Model) -> Result<agent::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<agent::Model>, DbErr> {
    scoped(org_id).filter(agent::Column::Id.eq(id)).one(db).await
}

/// One page, newest first, and the total.
pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<agent::Model>, u64), DbErr> {
    let mut query = scoped(org_id);
    if let Some(status) = status {
        query = query.filter(agent::Column::Status.eq(status));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(agent::Column::CreatedAt)
        .order_by_desc(agent::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Every agent of the organisation (for reference checks such as tool usage).
pub async fn all(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<agent::Model>, DbErr> {
    scoped(org_id).order_by_asc(agent::Column::CreatedAt).all(db).await
}

pub async fn count(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    scoped(org_id).count(db).await
}

/// Writes every column of `row` (the caller changed what it meant to).
pub async fn save(db: &impl ConnectionTrait, row: agent::Model) -> Result<agent::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.update(db).await
}

pub async fn delete(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<u64, DbErr> {
    let res = agent::Entity::delete_many()
        .filter(agent::Column::OrgId.eq(org_id))
        .filter(agent::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
