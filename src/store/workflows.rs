//! Workflow queries: definitions and their published versions (scoped to the organisation),
//! executions with their lease and timer, and each execution's step journal.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    prelude::*,
    sea_query::{ExprTrait, OnConflict},
};
use serde_json::Value;
use thruai_entities::{
    workflow, workflow_cursor as cursor, workflow_execution as execution, workflow_step as step,
    workflow_version as version,
};

/// Statuses of an execution that is not over.
pub const UNFINISHED: [&str; 3] = ["queued", "running", "waiting"];

// ---- definitions

pub async fn insert(db: &impl ConnectionTrait, row: workflow::Model) -> Result<workflow::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save(db: &impl ConnectionTrait, row: workflow::Model) -> Result<workflow::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<workflow::Model>, DbErr> {
    workflow::Entity::find_by_id(id)
        .filter(workflow::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<workflow::Model>, u64), DbErr> {
    let q = workflow::Entity::find().filter(workflow::Column::OrgId.eq(org_id));
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(workflow::Column::CreatedAt)
        .order_by_desc(workflow::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Deletes a workflow with its versions, executions and their journals.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    let executions: Vec<String> = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::WorkflowId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in executions.chunks(500) {
        step::Entity::delete_many()
            .filter(step::Column::ExecutionId.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    execution::Entity::delete_many()
        .filter(execution::Column::WorkflowId.eq(id))
        .exec(db)
        .await?;
    version::Entity::delete_many()
        .filter(version::Column::WorkflowId.eq(id))
        .exec(db)
        .await?;
    workflow::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

pub async fn insert_version(db: &impl ConnectionTrait, row: version::Model) -> Result<(), DbErr> {
    row.into_active_model().reset_all().insert(db).await.map(drop)
}

pub async fn version_graph(db: &impl ConnectionTrait, workflow_id: &str, v: i32) -> Result<Option<Value>, DbErr> {
    Ok(version::Entity::find_by_id((workflow_id.to_string(), v))
        .one(db)
        .await?
        .map(|r| r.graph))
}

/// Published workflows started by `event`, of every organisation.
pub async fn started_by(db: &impl ConnectionTrait, events: &[String]) -> Result<Vec<workflow::Model>, DbErr> {
    workflow::Entity::find()
        .filter(workflow::Column::IsPublished.eq(true))
        .filter(workflow::Column::TriggerEvent.is_in(events.to_vec()))
        .all(db)
        .await
}

// ---- executions

/// Inserts an execution; `false` when its trigger key was taken already (the event started
/// it before).
pub async fn insert_execution(db: &impl ConnectionTrait, row: execution::Model) -> Result<bool, DbErr> {
    let res = execution::Entity::insert(row.into_active_model().reset_all())
        .on_conflict(
            OnConflict::columns([execution::Column::WorkflowId, execution::Column::TriggerKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(res == 1)
}

/// Inserts executions in one statement; returns how many were new (an execution whose
/// trigger key started one already is skipped).
pub async fn insert_executions(db: &impl ConnectionTrait, rows: Vec<execution::Model>) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    execution::Entity::insert_many(rows.into_iter().map(|r| r.into_active_model().reset_all()))
        .on_conflict(
            OnConflict::columns([execution::Column::WorkflowId, execution::Column::TriggerKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
}

/// The trigger keys among `keys` that started an execution already.
pub async fn taken_trigger_keys(db: &impl ConnectionTrait, keys: Vec<String>) -> Result<Vec<(String, String)>, DbErr> {
    let rows: Vec<(String, Option<String>)> = execution::Entity::find()
        .select_only()
        .column(execution::Column::WorkflowId)
        .column(execution::Column::TriggerKey)
        .filter(execution::Column::TriggerKey.is_in(keys))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(w, k)| Some((w, k?))).collect())
}

/// Wakes the executions waiting for an event of these types (each looks for its event).
pub async fn wake_awaiting(db: &impl ConnectionTrait, types: &[String], now: DateTime<Utc>) -> Result<u64, DbErr> {
    if types.is_empty() {
        return Ok(0);
    }
    let res = execution::Entity::update_many()
        .col_expr(execution::Column::WakeAt, Expr::value(now))
        .filter(execution::Column::AwaitingEvent.is_in(types.iter().map(String::as_str)))
        .filter(execution::Column::Status.eq("waiting"))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Status and state of each finished execution among `ids`.
pub async fn finished_executions(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<(String, String, Value)>, DbErr> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, Value)> = execution::Entity::find()
            .select_only()
            .column(execution::Column::Id)
            .column(execution::Column::Status)
            .column(execution::Column::State)
            .filter(execution::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .filter(execution::Column::Status.is_not_in(UNFINISHED))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

pub async fn execution(db: &impl ConnectionTrait, id: &str) -> Result<Option<execution::Model>, DbErr> {
    execution::Entity::find_by_id(id).one(db).await
}

pub async fn executions(
    db: &impl ConnectionTrait,
    org_id: &str,
    workflow_id: &str,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<execution::Model>, u64), DbErr> {
    let mut q = execution::Entity::find()
        .filter(execution::Column::OrgId.eq(org_id))
        .filter(execution::Column::WorkflowId.eq(workflow_id));
    if let Some(s) = status {
        q = q.filter(execution::Column::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(execution::Column::CreatedAt)
        .order_by_desc(execution::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The journals of these executions, in order.
pub async fn steps_of(db: &impl ConnectionTrait, execution_ids: Vec<String>) -> Result<Vec<step::Model>, DbErr> {
    step::Entity::find()
        .filter(step::Column::ExecutionId.is_in(execution_ids))
        .order_by_asc(step::Column::ExecutionId)
        .order_by_asc(step::Column::Seq)
        .all(db)
        .await
}

/// Executions due now: queued, their timer passed, or their lease expired, oldest first.
pub async fn due(db: &impl ConnectionTrait, now: DateTime<Utc>, limit: u64) -> Result<Vec<String>, DbErr> {
    execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::Status.is_in(UNFINISHED))
        .filter(execution::Column::WakeAt.lte(now))
        .filter(
            execution::Column::LeaseUntil
                .is_null()
                .or(execution::Column::LeaseUntil.lt(now)),
        )
        .order_by_asc(execution::Column::WakeAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Takes an unfinished execution nobody holds; false otherwise.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = execution::Entity::update_many()
        .col_expr(execution::Column::LeaseUntil, Expr::value(until))
        .col_expr(execution::Column::Status, Expr::value("running"))
        .col_expr(execution::Column::WakeAt, Expr::value(now))
        .col_expr(execution::Column::UpdatedAt, Expr::value(now))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.is_in(UNFINISHED))
        .filter(
            execution::Column::LeaseUntil
                .is_null()
                .or(execution::Column::LeaseUntil.lt(now)),
        )
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        execution::Entity::update_many()
            .col_expr(execution::Column::StartedAt, Expr::value(now))
            .filter(execution::Column::Id.eq(id))
            .filter(execution::Column::StartedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(res.rows_affected == 1)
}

/// Extends the lease of a running execution still held under `held`; false when it was lost.
pub async fn renew(
    db: &impl ConnectionTrait,
    id: &str,
    held: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = execution::Entity::update_many()
        .col_expr(execution::Column::LeaseUntil, Expr::value(until))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.eq("running"))
        .filter(execution::Column::LeaseUntil.eq(held))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Writes the columns `update` sets.
pub async fn update_execution(db: &impl ConnectionTrait, update: execution::ActiveModel) -> Result<(), DbErr> {
    update.update(db).await.map(drop)
}

// ---- the journal

/// The execution's last journal row.
pub async fn last_step(db: &impl ConnectionTrait, execution_id: &str) -> Result<Option<step::Model>, DbErr> {
    step::Entity::find()
        .filter(step::Column::ExecutionId.eq(execution_id))
        .order_by_desc(step::Column::Seq)
        .one(db)
        .await
}

pub async fn insert_step(db: &impl ConnectionTrait, row: step::Model) -> Result<step::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

/// Ends (or parks) a journal row.
pub async fn update_step(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    output: Option<Value>,
    error: Option<String>,
    finished_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    step::ActiveModel {
        id: Set(id.to_string()),
        status: Set(status.to_string()),
        output: Set(output),
        error: Set(error),
        finished_at: Set(finished_at),
        ..Default::default()
    }
    .update(db)
    .await
    .map(drop)
}

// ---- the event feed's cursor

pub async fn cursor(db: &impl ConnectionTrait, name: &str) -> Result<Option<cursor::Model>, DbErr> {
    cursor::Entity::find_by_id(name).one(db).await
}

pub async fn set_cursor(db: &impl ConnectionTrait, row: cursor::Model) -> Result<(), DbErr> {
    cursor::Entity::insert(row.into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(cursor::Column::Name)
                .update_columns([cursor::Column::CreatedAt, cursor::Column::EventId])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(drop)
}
