//! Knowledge, the use cases: crawl jobs (`crawl.rs`), documents added directly and the
//! chunk-and-embed path both share (`ingest.rs`), and hybrid retrieval over an in-memory
//! index per organisation (`search.rs`). A worker started with the server runs queued crawls,
//! resumes those a stopped process left running, and re-embeds chunks of another model.

mod crawl;
mod fetch;
mod ingest;
mod rag;
mod search;

use std::{sync::Arc, time::Duration};

use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub use self::{
    crawl::CrawlRequest,
    ingest::DocumentIn,
    search::{Hit, Mode, QueryIn, Results},
};
use crate::{
    config::KnowledgeSettings,
    domain::knowledge::chunk::ChunkSizes,
    error::{CodedError, ErrorCode, db_code},
    net::ssrf::{SsrfError, UrlGuard},
    providers::embeddings::{EmbedError, Embedder},
    store,
};

/// The knowledge service.
#[derive(Clone)]
pub struct Knowledge {
    db: DatabaseConnection,
    settings: Arc<KnowledgeSettings>,
    embedder: Arc<dyn Embedder>,
    guard: UrlGuard,
    /// The guarded client (no redirects: the crawler follows them itself, hop by hop).
    http: reqwest::Client,
    index: Arc<search::IndexCache>,
    hosts: Arc<fetch::Hosts>,
    /// Wakes the worker when a crawl is queued.
    wake: Arc<Notify>,
    /// Set by `shutdown`: the worker and running crawls stop where they are.
    stop: Arc<Stop>,
}

/// A stop signal that also reaches those who start waiting after it was given.
#[derive(Default)]
struct Stop {
    given: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl Stop {
    async fn wait(&self) {
        let notified = self.notify.notified();
        if !self.given.load(std::sync::atomic::Ordering::SeqCst) {
            notified.await;
        }
    }
}

impl Knowledge {
    pub fn new(
        db: DatabaseConnection,
        settings: KnowledgeSettings,
        embedder: Arc<dyn Embedder>,
        guard: UrlGuard,
        http: reqwest::Client,
    ) -> Self {
        let index = Arc::new(search::IndexCache::new(settings.cached_indexes));
        Self {
            db,
            settings: Arc::new(settings),
            embedder,
            guard,
            http,
            index,
            hosts: Arc::default(),
            wake: Arc::default(),
            stop: Arc::default(),
        }
    }

    fn sizes(&self) -> ChunkSizes {
        ChunkSizes {
            min: self.settings.chunk_min_chars,
            target: self.settings.chunk_target_chars,
            max: self.settings.chunk_max_chars,
            overlap: self.settings.chunk_overlap_chars,
        }
    }

    /// The embedding model in use (`name@revision/dimensions`).
    pub fn model(&self) -> &str {
        self.embedder.identity()
    }

    /// An agent of the organisation, or `NotFound`.
    async fn check_agent(&self, org_id: &str, agent_id: Option<&str>) -> Result<(), KnowledgeError> {
        if let Some(id) = agent_id
            && store::agents::find(&self.db, org_id, id).await?.is_none()
        {
            return Err(KnowledgeError::NotFound("Agent", id.to_string()));
        }
        Ok(())
    }

    /// Starts the worker: queued and interrupted crawls, and re-embedding after a change of
    /// model.
    pub fn start(&self) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let poll = Duration::from_millis(this.settings.poll_ms.max(10));
            // The model only changes with the settings: once nothing is left to re-embed,
            // the search for it stops (it would scan the chunks every pass).
            let mut reembedding = true;
            loop {
                if this.stop.given.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                this.run_due_crawls().await;
                if reembedding {
                    match this.reembed_pass().await {
                        Ok(0) => reembedding = false,
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "re-embedding knowledge chunks failed; retried next pass"),
                    }
                }
                tokio::select! {
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    () = this.stop.wait() => return,
                }
            }
        });
    }

    /// Stops the worker, and running crawls where they are (left `running`: the next
    /// process resumes them once their heartbeat is stale).
    pub fn shutdown(&self) {
        self.stop.given.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop.notify.notify_waiters();
    }

    /// Re-embeds up to a batch of chunks made by another model than the one in use.
    async fn reembed_pass(&self) -> Result<usize, KnowledgeError> {
        let identity = self.embedder.identity().to_string();
        let rows = store::knowledge::chunks_not_embedded_by(&self.db, &identity, 256).await?;
        let n = rows.len();
        let mut by_org: std::collections::BTreeMap<String, Vec<_>> = std::collections::BTreeMap::new();
        for r in rows {
            by_org.entry(r.org_id.clone()).or_default().push(r);
        }
        for (org, rows) in by_org {
            let texts: Vec<String> = rows
                .iter()
                .map(|r| crate::domain::knowledge::indexed_text(&r.title, &r.heading_path, &r.text))
                .collect();
            let vectors = self.embedder.embed(&texts).await?;
            let updates = rows
                .into_iter()
                .zip(vectors)
                .map(|(r, v)| (r.id, crate::providers::embeddings::to_bytes(&v)))
                .collect();
            store::knowledge::set_embeddings(&self.db, &org, updates, &identity).await?;
        }
        Ok(n)
    }
}

/// Why a knowledge use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("{0} '{1}' not found")]
    NotFound(&'static str, String),
    #[error("Validation failed: {field}: {message}")]
    Field { field: String, message: String },
    #[error("url: {0}")]
    Url(#[from] SsrfError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl KnowledgeError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl CodedError for KnowledgeError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(..) => ErrorCode::NotFound,
            Self::Field { .. } | Self::Url(_) => ErrorCode::ValidationError,
            Self::Embed(_) => ErrorCode::UpstreamUnavailable,
            Self::Db(e) => db_code(e),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Field { field, message } => Some(json!([{ "field": field, "message": message }])),
            Self::Url(e) => Some(json!([{ "field": "url", "message": e.to_string() }])),
            _ => None,
        }
    }
}
