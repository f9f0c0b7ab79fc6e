//! Billing: organisations' accounts with the payment provider, their charges, the ledger
//! summed for statements, and the meter worker's queue.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    prelude::Expr,
    sea_query::{Alias, ExprTrait, OnConflict, Query},
};
use thruai_entities::{billing_account as account, billing_charge as charge, usage_entry};

/// The organisation's account, made (empty) on first use.
pub async fn account(db: &impl ConnectionTrait, org_id: &str) -> Result<account::Model, DbErr> {
    let now = Utc::now();
    account::Entity::insert(account::ActiveModel {
        org_id: Set(org_id.to_string()),
        customer_id: Set(None),
        subscription_id: Set(None),
        subscription_plan: Set(None),
        subscription_status: Set(None),
        period_start: Set(None),
        period_end: Set(None),
        cancel_at_period_end: Set(false),
        subscribed_at: Set(None),
        paid_through: Set(None),
        credit_micros: Set(0),
        debit_micros: Set(0),
        settled_through: Set(None),
        subscription_seen_at: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(OnConflict::column(account::Column::OrgId).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    account::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("billing account".into()))
}

pub async fn by_customer(db: &impl ConnectionTrait, customer: &str) -> Result<Option<account::Model>, DbErr> {
    account::Entity::find()
        .filter(account::Column::CustomerId.eq(customer))
        .one(db)
        .await
}

/// Saves the account's changed fields.
pub async fn save(db: &impl ConnectionTrait, mut row: account::ActiveModel) -> Result<account::Model, DbErr> {
    row.updated_at = Set(Utc::now());
    row.update(db).await
}

/// One line of a statement: a component's use in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    pub component: String,
    pub unit: String,
    pub quantity: f64,
    pub amount_micros: i64,
    pub entries: i64,
}

/// The ledger of `[from, to)`, summed by component — one aggregate query, whatever the
/// number of entries.
pub async fn usage_by_component(
    db: &impl ConnectionTrait,
    org_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<UsageLine>, DbErr> {
    // (component, unit, Σ quantity, Σ amount, entries)
    type Row = (String, String, Option<f64>, Option<i64>, i64);
    let rows: Vec<Row> = usage_entry::Entity::find()
        .select_only()
        .column(usage_entry::Column::Component)
        .column(usage_entry::Column::Unit)
        .column_as(Expr::col(usage_entry::Column::Quantity).sum(), "quantity")
        .column_as(
            Expr::col(usage_entry::Column::AmountMicros)
                .sum()
                .cast_as(Alias::new("BIGINT")),
            "amount",
        )
        .column_as(Expr::col(usage_entry::Column::Id).count(), "entries")
        .filter(usage_entry::Column::OrgId.eq(org_id))
        .filter(usage_entry::Column::OccurredAt.gte(from))
        .filter(usage_entry::Column::OccurredAt.lt(to))
        .group_by(usage_entry::Column::Component)
        .group_by(usage_entry::Column::Unit)
        .order_by_asc(usage_entry::Column::Component)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(component, unit, quantity, amount, entries)| UsageLine {
            component,
            unit,
            quantity: quantity.unwrap_or_default(),
            amount_micros: amount.unwrap_or_default(),
            entries,
        })
        .collect())
}

/// When the organisation's first ledger entry happened.
pub async fn first_usage(db: &impl ConnectionTrait, org_id: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    usage_entry::Entity::find()
        .select_only()
        .column(usage_entry::Column::OccurredAt)
        .filter(usage_entry::Column::OrgId.eq(org_id))
        .order_by_asc(usage_entry::Column::OccurredAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// A charge, written before the provider is asked (its key makes a retry the same charge).
pub async fn insert_charge(db: &impl ConnectionTrait, row: charge::Model) -> Result<charge::Model, DbErr> {
    charge::ActiveModel {
        id: Set(row.id),
        org_id: Set(row.org_id),
        amount_cents: Set(row.amount_cents),
        currency: Set(row.currency),
        description: Set(row.description),
        status: Set(row.status),
        payment_intent_id: Set(row.payment_intent_id),
        payment_method_id: Set(row.payment_method_id),
        failure_code: Set(row.failure_code),
        failure_message: Set(row.failure_message),
        idempotency_key: Set(row.idempotency_key),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
    }
    .insert(db)
    .await
}

pub async fn charge_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<charge::Model>, DbErr> {
    charge::Entity::find()
        .filter(charge::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// Charges still `pending` (their provider's answer was lost) created before `before`.
pub async fn pending_charges(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<Vec<charge::Model>, DbErr> {
    charge::Entity::find()
        .filter(charge::Column::Status.eq("pending"))
        .filter(charge::Column::CreatedAt.lt(before))
        .order_by_asc(charge::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await
}

pub async fn charge_by_intent(db: &impl ConnectionTrait, intent: &str) -> Result<Option<charge::Model>, DbErr> {
    charge::Entity::find()
        .filter(charge::Column::PaymentIntentId.eq(intent))
        .one(db)
        .await
}

/// Settles a charge with the provider's answer (call it in a transaction); a charge that
/// succeeds adds to the credit exactly once — only the settlement that moves it to
/// `succeeded` does, however many answers and events report it.
pub async fn settle_charge(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    intent: Option<&str>,
    failure: Option<(&str, &str)>,
) -> Result<Option<charge::Model>, DbErr> {
    let mut update = charge::Entity::update_many()
        .col_expr(charge::Column::Status, Expr::value(status))
        .col_expr(
            charge::Column::FailureCode,
            Expr::value(failure.map(|f| f.0.to_string())),
        )
        .col_expr(
            charge::Column::FailureMessage,
            Expr::value(failure.map(|f| f.1.to_string())),
        )
        .col_expr(charge::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(pi) = intent {
        update = update.col_expr(charge::Column::PaymentIntentId, Expr::value(pi));
    }
    let moved = update
        .filter(charge::Column::Id.eq(id))
        .filter(charge::Column::Status.ne("succeeded"))
        .exec(db)
        .await?
        .rows_affected;
    let row = charge::Entity::find_by_id(id).one(db).await?;
    if let Some(r) = &row
        && moved == 1
        && status == "succeeded"
    {
        account::Entity::update_many()
            .col_expr(
                account::Column::CreditMicros,
                Expr::col(account::Column::CreditMicros).add(r.amount_cents * 10_000),
            )
            .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(account::Column::OrgId.eq(r.org_id.as_str()))
            .exec(db)
            .await?;
    }
    Ok(row)
}

/// Ledger entries not yet reported to the meter, with their organisation's customer,
/// oldest first.
pub async fn unmetered(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<(usage_entry::Model, String)>, DbErr> {
    let with_customer = Query::select()
        .column(account::Column::OrgId)
        .from(account::Entity)
        .and_where(account::Column::CustomerId.is_not_null())
        .to_owned();
    let rows = usage_entry::Entity::find()
        .filter(usage_entry::Column::MeteredAt.is_null())
        .filter(usage_entry::Column::OrgId.in_subquery(with_customer))
        .order_by_asc(usage_entry::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?;
    let orgs: Vec<String> = rows.iter().map(|r| r.org_id.clone()).collect();
    let customers: std::collections::HashMap<String, String> = account::Entity::find()
        .filter(account::Column::OrgId.is_in(orgs))
        .filter(account::Column::CustomerId.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|a| Some((a.org_id, a.customer_id?)))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let c = customers.get(&r.org_id)?.clone();
            Some((r, c))
        })
        .collect())
}

pub async fn mark_metered(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    usage_entry::Entity::update_many()
        .col_expr(usage_entry::Column::MeteredAt, Expr::value(Some(Utc::now())))
        .filter(usage_entry::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
