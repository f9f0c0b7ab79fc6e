//! Campaign queries: CRUD scoped to the organisation, contacts in multi-row batches, and
//! the actor's queue, intent and lease operations. Every write of the actor goes through
//! [`fence`] in the same transaction: it extends the lease only while the caller's epoch is
//! still the campaign's, so an actor that lost its lease cannot change anything.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    prelude::*,
    sea_query::{Expr, ExprTrait, Func},
};
use thruai_actors::campaign::state::{ALL_CONTACT_STATUSES, ContactStatus, Counts};
use thruai_entities::{
    call, campaign, campaign_contact as contact, campaign_contact_count as count, campaign_dial as dial, sandbox_call,
    sms_opt_out,
};

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

const OPEN_CALL: [&str; 3] = ["queued", "ringing", "in_progress"];

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
        .filter(campaign::Column::Status.eq("running"))
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
// Contacts
// -------------------------------------------------------------------------------------------

/// Which of `numbers` the campaign already has.
pub async fn existing_numbers(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    numbers: &[String],
) -> Result<HashSet<String>, DbErr> {
    let q = || {
        contact::Entity::find()
            .select_only()
            .column(contact::Column::PhoneNumber)
            .filter(contact::Column::CampaignId.eq(campaign_id))
    };
    numbers_in(db, numbers, contact::Column::PhoneNumber, q).await
}

/// Which of `numbers` opted out of the organisation (STOP to any of its numbers): they are
/// the do-not-call list of campaigns.
pub async fn opted_out(db: &impl ConnectionTrait, org_id: &str, numbers: &[String]) -> Result<HashSet<String>, DbErr> {
    let q = || {
        sms_opt_out::Entity::find()
            .select_only()
            .column(sms_opt_out::Column::ContactNumber)
            .filter(sms_opt_out::Column::OrgId.eq(org_id))
    };
    numbers_in(db, numbers, sms_opt_out::Column::ContactNumber, q).await
}

/// Runs `query` (which selects `column` only) restricted to `column ∈ numbers`, and
/// returns the numbers it found.
///
/// On PostgreSQL the list goes as one comma-joined parameter, `= ANY(string_to_array(…))`,
/// one statement for the whole list: a long `IN ($2, …, $901)` of parameters is planned
/// generically after a few executions, and with table statistics that lag a bulk load the
/// generic plan took the wrong index and compared every row of the campaign with every
/// value (~0.8 s per 900 numbers at 20,000 contacts). The array form is an index condition
/// on the unique `(campaign_id, phone_number)` index whatever the statistics say. Numbers
/// are E.164 here (validated before they are stored or looked up), so they hold no comma;
/// anything else could never match a stored number and is left out. SQLite keeps `IN`
/// lists of [`IN_BATCH`] values.
async fn numbers_in<E, C, F>(
    db: &impl ConnectionTrait,
    numbers: &[String],
    column: C,
    query: F,
) -> Result<HashSet<String>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
    F: Fn() -> sea_orm::Select<E>,
{
    let mut out = HashSet::new();
    if numbers.is_empty() {
        return Ok(out);
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let joined = numbers
            .iter()
            .filter(|n| !n.is_empty() && !n.contains(','))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let found: Vec<String> = query()
            .filter(Expr::cust_with_exprs(
                "$1 = ANY(string_to_array($2, ','))",
                [column.into_expr(), Expr::val(joined)],
            ))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(found);
        return Ok(out);
    }
    for chunk in numbers.chunks(IN_BATCH) {
        let found: Vec<String> = query()
            .filter(column.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(found);
    }
    Ok(out)
}

/// The next free queue position.
///
/// The largest position is looked up per status, each the last entry of the
/// `(campaign_id, status, position)` queue index (`ORDER BY … DESC LIMIT 1`, a plan that
/// holds with stale statistics: a `MAX` planned for a queue thought empty read every entry
/// of it, ~5 ms per status a page while a list is loaded; a `MAX` over the campaign's
/// contacts alone has no index to end on at all).
pub async fn next_position(db: &impl ConnectionTrait, campaign_id: &str) -> Result<i64, DbErr> {
    let mut last: Option<i64> = None;
    for status in ALL_CONTACT_STATUSES {
        let max: Option<i64> = contact::Entity::find()
            .select_only()
            .column(contact::Column::Position)
            .filter(contact::Column::CampaignId.eq(campaign_id))
            .filter(contact::Column::Status.eq(status.as_str()))
            .order_by_desc(contact::Column::Position)
            .limit(1)
            .into_tuple()
            .one(db)
            .await?;
        last = Ord::max(last, max);
    }
    Ok(last.map_or(0, |m| m + 1))
}

/// A contact joining a campaign's queue (queued, never attempted).
#[derive(Debug, Clone)]
pub struct NewContact {
    pub id: String,
    pub position: i64,
    pub phone_number: String,
    pub name: Option<String>,
    pub custom_data: serde_json::Value,
    pub timezone: Option<String>,
}

/// Adds contacts to a campaign's queue, [`insert_batch`] rows per statement.
///
/// SQLite: multi-row `INSERT`s. PostgreSQL: each batch goes as one JSON parameter (an
/// array of `[id, position, phone, name, customData, timezone]`) expanded by
/// `jsonb_array_elements`, with what the rows share as plain parameters: a multi-row
/// `INSERT` of 1,000 rows binds 14,000 parameters, and encoding, sending and binding them
/// cost more than the insert itself.
pub async fn insert_contacts(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    org_id: &str,
    now: DateTime<Utc>,
    rows: &[NewContact],
) -> Result<(), DbErr> {
    let queued = ContactStatus::Queued.as_str();
    if !rows.is_empty() {
        count_moved(
            db,
            campaign_id,
            None,
            ContactStatus::Queued,
            i64::try_from(rows.len()).unwrap_or(i64::MAX),
        )
        .await?;
    }
    for batch in rows.chunks(insert_batch(db)) {
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            insert_contacts_pg(db, campaign_id, org_id, queued, now, batch).await?;
            continue;
        }
        let models = batch.iter().map(|c| {
            contact::Model {
                id: c.id.clone(),
                campaign_id: campaign_id.to_string(),
                org_id: org_id.to_string(),
                position: c.position,
                phone_number: c.phone_number.clone(),
                name: c.name.clone(),
                custom_data: c.custom_data.clone(),
                timezone: c.timezone.clone(),
                status: queued.to_string(),
                attempts: 0,
                next_attempt_at: None,
                last_outcome: None,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .reset_all()
        });
        contact::Entity::insert_many(models).exec_without_returning(db).await?;
    }
    Ok(())
}

const INSERT_CONTACTS_PG: &str = r#"INSERT INTO "campaign_contacts" ("id", "campaign_id", "org_id", "position",
 "phone_number", "name", "custom_data", "timezone", "status", "attempts", "next_attempt_at", "last_outcome",
 "created_at", "updated_at")
SELECT r->>0, $2, $3, (r->>1)::bigint, r->>2, r->>3, r->4, r->>5, $4, 0, NULL, NULL, $5, $5
FROM jsonb_array_elements($1::jsonb) AS r"#;

async fn insert_contacts_pg(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    org_id: &str,
    status: &str,
    now: DateTime<Utc>,
    rows: &[NewContact],
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let tuples: Vec<_> = rows
        .iter()
        .map(|c| (&c.id, c.position, &c.phone_number, &c.name, &c.custom_data, &c.timezone))
        .collect();
    let json = serde_json::to_string(&tuples).map_err(|e| DbErr::Custom(format!("contacts as JSON: {e}")))?;
    let res = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            INSERT_CONTACTS_PG,
            [
                json.into(),
                campaign_id.into(),
                org_id.into(),
                status.into(),
                now.into(),
            ],
        ))
        .await?;
    if res.rows_affected() != rows.len() as u64 {
        return Err(DbErr::Custom(format!(
            "{} of {} contacts inserted",
            res.rows_affected(),
            rows.len()
        )));
    }
    Ok(())
}

/// Whether a statistics refresh of the contacts table runs (one at a time per process).
static ANALYZING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const QUEUE_STATS_PG: &str = r#"SELECT s.n_mod_since_analyze::bigint AS changed, GREATEST(c.reltuples, 0)::bigint AS rows
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.relid = to_regclass('campaign_contacts')"#;

/// PostgreSQL: refreshes the planner's statistics of the contacts table once it changed by
/// more than half since they were taken (and 1,000 rows). Without them a freshly loaded
/// queue is planned as if it held a couple of rows: the next due contacts are then found by
/// reading and sorting the whole queue (~80 ms a dialling tick at 100,000 contacts) instead
/// of the first entries of the queue index (~0.1 ms). Autovacuum does the same, but a
/// minute or more later, and not at all where it is turned off. Returns whether it ran.
///
/// # Errors
/// When the database fails.
pub async fn refresh_queue_statistics(db: &DatabaseConnection) -> Result<bool, DbErr> {
    use std::sync::atomic::Ordering;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres || ANALYZING.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    let ran = analyze_if_stale(db).await;
    ANALYZING.store(false, Ordering::SeqCst);
    ran
}

async fn analyze_if_stale(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let pg = sea_orm::DbBackend::Postgres;
    let Some(row) = db
        .query_one_raw(sea_orm::Statement::from_string(pg, QUEUE_STATS_PG))
        .await?
    else {
        return Ok(false);
    };
    let changed: i64 = row.try_get("", "changed")?;
    let rows: i64 = row.try_get("", "rows")?;
    if changed < 1000 + rows / 2 {
        return Ok(false);
    }
    db.execute_raw(sea_orm::Statement::from_string(pg, r#"ANALYZE "campaign_contacts""#))
        .await?;
    Ok(true)
}

pub async fn list_contacts(
    db: &impl ConnectionTrait,
    org_id: &str,
    campaign_id: &str,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<contact::Model>, u64), DbErr> {
    let mut q = contact::Entity::find()
        .filter(contact::Column::OrgId.eq(org_id))
        .filter(contact::Column::CampaignId.eq(campaign_id));
    if let Some(s) = status {
        q = q.filter(contact::Column::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(contact::Column::Position)
        .order_by_asc(contact::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The dial intents of these contacts, by contact id, oldest first.
pub async fn dials_of(
    db: &impl ConnectionTrait,
    contact_ids: &[String],
) -> Result<HashMap<String, Vec<dial::Model>>, DbErr> {
    let mut out: HashMap<String, Vec<dial::Model>> = HashMap::new();
    for chunk in contact_ids.chunks(IN_BATCH) {
        let rows = dial::Entity::find()
            .filter(dial::Column::ContactId.is_in(chunk.iter().map(String::as_str)))
            .order_by_asc(dial::Column::Attempt)
            .all(db)
            .await?;
        for r in rows {
            out.entry(r.contact_id.clone()).or_default().push(r);
        }
    }
    Ok(out)
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

// -------------------------------------------------------------------------------------------
// The actor's queue and intents
// -------------------------------------------------------------------------------------------

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
        .filter(call::Column::Status.is_in(OPEN_CALL))
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
        .is_some_and(|c| c.status == "running");
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
 AND k."status" IN ('queued', 'ringing', 'in_progress')))))"#
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
    let txn = super::begin(db).await?;
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

// -------------------------------------------------------------------------------------------
// The sandbox carrier's call log
// -------------------------------------------------------------------------------------------

pub async fn sandbox_record_call(db: &impl ConnectionTrait, row: sandbox_call::Model) -> Result<(), DbErr> {
    sandbox_call::Entity::insert(row.into_active_model().reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn sandbox_call_by_intent(
    db: &impl ConnectionTrait,
    org_id: &str,
    intent_key: &str,
) -> Result<Option<sandbox_call::Model>, DbErr> {
    sandbox_call::Entity::find()
        .filter(sandbox_call::Column::OrgId.eq(org_id))
        .filter(sandbox_call::Column::IntentKey.eq(intent_key))
        .one(db)
        .await
}

/// Calls the sandbox carrier already placed to `to` for the organisation.
pub async fn sandbox_calls_to(db: &impl ConnectionTrait, org_id: &str, to: &str) -> Result<u64, DbErr> {
    sandbox_call::Entity::find()
        .filter(sandbox_call::Column::OrgId.eq(org_id))
        .filter(sandbox_call::Column::ToNumber.eq(to))
        .count(db)
        .await
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
    let txn = super::begin(db).await?;
    fence(&txn, id, epoch, lease).await?;
    let out = f(&txn).await?;
    txn.commit().await?;
    Ok(out)
}

/// Closes a call row that never reached the carrier (its actor could not start).
pub async fn fail_open_call(db: &impl ConnectionTrait, call_id: &str, reason: &str) -> Result<(), DbErr> {
    let now = Utc::now();
    call::Entity::update_many()
        .col_expr(call::Column::Status, Expr::value("failed"))
        .col_expr(call::Column::EndReason, Expr::value(reason))
        .col_expr(call::Column::EndedAt, Expr::value(now))
        .col_expr(call::Column::UpdatedAt, Expr::value(now))
        .filter(call::Column::Id.eq(call_id))
        .filter(call::Column::Status.is_in(OPEN_CALL))
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
