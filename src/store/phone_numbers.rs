//! Phone number queries, scoped to the organisation — except [`find_any_owner`], which
//! tells who owns a number platform-wide (for `NUMBER_EXISTS` / `NUMBER_CONFLICT`).

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    prelude::*,
};
use thruai_entities::phone_number;

/// Every tenant query starts here, so none can forget the tenant filter.
fn scoped(org_id: &str) -> Select<phone_number::Entity> {
    phone_number::Entity::find().filter(phone_number::Column::OrgId.eq(org_id))
}

pub async fn insert(db: &impl ConnectionTrait, row: phone_number::Model) -> Result<phone_number::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<phone_number::Model>, DbErr> {
    scoped(org_id).filter(phone_number::Column::Id.eq(id)).one(db).await
}

pub async fn find_by_number(
    db: &impl ConnectionTrait,
    org_id: &str,
    e164: &str,
) -> Result<Option<phone_number::Model>, DbErr> {
    scoped(org_id)
        .filter(phone_number::Column::PhoneNumber.eq(e164))
        .one(db)
        .await
}

/// The row of `e164`, whoever owns it (carrier webhooks name numbers, not organisations).
pub async fn find_global(db: &impl ConnectionTrait, e164: &str) -> Result<Option<phone_number::Model>, DbErr> {
    phone_number::Entity::find()
        .filter(phone_number::Column::PhoneNumber.eq(e164))
        .one(db)
        .await
}

/// The organisation owning `e164`, whoever it is.
pub async fn find_any_owner(db: &impl ConnectionTrait, e164: &str) -> Result<Option<String>, DbErr> {
    Ok(phone_number::Entity::find()
        .filter(phone_number::Column::PhoneNumber.eq(e164))
        .one(db)
        .await?
        .map(|row| row.org_id))
}

/// Which of `numbers` are already owned by anyone (so searches do not offer them).
pub async fn owned_among(db: &impl ConnectionTrait, numbers: &[String]) -> Result<Vec<String>, DbErr> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(phone_number::Entity::find()
        .filter(phone_number::Column::PhoneNumber.is_in(numbers.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.phone_number)
        .collect())
}

#[derive(Debug, Default)]
pub struct Filter {
    pub agent_id: Option<String>,
    pub provider: Option<String>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<phone_number::Model>, u64), DbErr> {
    let mut query = scoped(org_id);
    if let Some(agent_id) = &filter.agent_id {
        query = query.filter(phone_number::Column::AgentId.eq(agent_id.as_str()));
    }
    if let Some(provider) = &filter.provider {
        query = query.filter(phone_number::Column::Provider.eq(provider.as_str()));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(phone_number::Column::CreatedAt)
        .order_by_desc(phone_number::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn for_agent(
    db: &impl ConnectionTrait,
    org_id: &str,
    agent_id: &str,
) -> Result<Vec<phone_number::Model>, DbErr> {
    scoped(org_id)
        .filter(phone_number::Column::AgentId.eq(agent_id))
        .order_by_asc(phone_number::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn count(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    scoped(org_id).count(db).await
}

pub async fn save(db: &impl ConnectionTrait, row: phone_number::Model) -> Result<phone_number::Model, DbErr> {
    let active = row.into_active_model().reset_all();
    active.update(db).await
}

/// Detaches every number of `agent_id` (the agent is being deleted).
pub async fn unassign_agent(db: &impl ConnectionTrait, org_id: &str, agent_id: &str) -> Result<u64, DbErr> {
    let res = phone_number::Entity::update_many()
        .col_expr(phone_number::Column::AgentId, Expr::value(Option::<String>::None))
        .filter(phone_number::Column::OrgId.eq(org_id))
        .filter(phone_number::Column::AgentId.eq(agent_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

pub async fn delete(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<u64, DbErr> {
    let res = phone_number::Entity::delete_many()
        .filter(phone_number::Column::OrgId.eq(org_id))
        .filter(phone_number::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
