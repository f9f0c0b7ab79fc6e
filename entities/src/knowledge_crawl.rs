//! A crawl job (`KCR-…`): a start URL, its limits, its progress and a log line per page.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_crawls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub agent_id: Option<String>,
    pub url: String,
    /// `queued`, `running`, `completed`, `partial`, `failed`.
    pub status: String,
    pub max_pages: i32,
    pub max_depth: i32,
    /// Path prefixes a page must start with (JSON array of strings; empty: any).
    pub include_paths: Json,
    /// Path prefixes no page may start with (JSON array of strings).
    pub exclude_paths: Json,
    pub pages_fetched: i32,
    pub pages_unchanged: i32,
    /// Refused by robots.txt.
    pub pages_skipped: i32,
    pub pages_failed: i32,
    pub pages_removed: i32,
    pub chunks: i32,
    pub error: Option<String>,
    /// One entry per page: `{url, outcome, status?, chunks?, reason?, at}`.
    pub log: Json,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Written while the crawl runs; a `running` crawl whose heartbeat is old was
    /// interrupted.
    pub heartbeat_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
