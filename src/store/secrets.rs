//! Platform-wide generated secrets (not tenant data).

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use thruai_entities::platform_secret;

/// The stored value of `name`, inserting `fresh` when there is none. Two nodes racing on
/// first use both end up with the value that won the insert.
pub async fn get_or_insert(db: &impl ConnectionTrait, name: &str, fresh: &str) -> Result<String, DbErr> {
    if let Some(row) = platform_secret::Entity::find_by_id(name).one(db).await? {
        return Ok(row.value);
    }
    let inserted = platform_secret::Entity::insert(platform_secret::ActiveModel {
        name: Set(name.to_string()),
        value: Set(fresh.to_string()),
        created_at: Set(Utc::now()),
    })
    .exec(db)
    .await;
    if let Err(err) = inserted {
        tracing::debug!(error = %err, "platform secret insert lost a race; re-reading");
    }
    platform_secret::Entity::find_by_id(name)
        .one(db)
        .await?
        .map(|row| row.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("platform secret {name}")))
}
