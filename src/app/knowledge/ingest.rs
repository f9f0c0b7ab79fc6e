//! The chunk-and-embed path: a document's Markdown is chunked under its headings, each chunk
//! embedded (with its page title and headings in front), and the document written with its
//! chunks in one transaction. Crawled pages and documents added directly take it alike.

use chrono::Utc;
use sha2::{Digest, Sha256};
use thruai_entities::{knowledge_chunk as chunk, knowledge_document as document};

use super::{Knowledge, KnowledgeError};
use crate::{
    domain::{
        ids,
        knowledge::{chunk::chunk as split, extract, indexed_text},
    },
    providers::embeddings::to_bytes,
    store::knowledge as kb,
};

/// A document's chunks are capped (a runaway page cannot fill the index).
const MAX_CHUNKS_PER_DOCUMENT: usize = 2000;

/// A document added directly (`POST /knowledge/documents`).
#[derive(Debug, Clone)]
pub struct DocumentIn {
    pub title: Option<String>,
    pub text: String,
    /// `text` or `markdown`.
    pub format: String,
    pub agent_id: Option<String>,
    /// Where the text came from, shown as the chunks' source.
    pub url: Option<String>,
}

/// What is written for one source.
pub(super) struct Source<'a> {
    pub org_id: &'a str,
    pub agent_id: Option<&'a str>,
    pub crawl_id: Option<&'a str>,
    pub kind: &'a str,
    pub url: Option<&'a str>,
    pub title: &'a str,
    pub markdown: &'a str,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub links: Vec<String>,
}

/// SHA-256 of a text, hex.
pub(super) fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The unique key of a crawled page: its agent (or none) and URL.
pub(super) fn page_key(agent_id: Option<&str>, url: &str) -> String {
    format!("{}|{url}", agent_id.unwrap_or(""))
}

impl Knowledge {
    /// Adds a text or Markdown document.
    ///
    /// # Errors
    /// Empty or oversized text, an unknown format, another organisation's agent, or the
    /// embedder failing.
    pub async fn add_document(&self, org_id: &str, input: DocumentIn) -> Result<document::Model, KnowledgeError> {
        if input.text.trim().is_empty() {
            return Err(KnowledgeError::field("text", "must not be empty"));
        }
        if input.text.len() > self.settings.max_document_bytes {
            return Err(KnowledgeError::field(
                "text",
                format!(
                    "is {} bytes; at most {}",
                    input.text.len(),
                    self.settings.max_document_bytes
                ),
            ));
        }
        if !matches!(input.format.as_str(), "text" | "markdown") {
            return Err(KnowledgeError::field("format", "must be text or markdown"));
        }
        if let Some(url) = &input.url {
            self.guard.check_url(url).map_err(KnowledgeError::Url)?;
        }
        self.check_agent(org_id, input.agent_id.as_deref()).await?;
        let fallback = input.title.clone().unwrap_or_else(|| "Untitled document".into());
        let extracted = extract::text(&input.text, &fallback);
        let title = input.title.unwrap_or(extracted.title);
        let markdown = if input.format == "text" {
            // Plain text: its lines are paragraphs; nothing in it is Markdown syntax.
            extracted
                .markdown
                .lines()
                .map(|l| l.trim_start_matches(['#', '>', '*', '-', ' ']).to_string())
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            extracted.markdown
        };
        let id = ids::new_id(ids::KNOWLEDGE_DOCUMENT);
        let source = Source {
            org_id,
            agent_id: input.agent_id.as_deref(),
            crawl_id: None,
            kind: &input.format,
            url: input.url.as_deref(),
            title: &title,
            markdown: &markdown,
            etag: None,
            last_modified: None,
            links: Vec::new(),
        };
        self.index_source(None, id.clone(), &id, &source).await
    }

    /// Deletes a document and its chunks.
    ///
    /// # Errors
    /// Not found in the organisation, or the database.
    pub async fn delete_document(&self, org_id: &str, id: &str) -> Result<document::Model, KnowledgeError> {
        let doc = kb::find_document(&self.db, org_id, id)
            .await?
            .ok_or_else(|| KnowledgeError::NotFound("Knowledge document", id.to_string()))?;
        kb::delete_documents(&self.db, org_id, std::slice::from_ref(&doc.id)).await?;
        Ok(doc)
    }

    /// Chunks, embeds and writes a source under `key` (replacing `existing`'s chunks; `id`
    /// names a new document).
    pub(super) async fn index_source(
        &self,
        existing: Option<document::Model>,
        id: String,
        key: &str,
        s: &Source<'_>,
    ) -> Result<document::Model, KnowledgeError> {
        let mut pieces = split(s.markdown, self.sizes());
        pieces.truncate(MAX_CHUNKS_PER_DOCUMENT);
        let texts: Vec<String> = pieces
            .iter()
            .map(|c| indexed_text(s.title, &c.heading_path.join(" > "), &c.text))
            .collect();
        let vectors = if texts.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed(&texts).await?
        };
        let now = Utc::now();
        let doc = document::Model {
            id: existing.as_ref().map_or(id, |d| d.id.clone()),
            org_id: s.org_id.to_string(),
            agent_id: s.agent_id.map(str::to_string),
            crawl_id: s.crawl_id.map(str::to_string),
            source_key: key.to_string(),
            url: s.url.map(str::to_string),
            title: s.title.to_string(),
            kind: s.kind.to_string(),
            content_hash: content_hash(s.markdown),
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
            links: serde_json::json!(s.links),
            chunks: i32::try_from(pieces.len()).unwrap_or(i32::MAX),
            created_at: existing.as_ref().map_or(now, |d| d.created_at),
            updated_at: now,
        };
        let identity = self.embedder.identity().to_string();
        let rows = pieces
            .into_iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (c, v))| chunk::Model {
                id: ids::new_id(ids::KNOWLEDGE_CHUNK),
                org_id: doc.org_id.clone(),
                document_id: doc.id.clone(),
                agent_id: doc.agent_id.clone(),
                crawl_id: doc.crawl_id.clone(),
                position: i32::try_from(i).unwrap_or(i32::MAX),
                title: doc.title.clone(),
                url: doc.url.clone(),
                heading_path: c.heading_path.join(" > "),
                text: c.text,
                embedding: to_bytes(&v),
                model: identity.clone(),
                created_at: now,
            })
            .collect();
        Ok(kb::put_document(&self.db, doc, rows).await?)
    }
}
