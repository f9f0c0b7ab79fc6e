//! Retrieval inside calls: the call actor's knowledge port, bound to one agent.

use std::sync::Arc;

use thruai_actors::call::ports::{KnowledgeBase, Passage, PortError};

use super::{Knowledge, Mode, QueryIn};

/// Longest caller turn searched (the start of a longer one).
const MAX_QUERY_CHARS: usize = 2000;

/// The organisation's knowledge as one agent retrieves it.
struct AgentKnowledge {
    kb: Knowledge,
    org_id: String,
    agent_id: String,
}

#[async_trait::async_trait]
impl KnowledgeBase for AgentKnowledge {
    async fn retrieve(&self, query: &str) -> Result<Vec<Passage>, PortError> {
        let s = &self.kb.settings;
        let q = QueryIn {
            query: query.chars().take(MAX_QUERY_CHARS).collect(),
            agent_id: Some(self.agent_id.clone()),
            top_k: Some(s.rag_top_k),
            min_similarity: Some(s.rag_min_similarity),
            mode: Mode::Hybrid,
        };
        let found = self
            .kb
            .search(&self.org_id, q)
            .await
            .map_err(|e| PortError::new("knowledge", e.to_string()))?;
        Ok(found
            .hits
            .into_iter()
            .map(|h| Passage {
                chunk_id: h.chunk_id,
                title: h.title,
                text: h.text,
                similarity: h.similarity,
            })
            .collect())
    }
}

impl Knowledge {
    /// The knowledge port of a call of `agent_id`.
    pub fn for_agent(&self, org_id: &str, agent_id: &str) -> Arc<dyn KnowledgeBase> {
        Arc::new(AgentKnowledge {
            kb: self.clone(),
            org_id: org_id.to_string(),
            agent_id: agent_id.to_string(),
        })
    }
}
