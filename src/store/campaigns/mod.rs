//! Campaign queries: CRUD scoped to the organisation, contacts in multi-row batches, and
//! the actor's queue, intent and lease operations. Every write of the actor goes through
//! [`fence`] in the same transaction: it extends the lease only while the caller's epoch is
//! still the campaign's, so an actor that lost its lease cannot change anything.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    prelude::*,
    sea_query::{Expr, ExprTrait, Func},
};
use thruai_actors::campaign::state::{ContactStatus, Counts};
use thruai_entities::{
    call, campaign, campaign_contact as contact, campaign_contact_count as count, campaign_dial as dial,
    values::status::{CallStatus, CampaignStatus},
};

mod contacts;
mod dials;

pub use contacts::*;
pub use dials::*;

/// Rows per multi-row INSERT (15 columns: well under SQLite's and Postgres' parameter limits).
pub const INSERT_BATCH: usize = 1000;
/// Rows per INSERT on PostgreSQL, where a batch is one JSON parameter (no parameter limit):
/// a default page of 5,000 contacts in one statement.
pub const INSERT_BATCH_PG: usize = 5000;

/// Rows per contacts INSERT on this database.
pub fn insert_batch(db: &impl ConnectionTrait) -> usize {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        INSERT_BATCH_PG
    } else {
        INSERT_BATCH
    }
}
/// Values per `IN (…)` list.
const IN_BATCH: usize = 900;

/// Dial intent statuses. `armed`: recorded ahead for a free slot to come, never sent to the
/// carrier (not a call: it does not count towards the cap, and is put back in the queue
/// rather than reconciled); `pending`: started, the carrier may have been asked.
pub const DIAL_ARMED: &str = "armed";
pub const DIAL_PENDING: &str = "pending";
pub const DIAL_PLACED: &str = "placed";
pub const DIAL_REFUSED: &str = "refused";
pub const DIAL_DONE: &str = "done";

/// Dials started and not settled yet.
pub const DIAL_OPEN: [&str; 3] = [DIAL_PENDING, DIAL_PLACED, DIAL_REFUSED];

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("fenced: the campaign is owned by a newer epoch")]
    Fenced,
    #[error(transparent)]
    Db(#[from] DbErr),
}

// -------------------------------------------------------------------------------------------
// CRUD
// -------------------------------------------------------------------------------------------

pub async fn insert(db: &impl ConnectionTrait, row: campaign::Model) -> Result<campaign::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save(db: &impl ConnectionTrait, row: campaign::Model) -> Result<campaign::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<campaign::Model>, DbErr> {
    campaign::Entity::find()
        .filter(campaign::Column::OrgId.eq(org_id))
        .filter(campaign::Column::Id.eq(id))
        .one(db)
        .await
}

pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<campaign::Model>, u64), DbErr> {
    let mut q = campaign::Entity::find().filter(campaign::Column::OrgId.eq(org_id));
    if let Some(s) = status {
        q = q.filter(campaign::Column::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(campaign::Column::CreatedAt)
        .order_by_desc(campaign::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Fences the running actor out (epoch + 1) and deletes the campaign with its contacts
/// and intents. Calls already placed run to their end as ordinary calls.
pub async fn delete(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<(), DbErr> {
    campaign::Entity::update_many()
        .col_expr(
            campaign::Column::OwnerEpoch,
            Expr::col(campaign::Column::OwnerEpoch).add(1),
        )
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    dial::Entity::delete_many()
        .filter(dial::Column::CampaignId.eq(id))
        .exec(db)
        .await?;
    contact::Entity::delete_many()
        .filter(contact::Column::CampaignId.eq(id))
        .exec(db)
        .await?;
    count::Entity::delete_many()
        .filter(count::Column::CampaignId.eq(id))
        .exec(db)
        .await?;
    campaign::Entity::delete_many()
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct StatusCount {
    status: String,
    n: i64,
}

/// Contacts per status: the campaign's counts row (kept by every write that adds or moves
/// a contact), or, for a campaign without one, counted from its contacts.
pub async fn counts(db: &impl ConnectionTrait, campaign_id: &str) -> Result<Counts, DbErr> {
    if let Some(row) = count::Entity::find_by_id(campaign_id).one(db).await? {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut c = Counts::default();
        c.add(ContactStatus::Queued, n(row.queued));
        c.add(ContactStatus::InProgress, n(row.in_progress));
        c.add(ContactStatus::Completed, n(row.completed));
        c.add(ContactStatus::Failed, n(row.failed));
        c.add(ContactStatus::Suppressed, n(row.suppressed));
        return Ok(c);
    }
    count_contacts(db, campaign_id).await
}

/// Contacts per status, counted row by row (what the counts row must always equal).
pub async fn count_contacts(db: &impl ConnectionTrait, campaign_id: &str) -> Result<Counts, DbErr> {
    let rows = contact::Entity::find()
        .select_only()
        .column(contact::Column::Status)
        .column_as(Expr::expr(Func::count(Expr::col(contact::Column::Id))), "n")
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .group_by(contact::Column::Status)
        .into_model::<StatusCount>()
        .all(db)
        .await?;
    let mut c = Counts::default();
    for r in rows {
        if let Some(s) = ContactStatus::parse(&r.status) {
            c.add(s, u64::try_from(r.n).unwrap_or(0));
        }
    }
    Ok(c)
}

/// A new campaign's counts row (every status at 0), in the transaction that creates it.
pub async fn insert_counts(db: &impl ConnectionTrait, campaign_id: &str) -> Result<(), DbErr> {
    count::Entity::insert(
        count::Model {
            campaign_id: campaign_id.to_string(),
            queued: 0,
            in_progress: 0,
            completed: 0,
            failed: 0,
            suppressed: 0,
        }
        .into_active_model()
        .reset_all(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn count_column(status: ContactStatus) -> count::Column {
    match status {
        ContactStatus::Queued => count::Column::Queued,
        ContactStatus::InProgress => count::Column::InProgress,
        ContactStatus::Completed => count::Column::Completed,
        ContactStatus::Failed => count::Column::Failed,
        ContactStatus::Suppressed => count::Column::Suppressed,
    }
}

/// `n` contacts of the campaign moved from `from` (none: they were added) to `to`. Called in
/// the transaction of the move, which holds the campaign row's lock.
pub async fn count_moved(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    from: Option<ContactStatus>,
    to: ContactStatus,
    n: i64,
) -> Result<(), DbErr> {
    let up = count_column(to);
    let mut q = count::Entity::update_many().col_expr(up, Expr::col(up).add(n));
    if let Some(from) = from {
        let down = count_column(from);
        q = q.col_expr(down, Expr::col(down).sub(n));
    }
    q.filter(count::Column::CampaignId.eq(campaign_id)).exec(db).await?;
    Ok(())
}

/// Campaigns that should have an actor: running, or paused with dials still open.
pub async fn active_ids(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let running: Vec<String> = campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .filter(campaign::Column::Status.eq(CampaignStatus::Running))
        .into_tuple()
        .all(db)
        .await?;
    let with_open: Vec<String> = dial::Entity::find()
        .select_only()
        .column(dial::Column::CampaignId)
        .filter(dial::Column::Status.ne(DIAL_DONE))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut seen: HashSet<String> = HashSet::new();
    Ok(running
        .into_iter()
        .chain(with_open)
        .filter(|id| seen.insert(id.clone()))
        .collect())
}

// -------------------------------------------------------------------------------------------
// The actor's lease
// -------------------------------------------------------------------------------------------

/// Takes the lease (epoch + 1) when it is free, expired, this node's, or (`single_node`,
/// SQLite) held by a process that no longer runs.
pub async fn claim(
    db: &DatabaseConnection,
    id: &str,
    node: &str,
    lease: Duration,
    single_node: bool,
) -> Result<Option<i64>, DbErr> {
    let now = Utc::now();
    let mut free = Condition::any()
        .add(campaign::Column::LeaseUntil.is_null())
        .add(campaign::Column::LeaseUntil.lt(now))
        .add(campaign::Column::OwnerNode.eq(node));
    if single_node {
        free = free.add(campaign::Column::OwnerNode.ne(node));
    }
    let res = campaign::Entity::update_many()
        .col_expr(
            campaign::Column::OwnerEpoch,
            Expr::col(campaign::Column::OwnerEpoch).add(1),
        )
        .col_expr(campaign::Column::OwnerNode, Expr::value(node))
        .col_expr(campaign::Column::LeaseUntil, Expr::value(now + lease))
        .filter(campaign::Column::Id.eq(id))
        .filter(free)
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(campaign::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|c| c.owner_node.as_deref() == Some(node))
        .map(|c| c.owner_epoch))
}

/// Extends the lease while `epoch` is the campaign's; everything else the actor writes is
/// in the same transaction as this.
pub async fn fence(db: &impl ConnectionTrait, id: &str, epoch: i64, lease: Duration) -> Result<(), FenceError> {
    let res = campaign::Entity::update_many()
        .col_expr(campaign::Column::LeaseUntil, Expr::value(Utc::now() + lease))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::OwnerEpoch.eq(epoch))
        .exec(db)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(FenceError::Fenced)
    }
}

/// Renews the lease and reads the campaign (`None`: deleted).
pub async fn renew(
    db: &DatabaseConnection,
    id: &str,
    epoch: i64,
    lease: Duration,
) -> Result<Option<campaign::Model>, FenceError> {
    match fence(db, id, epoch, lease).await {
        Ok(()) => Ok(campaign::Entity::find_by_id(id).one(db).await?),
        Err(FenceError::Fenced) => {
            if campaign::Entity::find_by_id(id).one(db).await?.is_none() {
                Ok(None)
            } else {
                Err(FenceError::Fenced)
            }
        }
        Err(e) => Err(e),
    }
}

pub async fn release(db: &DatabaseConnection, id: &str, epoch: i64) -> Result<(), DbErr> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::OwnerEpoch.eq(epoch))
        .exec(db)
        .await?;
    Ok(())
}

/// Runs `f` in a transaction that first checks (and extends) the lease.
///
/// # Errors
/// [`FenceError::Fenced`] when the epoch moved; nothing is written then.
pub async fn fenced<T, F>(db: &DatabaseConnection, id: &str, epoch: i64, lease: Duration, f: F) -> Result<T, FenceError>
where
    F: for<'c> FnOnce(
            &'c sea_orm::DatabaseTransaction,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DbErr>> + Send + 'c>>
        + Send,
    T: Send,
{
    let txn = crate::store::begin(db).await?;
    fence(&txn, id, epoch, lease).await?;
    let out = f(&txn).await?;
    txn.commit().await?;
    Ok(out)
}

/// Closes a call row that never reached the carrier (its actor could not start).
pub async fn fail_open_call(db: &impl ConnectionTrait, call_id: &str, reason: &str) -> Result<(), DbErr> {
    let now = Utc::now();
    call::Entity::update_many()
        .col_expr(call::Column::Status, Expr::value(CallStatus::Failed))
        .col_expr(call::Column::EndReason, Expr::value(reason))
        .col_expr(call::Column::EndedAt, Expr::value(now))
        .col_expr(call::Column::UpdatedAt, Expr::value(now))
        .filter(call::Column::Id.eq(call_id))
        .filter(call::Column::Status.is_in(CallStatus::OPEN))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes the campaign row's write lock first thing in a transaction (a no-op update): on
/// SQLite a transaction that reads before it writes fails when another connection wrote
/// meanwhile, and on PostgreSQL concurrent changes of one campaign queue up here. False
/// when the organisation has no such campaign.
pub async fn lock(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    let res = campaign::Entity::update_many()
        .col_expr(campaign::Column::OwnerEpoch, Expr::col(campaign::Column::OwnerEpoch))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
