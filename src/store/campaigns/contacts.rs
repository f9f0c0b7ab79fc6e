//! A campaign's contacts: duplicates and opt-outs, multi-row inserts, queue positions,
//! planner statistics, lists.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, prelude::*, sea_query::Expr,
};
use thruai_actors::campaign::state::{ALL_CONTACT_STATUSES, ContactStatus};
use thruai_entities::{campaign_contact as contact, campaign_dial as dial, sms_opt_out};

use super::*;

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
