//! Feedback queries, always scoped to the organisation.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, prelude::*,
};
use thruai_entities::feedback;

/// Every feedback query starts here, so none can forget the tenant filter.
fn scoped(org_id: &str) -> Select<feedback::Entity> {
    feedback::Entity::find().filter(feedback::Column::OrgId.eq(org_id))
}

pub async fn insert(db: &impl ConnectionTrait, row: feedback::Model) -> Result<feedback::Model, DbErr> {
    feedback::ActiveModel {
        id: Set(row.id),
        org_id: Set(row.org_id),
        kind: Set(row.kind),
        subject: Set(row.subject),
        message: Set(row.message),
        rating: Set(row.rating),
        priority: Set(row.priority),
        status: Set(row.status),
        response: Set(row.response),
        responded_at: Set(row.responded_at),
        metadata: Set(row.metadata),
        created_by: Set(row.created_by),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    }
    .insert(db)
    .await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<feedback::Model>, DbErr> {
    scoped(org_id).filter(feedback::Column::Id.eq(id)).one(db).await
}

#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub kind: Option<String>,
}

/// One page, newest first, and the total matching.
pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<feedback::Model>, u64), DbErr> {
    let mut query = scoped(org_id);
    if let Some(status) = &filter.status {
        query = query.filter(feedback::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(feedback::Column::Kind.eq(kind.as_str()));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(feedback::Column::CreatedAt)
        .order_by_desc(feedback::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn count(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    scoped(org_id).count(db).await
}

pub async fn update(db: &impl ConnectionTrait, row: feedback::ActiveModel) -> Result<feedback::Model, DbErr> {
    row.update(db).await
}
