//! Real speech clients for live calls, all on 8 kHz μ-law (Twilio's format):
//! Deepgram STT over its streaming WebSocket (`/listen`, one connection per utterance,
//! `CloseStream` to flush), ElevenLabs TTS (`/text-to-speech/{voice}/stream`,
//! `output_format=ulaw_8000`) and OpenAI TTS (`/audio/speech`, 24 kHz PCM resampled to
//! 8 kHz μ-law). Every failure is a `PortError`, never a panic.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thruai_actors::{
    audio::mulaw,
    call::ports::{PortError, SpeechToText, TextToSpeech},
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// Audio sent to Deepgram per binary frame (200 ms).
const DEEPGRAM_CHUNK: usize = 1600;

/// `https://x/v1` → `wss://x/v1` (and `http` → `ws`).
pub fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    }
}

/// A WebSocket handshake or transport error as a port error (with the HTTP status when
/// the server refused the upgrade).
pub fn ws_error(provider: &str, e: &tokio_tungstenite::tungstenite::Error) -> PortError {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => PortError::new(
            provider,
            format!("the server refused the connection: {}", resp.status()),
        ),
        other => PortError::new(provider, other.to_string()),
    }
}

fn http_error(provider: &str, e: &reqwest::Error) -> PortError {
    if e.is_timeout() {
        PortError::new(provider, "timed out")
    } else {
        PortError::new(provider, e.to_string())
    }
}

async fn status_error(provider: &str, resp: reqwest::Response) -> PortError {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let detail: String = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v["detail"]["message"]
                .as_str()
                .or_else(|| v["error"]["message"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    PortError::new(provider, format!("answered {status}: {detail}"))
}

/// Deepgram streaming STT.
#[derive(Debug, Clone)]
pub struct DeepgramStt {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub language: Option<String>,
    pub endpointing_ms: Option<u32>,
    pub keywords: Vec<String>,
    pub timeout: Duration,
}

impl DeepgramStt {
    pub fn url(&self) -> String {
        let mut url = format!(
            "{}/listen?model={}&encoding=mulaw&sample_rate=8000&channels=1&punctuate=true&smart_format=true",
            ws_url(&self.base_url),
            self.model
        );
        if let Some(l) = &self.language {
            url.push_str(&format!("&language={l}"));
        }
        if let Some(e) = self.endpointing_ms {
            url.push_str(&format!("&endpointing={e}"));
        }
        for k in &self.keywords {
            let k: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
            url.push_str(&format!("&keyterm={k}"));
        }
        url
    }

    async fn run(&self, mulaw: &[u8]) -> Result<String, PortError> {
        const P: &str = "deepgram";
        let mut request = self
            .url()
            .into_client_request()
            .map_err(|e| PortError::new(P, format!("bad URL: {e}")))?;
        let auth = HeaderValue::from_str(&format!("Token {}", self.api_key))
            .map_err(|_| PortError::new(P, "the API key is not a valid header value"))?;
        request.headers_mut().insert("Authorization", auth);
        let (ws, _) = super::ws::connect(request).await.map_err(|e| ws_error(P, &e))?;
        let (mut tx, mut rx) = ws.split();
        let send = async {
            for chunk in mulaw.chunks(DEEPGRAM_CHUNK) {
                tx.send(Message::Binary(chunk.to_vec().into())).await?;
            }
            tx.send(Message::Text(json!({ "type": "CloseStream" }).to_string().into()))
                .await
        };
        send.await.map_err(|e| ws_error(P, &e))?;
        let mut parts: Vec<String> = Vec::new();
        while let Some(msg) = rx.next().await {
            let text = match msg.map_err(|e| ws_error(P, &e))? {
                Message::Text(t) => t,
                Message::Close(_) => break,
                _ => continue,
            };
            let v: Value =
                serde_json::from_str(&text).map_err(|e| PortError::new(P, format!("a message is not JSON: {e}")))?;
            match v["type"].as_str() {
                Some("Results") => {
                    if v["is_final"] == json!(true) {
                        let t = v["channel"]["alternatives"][0]["transcript"]
                            .as_str()
                            .ok_or_else(|| PortError::new(P, "a final result has no transcript"))?;
                        if !t.trim().is_empty() {
                            parts.push(t.trim().to_string());
                        }
                    }
                }
                Some("Metadata") => break,
                Some("Error") | Some("error") => {
                    return Err(PortError::new(
                        P,
                        v["description"]
                            .as_str()
                            .or_else(|| v["message"].as_str())
                            .unwrap_or("error")
                            .to_string(),
                    ));
                }
                Some(_) => {}
                None => return Err(PortError::new(P, "a message has no type")),
            }
        }
        Ok(parts.join(" "))
    }
}

#[async_trait]
impl SpeechToText for DeepgramStt {
    fn provider(&self) -> &str {
        "deepgram"
    }

    async fn transcribe(&self, mulaw: &[u8]) -> Result<String, PortError> {
        tokio::time::timeout(self.timeout, self.run(mulaw))
            .await
            .unwrap_or_else(|_| Err(PortError::new("deepgram", "timed out")))
    }
}

/// ElevenLabs HTTP streaming TTS, μ-law 8 kHz.
#[derive(Debug, Clone)]
pub struct ElevenLabsTts {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub voice_id: String,
    pub model: String,
    pub stability: Option<f64>,
    pub similarity_boost: Option<f64>,
    pub speed: Option<f64>,
    pub language: Option<String>,
    pub timeout: Duration,
}

/// Rejects a success answer that is not audio (an HTML error page, JSON, nothing).
fn check_audio(provider: &str, content_type: Option<&str>, audio: &[u8]) -> Result<(), PortError> {
    if let Some(ct) = content_type
        && (ct.starts_with("application/json") || ct.starts_with("text/"))
    {
        return Err(PortError::new(provider, format!("expected audio, got {ct}")));
    }
    if audio.is_empty() {
        return Err(PortError::new(provider, "the audio is empty"));
    }
    Ok(())
}

#[async_trait]
impl TextToSpeech for ElevenLabsTts {
    fn provider(&self) -> &str {
        "elevenlabs"
    }

    async fn synthesize(&self, text: &str) -> Result<Vec<u8>, PortError> {
        const P: &str = "elevenlabs";
        let url = format!(
            "{}/text-to-speech/{}/stream?output_format=ulaw_8000",
            self.base_url.trim_end_matches('/'),
            self.voice_id
        );
        let mut settings = json!({
            "stability": self.stability.unwrap_or(0.5),
            "similarity_boost": self.similarity_boost.unwrap_or(0.75),
        });
        if let Some(s) = self.speed {
            settings["speed"] = json!(s);
        }
        let mut body = json!({ "text": text, "model_id": self.model, "voice_settings": settings });
        if let Some(l) = &self.language {
            body["language_code"] = json!(l);
        }
        let resp = self
            .http
            .post(url)
            .header("xi-api-key", &self.api_key)
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| http_error(P, &e))?;
        if !resp.status().is_success() {
            return Err(status_error(P, resp).await);
        }
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let audio = resp.bytes().await.map_err(|e| http_error(P, &e))?.to_vec();
        check_audio(P, ct.as_deref(), &audio)?;
        Ok(audio)
    }
}

/// OpenAI TTS: 24 kHz 16-bit PCM, resampled to 8 kHz μ-law.
#[derive(Debug, Clone)]
pub struct OpenAiTts {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub voice: String,
    pub model: String,
    pub speed: Option<f64>,
    pub timeout: Duration,
}

/// 24 kHz little-endian 16-bit PCM → 8 kHz μ-law (each output sample the mean of three:
/// a crude low-pass before decimation).
pub fn pcm24k_to_mulaw8k(pcm: &[u8]) -> Vec<u8> {
    let samples: Vec<i32> = pcm
        .chunks_exact(2)
        .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    samples
        .chunks(3)
        .map(|c| {
            let mean = c.iter().sum::<i32>() / i32::try_from(c.len()).unwrap_or(1);
            mulaw::encode_sample(i16::try_from(mean).unwrap_or(0))
        })
        .collect()
}

#[async_trait]
impl TextToSpeech for OpenAiTts {
    fn provider(&self) -> &str {
        "openai"
    }

    async fn synthesize(&self, text: &str) -> Result<Vec<u8>, PortError> {
        const P: &str = "openai";
        let url = format!("{}/audio/speech", self.base_url.trim_end_matches('/'));
        let mut body = json!({ "model": self.model, "input": text, "voice": self.voice, "response_format": "pcm" });
        if let Some(s) = self.speed {
            body["speed"] = json!(s.clamp(0.25, 4.0));
        }
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.api_key)
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| http_error(P, &e))?;
        if !resp.status().is_success() {
            return Err(status_error(P, resp).await);
        }
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let pcm = resp.bytes().await.map_err(|e| http_error(P, &e))?;
        check_audio(P, ct.as_deref(), &pcm)?;
        Ok(pcm24k_to_mulaw8k(&pcm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_switch_scheme_and_pcm_is_decimated() {
        assert_eq!(ws_url("https://api.deepgram.com/v1/"), "wss://api.deepgram.com/v1");
        assert_eq!(ws_url("http://127.0.0.1:9/v1"), "ws://127.0.0.1:9/v1");
        let pcm: Vec<u8> = std::iter::repeat_n(1000i16.to_le_bytes(), 6).flatten().collect();
        let out = pcm24k_to_mulaw8k(&pcm);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], mulaw::encode_sample(1000));
    }
}
