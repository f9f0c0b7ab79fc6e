//! `[knowledge]`: embeddings, the crawler's limits and politeness, chunk sizes and ranking.

use serde::Deserialize;

/// Knowledge: embeddings, the crawler's limits and politeness, chunk sizes and ranking.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeSettings {
    pub embedder: String,
    pub openai_model: String,
    pub openai_dimensions: u32,
    pub embed_timeout_ms: u64,
    pub user_agent: String,
    pub default_max_pages: u32,
    pub max_pages_limit: u32,
    pub default_max_depth: u32,
    pub max_depth_limit: u32,
    pub page_max_bytes: usize,
    pub page_timeout_ms: u64,
    pub crawl_timeout_secs: u64,
    pub fetch_delay_ms: u64,
    pub max_crawl_delay_ms: u64,
    pub concurrent_crawls: usize,
    pub poll_ms: u64,
    pub stale_after_ms: u64,
    pub chunk_min_chars: usize,
    pub chunk_target_chars: usize,
    pub chunk_max_chars: usize,
    pub chunk_overlap_chars: usize,
    pub max_document_bytes: usize,
    pub rrf_k: f32,
    pub bm25_weight: f32,
    pub vector_weight: f32,
    pub default_top_k: u32,
    pub max_top_k: u32,
    pub rag_top_k: u32,
    pub rag_min_similarity: f32,
    pub cached_indexes: usize,
}

impl KnowledgeSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        let k = self;
        if !matches!(k.embedder.as_str(), "local" | "openai") {
            return Err(format!("knowledge.embedder: {:?} is not local or openai", k.embedder));
        }
        if k.chunk_overlap_chars >= k.chunk_target_chars
            || k.chunk_target_chars > k.chunk_max_chars
            || k.chunk_min_chars > k.chunk_max_chars
        {
            return Err("knowledge.chunk_*: need overlap < target <= max and min <= max".into());
        }
        if k.default_max_pages == 0
            || k.default_max_pages > k.max_pages_limit
            || k.default_max_depth > k.max_depth_limit
        {
            return Err(
                "knowledge: default_max_pages must be in 1..=max_pages_limit and default_max_depth <= max_depth_limit"
                    .into(),
            );
        }
        if k.rag_top_k == 0 || k.rag_top_k > k.max_top_k || !(0.0..=1.0).contains(&k.rag_min_similarity) {
            return Err("knowledge: rag_top_k must be in 1..=max_top_k and rag_min_similarity in 0..=1".into());
        }
        if k.default_top_k == 0 || k.default_top_k > k.max_top_k || k.concurrent_crawls == 0 || k.cached_indexes == 0 {
            return Err(
                "knowledge: default_top_k must be in 1..=max_top_k; concurrent_crawls and cached_indexes positive"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KnowledgeSettings;
    use crate::config::Settings;

    type Spoil = fn(&mut KnowledgeSettings);

    #[test]
    fn the_defaults_hold_and_inconsistent_values_are_refused() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.knowledge.validate(), Ok(()));
        let cases: [(Spoil, &str); 3] = [
            (
                |k: &mut KnowledgeSettings| k.embedder = "bert".into(),
                "knowledge.embedder",
            ),
            (
                |k: &mut KnowledgeSettings| k.chunk_overlap_chars = 5000,
                "knowledge.chunk_",
            ),
            (|k: &mut KnowledgeSettings| k.rag_top_k = 0, "knowledge: rag_top_k"),
        ];
        for (bad, field) in cases {
            let mut k = s.knowledge.clone();
            bad(&mut k);
            assert!(k.validate().unwrap_err().starts_with(field), "{field}");
        }
    }
}
