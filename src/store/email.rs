//! Email queries: domains, threads, messages, the suppression list and provider events,
//! scoped to the organisation — except the lookups a provider's webhook makes (by domain
//! name, provider email id and thread token), which find the organisation.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    prelude::*,
    sea_query::{ExprTrait, OnConflict},
};
use thruai_entities::{agent, email_domain, email_message, email_suppression, email_thread, provider_event};

use crate::domain::ids;

// ---- domains

pub async fn insert_domain(db: &impl ConnectionTrait, row: email_domain::Model) -> Result<email_domain::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save_domain(db: &impl ConnectionTrait, row: email_domain::Model) -> Result<email_domain::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_domain(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<email_domain::Model>, DbErr> {
    email_domain::Entity::find_by_id(id)
        .filter(email_domain::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

/// The domain of that name, whichever organisation holds it.
pub async fn domain_named(db: &impl ConnectionTrait, name: &str) -> Result<Option<email_domain::Model>, DbErr> {
    email_domain::Entity::find()
        .filter(email_domain::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn domain_by_provider_id(
    db: &impl ConnectionTrait,
    provider_domain_id: &str,
) -> Result<Option<email_domain::Model>, DbErr> {
    email_domain::Entity::find()
        .filter(email_domain::Column::ProviderDomainId.eq(provider_domain_id))
        .one(db)
        .await
}

pub async fn list_domains(
    db: &impl ConnectionTrait,
    org_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<email_domain::Model>, u64), DbErr> {
    let q = email_domain::Entity::find().filter(email_domain::Column::OrgId.eq(org_id));
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(email_domain::Column::CreatedAt)
        .order_by_asc(email_domain::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn delete_domain(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<(), DbErr> {
    email_domain::Entity::delete_many()
        .filter(email_domain::Column::Id.eq(id))
        .filter(email_domain::Column::OrgId.eq(org_id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- mailboxes

/// The organisation's agents that have a mailbox (on `domain_id`, when given).
pub async fn agents_with_mailbox(
    db: &impl ConnectionTrait,
    org_id: &str,
    domain_id: Option<&str>,
) -> Result<Vec<agent::Model>, DbErr> {
    let rows = agent::Entity::find()
        .filter(agent::Column::OrgId.eq(org_id))
        .filter(agent::Column::EmailConfig.is_not_null())
        .order_by_asc(agent::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|a| {
            a.email_config
                .as_ref()
                .is_some_and(|m| !m.address.is_empty() && domain_id.is_none_or(|d| m.domain_id == d))
        })
        .collect())
}

/// Removes the mailbox of each agent.
pub async fn clear_mailboxes(db: &impl ConnectionTrait, agent_ids: &[String]) -> Result<(), DbErr> {
    if agent_ids.is_empty() {
        return Ok(());
    }
    agent::Entity::update_many()
        .col_expr(
            agent::Column::EmailConfig,
            Expr::value(Option::<serde_json::Value>::None),
        )
        .col_expr(agent::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(agent::Column::Id.is_in(agent_ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

// ---- threads

pub async fn insert_thread(db: &impl ConnectionTrait, row: email_thread::Model) -> Result<email_thread::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn find_thread(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<email_thread::Model>, DbErr> {
    email_thread::Entity::find_by_id(id)
        .filter(email_thread::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

pub async fn thread_by_token(
    db: &impl ConnectionTrait,
    org_id: &str,
    token: &str,
) -> Result<Option<email_thread::Model>, DbErr> {
    email_thread::Entity::find()
        .filter(email_thread::Column::Token.eq(token))
        .filter(email_thread::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

/// The latest thread with this counterpart and subject active since `since`.
pub async fn thread_by_subject(
    db: &impl ConnectionTrait,
    org_id: &str,
    counterpart: &str,
    subject_norm: &str,
    since: DateTime<Utc>,
) -> Result<Option<email_thread::Model>, DbErr> {
    email_thread::Entity::find()
        .filter(email_thread::Column::OrgId.eq(org_id))
        .filter(email_thread::Column::Counterpart.eq(counterpart))
        .filter(email_thread::Column::SubjectNorm.eq(subject_norm))
        .filter(email_thread::Column::LastMessageAt.gte(since))
        .order_by_desc(email_thread::Column::LastMessageAt)
        .one(db)
        .await
}

#[derive(Debug, Default)]
pub struct ThreadFilter {
    pub status: Option<String>,
    pub agent_id: Option<String>,
}

pub async fn list_threads(
    db: &impl ConnectionTrait,
    org_id: &str,
    filter: &ThreadFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<email_thread::Model>, u64), DbErr> {
    let mut q = email_thread::Entity::find().filter(email_thread::Column::OrgId.eq(org_id));
    if let Some(s) = &filter.status {
        q = q.filter(email_thread::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = &filter.agent_id {
        q = q.filter(email_thread::Column::AgentId.eq(a.as_str()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(email_thread::Column::LastMessageAt)
        .order_by_desc(email_thread::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Counts a new message on its thread: `open` when the counterpart spoke last, `waiting`
/// when we did.
pub async fn touch_thread(
    db: &impl ConnectionTrait,
    thread_id: &str,
    inbound: bool,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    email_thread::Entity::update_many()
        .col_expr(
            email_thread::Column::MessageCount,
            Expr::col(email_thread::Column::MessageCount).add(1),
        )
        .col_expr(email_thread::Column::LastMessageAt, Expr::value(at))
        .col_expr(
            email_thread::Column::Status,
            Expr::value(if inbound { "open" } else { "waiting" }),
        )
        .col_expr(email_thread::Column::UpdatedAt, Expr::value(at))
        .filter(email_thread::Column::Id.eq(thread_id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- messages

pub async fn insert_message(
    db: &impl ConnectionTrait,
    row: email_message::Model,
) -> Result<email_message::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save_message(db: &impl ConnectionTrait, row: email_message::Model) -> Result<email_message::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_message(db: &impl ConnectionTrait, id: &str) -> Result<Option<email_message::Model>, DbErr> {
    email_message::Entity::find_by_id(id).one(db).await
}

/// The outbound message the provider knows by `provider_email_id`.
pub async fn by_provider_id(
    db: &impl ConnectionTrait,
    provider_email_id: &str,
) -> Result<Option<email_message::Model>, DbErr> {
    email_message::Entity::find()
        .filter(email_message::Column::ProviderEmailId.eq(provider_email_id))
        .filter(email_message::Column::Direction.eq("outbound"))
        .one(db)
        .await
}

/// The first of the organisation's messages known by one of these Message-IDs (ours or
/// the one the provider sent with).
pub async fn by_message_ids(
    db: &impl ConnectionTrait,
    org_id: &str,
    message_ids: &[String],
) -> Result<Option<email_message::Model>, DbErr> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    email_message::Entity::find()
        .filter(email_message::Column::OrgId.eq(org_id))
        .filter(
            Condition::any()
                .add(email_message::Column::MessageId.is_in(message_ids.iter().cloned()))
                .add(email_message::Column::ProviderMessageId.is_in(message_ids.iter().cloned())),
        )
        .order_by_desc(email_message::Column::CreatedAt)
        .one(db)
        .await
}

#[derive(Debug, Default)]
pub struct MessageFilter {
    pub thread_id: Option<String>,
    pub agent_id: Option<String>,
    pub status: Option<String>,
    pub direction: Option<String>,
}

/// Newest first, unless it is one thread's (oldest first, as it reads).
pub async fn list_messages(
    db: &impl ConnectionTrait,
    org_id: &str,
    filter: &MessageFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<email_message::Model>, u64), DbErr> {
    let mut q = email_message::Entity::find().filter(email_message::Column::OrgId.eq(org_id));
    if let Some(t) = &filter.thread_id {
        q = q.filter(email_message::Column::ThreadId.eq(t.as_str()));
    }
    if let Some(a) = &filter.agent_id {
        q = q.filter(email_message::Column::AgentId.eq(a.as_str()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(email_message::Column::Status.eq(s.as_str()));
    }
    if let Some(d) = &filter.direction {
        q = q.filter(email_message::Column::Direction.eq(d.as_str()));
    }
    let total = q.clone().count(db).await?;
    let q = if filter.thread_id.is_some() {
        q.order_by_asc(email_message::Column::CreatedAt)
            .order_by_asc(email_message::Column::Id)
    } else {
        q.order_by_desc(email_message::Column::CreatedAt)
            .order_by_desc(email_message::Column::Id)
    };
    let rows = q.offset(offset).limit(limit).all(db).await?;
    Ok((rows, total))
}

/// The thread's messages, oldest first (at most `limit`, the latest ones).
pub async fn thread_history(
    db: &impl ConnectionTrait,
    thread_id: &str,
    limit: u64,
) -> Result<Vec<email_message::Model>, DbErr> {
    let mut rows = email_message::Entity::find()
        .filter(email_message::Column::ThreadId.eq(thread_id))
        .order_by_desc(email_message::Column::CreatedAt)
        .order_by_desc(email_message::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows)
}

/// Messages the agent wrote on its own in the thread since `since`.
pub async fn auto_replies_since(
    db: &impl ConnectionTrait,
    thread_id: &str,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    email_message::Entity::find()
        .filter(email_message::Column::ThreadId.eq(thread_id))
        .filter(email_message::Column::AutoReply.eq(true))
        .filter(email_message::Column::CreatedAt.gte(since))
        .count(db)
        .await
}

/// Inbound messages still waiting for their agent's answer (a restart interrupted them).
pub async fn pending_replies(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<email_message::Model>, DbErr> {
    email_message::Entity::find()
        .filter(email_message::Column::ReplyStatus.eq("pending"))
        .order_by_asc(email_message::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

// ---- suppression list

/// Adds the address (lower case) to the organisation's suppression list, once.
pub async fn suppress(
    db: &impl ConnectionTrait,
    org_id: &str,
    address: &str,
    reason: &str,
    message_id: Option<&str>,
) -> Result<(), DbErr> {
    email_suppression::Entity::insert(email_suppression::ActiveModel {
        id: Set(ids::new_id(ids::EMAIL_SUPPRESSION)),
        org_id: Set(org_id.to_string()),
        address: Set(address.to_ascii_lowercase()),
        reason: Set(reason.to_string()),
        message_id: Set(message_id.map(str::to_string)),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([email_suppression::Column::OrgId, email_suppression::Column::Address])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Which of these addresses (lower case) the organisation no longer sends to.
pub async fn suppressed(
    db: &impl ConnectionTrait,
    org_id: &str,
    addresses: &[String],
) -> Result<Vec<email_suppression::Model>, DbErr> {
    if addresses.is_empty() {
        return Ok(Vec::new());
    }
    email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(org_id))
        .filter(email_suppression::Column::Address.is_in(addresses.iter().map(|a| a.to_ascii_lowercase())))
        .all(db)
        .await
}

// ---- provider events

/// Records a provider's event id; `false` when it was already recorded (a replay).
pub async fn first_time(db: &impl ConnectionTrait, provider: &str, event_id: &str, kind: &str) -> Result<bool, DbErr> {
    let inserted = provider_event::Entity::insert(provider_event::ActiveModel {
        provider: Set(provider.to_string()),
        event_id: Set(event_id.to_string()),
        event_type: Set(kind.to_string()),
        received_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([provider_event::Column::Provider, provider_event::Column::EventId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// Whether a provider's event id was already applied.
pub async fn seen(db: &impl ConnectionTrait, provider: &str, event_id: &str) -> Result<bool, DbErr> {
    Ok(
        provider_event::Entity::find_by_id((provider.to_string(), event_id.to_string()))
            .one(db)
            .await?
            .is_some(),
    )
}
