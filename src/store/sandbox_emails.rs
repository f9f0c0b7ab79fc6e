//! The sandbox e-mail provider's outbox and domains.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    prelude::*,
};
use thruai_entities::{sandbox_email, sandbox_email_domain};

pub async fn insert(db: &impl ConnectionTrait, row: sandbox_email::Model) -> Result<(), DbErr> {
    sandbox_email::ActiveModel {
        id: Set(row.id),
        to_address: Set(row.to_address),
        from_address: Set(row.from_address),
        subject: Set(row.subject),
        text_body: Set(row.text_body),
        html_body: Set(row.html_body),
        provider_id: Set(row.provider_id),
        headers: Set(row.headers),
        created_at: Set(row.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Messages to `to`, newest first.
pub async fn list_to(db: &impl ConnectionTrait, to: &str, limit: u64) -> Result<Vec<sandbox_email::Model>, DbErr> {
    sandbox_email::Entity::find()
        .filter(sandbox_email::Column::ToAddress.eq(to))
        .order_by_desc(sandbox_email::Column::CreatedAt)
        .order_by_desc(sandbox_email::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The sandbox provider's domains.
pub async fn insert_domain(db: &impl ConnectionTrait, row: sandbox_email_domain::Model) -> Result<(), DbErr> {
    row.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

pub async fn find_domain(db: &impl ConnectionTrait, id: &str) -> Result<Option<sandbox_email_domain::Model>, DbErr> {
    sandbox_email_domain::Entity::find_by_id(id).one(db).await
}

/// `true` when there was such a domain.
pub async fn delete_domain(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let res = sandbox_email_domain::Entity::delete_by_id(id).exec(db).await?;
    Ok(res.rows_affected > 0)
}

/// Marks the records of every sandbox domain of that name as published (or not); answers
/// how many domains there were.
pub async fn publish_domain(db: &impl ConnectionTrait, name: &str, published: bool) -> Result<u64, DbErr> {
    let res = sandbox_email_domain::Entity::update_many()
        .col_expr(sandbox_email_domain::Column::Published, Expr::value(published))
        .filter(sandbox_email_domain::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
