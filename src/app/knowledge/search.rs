//! Hybrid retrieval: BM25 over the chunks' text and cosine over their vectors, fused by
//! reciprocal rank. Each organisation's chunks are held in memory as one index, rebuilt when
//! its knowledge version moves (one primary-key read per query tells), so ranking is the
//! same whichever database holds the rows.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use bm25::{Embedder as Bm25Embedder, EmbedderBuilder, Language, Scorer};

use super::{Knowledge, KnowledgeError};
use crate::{
    domain::knowledge::{fuse, indexed_text},
    providers::embeddings::from_bytes,
    store::knowledge as kb,
};

/// Candidates taken from each ranking before fusion.
const CANDIDATES: usize = 50;

/// A query.
#[derive(Debug, Clone)]
pub struct QueryIn {
    pub query: String,
    pub agent_id: Option<String>,
    pub top_k: Option<u32>,
    pub min_similarity: Option<f32>,
    pub mode: Mode,
}

/// Which rankings a query uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// BM25 and vectors fused by reciprocal rank.
    #[default]
    Hybrid,
    /// BM25 alone.
    Keyword,
    /// Vectors alone.
    Semantic,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hybrid" => Some(Self::Hybrid),
            "keyword" => Some(Self::Keyword),
            "semantic" => Some(Self::Semantic),
            _ => None,
        }
    }
}

/// One ranked chunk.
#[derive(Debug, Clone)]
pub struct Hit {
    pub rank: usize,
    pub chunk_id: String,
    pub document_id: String,
    pub crawl_id: Option<String>,
    pub agent_id: Option<String>,
    pub title: String,
    pub url: Option<String>,
    pub heading_path: String,
    pub text: String,
    /// Cosine of the query and the chunk (0 when the chunk has no vector of this model).
    pub similarity: f32,
    /// The fused score.
    pub score: f32,
}

/// The answer to a query.
#[derive(Debug, Clone)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub model: String,
    pub searched: usize,
    pub took_ms: f64,
}

struct Row {
    chunk_id: String,
    document_id: String,
    crawl_id: Option<String>,
    agent_id: Option<String>,
    title: String,
    url: Option<String>,
    heading_path: String,
    text: String,
    /// Offset into `vectors` when the chunk has a vector of the model in use.
    vector: Option<usize>,
}

/// One organisation's chunks, ready to search.
struct OrgIndex {
    version: i64,
    rows: Vec<Row>,
    vectors: Vec<f32>,
    dims: usize,
    bm25: Bm25Embedder,
    scorer: Scorer<usize>,
}

impl OrgIndex {
    fn build(version: i64, chunks: Vec<thruai_entities::knowledge_chunk::Model>, identity: &str) -> Self {
        let texts: Vec<String> = chunks
            .iter()
            .map(|c| indexed_text(&c.title, &c.heading_path, &c.text))
            .collect();
        let corpus: Vec<&str> = texts.iter().map(String::as_str).collect();
        let bm25: Bm25Embedder = EmbedderBuilder::with_fit_to_corpus(Language::English, &corpus).build();
        let mut scorer = Scorer::new();
        for (i, t) in texts.iter().enumerate() {
            scorer.upsert(&i, bm25.embed(t));
        }
        let mut vectors = Vec::new();
        let mut dims = 0;
        let rows = chunks
            .into_iter()
            .map(|c| {
                let v = (c.model == identity).then(|| from_bytes(&c.embedding));
                let vector = v.filter(|v| !v.is_empty() && (dims == 0 || v.len() == dims)).map(|v| {
                    dims = v.len();
                    let at = vectors.len();
                    vectors.extend_from_slice(&v);
                    at
                });
                Row {
                    chunk_id: c.id,
                    document_id: c.document_id,
                    crawl_id: c.crawl_id,
                    agent_id: c.agent_id,
                    title: c.title,
                    url: c.url,
                    heading_path: c.heading_path,
                    text: c.text,
                    vector,
                }
            })
            .collect();
        Self {
            version,
            rows,
            vectors,
            dims,
            bm25,
            scorer,
        }
    }

    fn cosine(&self, row: &Row, q: &[f32]) -> f32 {
        row.vector.map_or(0.0, |at| {
            self.vectors[at..at + self.dims].iter().zip(q).map(|(a, b)| a * b).sum()
        })
    }
}

/// The in-memory indexes of this node, least recently used leaving first.
pub(super) struct IndexCache {
    capacity: usize,
    map: Mutex<HashMap<String, (Arc<OrgIndex>, Instant)>>,
}

impl IndexCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::default(),
        }
    }

    fn get(&self, org: &str, version: i64) -> Option<Arc<OrgIndex>> {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.get_mut(org).filter(|(i, _)| i.version == version)?;
        entry.1 = Instant::now();
        Some(entry.0.clone())
    }

    fn put(&self, org: &str, index: Arc<OrgIndex>) {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(org) {
            let oldest = map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(org.to_string(), (index, Instant::now()));
    }
}

impl Knowledge {
    async fn index_of(&self, org_id: &str) -> Result<Arc<OrgIndex>, KnowledgeError> {
        let version = kb::version(&self.db, org_id).await?;
        if let Some(index) = self.index.get(org_id, version) {
            return Ok(index);
        }
        let chunks = kb::all_chunks(&self.db, org_id).await?;
        let identity = self.embedder.identity().to_string();
        let index = tokio::task::spawn_blocking(move || OrgIndex::build(version, chunks, &identity))
            .await
            .map_err(|e| KnowledgeError::field("query", format!("index build failed: {e}")))?;
        let index = Arc::new(index);
        self.index.put(org_id, index.clone());
        Ok(index)
    }

    /// Ranks the organisation's chunks (an agent's query sees that agent's chunks and those
    /// linked to no agent).
    ///
    /// # Errors
    /// An empty query, bounds, another organisation's agent, the embedder.
    pub async fn query(&self, org_id: &str, q: QueryIn) -> Result<Results, KnowledgeError> {
        self.check_agent(org_id, q.agent_id.as_deref()).await?;
        self.search(org_id, q).await
    }

    /// [`query`](Self::query) for an agent already known to be the organisation's.
    pub(super) async fn search(&self, org_id: &str, q: QueryIn) -> Result<Results, KnowledgeError> {
        let started = Instant::now();
        let query = q.query.trim();
        if query.is_empty() {
            return Err(KnowledgeError::field("query", "must not be empty"));
        }
        if query.len() > 2000 {
            return Err(KnowledgeError::field("query", "at most 2000 characters"));
        }
        let top_k = q.top_k.unwrap_or(self.settings.default_top_k);
        if top_k == 0 || top_k > self.settings.max_top_k {
            return Err(KnowledgeError::field(
                "topK",
                format!("must be between 1 and {}", self.settings.max_top_k),
            ));
        }
        let min_similarity = q.min_similarity.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&min_similarity) {
            return Err(KnowledgeError::field("minSimilarity", "must be between 0 and 1"));
        }
        let index = self.index_of(org_id).await?;
        if index.rows.is_empty() {
            return Ok(Results {
                hits: Vec::new(),
                model: self.embedder.identity().to_string(),
                searched: 0,
                took_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }
        let vector = self
            .embedder
            .embed(&[query.to_string()])
            .await?
            .pop()
            .unwrap_or_default();
        let allowed = |row: &Row| match (&q.agent_id, &row.agent_id) {
            (Some(want), Some(has)) => want == has,
            _ => true,
        };
        let keyword: Vec<usize> = index
            .scorer
            .matches(&index.bm25.embed(query))
            .into_iter()
            .map(|d| d.id)
            .filter(|i| allowed(&index.rows[*i]))
            .take(CANDIDATES)
            .collect();
        let mut by_vector: Vec<(usize, f32)> = index
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.vector.is_some() && allowed(r))
            .map(|(i, r)| (i, index.cosine(r, &vector)))
            .collect();
        by_vector.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        by_vector.truncate(CANDIDATES);
        let semantic: Vec<usize> = by_vector.iter().map(|(i, _)| *i).collect();
        let lists: Vec<(&[usize], f32)> = match q.mode {
            Mode::Hybrid => vec![
                (&keyword, self.settings.bm25_weight),
                (&semantic, self.settings.vector_weight),
            ],
            Mode::Keyword => vec![(&keyword, 1.0)],
            Mode::Semantic => vec![(&semantic, 1.0)],
        };
        let fused = fuse(&lists, self.settings.rrf_k);
        let hits = fused
            .into_iter()
            .map(|(i, score)| (i, score, index.cosine(&index.rows[i], &vector)))
            .filter(|(_, _, sim)| *sim >= min_similarity)
            .take(top_k as usize)
            .enumerate()
            .map(|(rank, (i, score, similarity))| {
                let r = &index.rows[i];
                Hit {
                    rank: rank + 1,
                    chunk_id: r.chunk_id.clone(),
                    document_id: r.document_id.clone(),
                    crawl_id: r.crawl_id.clone(),
                    agent_id: r.agent_id.clone(),
                    title: r.title.clone(),
                    url: r.url.clone(),
                    heading_path: r.heading_path.clone(),
                    text: r.text.clone(),
                    similarity,
                    score,
                }
            })
            .collect();
        Ok(Results {
            hits,
            model: self.embedder.identity().to_string(),
            searched: index.rows.iter().filter(|r| allowed(r)).count(),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
