//! The sandbox e-mail outbox.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, prelude::*,
};
use thruai_entities::sandbox_email;

pub async fn insert(db: &impl ConnectionTrait, row: sandbox_email::Model) -> Result<(), DbErr> {
    sandbox_email::ActiveModel {
        id: Set(row.id),
        to_address: Set(row.to_address),
        from_address: Set(row.from_address),
        subject: Set(row.subject),
        text_body: Set(row.text_body),
        html_body: Set(row.html_body),
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
