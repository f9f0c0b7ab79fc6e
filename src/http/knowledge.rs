//! Knowledge: crawls (`POST /knowledge/crawl`, and their progress), documents added
//! directly, hybrid search (`POST /knowledge/query`) and the chunks
//! (`GET /knowledge/chunks`). The use cases are `app::knowledge`'s.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_entities::{knowledge_chunk, knowledge_crawl, knowledge_document};

use super::{
    BASE_PATH,
    core::{
        envelope::{self, Sorted},
        extract::{Body, Ctx, ListQuery},
        route_spec::{Param, RouteSpec},
        validation::{Validate, Validator},
    },
};
use crate::{
    app::knowledge::{CrawlRequest, DocumentIn as NewDocument, Hit, Mode, QueryIn as Query},
    error::ApiResult,
    store::knowledge as kb,
};

const READ: Option<&str> = Some("agents:read");
const WRITE: Option<&str> = Some("agents:write");

// ---- wire types

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrawlIn {
    /// The start page; the crawl stays on its site, under its directory.
    pub url: String,
    /// Link the pages to this agent for RAG (otherwise every agent of the organisation
    /// retrieves them).
    pub agent_id: Option<String>,
    pub max_pages: Option<u32>,
    pub max_depth: Option<u32>,
    /// Only paths starting with one of these (`/docs`).
    pub include_paths: Option<Vec<String>>,
    /// Never paths starting with one of these.
    pub exclude_paths: Option<Vec<String>>,
}

impl Validate for CrawlIn {
    fn validate(&self, v: &mut Validator) {
        v.length("url", &self.url, 1, 2048);
    }
}

/// One page of a crawl's log.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CrawlLogEntry {
    pub url: String,
    /// `indexed`, `unchanged`, `duplicate`, `skipped`, `failed`, `removed`, `not_visited`,
    /// `resumed`, `interrupted`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CrawlOut {
    pub id: String,
    /// `queued`, `running`, `completed`, `partial` (time limit or interrupted), `failed`.
    pub status: String,
    pub url: String,
    pub agent_id: Option<String>,
    pub max_pages: i32,
    pub max_depth: i32,
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    /// Pages indexed (new or changed).
    pub pages_fetched: i32,
    /// Pages whose content had not changed since the last crawl.
    pub pages_unchanged: i32,
    /// Pages robots.txt disallowed.
    pub pages_skipped: i32,
    pub pages_failed: i32,
    /// Pages of an earlier crawl that are gone from the site.
    pub pages_removed: i32,
    pub chunks: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to follow the crawl.
    pub status_url: String,
    /// Every page's outcome (on `GET /knowledge/crawls/:id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<CrawlLogEntry>>,
}

impl CrawlOut {
    fn of(c: knowledge_crawl::Model, with_log: bool) -> Self {
        let strings = |v: &serde_json::Value| serde_json::from_value::<Vec<String>>(v.clone()).unwrap_or_default();
        Self {
            status_url: format!("{BASE_PATH}/knowledge/crawls/{}", c.id),
            log: with_log.then(|| serde_json::from_value(c.log.clone()).unwrap_or_default()),
            include_paths: strings(&c.include_paths),
            exclude_paths: strings(&c.exclude_paths),
            id: c.id,
            status: c.status,
            url: c.url,
            agent_id: c.agent_id,
            max_pages: c.max_pages,
            max_depth: c.max_depth,
            pages_fetched: c.pages_fetched,
            pages_unchanged: c.pages_unchanged,
            pages_skipped: c.pages_skipped,
            pages_failed: c.pages_failed,
            pages_removed: c.pages_removed,
            chunks: c.chunks,
            error: c.error,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QueryIn {
    pub query: String,
    /// Search this agent's knowledge (and the organisation's unlinked knowledge).
    pub agent_id: Option<String>,
    /// Results wanted (default 5).
    pub top_k: Option<u32>,
    /// Drop results whose cosine similarity to the query is lower (0–1).
    pub min_similarity: Option<f32>,
    /// `hybrid` (default: BM25 and vectors fused by reciprocal rank), `keyword` or `semantic`.
    pub mode: Option<String>,
}

impl Validate for QueryIn {
    fn validate(&self, v: &mut Validator) {
        v.length("query", self.query.trim(), 1, 2000);
        v.one_of("mode", self.mode.as_deref(), &["hybrid", "keyword", "semantic"]);
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceOut {
    pub url: Option<String>,
    pub title: String,
    pub document_id: String,
    pub crawl_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResultOut {
    pub rank: usize,
    pub chunk_id: String,
    /// Cosine similarity of the query and the chunk (0–1 in practice).
    pub similarity: f32,
    /// The fused ranking score (reciprocal rank fusion).
    pub score: f32,
    pub text: String,
    pub heading_path: String,
    pub agent_id: Option<String>,
    pub source: SourceOut,
}

impl From<Hit> for ResultOut {
    fn from(h: Hit) -> Self {
        Self {
            rank: h.rank,
            chunk_id: h.chunk_id,
            similarity: round4(h.similarity),
            score: h.score,
            text: h.text,
            heading_path: h.heading_path,
            agent_id: h.agent_id,
            source: SourceOut {
                url: h.url,
                title: h.title,
                document_id: h.document_id,
                crawl_id: h.crawl_id,
            },
        }
    }
}

fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueryOut {
    pub query: String,
    pub results: Vec<ResultOut>,
    /// The embedding model (`name@revision/dimensions`).
    pub model: String,
    /// Chunks searched.
    pub searched: usize,
    pub took_ms: f64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChunkOut {
    pub id: String,
    pub document_id: String,
    pub crawl_id: Option<String>,
    pub agent_id: Option<String>,
    pub position: i32,
    pub heading_path: String,
    pub text: String,
    pub model: String,
    pub source: SourceOut,
    pub created_at: DateTime<Utc>,
}

impl From<knowledge_chunk::Model> for ChunkOut {
    fn from(c: knowledge_chunk::Model) -> Self {
        Self {
            source: SourceOut {
                url: c.url,
                title: c.title,
                document_id: c.document_id.clone(),
                crawl_id: c.crawl_id.clone(),
            },
            id: c.id,
            document_id: c.document_id,
            crawl_id: c.crawl_id,
            agent_id: c.agent_id,
            position: c.position,
            heading_path: c.heading_path,
            text: c.text,
            model: c.model,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentIn {
    /// Defaults to the first `# ` heading.
    pub title: Option<String>,
    pub text: String,
    /// `markdown` (default) or `text`.
    pub format: Option<String>,
    pub agent_id: Option<String>,
    /// Where the text comes from, shown as the source of its chunks.
    pub url: Option<String>,
}

impl Validate for DocumentIn {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("title", self.title.as_deref(), 1, 500);
        v.one_of("format", self.format.as_deref(), &["markdown", "text"]);
        v.opt_length("url", self.url.as_deref(), 1, 2048);
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DocumentOut {
    pub id: String,
    pub title: String,
    /// `page` (crawled), `markdown` or `text`.
    pub kind: String,
    pub url: Option<String>,
    pub agent_id: Option<String>,
    pub crawl_id: Option<String>,
    pub chunks: i32,
    pub content_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<knowledge_document::Model> for DocumentOut {
    fn from(d: knowledge_document::Model) -> Self {
        Self {
            id: d.id,
            title: d.title,
            kind: d.kind,
            url: d.url,
            agent_id: d.agent_id,
            crawl_id: d.crawl_id,
            chunks: d.chunks,
            content_hash: d.content_hash,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDeletedOut {
    pub id: String,
    pub deleted: bool,
    pub message: String,
}

// ---- handlers

pub async fn start_crawl(ctx: Ctx, Body(input): Body<CrawlIn>) -> ApiResult<HttpResponse> {
    let req = CrawlRequest {
        url: input.url,
        agent_id: input.agent_id,
        max_pages: input.max_pages,
        max_depth: input.max_depth,
        include_paths: input.include_paths.unwrap_or_default(),
        exclude_paths: input.exclude_paths.unwrap_or_default(),
    };
    let row = ctx.state.knowledge.start_crawl(ctx.org(), req).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::ACCEPTED, &Sorted(CrawlOut::of(row, false)))
        .await
}

pub async fn list_crawls(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of("status", &["queued", "running", "completed", "partial", "failed"])?;
    let (rows, total) = kb::list_crawls(ctx.db(), ctx.org(), status.as_deref(), page.offset(), page.page_size).await?;
    let items: Vec<CrawlOut> = rows.into_iter().map(|c| CrawlOut::of(c, false)).collect();
    Ok(envelope::list("crawls", &items, page.info(total)))
}

pub async fn get_crawl(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = ctx.state.knowledge.crawl(ctx.org(), &id).await?;
    Ok(envelope::ok(&Sorted(CrawlOut::of(row, true))))
}

pub async fn query(ctx: Ctx, Body(input): Body<QueryIn>) -> ApiResult<HttpResponse> {
    let q = Query {
        query: input.query.clone(),
        agent_id: input.agent_id,
        top_k: input.top_k,
        min_similarity: input.min_similarity,
        mode: input.mode.as_deref().and_then(Mode::parse).unwrap_or_default(),
    };
    let found = ctx.state.knowledge.query(ctx.org(), q).await?;
    let out = QueryOut {
        query: input.query,
        results: found.hits.into_iter().map(Into::into).collect(),
        model: found.model,
        searched: found.searched,
        took_ms: (found.took_ms * 1000.0).round() / 1000.0,
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn list_chunks(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let owned = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_string);
    let filter = kb::ChunkFilter {
        agent_id: owned("agentId"),
        crawl_id: owned("crawlId"),
        document_id: owned("documentId"),
    };
    let (rows, total) = kb::list_chunks(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<ChunkOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("chunks", &items, page.info(total)))
}

pub async fn add_document(ctx: Ctx, Body(input): Body<DocumentIn>) -> ApiResult<HttpResponse> {
    let doc = NewDocument {
        title: input.title,
        text: input.text,
        format: input.format.unwrap_or_else(|| "markdown".into()),
        agent_id: input.agent_id,
        url: input.url,
    };
    let row = ctx.state.knowledge.add_document(ctx.org(), doc).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(DocumentOut::from(row)))
        .await
}

pub async fn list_documents(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let agent = q.get("agentId").filter(|s| !s.is_empty());
    let (rows, total) = kb::list_documents(ctx.db(), ctx.org(), agent, page.offset(), page.page_size).await?;
    let items: Vec<DocumentOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("documents", &items, page.info(total)))
}

pub async fn delete_document(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let gone = ctx.state.knowledge.delete_document(ctx.org(), &id).await?;
    let out = DocumentDeletedOut {
        message: format!(
            "Knowledge document '{}' and its {} chunks deleted",
            gone.title, gone.chunks
        ),
        id: gone.id,
        deleted: true,
    };
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &Sorted(out)).await
}

const CHUNK_FILTERS: &[Param] = &[
    Param {
        name: "agentId",
        ty: "string",
        description: "Only chunks linked to this agent",
    },
    Param {
        name: "crawlId",
        ty: "string",
        description: "Only chunks of pages last fetched by this crawl (KCR-…)",
    },
    Param {
        name: "documentId",
        ty: "string",
        description: "Only this document's chunks (KDOC-…)",
    },
];

const CRAWL_FILTERS: &[Param] = &[Param {
    name: "status",
    ty: "string",
    description: "queued, running, completed, partial or failed",
}];

const DOCUMENT_FILTERS: &[Param] = &[Param {
    name: "agentId",
    ty: "string",
    description: "Only documents linked to this agent",
}];

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/knowledge/crawl",
            "knowledge",
            "crawl_knowledge",
            "Crawl a website URL and index content into the knowledge base. Optionally link to an agent for RAG.",
            |r| r.to(start_crawl),
        )
        .key(WRITE)
        .body::<CrawlIn>()
        .example(|| json!({ "url": "https://help.example.com/", "maxPages": 50, "maxDepth": 3 }))
        .returns::<CrawlOut>(),
        RouteSpec::new(
            M::GET,
            "/knowledge/crawls",
            "knowledge",
            "list_knowledge_crawls",
            "List crawls with their status and counters, newest first",
            |r| r.to(list_crawls),
        )
        .key(READ)
        .extension()
        .query(CRAWL_FILTERS)
        .returns_list::<CrawlOut>("crawls"),
        RouteSpec::new(
            M::GET,
            "/knowledge/crawls/:id",
            "knowledge",
            "get_knowledge_crawl",
            "Get a crawl's status, counters and per-page log",
            |r| r.to(get_crawl),
        )
        .key(READ)
        .extension()
        .returns::<CrawlOut>(),
        RouteSpec::new(
            M::POST,
            "/knowledge/query",
            "knowledge",
            "query_knowledge",
            "Semantic search against the knowledge base. Returns ranked chunks with similarity scores.",
            |r| r.to(query),
        )
        .key(READ)
        .body::<QueryIn>()
        .example(|| json!({ "query": "How long do refunds take?", "topK": 3 }))
        .returns::<QueryOut>(),
        RouteSpec::new(
            M::GET,
            "/knowledge/chunks",
            "knowledge",
            "list_knowledge_chunks",
            "List knowledge chunks with pagination. Optionally filter by agent or crawl ID.",
            |r| r.to(list_chunks),
        )
        .key(READ)
        .query(CHUNK_FILTERS)
        .returns_list::<ChunkOut>("chunks"),
        RouteSpec::new(
            M::POST,
            "/knowledge/documents",
            "knowledge",
            "add_knowledge_document",
            "Add a Markdown or plain-text document to the knowledge base (chunked and embedded at once)",
            |r| r.to(add_document),
        )
        .key(WRITE)
        .extension()
        .body::<DocumentIn>()
        .example(|| json!({ "title": "Refund policy", "text": "# Refunds\n\nRefunds reach your card within 5 working days.", "format": "markdown" }))
        .returns::<DocumentOut>(),
        RouteSpec::new(
            M::GET,
            "/knowledge/documents",
            "knowledge",
            "list_knowledge_documents",
            "List knowledge documents (crawled pages and documents added directly)",
            |r| r.to(list_documents),
        )
        .key(READ)
        .extension()
        .query(DOCUMENT_FILTERS)
        .returns_list::<DocumentOut>("documents"),
        RouteSpec::new(
            M::DELETE,
            "/knowledge/documents/:id",
            "knowledge",
            "delete_knowledge_document",
            "Delete a knowledge document and its chunks",
            |r| r.to(delete_document),
        )
        .key(WRITE)
        .extension()
        .returns::<DocumentDeletedOut>(),
    ]
}
