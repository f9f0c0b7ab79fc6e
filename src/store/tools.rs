//! Custom tool queries, always scoped to the organisation.

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, ExprTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, prelude::*,
};
use thruai_entities::tool;

/// Every tool query starts here, so none can forget the tenant filter.
fn scoped(org_id: &str) -> Select<tool::Entity> {
    tool::Entity::find().filter(tool::Column::OrgId.eq(org_id))
}

pub async fn insert(db: &impl ConnectionTrait, row: tool::Model) -> Result<tool::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<tool::Model>, DbErr> {
    scoped(org_id).filter(tool::Column::Id.eq(id)).one(db).await
}

pub async fn find_by_name(db: &impl ConnectionTrait, org_id: &str, name: &str) -> Result<Option<tool::Model>, DbErr> {
    scoped(org_id).filter(tool::Column::Name.eq(name)).one(db).await
}

/// The tools whose id or name is in `refs`.
pub async fn find_refs(db: &impl ConnectionTrait, org_id: &str, refs: &[String]) -> Result<Vec<tool::Model>, DbErr> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    scoped(org_id)
        .filter(
            tool::Column::Id
                .is_in(refs.iter().cloned())
                .or(tool::Column::Name.is_in(refs.iter().cloned())),
        )
        .all(db)
        .await
}

pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<tool::Model>, u64), DbErr> {
    let query = scoped(org_id);
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(tool::Column::CreatedAt)
        .order_by_desc(tool::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn count(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    scoped(org_id).count(db).await
}

pub async fn save(db: &impl ConnectionTrait, row: tool::Model) -> Result<tool::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.update(db).await
}

pub async fn delete(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<u64, DbErr> {
    let res = tool::Entity::delete_many()
        .filter(tool::Column::OrgId.eq(org_id))
        .filter(tool::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
