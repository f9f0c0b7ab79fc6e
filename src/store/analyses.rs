//! Post-call analyses: the row written with a call's end, claimed and filled by the worker.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    prelude::*, sea_query::OnConflict,
};
use thruai_entities::{call, call_analysis};

/// The call ended: its analysis is due (once, whatever writes the end again).
pub async fn due(db: &impl ConnectionTrait, row: &call::Model) -> Result<(), DbErr> {
    let now = Utc::now();
    call_analysis::Entity::insert(call_analysis::ActiveModel {
        call_id: Set(row.id.clone()),
        org_id: Set(row.org_id.clone()),
        agent_id: Set(row.agent_id.clone()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        method: Set(None),
        summary: Set(None),
        sentiment: Set(None),
        resolved: Set(None),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(call_analysis::Column::CallId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Analyses due now, oldest first.
pub async fn due_now(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<call_analysis::Model>, DbErr> {
    call_analysis::Entity::find()
        .filter(call_analysis::Column::Status.eq("pending"))
        .filter(call_analysis::Column::NextAttemptAt.lte(now))
        .order_by_asc(call_analysis::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await
}

/// Claims an attempt: pushes the next attempt out to `retry_at` and counts it, only if no
/// one else did meanwhile. `false`: another worker has it.
pub async fn claim(
    db: &impl ConnectionTrait,
    row: &call_analysis::Model,
    retry_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = call_analysis::Entity::update_many()
        .col_expr(call_analysis::Column::Attempts, Expr::value(row.attempts + 1))
        .col_expr(call_analysis::Column::NextAttemptAt, Expr::value(retry_at))
        .filter(call_analysis::Column::CallId.eq(row.call_id.as_str()))
        .filter(call_analysis::Column::Status.eq("pending"))
        .filter(call_analysis::Column::Attempts.eq(row.attempts))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn save(db: &impl ConnectionTrait, row: call_analysis::Model) -> Result<(), DbErr> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, call_id: &str) -> Result<Option<call_analysis::Model>, DbErr> {
    call_analysis::Entity::find_by_id(call_id).one(db).await
}

/// A finished analysis: `(call id, sentiment, resolved, method)`.
pub type Outcome = (String, Option<String>, Option<bool>, Option<String>);

/// The finished analyses among these calls.
pub async fn outcomes(db: &impl ConnectionTrait, call_ids: &[String]) -> Result<Vec<Outcome>, DbErr> {
    let mut out = Vec::new();
    for chunk in call_ids.chunks(500) {
        let rows: Vec<Outcome> = call_analysis::Entity::find()
            .select_only()
            .column(call_analysis::Column::CallId)
            .column(call_analysis::Column::Sentiment)
            .column(call_analysis::Column::Resolved)
            .column(call_analysis::Column::Method)
            .filter(call_analysis::Column::CallId.is_in(chunk.iter().cloned()))
            .filter(call_analysis::Column::Status.eq("done"))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}
