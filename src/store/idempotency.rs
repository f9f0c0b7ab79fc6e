//! Idempotency records: the durable copy of every completed keyed response, and the
//! in-flight claim when Redis is not configured.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, prelude::*, sea_query::OnConflict,
};
use thruai_entities::idempotency_key;

pub const IN_FLIGHT: &str = "in_flight";
pub const COMPLETED: &str = "completed";

pub async fn find(db: &impl ConnectionTrait, scope_hash: &str) -> Result<Option<idempotency_key::Model>, DbErr> {
    idempotency_key::Entity::find_by_id(scope_hash.to_string())
        .filter(idempotency_key::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await
}

/// Inserts an in-flight claim; false when a row already holds the scope.
pub async fn try_claim(db: &impl ConnectionTrait, row: idempotency_key::Model) -> Result<bool, DbErr> {
    let res = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        scope_hash: Set(row.scope_hash),
        org_id: Set(row.org_id),
        idem_key: Set(row.idem_key),
        method: Set(row.method),
        route: Set(row.route),
        fingerprint: Set(row.fingerprint),
        status: Set(row.status),
        response_status: Set(None),
        response_body: Set(None),
        lock_token: Set(row.lock_token),
        locked_until: Set(row.locked_until),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
    })
    .on_conflict(
        OnConflict::column(idempotency_key::Column::ScopeHash)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(res == 1)
}

/// Takes over a claim whose holder died (lock expired) or an expired record.
pub async fn take_over(
    db: &impl ConnectionTrait,
    scope_hash: &str,
    fingerprint: &str,
    token: &str,
    now: DateTime<Utc>,
    locked_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Status, Expr::value(IN_FLIGHT))
        .col_expr(idempotency_key::Column::Fingerprint, Expr::value(fingerprint))
        .col_expr(idempotency_key::Column::LockToken, Expr::value(token))
        .col_expr(idempotency_key::Column::LockedUntil, Expr::value(locked_until))
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(
            idempotency_key::Column::ResponseBody,
            Expr::value(Option::<String>::None),
        )
        .col_expr(idempotency_key::Column::CreatedAt, Expr::value(now))
        .col_expr(idempotency_key::Column::ExpiresAt, Expr::value(expires_at))
        .filter(idempotency_key::Column::ScopeHash.eq(scope_hash))
        .filter(
            Condition::any().add(idempotency_key::Column::ExpiresAt.lte(now)).add(
                Condition::all()
                    .add(idempotency_key::Column::Status.eq(IN_FLIGHT))
                    .add(idempotency_key::Column::LockedUntil.lte(now)),
            ),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Writes the completed response (insert or overwrite the claim) — called inside the
/// handler's transaction, so the response is stored if and only if its effects are.
pub async fn complete(db: &impl ConnectionTrait, row: idempotency_key::Model) -> Result<(), DbErr> {
    idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        scope_hash: Set(row.scope_hash),
        org_id: Set(row.org_id),
        idem_key: Set(row.idem_key),
        method: Set(row.method),
        route: Set(row.route),
        fingerprint: Set(row.fingerprint),
        status: Set(COMPLETED.into()),
        response_status: Set(row.response_status),
        response_body: Set(row.response_body),
        lock_token: Set(None),
        locked_until: Set(None),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
    })
    .on_conflict(
        OnConflict::column(idempotency_key::Column::ScopeHash)
            .update_columns([
                idempotency_key::Column::Status,
                idempotency_key::Column::Fingerprint,
                idempotency_key::Column::ResponseStatus,
                idempotency_key::Column::ResponseBody,
                idempotency_key::Column::LockToken,
                idempotency_key::Column::LockedUntil,
                idempotency_key::Column::ExpiresAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Drops an in-flight claim held by `token` (the request failed; the key may be retried).
pub async fn release(db: &impl ConnectionTrait, scope_hash: &str, token: &str) -> Result<(), DbErr> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ScopeHash.eq(scope_hash))
        .filter(idempotency_key::Column::Status.eq(IN_FLIGHT))
        .filter(idempotency_key::Column::LockToken.eq(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes expired records; returns how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
