//! A source of knowledge (`KDOC-…`): a crawled page or a document added directly.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub agent_id: Option<String>,
    /// The crawl that last fetched it (pages only).
    pub crawl_id: Option<String>,
    /// Unique per organisation: the agent and the URL of a page, or the document's own id.
    pub source_key: String,
    pub url: Option<String>,
    pub title: String,
    /// `page`, `text` or `markdown`.
    pub kind: String,
    /// SHA-256 of the extracted Markdown: an unchanged page is not re-chunked.
    pub content_hash: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// A page's links to follow (JSON array of URLs): a 304 answer has no body to read
    /// them from.
    pub links: Json,
    pub chunks: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
