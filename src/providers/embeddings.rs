//! Text embeddings behind one port: the local static model compiled into the server (the
//! default: no key, no download), and any OpenAI-compatible `POST {base}/embeddings`.
//!
//! Every vector is L2-normalised, so a dot product is the cosine, and is stored with its
//! model's [`identity`](Embedder::identity): vectors of different identities are never
//! compared.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use model2vec_rs::model::StaticModel;
use serde::Deserialize;
use serde_json::json;

/// The default model's files (see `assets/embeddings/potion-base-8M/README.md`).
const POTION_MODEL: &[u8] = include_bytes!("../../assets/embeddings/potion-base-8M/model.f16.safetensors");
const POTION_TOKENIZER: &[u8] = include_bytes!("../../assets/embeddings/potion-base-8M/tokenizer.json");
const POTION_CONFIG: &[u8] = include_bytes!("../../assets/embeddings/potion-base-8M/config.json");
/// Name, upstream revision, dimensions and storage of the default model.
pub const POTION_IDENTITY: &str = "minishlab/potion-base-8M@bf8b0566/256/int8";

/// Tokens of a text the local model reads (a chunk is far shorter).
const LOCAL_MAX_TOKENS: usize = 512;
/// Texts per request to a remote API.
const REMOTE_BATCH: usize = 96;

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding model could not be loaded: {0}")]
    Load(String),
    #[error("the embeddings provider failed: {0}")]
    Provider(String),
}

/// Turns texts into unit vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// `name@revision/dimensions[/storage]`: stored beside every vector.
    fn identity(&self) -> &str;
    /// One unit vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// potion-base-8M (Model2Vec static embeddings), compiled in, loaded on first use and held
/// as int8 rows (7.5 MB). Pure CPU: microseconds per query, thousands of chunks a second.
#[derive(Default)]
pub struct LocalEmbedder {
    model: OnceLock<Result<StaticModel, String>>,
}

impl LocalEmbedder {
    pub fn new() -> Self {
        Self::default()
    }

    fn model(&self) -> Result<&StaticModel, EmbedError> {
        self.model
            .get_or_init(|| {
                StaticModel::from_bytes(POTION_TOKENIZER, POTION_MODEL, POTION_CONFIG, Some(true))
                    .map(StaticModel::quantize_int8)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| EmbedError::Load(e.clone()))
    }

    /// Embeds on the calling thread (the search path's query, a few microseconds).
    pub fn embed_now(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let model = self.model()?;
        Ok(model.encode_with_args(texts, Some(LOCAL_MAX_TOKENS), texts.len().max(1)))
    }
}

#[async_trait::async_trait]
impl Embedder for LocalEmbedder {
    fn identity(&self) -> &str {
        POTION_IDENTITY
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Unit vectors already: the model normalises its mean.
        self.embed_now(texts)
    }
}

/// An OpenAI-compatible embeddings API (`POST {base_url}/embeddings`, the base ending in `/v1`).
pub struct OpenAiEmbedder {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    dimensions: Option<u32>,
    identity: String,
}

impl OpenAiEmbedder {
    pub fn new(base_url: &str, api_key: &str, model: &str, dimensions: Option<u32>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let dims = dimensions.map_or_else(|| "native".to_string(), |d| d.to_string());
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            dimensions,
            identity: format!("openai:{model}/{dims}"),
        }
    }
}

#[derive(Deserialize)]
struct EmbeddingsOut {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn identity(&self) -> &str {
        &self.identity
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(REMOTE_BATCH) {
            let mut body = json!({ "model": self.model, "input": batch, "encoding_format": "float" });
            if let Some(d) = self.dimensions {
                body["dimensions"] = json!(d);
            }
            let resp = self
                .http
                .post(format!("{}/embeddings", self.base_url))
                .bearer_auth(&self.api_key)
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    EmbedError::Provider(if e.is_timeout() {
                        "timed out".into()
                    } else {
                        e.to_string()
                    })
                })?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| EmbedError::Provider(e.to_string()))?;
            if !status.is_success() {
                let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                return Err(EmbedError::Provider(format!("{status}: {message}")));
            }
            let mut parsed: EmbeddingsOut =
                serde_json::from_slice(&bytes).map_err(|e| EmbedError::Provider(format!("unreadable answer: {e}")))?;
            parsed.data.sort_by_key(|d| d.index);
            let dims = parsed.data.first().map_or(0, |d| d.embedding.len());
            let consistent = parsed.data.len() == batch.len()
                && dims > 0
                && parsed
                    .data
                    .iter()
                    .enumerate()
                    .all(|(i, d)| d.index == i && d.embedding.len() == dims);
            if !consistent {
                return Err(EmbedError::Provider(format!(
                    "answer does not match the request: {} vectors for {} texts",
                    parsed.data.len(),
                    batch.len()
                )));
            }
            out.extend(parsed.data.into_iter().map(|d| d.embedding));
        }
        Ok(normalised(out))
    }
}

/// Scales each vector to unit length (a zero vector stays zero).
fn normalised(mut vectors: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    for v in &mut vectors {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
    vectors
}

/// The embedder the settings choose.
pub fn embedder(
    kind: &str,
    openai: &crate::config::ApiProviderSettings,
    model: &str,
    dimensions: Option<u32>,
    timeout: Duration,
) -> Arc<dyn Embedder> {
    match kind {
        "openai" => Arc::new(OpenAiEmbedder::new(
            &openai.base_url,
            &openai.api_key,
            model,
            dimensions,
            timeout,
        )),
        _ => Arc::new(LocalEmbedder::new()),
    }
}

/// Little-endian f32 bytes of a vector (the stored form).
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector of stored bytes (a trailing partial value is dropped).
pub fn from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[tokio::test]
    async fn the_local_model_loads_and_places_paraphrases_closer_than_unrelated_text() {
        let e = LocalEmbedder::new();
        let v = e
            .embed(&[
                "How do I get my money back?".into(),
                "Refunds are paid to your card within five working days.".into(),
                "Our offices are closed on public holidays.".into(),
            ])
            .await
            .unwrap();
        assert_eq!(v[0].len(), 256);
        assert!((cos(&v[0], &v[0]) - 1.0).abs() < 1e-4);
        assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]));
    }

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v = vec![0.5, -1.25, 3.0e-7];
        assert_eq!(from_bytes(&to_bytes(&v)), v);
    }
}
