//! The campaign actor's queue and dial intents: due contacts, moves between statuses,
//! arming, firing and settling intents, in-doubt lookups, completion.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    prelude::*,
    sea_query::{Expr, ExprTrait, Func},
};
use thruai_actors::campaign::state::{ContactStatus, Counts};
use thruai_entities::{
    call, campaign, campaign_contact as contact, campaign_dial as dial, sms_opt_out,
    values::status::{CallStatus, CampaignStatus},
};

use super::*;

/// Dials of the campaign started and not yet settled (index probes per status: the
/// campaign's settled dials are never read).
pub async fn open_dials(db: &impl ConnectionTrait, campaign_id: &str) -> Result<Vec<dial::Model>, DbErr> {
    dial::Entity::find()
        .filter(dial::Column::CampaignId.eq(campaign_id))
        .filter(dial::Column::Status.is_in(DIAL_OPEN))
        .all(db)
        .await
}

pub async fn count_open_dials(db: &impl ConnectionTrait, campaign_id: &str) -> Result<u64, DbErr> {
    dial::Entity::find()
        .filter(dial::Column::CampaignId.eq(campaign_id))
        .filter(dial::Column::Status.is_in(DIAL_OPEN))
        .count(db)
        .await
}

/// Intents of the campaign armed ahead and not started, oldest first.
pub async fn armed_dials(db: &impl ConnectionTrait, campaign_id: &str) -> Result<Vec<dial::Model>, DbErr> {
    dial::Entity::find()
        .filter(dial::Column::CampaignId.eq(campaign_id))
        .filter(dial::Column::Status.eq(DIAL_ARMED))
        .order_by_asc(dial::Column::CreatedAt)
        .all(db)
        .await
}

/// The status of a dial intent (`None`: there is none).
pub async fn dial_status(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    dial::Entity::find_by_id(key)
        .select_only()
        .column(dial::Column::Status)
        .into_tuple()
        .one(db)
        .await
}

/// Status of each call by id.
pub async fn call_statuses(db: &impl ConnectionTrait, call_ids: &[String]) -> Result<HashMap<String, String>, DbErr> {
    let mut out = HashMap::new();
    for chunk in call_ids.chunks(IN_BATCH) {
        let rows: Vec<(String, String)> = call::Entity::find()
            .select_only()
            .column(call::Column::Id)
            .column(call::Column::Status)
            .filter(call::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Open calls of the organisation (every direction).
pub async fn org_open_calls(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    call::Entity::find()
        .filter(call::Column::Status.is_in(CallStatus::OPEN))
        .filter(call::Column::OrgId.eq(org_id))
        .count(db)
        .await
}

/// A due contact, with what dialling it needs.
#[derive(Debug, FromQueryResult)]
pub struct DueRow {
    pub id: String,
    pub phone_number: String,
    pub timezone: Option<String>,
    pub attempts: i32,
    pub position: i64,
    pub name: Option<String>,
    pub custom_data: serde_json::Value,
    /// 1 when the number opted out of the organisation (do not call).
    pub opted_out: i32,
}

/// Up to `limit` queued contacts due at `now`, in queue order, each with whether its number
/// opted out of the organisation (read with it: no second look-up per dialling tick).
pub async fn due_contacts(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    now: DateTime<Utc>,
    limit: u64,
    with_timezone_only: bool,
) -> Result<Vec<DueRow>, DbErr> {
    let opted_out = sea_orm::sea_query::Query::select()
        .expr(Expr::val(1))
        .from(sms_opt_out::Entity)
        .and_where(
            Expr::col((sms_opt_out::Entity, sms_opt_out::Column::OrgId))
                .equals((contact::Entity, contact::Column::OrgId)),
        )
        .and_where(
            Expr::col((sms_opt_out::Entity, sms_opt_out::Column::ContactNumber))
                .equals((contact::Entity, contact::Column::PhoneNumber)),
        )
        .to_owned();
    let mut q = contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::PhoneNumber,
            contact::Column::Timezone,
            contact::Column::Attempts,
            contact::Column::Position,
            contact::Column::Name,
            contact::Column::CustomData,
        ])
        .column_as(
            Expr::expr(Expr::case(Expr::exists(opted_out), Expr::val(1)).finally(Expr::val(0))),
            "opted_out",
        )
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::Status.eq(ContactStatus::Queued.as_str()))
        .filter(
            Condition::any()
                .add(contact::Column::NextAttemptAt.is_null())
                .add(contact::Column::NextAttemptAt.lte(now)),
        );
    if with_timezone_only {
        q = q.filter(contact::Column::Timezone.is_not_null());
    }
    q.order_by_asc(contact::Column::Position)
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .into_model::<DueRow>()
        .all(db)
        .await
}

/// Queued (all and due), in progress, and the next due time of a waiting contact.
pub async fn remaining(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    now: DateTime<Utc>,
) -> Result<(u64, u64, u64, Option<DateTime<Utc>>), DbErr> {
    let base = || contact::Entity::find().filter(contact::Column::CampaignId.eq(campaign_id));
    let Counts {
        queued, in_progress, ..
    } = counts(db, campaign_id).await?;
    let due = if queued == 0 {
        0
    } else {
        base()
            .filter(contact::Column::Status.eq(ContactStatus::Queued.as_str()))
            .filter(
                Condition::any()
                    .add(contact::Column::NextAttemptAt.is_null())
                    .add(contact::Column::NextAttemptAt.lte(now)),
            )
            .limit(1)
            .count(db)
            .await?
    };
    let next: Option<Option<DateTime<Utc>>> = if queued > 0 && due == 0 {
        base()
            .select_only()
            .column_as(Expr::expr(Func::min(Expr::col(contact::Column::NextAttemptAt))), "m")
            .filter(contact::Column::Status.eq(ContactStatus::Queued.as_str()))
            .into_tuple()
            .one(db)
            .await?
    } else {
        None
    };
    Ok((queued, due, in_progress, next.flatten()))
}

/// Moves a contact (fenced, in `txn`) if it is still in `from`, and counts it.
pub async fn move_contact(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    contact_id: &str,
    from: ContactStatus,
    to: ContactStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    last_outcome: Option<&str>,
) -> Result<bool, DbErr> {
    let moved = move_uncounted(db, campaign_id, contact_id, from, to, next_attempt_at, last_outcome).await?;
    if moved {
        count_moved(db, campaign_id, Some(from), to, 1).await?;
    }
    Ok(moved)
}

/// [`move_contact`] for a caller that counts the moves of its transaction at once, with
/// [`count_moved`].
pub async fn move_uncounted(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    contact_id: &str,
    from: ContactStatus,
    to: ContactStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    last_outcome: Option<&str>,
) -> Result<bool, DbErr> {
    let mut q = contact::Entity::update_many()
        .col_expr(contact::Column::Status, Expr::value(to.as_str()))
        .col_expr(contact::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(contact::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(o) = last_outcome {
        q = q.col_expr(contact::Column::LastOutcome, Expr::value(o));
    }
    if from == ContactStatus::Queued && to == ContactStatus::InProgress {
        q = q.col_expr(contact::Column::Attempts, Expr::col(contact::Column::Attempts).add(1));
    }
    let res = q
        .filter(contact::Column::Id.eq(contact_id))
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn defer(db: &impl ConnectionTrait, contact_id: &str, until: DateTime<Utc>) -> Result<(), DbErr> {
    contact::Entity::update_many()
        .col_expr(contact::Column::NextAttemptAt, Expr::value(until))
        .col_expr(contact::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(contact::Column::Id.eq(contact_id))
        .filter(contact::Column::Status.eq(ContactStatus::Queued.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Arms dial intents ahead (in the caller's fenced transaction, which holds the campaign
/// row's lock): while the campaign is running, each contact still queued moves to
/// `in_progress` and gets its intent, `armed`; the others are left out. No call row and no
/// cap here: an armed intent is no call (see [`fire`]). Returns the intent keys armed.
pub async fn arm_intents(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    rows: Vec<dial::Model>,
) -> Result<Vec<String>, DbErr> {
    // The campaign row is locked by the fence: a pause committed before this point is seen
    // here (and one after it is seen by the fire of each intent).
    let running = campaign::Entity::find_by_id(campaign_id)
        .one(db)
        .await?
        .is_some_and(|c| c.status == CampaignStatus::Running);
    if !running {
        return Ok(Vec::new());
    }
    let mut dials = Vec::with_capacity(rows.len());
    for intent in rows {
        if move_uncounted(
            db,
            campaign_id,
            &intent.contact_id,
            ContactStatus::Queued,
            ContactStatus::InProgress,
            None,
            None,
        )
        .await?
        {
            dials.push(intent);
        }
    }
    if dials.is_empty() {
        return Ok(Vec::new());
    }
    count_moved(
        db,
        campaign_id,
        Some(ContactStatus::Queued),
        ContactStatus::InProgress,
        i64::try_from(dials.len()).unwrap_or(i64::MAX),
    )
    .await?;
    let keys = dials.iter().map(|d| d.intent_key.clone()).collect();
    dial::Entity::insert_many(dials.into_iter().map(|d| d.into_active_model().reset_all()))
        .exec_without_returning(db)
        .await?;
    Ok(keys)
}

/// Puts armed intents back in the queue (in the caller's fenced transaction): each intent
/// still armed is deleted (it never reached the carrier, and its contact's next attempt
/// takes its key again) and its contact is queued again, due at `until` (`None`: at once),
/// its attempt given back. An intent started meanwhile is left alone. Returns how many
/// went back.
pub async fn release_armed(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    intents: &[(String, String, Option<DateTime<Utc>>)],
) -> Result<u64, DbErr> {
    let mut n = 0;
    for (key, contact_id, until) in intents {
        let gone = dial::Entity::delete_many()
            .filter(dial::Column::IntentKey.eq(key.as_str()))
            .filter(dial::Column::Status.eq(DIAL_ARMED))
            .exec(db)
            .await?;
        if gone.rows_affected != 1 {
            continue;
        }
        let back = contact::Entity::update_many()
            .col_expr(contact::Column::Status, Expr::value(ContactStatus::Queued.as_str()))
            .col_expr(contact::Column::NextAttemptAt, Expr::value(*until))
            .col_expr(contact::Column::Attempts, Expr::col(contact::Column::Attempts).sub(1))
            .col_expr(contact::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(contact::Column::Id.eq(contact_id.as_str()))
            .filter(contact::Column::CampaignId.eq(campaign_id))
            .filter(contact::Column::Status.eq(ContactStatus::InProgress.as_str()))
            .exec(db)
            .await?;
        n += back.rows_affected;
    }
    if n > 0 {
        count_moved(
            db,
            campaign_id,
            Some(ContactStatus::InProgress),
            ContactStatus::Queued,
            i64::try_from(n).unwrap_or(i64::MAX),
        )
        .await?;
    }
    Ok(n)
}

/// The condition under which an armed intent may start (SQL shared by both databases,
/// parameters `$campaign`/`$epoch` substituted by the caller): the campaign is running
/// under this owner epoch and has fewer calls in flight than its `max_concurrent_calls`.
/// In flight: a started dial not settled whose call is still open, and every `pending`
/// one whatever its call row says (it may be in doubt: the carrier could have it).
fn fire_condition(campaign: &str, epoch: &str) -> String {
    format!(
        r#"EXISTS (SELECT 1 FROM "campaigns" c WHERE c."id" = {campaign} AND c."owner_epoch" = {epoch}
 AND c."status" = 'running' AND c."max_concurrent_calls" > (SELECT COUNT(*) FROM "campaign_dials" d
 WHERE d."campaign_id" = {campaign} AND d."status" IN ('pending', 'placed', 'refused')
 AND (d."status" = 'pending' OR EXISTS (SELECT 1 FROM "calls" k WHERE k."id" = d."call_id"
 AND k."status" IN ('queued', 'ringing', 'in_progress'))
 OR EXISTS (SELECT 1 FROM "workflow_executions" x WHERE x."id" = d."call_id"
 AND x."status" IN ('queued', 'running', 'waiting')))))"#
    )
}

/// Starts an armed intent: `armed → pending`, with its call row, only if the campaign is
/// running under `epoch` with room under its cap (see [`fire_condition`]), atomically — one
/// statement on PostgreSQL (the update in a `WITH`, the call row inserted from its result),
/// a transaction on SQLite. The caller serialises the fires of a campaign, so two fires
/// never both take the last free slot. Returns whether it started.
pub async fn fire(
    db: &DatabaseConnection,
    campaign_id: &str,
    epoch: i64,
    key: &str,
    call_row: call::Model,
) -> Result<bool, DbErr> {
    use sea_orm::{ActiveModelTrait, Iterable, Statement, Value};
    let now = Utc::now();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let am = call_row.into_active_model();
        let mut cols = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        for c in call::Column::iter() {
            if let Some(v) = am.get(c).into_value() {
                cols.push(format!("\"{}\"", c.as_str()));
                values.push(v);
            }
        }
        let n = values.len();
        let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let (p_now, p_key, p_campaign, p_epoch) = (n + 1, n + 2, n + 3, n + 4);
        let sql = format!(
            r#"WITH fired AS (UPDATE "campaign_dials" SET "status" = '{DIAL_PENDING}', "updated_at" = ${p_now}
 WHERE "intent_key" = ${p_key} AND "status" = '{DIAL_ARMED}' AND {cond} RETURNING 1)
INSERT INTO "calls" ({cols}) SELECT {placeholders} FROM fired"#,
            cond = fire_condition(&format!("${p_campaign}"), &format!("${p_epoch}")),
            cols = cols.join(", "),
            placeholders = placeholders.join(", "),
        );
        values.extend([now.into(), key.into(), campaign_id.into(), epoch.into()]);
        let res = db
            .execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        return Ok(res.rows_affected() == 1);
    }
    let txn = crate::store::begin(db).await?;
    let sql = format!(
        r#"UPDATE "campaign_dials" SET "status" = '{DIAL_PENDING}', "updated_at" = ?1
 WHERE "intent_key" = ?2 AND "status" = '{DIAL_ARMED}' AND {cond}"#,
        cond = fire_condition("?3", "?4"),
    );
    let res = txn
        .execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            sql,
            [now.into(), key.into(), campaign_id.into(), epoch.into()],
        ))
        .await?;
    if res.rows_affected() != 1 {
        return Ok(false);
    }
    call::Entity::insert(call_row.into_active_model().reset_all())
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// Starts an armed intent whose contact runs a workflow: `armed → placed` under the
/// conditions of [`fire`] (its "call" is the execution, whose id the intent holds), with
/// `record` writing the execution in the same transaction. Nothing waits on a carrier, so
/// such an intent is never in doubt. Returns whether it started.
pub async fn fire_execution<F>(
    db: &DatabaseConnection,
    campaign_id: &str,
    epoch: i64,
    key: &str,
    record: F,
) -> Result<bool, DbErr>
where
    F: for<'c> FnOnce(
            &'c sea_orm::DatabaseTransaction,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, DbErr>> + Send + 'c>>
        + Send,
{
    use sea_orm::Statement;
    let backend = db.get_database_backend();
    let p = |i: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${i}"),
        _ => format!("?{i}"),
    };
    let sql = format!(
        r#"UPDATE "campaign_dials" SET "status" = '{DIAL_PLACED}', "updated_at" = {now}
 WHERE "intent_key" = {key} AND "status" = '{DIAL_ARMED}' AND {cond}"#,
        now = p(1),
        key = p(2),
        cond = fire_condition(&p(3), &p(4)),
    );
    let txn = crate::store::begin(db).await?;
    let res = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Utc::now().into(), key.into(), campaign_id.into(), epoch.into()],
        ))
        .await?;
    if res.rows_affected() != 1 || !record(&txn).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    txn.commit().await?;
    Ok(true)
}

/// Records the carrier's acknowledgement of a pending intent.
pub async fn dial_placed(db: &impl ConnectionTrait, key: &str, sid: &str, reconciled: bool) -> Result<bool, DbErr> {
    let res = dial::Entity::update_many()
        .col_expr(dial::Column::Status, Expr::value(DIAL_PLACED))
        .col_expr(dial::Column::ProviderCallSid, Expr::value(sid))
        .col_expr(dial::Column::Reconciled, Expr::value(reconciled))
        .col_expr(dial::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dial::Column::IntentKey.eq(key))
        .filter(dial::Column::Status.eq(DIAL_PENDING))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The carrier refused the call (no call exists there).
pub async fn dial_refused(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    dial::Entity::update_many()
        .col_expr(dial::Column::Status, Expr::value(DIAL_REFUSED))
        .col_expr(dial::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dial::Column::IntentKey.eq(key))
        .filter(dial::Column::Status.eq(DIAL_PENDING))
        .exec(db)
        .await?;
    Ok(())
}

/// Points an in-doubt intent at a fresh call row (its first call row was closed as
/// interrupted by the restart) before it is dialled again under the same key.
pub async fn redial_with(db: &impl ConnectionTrait, key: &str, call_id: &str) -> Result<(), DbErr> {
    dial::Entity::update_many()
        .col_expr(dial::Column::CallId, Expr::value(call_id))
        .col_expr(dial::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dial::Column::IntentKey.eq(key))
        .filter(dial::Column::Status.eq(DIAL_PENDING))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn dial_done(db: &impl ConnectionTrait, key: &str, outcome: &str) -> Result<(), DbErr> {
    dial::Entity::update_many()
        .col_expr(dial::Column::Status, Expr::value(DIAL_DONE))
        .col_expr(dial::Column::Outcome, Expr::value(outcome))
        .col_expr(dial::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(dial::Column::IntentKey.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn in_doubt(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    older_than: DateTime<Utc>,
) -> Result<Vec<dial::Model>, DbErr> {
    dial::Entity::find()
        .filter(dial::Column::CampaignId.eq(campaign_id))
        .filter(dial::Column::Status.eq(DIAL_PENDING))
        .filter(dial::Column::UpdatedAt.lte(older_than))
        .all(db)
        .await
}

/// Pauses a running campaign (its actor passivates on its next read of it).
pub async fn pause(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value("paused"))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.eq("running"))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn complete(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value("completed"))
        .col_expr(campaign::Column::CompletedAt, Expr::value(now))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.eq("running"))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn write_snapshot(db: &impl ConnectionTrait, id: &str, view: serde_json::Value) -> Result<(), DbErr> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::Snapshot, Expr::value(view))
        .filter(campaign::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
