//! Realistic provider latency for the sandbox speech and language models (configurable,
//! off by default and in tests): each step waits as long as a real provider's would before
//! answering, so a sandbox call shows how the pipeline overlaps them (`thruai demo`).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use thruai_actors::call::ports::{LanguageModel, LlmReply, LlmRequest, PortError, SpeechToText, TextToSpeech};

/// A port that answers `delay` later than the one it wraps.
pub struct Delayed<P: ?Sized> {
    inner: Arc<P>,
    delay: Duration,
}

impl<P: ?Sized> Delayed<P> {
    pub fn new(inner: Arc<P>, delay: Duration) -> Self {
        Self { inner, delay }
    }
}

#[async_trait]
impl LanguageModel for Delayed<dyn LanguageModel> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        tokio::time::sleep(self.delay).await;
        self.inner.respond(req).await
    }
}

#[async_trait]
impl SpeechToText for Delayed<dyn SpeechToText> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn transcribe(&self, mulaw: &[u8]) -> Result<String, PortError> {
        tokio::time::sleep(self.delay).await;
        self.inner.transcribe(mulaw).await
    }
}

#[async_trait]
impl TextToSpeech for Delayed<dyn TextToSpeech> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn synthesize(&self, text: &str) -> Result<Vec<u8>, PortError> {
        tokio::time::sleep(self.delay).await;
        self.inner.synthesize(text).await
    }
}

/// The sandbox language model, answering `ms` later (as it is for 0).
pub fn llm(port: Arc<dyn LanguageModel>, ms: u64) -> Arc<dyn LanguageModel> {
    if ms == 0 {
        port
    } else {
        Arc::new(Delayed::new(port, Duration::from_millis(ms)))
    }
}

/// The sandbox speech-to-text, answering `ms` later (as it is for 0).
pub fn stt(port: Arc<dyn SpeechToText>, ms: u64) -> Arc<dyn SpeechToText> {
    if ms == 0 {
        port
    } else {
        Arc::new(Delayed::new(port, Duration::from_millis(ms)))
    }
}

/// The sandbox text-to-speech, answering `ms` later (as it is for 0).
pub fn tts(port: Arc<dyn TextToSpeech>, ms: u64) -> Arc<dyn TextToSpeech> {
    if ms == 0 {
        port
    } else {
        Arc::new(Delayed::new(port, Duration::from_millis(ms)))
    }
}
