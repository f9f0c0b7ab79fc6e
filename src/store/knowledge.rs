//! Knowledge queries: crawls, documents and chunks, scoped to the organisation, and the
//! organisation's knowledge version that every write to its chunks bumps in the same
//! transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    prelude::*,
    sea_query::{ExprTrait, OnConflict},
};
use thruai_entities::{
    knowledge_chunk as chunk, knowledge_crawl as crawl, knowledge_document as document, knowledge_version as version,
};

// ---- crawls

pub async fn insert_crawl(db: &impl ConnectionTrait, row: crawl::Model) -> Result<crawl::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save_crawl(db: &impl ConnectionTrait, row: crawl::Model) -> Result<crawl::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_crawl(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<crawl::Model>, DbErr> {
    crawl::Entity::find_by_id(id)
        .filter(crawl::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

pub async fn crawl_by_id(db: &impl ConnectionTrait, id: &str) -> Result<Option<crawl::Model>, DbErr> {
    crawl::Entity::find_by_id(id).one(db).await
}

pub async fn list_crawls(
    db: &impl ConnectionTrait,
    org_id: &str,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<crawl::Model>, u64), DbErr> {
    let mut q = crawl::Entity::find().filter(crawl::Column::OrgId.eq(org_id));
    if let Some(s) = status {
        q = q.filter(crawl::Column::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(crawl::Column::CreatedAt)
        .order_by_desc(crawl::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Crawls to run: queued ones, and running ones whose heartbeat is older than `stale`
/// (their process ended), oldest first.
pub async fn crawls_due(db: &impl ConnectionTrait, stale: DateTime<Utc>) -> Result<Vec<crawl::Model>, DbErr> {
    crawl::Entity::find()
        .filter(
            Condition::any().add(crawl::Column::Status.eq("queued")).add(
                Condition::all().add(crawl::Column::Status.eq("running")).add(
                    Condition::any()
                        .add(crawl::Column::HeartbeatAt.is_null())
                        .add(crawl::Column::HeartbeatAt.lt(stale)),
                ),
            ),
        )
        .order_by_asc(crawl::Column::CreatedAt)
        .all(db)
        .await
}

/// Takes a due crawl for this process: `running` with a fresh heartbeat, only if it is still
/// as it was read (another node or pass did not take it first).
pub async fn claim_crawl(db: &impl ConnectionTrait, row: &crawl::Model, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let mut q = crawl::Entity::update_many()
        .col_expr(crawl::Column::Status, Expr::value("running"))
        .col_expr(crawl::Column::HeartbeatAt, Expr::value(now))
        .filter(crawl::Column::Id.eq(&row.id))
        .filter(crawl::Column::Status.eq(&row.status));
    q = match row.heartbeat_at {
        Some(at) => q.filter(crawl::Column::HeartbeatAt.eq(at)),
        None => q.filter(crawl::Column::HeartbeatAt.is_null()),
    };
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// A running crawl's heartbeat (that column alone: the crawl's own writes are not undone).
pub async fn beat(db: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    crawl::Entity::update_many()
        .col_expr(crawl::Column::HeartbeatAt, Expr::value(now))
        .filter(crawl::Column::Id.eq(id))
        .filter(crawl::Column::Status.eq("running"))
        .exec(db)
        .await
        .map(|_| ())
}

// ---- documents

pub async fn document_by_key(
    db: &impl ConnectionTrait,
    org_id: &str,
    source_key: &str,
) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::SourceKey.eq(source_key))
        .one(db)
        .await
}

pub async fn find_document(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<document::Model>, DbErr> {
    document::Entity::find_by_id(id)
        .filter(document::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

pub async fn list_documents(
    db: &impl ConnectionTrait,
    org_id: &str,
    agent_id: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<document::Model>, u64), DbErr> {
    let mut q = document::Entity::find().filter(document::Column::OrgId.eq(org_id));
    if let Some(a) = agent_id {
        q = q.filter(document::Column::AgentId.eq(a));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(document::Column::CreatedAt)
        .order_by_desc(document::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The pages an agent (or the organisation, `None`) holds from URLs starting with `prefix`.
pub async fn pages_under(
    db: &impl ConnectionTrait,
    org_id: &str,
    agent_id: Option<&str>,
    prefix: &str,
) -> Result<Vec<document::Model>, DbErr> {
    let agent = match agent_id {
        Some(a) => document::Column::AgentId.eq(a),
        None => document::Column::AgentId.is_null(),
    };
    document::Entity::find()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::Kind.eq("page"))
        .filter(agent)
        .filter(document::Column::Url.starts_with(prefix))
        .all(db)
        .await
}

/// Marks a page seen by a crawl without re-chunking it (unchanged content), with the
/// validators and links of a new answer when there was one (not after a 304).
pub async fn touch_document(
    db: &impl ConnectionTrait,
    doc: document::Model,
    crawl_id: &str,
    validators: Option<(Option<String>, Option<String>, serde_json::Value)>,
) -> Result<(), DbErr> {
    let mut am = doc.into_active_model();
    am.crawl_id = Set(Some(crawl_id.to_string()));
    if let Some((etag, last_modified, links)) = validators {
        am.etag = Set(etag);
        am.last_modified = Set(last_modified);
        am.links = Set(links);
    }
    am.updated_at = Set(Utc::now());
    am.update(db).await.map(|_| ())
}

/// Writes a document and replaces its chunks, in one transaction with the version bump.
pub async fn put_document(
    db: &DatabaseConnection,
    doc: document::Model,
    chunks: Vec<chunk::Model>,
) -> Result<document::Model, DbErr> {
    let txn = super::begin(db).await?;
    let exists = document::Entity::find_by_id(&doc.id).one(&txn).await?.is_some();
    chunk::Entity::delete_many()
        .filter(chunk::Column::DocumentId.eq(&doc.id))
        .exec(&txn)
        .await?;
    let am = doc.clone().into_active_model().reset_all();
    let saved = if exists {
        am.update(&txn).await?
    } else {
        am.insert(&txn).await?
    };
    for batch in chunks.chunks(200) {
        let rows = batch.iter().cloned().map(|c| c.into_active_model().reset_all());
        chunk::Entity::insert_many(rows).exec(&txn).await?;
    }
    bump(&txn, &saved.org_id).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Deletes documents and their chunks, in one transaction with the version bump.
pub async fn delete_documents(db: &DatabaseConnection, org_id: &str, ids: &[String]) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let txn = super::begin(db).await?;
    chunk::Entity::delete_many()
        .filter(chunk::Column::OrgId.eq(org_id))
        .filter(chunk::Column::DocumentId.is_in(ids.iter().cloned()))
        .exec(&txn)
        .await?;
    let gone = document::Entity::delete_many()
        .filter(document::Column::OrgId.eq(org_id))
        .filter(document::Column::Id.is_in(ids.iter().cloned()))
        .exec(&txn)
        .await?
        .rows_affected;
    bump(&txn, org_id).await?;
    txn.commit().await?;
    Ok(gone)
}

// ---- chunks

/// The filter of `GET /knowledge/chunks`.
#[derive(Debug, Default)]
pub struct ChunkFilter {
    pub agent_id: Option<String>,
    pub crawl_id: Option<String>,
    pub document_id: Option<String>,
}

pub async fn list_chunks(
    db: &impl ConnectionTrait,
    org_id: &str,
    f: &ChunkFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<chunk::Model>, u64), DbErr> {
    let mut q = chunk::Entity::find().filter(chunk::Column::OrgId.eq(org_id));
    if let Some(a) = &f.agent_id {
        q = q.filter(chunk::Column::AgentId.eq(a));
    }
    if let Some(c) = &f.crawl_id {
        q = q.filter(chunk::Column::CrawlId.eq(c));
    }
    if let Some(d) = &f.document_id {
        q = q.filter(chunk::Column::DocumentId.eq(d));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(chunk::Column::DocumentId)
        .order_by_asc(chunk::Column::Position)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Every chunk of the organisation, in id order (the search index's rows).
pub async fn all_chunks(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<chunk::Model>, DbErr> {
    chunk::Entity::find()
        .filter(chunk::Column::OrgId.eq(org_id))
        .order_by_asc(chunk::Column::Id)
        .all(db)
        .await
}

/// Chunks embedded by another model than `identity` (to re-embed), oldest first.
pub async fn chunks_not_embedded_by(
    db: &impl ConnectionTrait,
    identity: &str,
    limit: u64,
) -> Result<Vec<chunk::Model>, DbErr> {
    chunk::Entity::find()
        .filter(chunk::Column::Model.ne(identity))
        .order_by_asc(chunk::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces chunks' embeddings (same organisation), bumping its version.
pub async fn set_embeddings(
    db: &DatabaseConnection,
    org_id: &str,
    rows: Vec<(String, Vec<u8>)>,
    identity: &str,
) -> Result<(), DbErr> {
    let txn = super::begin(db).await?;
    for (id, bytes) in rows {
        chunk::Entity::update_many()
            .col_expr(chunk::Column::Embedding, Expr::value(bytes))
            .col_expr(chunk::Column::Model, Expr::value(identity))
            .filter(chunk::Column::Id.eq(id))
            .filter(chunk::Column::OrgId.eq(org_id))
            .exec(&txn)
            .await?;
    }
    bump(&txn, org_id).await?;
    txn.commit().await
}

// ---- versions

/// The organisation's knowledge version (0: never written).
pub async fn version(db: &impl ConnectionTrait, org_id: &str) -> Result<i64, DbErr> {
    Ok(version::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .map_or(0, |v| v.version))
}

async fn bump(db: &impl ConnectionTrait, org_id: &str) -> Result<(), DbErr> {
    let row = version::ActiveModel {
        org_id: Set(org_id.to_string()),
        version: Set(1),
        updated_at: Set(Utc::now()),
    };
    version::Entity::insert(row)
        .on_conflict(
            OnConflict::column(version::Column::OrgId)
                .value(
                    version::Column::Version,
                    Expr::col((version::Entity, version::Column::Version)).add(1),
                )
                .update_column(version::Column::UpdatedAt)
                .to_owned(),
        )
        .exec(db)
        .await
        .map(|_| ())
}
