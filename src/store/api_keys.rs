//! API key queries.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryFilter, prelude::*};
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
        expires_at: Set(None),
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
