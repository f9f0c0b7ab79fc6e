//! Organisations, users and pending sign-ups.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    prelude::*,
    sea_query::{ExprTrait, OnConflict},
};
use thruai_entities::{organization, pending_account, user};

pub async fn user_exists(db: &impl ConnectionTrait, email: &str) -> Result<bool, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .count(db)
        .await?
        > 0)
}

pub async fn slug_taken(db: &impl ConnectionTrait, slug: &str) -> Result<bool, DbErr> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .count(db)
        .await?
        > 0)
}

pub async fn find_org(db: &impl ConnectionTrait, org_id: &str) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(org_id.to_string()).one(db).await
}

/// Moves the organisation to `plan` (its limits apply from the next authentication).
pub async fn set_plan(db: &impl ConnectionTrait, org_id: &str, plan: &str) -> Result<(), DbErr> {
    organization::Entity::update_many()
        .col_expr(organization::Column::Plan, sea_orm::prelude::Expr::value(plan))
        .col_expr(
            organization::Column::UpdatedAt,
            sea_orm::prelude::Expr::value(chrono::Utc::now()),
        )
        .filter(organization::Column::Id.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_owner(db: &impl ConnectionTrait, org_id: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Role.eq("owner"))
        .one(db)
        .await
}

/// Creates or replaces the pending sign-up for `email` (a new code invalidates the old).
pub async fn upsert_pending(db: &impl ConnectionTrait, row: pending_account::Model) -> Result<(), DbErr> {
    pending_account::Entity::insert(pending_account::ActiveModel {
        email: Set(row.email),
        org_name: Set(row.org_name),
        slug: Set(row.slug),
        code_hash: Set(row.code_hash),
        attempts: Set(row.attempts),
        expires_at: Set(row.expires_at),
        created_at: Set(row.created_at),
    })
    .on_conflict(
        OnConflict::column(pending_account::Column::Email)
            .update_columns([
                pending_account::Column::OrgName,
                pending_account::Column::Slug,
                pending_account::Column::CodeHash,
                pending_account::Column::Attempts,
                pending_account::Column::ExpiresAt,
                pending_account::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn find_pending(db: &impl ConnectionTrait, email: &str) -> Result<Option<pending_account::Model>, DbErr> {
    pending_account::Entity::find_by_id(email.to_string()).one(db).await
}

/// Counts a wrong guess; only the row whose code is still `code_hash` is touched, so a
/// guess against a replaced code does not burn the new one.
pub async fn record_failed_attempt(db: &impl ConnectionTrait, email: &str, code_hash: &str) -> Result<(), DbErr> {
    pending_account::Entity::update_many()
        .col_expr(
            pending_account::Column::Attempts,
            Expr::col(pending_account::Column::Attempts).add(1),
        )
        .filter(pending_account::Column::Email.eq(email))
        .filter(pending_account::Column::CodeHash.eq(code_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the pending row if it still holds `code_hash`; true when this call consumed it.
pub async fn consume_pending(db: &impl ConnectionTrait, email: &str, code_hash: &str) -> Result<bool, DbErr> {
    let res = pending_account::Entity::delete_many()
        .filter(pending_account::Column::Email.eq(email))
        .filter(pending_account::Column::CodeHash.eq(code_hash))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub struct NewOrganization<'a> {
    pub org_id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub slug: &'a str,
    pub plan: &'a str,
    pub email: &'a str,
    pub now: DateTime<Utc>,
}

/// Inserts the organisation and its owner.
pub async fn create_organization(
    db: &impl ConnectionTrait,
    new: NewOrganization<'_>,
) -> Result<(organization::Model, user::Model), DbErr> {
    let org = organization::ActiveModel {
        id: Set(new.org_id.to_string()),
        name: Set(new.name.to_string()),
        slug: Set(new.slug.to_string()),
        plan: Set(new.plan.to_string()),
        owner_email: Set(new.email.to_string()),
        created_at: Set(new.now),
        updated_at: Set(new.now),
    }
    .insert(db)
    .await?;
    let owner = user::ActiveModel {
        id: Set(new.user_id.to_string()),
        org_id: Set(new.org_id.to_string()),
        email: Set(new.email.to_string()),
        role: Set("owner".into()),
        created_at: Set(new.now),
    }
    .insert(db)
    .await?;
    Ok((org, owner))
}
