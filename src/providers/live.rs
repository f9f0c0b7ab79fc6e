//! Which provider clients a live call uses, from its agent: `llmConfig`, `sttConfig` and
//! `voiceConfig` (traditional) or `s2sProvider` / `s2sModel` / `s2sVoice` (s2s), each
//! defaulting to the catalogue's preferred configured provider. A provider whose
//! `[providers.*] api_key` is empty is not configured: the sandbox stands in, and the
//! call's debug timeline says so (`provider_fallback`).

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use thruai_actors::call::ports::{LanguageModel, SpeechToSpeech, SpeechToText, TextToSpeech};
use thruai_entities::agent;

use super::{
    catalog::{self, Kind},
    chat::{AnthropicChat, ChatSettings, OpenAiChat},
    realtime::{Dialect, OpenAiRealtime},
    speech::{DeepgramStt, ElevenLabsTts, OpenAiTts},
};
use crate::{
    config::{ApiProviderSettings, ProviderSettings},
    domain::{PipelineMode, agent::stored::VoiceConfig},
};

/// The real clients chosen for a call; `None` where the sandbox stands in.
#[derive(Default)]
pub struct LiveClients {
    pub llm: Option<Arc<dyn LanguageModel>>,
    pub stt: Option<Arc<dyn SpeechToText>>,
    pub tts: Option<Arc<dyn TextToSpeech>>,
    pub s2s: Option<Arc<dyn SpeechToSpeech>>,
    /// Timeline notes: providers asked for that could not be used.
    pub notes: Vec<Value>,
}

/// The provider id for `kind`: the agent's choice or the preferred configured one.
fn provider_id(kind: Kind, chosen: Option<&str>, settings: &ProviderSettings) -> String {
    chosen.map_or_else(|| catalog::default_for(kind, settings).id.to_string(), str::to_string)
}

fn key_of<'a>(p: &'a ProviderSettings, provider: &str) -> Option<&'a ApiProviderSettings> {
    let s = match provider {
        "openai" | "openai-realtime" => &p.openai,
        "anthropic" => &p.anthropic,
        "groq" => &p.groq,
        "elevenlabs" => &p.elevenlabs,
        "cartesia" => &p.cartesia,
        "deepgram" => &p.deepgram,
        _ => return None,
    };
    s.configured().then_some(s)
}

fn model_or_default(kind: Kind, provider: &str, model: Option<&str>, fallback: &str) -> String {
    model.map(str::to_string).unwrap_or_else(|| {
        catalog::find(provider)
            .and_then(|p| p.default_model(kind))
            .unwrap_or(fallback)
            .to_string()
    })
}

/// Chooses the clients for a call of `agent`.
pub fn clients_for(agent: &agent::Model, settings: &ProviderSettings, http: &reqwest::Client) -> LiveClients {
    let timeout = Duration::from_millis(settings.timeout_ms);
    let mut out = LiveClients::default();
    let fallback = |component: &str, provider: &str, why: &str| {
        if provider == "sandbox" {
            Value::Null
        } else {
            json!({ "component": component, "requested": provider, "using": "sandbox", "reason": why })
        }
    };
    let mut notes = Vec::new();
    if agent.pipeline_mode == PipelineMode::S2s {
        let provider = provider_id(Kind::S2s, agent.s2s_provider.as_deref(), settings);
        match (provider.as_str(), key_of(settings, &provider)) {
            ("openai-realtime", Some(k)) => {
                out.s2s = Some(Arc::new(OpenAiRealtime {
                    base_url: k.base_url.clone(),
                    api_key: k.api_key.clone(),
                    default_model: model_or_default(Kind::S2s, &provider, agent.s2s_model.as_deref(), "gpt-realtime"),
                    dialect: Dialect::parse(&k.realtime_dialect),
                    connect_timeout: timeout,
                }));
            }
            (p, Some(_)) => notes.push(fallback("s2s", p, "no live client for this provider")),
            (p, None) => notes.push(fallback("s2s", p, "not configured")),
        }
        out.notes = notes.into_iter().filter(|n| !n.is_null()).collect();
        return out;
    }
    let llm = agent.llm_config.clone().unwrap_or_default();
    let provider = provider_id(Kind::Llm, llm.provider.as_deref(), settings);
    let model = model_or_default(Kind::Llm, &provider, llm.model.as_deref(), "");
    let chat = |k: &ApiProviderSettings| ChatSettings {
        base_url: k.base_url.clone(),
        api_key: k.api_key.clone(),
        model: model.clone(),
        timeout,
        temperature: llm.temperature,
        max_tokens: llm.max_tokens,
    };
    match (provider.as_str(), key_of(settings, &provider)) {
        (p @ ("openai" | "groq"), Some(k)) => {
            let provider = if p == "openai" { "openai" } else { "groq" };
            out.llm = Some(Arc::new(OpenAiChat {
                provider,
                http: http.clone(),
                settings: chat(k),
            }));
        }
        ("anthropic", Some(k)) => {
            out.llm = Some(Arc::new(AnthropicChat {
                http: http.clone(),
                settings: chat(k),
            }));
        }
        (p, Some(_)) => notes.push(fallback("llm", p, "no live client for this provider")),
        (p, None) => notes.push(fallback("llm", p, "not configured")),
    }

    let stt = agent.stt_config.as_ref();
    let stt_provider = provider_id(Kind::Stt, stt.and_then(|c| c.provider.as_deref()), settings);
    match (stt_provider.as_str(), key_of(settings, &stt_provider)) {
        ("deepgram", Some(k)) => {
            out.stt = Some(Arc::new(DeepgramStt {
                base_url: k.base_url.clone(),
                api_key: k.api_key.clone(),
                model: stt.and_then(|c| c.model.clone()).unwrap_or_else(|| "nova-3".into()),
                language: stt.and_then(|c| c.language.clone()),
                endpointing_ms: stt.and_then(|c| c.endpointing_ms),
                keywords: stt.and_then(|c| c.keywords.clone()).unwrap_or_default(),
                timeout,
            }));
        }
        (p, Some(_)) => notes.push(fallback("stt", p, "no live client for this provider")),
        (p, None) => notes.push(fallback("stt", p, "not configured")),
    }

    let v: Option<&VoiceConfig> = agent.voice_config.as_ref();
    let tts_provider = provider_id(Kind::Tts, v.and_then(|c| c.provider.as_deref()), settings);
    let tts_model = model_or_default(Kind::Tts, &tts_provider, v.and_then(|c| c.model.as_deref()), "");
    let voice_id = v.and_then(|c| c.voice_id.clone()).unwrap_or_else(|| {
        catalog::find(&tts_provider)
            .and_then(|p| p.voices.first())
            .map_or_else(String::new, |v| v.id.to_string())
    });
    match (tts_provider.as_str(), key_of(settings, &tts_provider)) {
        ("elevenlabs", Some(k)) => {
            out.tts = Some(Arc::new(ElevenLabsTts {
                http: http.clone(),
                base_url: k.base_url.clone(),
                api_key: k.api_key.clone(),
                voice_id,
                model: tts_model,
                stability: v.and_then(|c| c.stability),
                similarity_boost: v.and_then(|c| c.similarity_boost),
                speed: v.and_then(|c| c.speed),
                language: v.and_then(|c| c.language.clone()),
                timeout,
            }));
        }
        ("openai", Some(k)) => {
            out.tts = Some(Arc::new(OpenAiTts {
                http: http.clone(),
                base_url: k.base_url.clone(),
                api_key: k.api_key.clone(),
                voice: voice_id,
                model: tts_model,
                speed: v.and_then(|c| c.speed),
                timeout,
            }));
        }
        (p, Some(_)) => notes.push(fallback("tts", p, "no live client for this provider")),
        (p, None) => notes.push(fallback("tts", p, "not configured")),
    }
    out.notes = notes.into_iter().filter(|n| !n.is_null()).collect();
    out
}

/// The model that writes recommendations: Anthropic's, when `providers.anthropic` has a key;
/// else the sandbox analyst when `providers.sandbox.analyst` is on.
pub fn analyst(settings: &ProviderSettings, http: &reqwest::Client) -> Option<Arc<dyn LanguageModel>> {
    let Some(k) = key_of(settings, "anthropic") else {
        return settings
            .sandbox
            .analyst
            .then(|| Arc::new(super::llm::SandboxAnalyst) as Arc<dyn LanguageModel>);
    };
    Some(Arc::new(AnthropicChat {
        http: http.clone(),
        settings: ChatSettings {
            base_url: k.base_url.clone(),
            api_key: k.api_key.clone(),
            model: model_or_default(Kind::Llm, "anthropic", None, "claude-sonnet-4-5"),
            timeout: Duration::from_millis(settings.timeout_ms),
            temperature: Some(0.2),
            max_tokens: Some(2000),
        },
    }))
}
