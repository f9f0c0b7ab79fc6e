//! API key queries.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, prelude::*, sea_query::Expr,
};
use thruai_entities::{api_key, organization};

/// The key with that hash and its organisation.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<(api_key::Model, organization::Model)>, DbErr> {
    let Some(key) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let org = organization::Entity::find_by_id(key.org_id.clone()).one(db).await?;
    Ok(org.map(|org| (key, org)))
}

pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub name: &'a str,
    pub hash: &'a str,
    pub display_prefix: &'a str,
    pub scopes: &'a [&'a str],
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub async fn insert(db: &impl ConnectionTrait, key: NewApiKey<'_>) -> Result<api_key::Model, DbErr> {
    api_key::ActiveModel {
        id: Set(key.id.to_string()),
        org_id: Set(key.org_id.to_string()),
        name: Set(key.name.to_string()),
        key_hash: Set(key.hash.to_string()),
        display_prefix: Set(key.display_prefix.to_string()),
        scopes: Set(key.scopes.iter().map(|s| (*s).to_string()).collect()),
        created_at: Set(key.now),
        last_used_at: Set(None),
        expires_at: Set(key.expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn count_for_org(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::OrgId.eq(org_id))
        .count(db)
        .await
}

/// The organisation's keys, newest first (revoked and expired ones included).
pub async fn list(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::OrgId.eq(org_id))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find_by_id(id)
        .filter(api_key::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

/// Revokes a key now (a key already revoked keeps its first revocation time).
pub async fn revoke(db: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Sets when a key stops working.
pub async fn expire_at(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::ExpiresAt, Expr::value(at))
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a key's use.
pub async fn touch(db: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
