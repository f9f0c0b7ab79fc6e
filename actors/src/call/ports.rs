//! The ports a call needs, declared here and implemented by the application: language
//! model, speech to text, speech to speech, text to speech, tools, telephony, the call
//! store and the clock; and the sandbox STT/TTS (the tone codec). The conversation they
//! carry is `chat.rs`'s.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{
    chat::{ChatTurn, LlmToolCall},
    snapshot::CallSnapshotV1,
    state::DomainEvent,
};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{provider}: {message}")]
pub struct PortError {
    pub provider: String,
    pub message: String,
}

impl PortError {
    pub fn new(provider: &str, message: impl Into<String>) -> Self {
        Self {
            provider: provider.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub system_prompt: String,
    pub first_message: Option<String>,
    pub conversation: Vec<ChatTurn>,
    pub tools: Vec<ToolDef>,
    /// Passages of the organisation's knowledge retrieved for the caller's last turn.
    pub knowledge: Vec<Passage>,
}

impl LlmRequest {
    /// The system prompt, followed by the retrieved passages when there are any.
    pub fn instructions(&self) -> std::borrow::Cow<'_, str> {
        if self.knowledge.is_empty() {
            return self.system_prompt.as_str().into();
        }
        let mut s = self.system_prompt.clone();
        s.push_str(
            "\n\nExcerpts of the organisation's knowledge base that may answer the caller's last question. \
             Answer from them when they do; never invent what they do not say:",
        );
        for (i, p) in self.knowledge.iter().enumerate() {
            s.push_str(&format!("\n[{}] {}: {}", i + 1, p.title, p.text));
        }
        s.into()
    }
}

/// A chunk of knowledge retrieved for a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    pub chunk_id: String,
    pub title: String,
    pub text: String,
    pub similarity: f32,
}

/// The organisation's knowledge, as one agent retrieves it.
#[async_trait]
pub trait KnowledgeBase: Send + Sync {
    /// The passages that best answer `query` (none when nothing is relevant).
    async fn retrieve(&self, query: &str) -> Result<Vec<Passage>, PortError>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmReply {
    pub text: String,
    pub tool_calls: Vec<LlmToolCall>,
    pub end_call: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn provider(&self) -> &str;
    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError>;
}

#[async_trait]
pub trait SpeechToText: Send + Sync {
    fn provider(&self) -> &str;
    /// One utterance of 8 kHz μ-law to text.
    async fn transcribe(&self, mulaw: &[u8]) -> Result<String, PortError>;
}

#[async_trait]
pub trait TextToSpeech: Send + Sync {
    fn provider(&self) -> &str;
    /// Text to 8 kHz μ-law.
    async fn synthesize(&self, text: &str) -> Result<Vec<u8>, PortError>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub ok: bool,
    /// The endpoint's answer, or the error text.
    pub result: Value,
    pub error: Option<String>,
    pub status_code: Option<u16>,
    pub elapsed_ms: u64,
}

#[async_trait]
pub trait ToolInvoker: Send + Sync {
    /// Calls the tool (signed HTTP, with the tool's own timeout).
    async fn invoke(&self, call_id: &str, name: &str, arguments: Value) -> ToolOutcome;
}

#[async_trait]
pub trait Telephony: Send + Sync {
    /// Ends the live call at the carrier.
    async fn hangup(&self, provider_call_sid: &str) -> Result<(), PortError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another owner (a newer epoch) holds the call: this actor must stop.
    #[error("the call is owned by a newer epoch")]
    Fenced,
    #[error("the store is unavailable")]
    Unavailable,
}

#[async_trait]
pub trait CallStore: Send + Sync {
    /// Writes the snapshot and records `events` in the outbox, in one transaction, if the
    /// stored epoch is still the snapshot's.
    async fn checkpoint(&self, snapshot: CallSnapshotV1, events: Vec<DomainEvent>) -> Result<(), StoreError>;

    /// The last snapshot written for the call (a crashed actor restarts from it).
    async fn load(&self, call_id: &str) -> Result<Option<CallSnapshotV1>, StoreError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The session settings of a speech-to-speech (realtime) call.
#[derive(Debug, Clone, PartialEq)]
pub struct S2sSettings {
    pub model: Option<String>,
    pub voice: Option<String>,
    pub instructions: String,
    pub tools: Vec<ToolDef>,
    /// The session's `turn_detection` object (`server_vad` / `semantic_vad` and settings).
    pub turn_detection: Value,
    pub temperature: Option<f64>,
    pub max_output_tokens: Option<u32>,
    /// `near_field`, `far_field` or none.
    pub noise_reduction: Option<String>,
    /// Transcribe the caller's audio (for the transcript).
    pub transcribe_input: bool,
}

/// To a realtime session.
#[derive(Debug, Clone, PartialEq)]
pub enum S2sCommand {
    /// Caller audio, 8 kHz μ-law.
    Audio(Vec<u8>),
    /// Say exactly this (the greeting).
    Say(String),
    /// Answer now (no greeting configured: the model opens).
    Respond,
    /// Cancel the response in progress.
    Cancel,
    /// Cut an assistant item to what the caller heard.
    Truncate {
        item_id: String,
        audio_end_ms: u64,
    },
    /// A tool's result, then a new response.
    ToolResult {
        call_id: String,
        output: String,
    },
    Close,
}

/// From a realtime session.
#[derive(Debug, Clone, PartialEq)]
pub enum S2sEvent {
    /// The session's VAD heard the caller start (the barge-in trigger).
    SpeechStarted,
    SpeechStopped,
    /// Agent audio (8 kHz μ-law) of assistant item `item_id`.
    Audio {
        item_id: String,
        audio: Vec<u8>,
    },
    /// The item's audio is complete.
    AudioDone {
        item_id: String,
    },
    /// The agent's words, as they are generated / complete.
    TranscriptDelta {
        item_id: String,
        text: String,
    },
    TranscriptDone {
        item_id: String,
        text: String,
    },
    /// What the caller said.
    CallerTranscript {
        text: String,
    },
    ToolCall {
        call_id: String,
        name: String,
        arguments: Value,
    },
    ResponseDone {
        status: String,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// A provider error; the session may carry on.
    Error(String),
    /// The session is over.
    Closed(String),
}

/// A live realtime session: commands in, events out.
#[derive(Debug)]
pub struct S2sSession {
    pub commands: tokio::sync::mpsc::UnboundedSender<S2sCommand>,
    pub events: tokio::sync::mpsc::UnboundedReceiver<S2sEvent>,
}

#[async_trait]
pub trait SpeechToSpeech: Send + Sync {
    fn provider(&self) -> &str;
    /// Opens a session configured with `settings`.
    async fn connect(&self, settings: &S2sSettings) -> Result<S2sSession, PortError>;
}

/// Every port a call uses.
#[derive(Clone)]
pub struct Ports {
    pub llm: Arc<dyn LanguageModel>,
    /// Used by `s2s` calls only.
    pub s2s: Arc<dyn SpeechToSpeech>,
    pub stt: Arc<dyn SpeechToText>,
    pub tts: Arc<dyn TextToSpeech>,
    pub tools: Arc<dyn ToolInvoker>,
    pub telephony: Arc<dyn Telephony>,
    pub store: Arc<dyn CallStore>,
    pub clock: Arc<dyn Clock>,
    /// Retrieval before each reply of the traditional pipeline (none: no knowledge).
    pub knowledge: Option<Arc<dyn KnowledgeBase>>,
}

/// Caller audio the sandbox STT decodes in place (10 s of 8 kHz μ-law, ~1 ms of CPU).
const INLINE_DECODE_BYTES: usize = 80_000;

/// The sandbox STT: the tone decoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToneStt;

#[async_trait]
impl SpeechToText for ToneStt {
    fn provider(&self) -> &str {
        "sandbox"
    }

    async fn transcribe(&self, mulaw: &[u8]) -> Result<String, PortError> {
        // A turn's worth of audio decodes in well under a millisecond: in place, on the
        // call's arbiter. A blocking-pool hop cost more (a thread wake each way, and under
        // load more pool threads, each with its own malloc arena). Long audio goes off it.
        if mulaw.len() <= INLINE_DECODE_BYTES {
            return Ok(crate::audio::tone::decode(mulaw).trim().to_string());
        }
        let audio = mulaw.to_vec();
        tokio::task::spawn_blocking(move || crate::audio::tone::decode(&audio).trim().to_string())
            .await
            .map_err(|e| PortError::new("sandbox", e.to_string()))
    }
}

/// The sandbox TTS: the tone encoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToneTts;

#[async_trait]
impl TextToSpeech for ToneTts {
    fn provider(&self) -> &str {
        "sandbox"
    }

    async fn synthesize(&self, text: &str) -> Result<Vec<u8>, PortError> {
        // A copy of precomputed symbols per character: no CPU worth moving off the arbiter.
        Ok(crate::audio::tone::encode(text))
    }
}
