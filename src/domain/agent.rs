//! Typed agent sub-configurations (stored as JSON columns) and their range checks:
//! `s2sConfig`, `s2sTurnDetection` and `interruptionSettings` (changelog 1.5.0/1.11.1),
//! voice/LLM/STT configs and `memoryPolicy` (1.11.0).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::validation::Validator;

/// `[A-Za-z_][A-Za-z0-9_]{0,63}`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseReduction {
    NearField,
    FarField,
}

fn near_field() -> Option<NoiseReduction> {
    Some(NoiseReduction::NearField)
}

/// Speech-to-speech session settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S2sConfig {
    /// `near_field` (default; handsets), `far_field` (speakerphones) or `null` (off).
    #[serde(default = "near_field")]
    pub noise_reduction: Option<NoiseReduction>,
    /// Sampling temperature, 0.6–1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 1–4096 tokens per response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_output_tokens: Option<u32>,
    /// Transcribe the caller's audio alongside the session (for transcripts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_audio_transcription: Option<bool>,
}

impl Default for S2sConfig {
    fn default() -> Self {
        Self {
            noise_reduction: near_field(),
            temperature: None,
            max_response_output_tokens: None,
            input_audio_transcription: None,
        }
    }
}

impl S2sConfig {
    pub fn check(&self, v: &mut Validator) {
        v.range("s2sConfig.temperature", self.temperature, 0.6, 1.2);
        v.range(
            "s2sConfig.maxResponseOutputTokens",
            self.max_response_output_tokens,
            1,
            4096,
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnDetectionType {
    ServerVad,
    SemanticVad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Eagerness {
    Low,
    Medium,
    High,
}

/// Voice activity detection for the S2S pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S2sTurnDetection {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TurnDetectionType>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// 0–2000 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_padding_ms: Option<u32>,
    /// 200–3000 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_duration_ms: Option<u32>,
    /// `low`, `medium` or `high` (semantic VAD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eagerness: Option<Eagerness>,
}

impl S2sTurnDetection {
    pub fn check(&self, v: &mut Validator) {
        v.range("s2sTurnDetection.threshold", self.threshold, 0.0, 1.0);
        v.range("s2sTurnDetection.prefixPaddingMs", self.prefix_padding_ms, 0, 2000);
        v.range(
            "s2sTurnDetection.silenceDurationMs",
            self.silence_duration_ms,
            200,
            3000,
        );
    }
}

/// Barge-in behaviour for the traditional pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InterruptionSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 100–2000 ms of caller speech before the agent yields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_ms: Option<u32>,
    /// 100–3000 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_silence_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barge_in_during_greeting: Option<bool>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barge_in_confidence: Option<f64>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_confidence: Option<f64>,
    /// 500–5000 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_interruption_timeout_ms: Option<u32>,
}

impl InterruptionSettings {
    pub fn check(&self, v: &mut Validator) {
        let p = "interruptionSettings";
        v.range(&format!("{p}.sensitivityMs"), self.sensitivity_ms, 100, 2000);
        v.range(&format!("{p}.minSilenceMs"), self.min_silence_ms, 100, 3000);
        v.range(&format!("{p}.bargeInConfidence"), self.barge_in_confidence, 0.0, 1.0);
        v.range(&format!("{p}.echoConfidence"), self.echo_confidence, 0.0, 1.0);
        v.range(
            &format!("{p}.falseInterruptionTimeoutMs"),
            self.false_interruption_timeout_ms,
            500,
            5000,
        );
    }
}

/// Text-to-speech settings (traditional pipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VoiceConfig {
    /// A TTS provider id of `GET /providers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 0.5–2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl VoiceConfig {
    pub fn check(&self, v: &mut Validator) {
        v.range("voiceConfig.speed", self.speed, 0.5, 2.0);
        v.range("voiceConfig.stability", self.stability, 0.0, 1.0);
        v.range("voiceConfig.similarityBoost", self.similarity_boost, 0.0, 1.0);
        v.opt_length("voiceConfig.voiceId", self.voice_id.as_deref(), 1, 128);
        v.opt_length("voiceConfig.language", self.language.as_deref(), 2, 16);
    }
}

/// Language model settings (traditional pipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LlmConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 0–2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 1–8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
}

impl LlmConfig {
    pub fn check(&self, v: &mut Validator) {
        v.range("llmConfig.temperature", self.temperature, 0.0, 2.0);
        v.range("llmConfig.maxTokens", self.max_tokens, 1, 8192);
        v.range("llmConfig.topP", self.top_p, 0.0, 1.0);
    }
}

/// Speech recognition settings (traditional pipeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SttConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// 10–5000 ms of silence that ends an utterance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpointing_ms: Option<u32>,
    /// Up to 100 words to boost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
}

impl SttConfig {
    pub fn check(&self, v: &mut Validator) {
        v.range("sttConfig.endpointingMs", self.endpointing_ms, 10, 5000);
        v.opt_length("sttConfig.language", self.language.as_deref(), 2, 16);
        if let Some(words) = &self.keywords {
            v.check(words.len() <= 100, "sttConfig.keywords", "at most 100 keywords");
            v.check(
                words.iter().all(|w| (1..=64).contains(&w.chars().count())),
                "sttConfig.keywords",
                "each keyword must be 1–64 characters",
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataClassification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceScope {
    /// Shared by every agent of the organisation.
    Organization,
    /// This agent only.
    Agent,
    /// Per caller (phone number), per agent.
    Caller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    BeforeRead,
    BeforeWrite,
    BeforeDelete,
}

/// A policy hook: the platform asks this endpoint (signed, like tools) before acting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyHook {
    pub event: HookEvent,
    /// http(s) endpoint; internal addresses are refused.
    pub url: String,
    /// 100–10000 ms; on timeout the action is denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

/// What the agent may remember across calls, and under which rules (changelog 1.11.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemoryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Highest classification of data the agent may store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<DataClassification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_scope: Option<NamespaceScope>,
    /// Optional namespace name, 1–64 of `a-z 0-9 _ - .`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Days memories are kept, 1–3650.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Memory is read or written only after the caller passed verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_verification: Option<bool>,
    /// Variables that must be confirmed for verification (e.g. `date_of_birth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_fields: Option<Vec<String>>,
    /// Redact PII (card numbers, SSNs) before storing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_pii: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hooks: Option<Vec<PolicyHook>>,
}

impl MemoryPolicy {
    pub fn check(&self, v: &mut Validator) {
        let p = "memoryPolicy";
        v.range(&format!("{p}.retentionDays"), self.retention_days, 1, 3650);
        if let Some(ns) = &self.namespace {
            v.check(
                (1..=64).contains(&ns.len())
                    && ns
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b)),
                &format!("{p}.namespace"),
                "must be 1–64 characters of a-z, 0-9, '_', '-', '.'",
            );
        }
        if let Some(fields) = &self.verification_fields {
            v.check(
                fields.len() <= 10 && fields.iter().all(|f| is_variable_name(f)),
                &format!("{p}.verificationFields"),
                "at most 10 variable names",
            );
        }
        v.check(
            !(self.require_verification == Some(true) && self.verification_fields.as_ref().is_none_or(Vec::is_empty)),
            &format!("{p}.verificationFields"),
            "required when requireVerification is true",
        );
        if let Some(hooks) = &self.policy_hooks {
            v.check(hooks.len() <= 5, &format!("{p}.policyHooks"), "at most 5 hooks");
            for (i, hook) in hooks.iter().enumerate() {
                v.length(&format!("{p}.policyHooks[{i}].url"), &hook.url, 1, 2048);
                v.range(&format!("{p}.policyHooks[{i}].timeoutMs"), hook.timeout_ms, 100, 10_000);
            }
        }
    }

    pub fn hook_urls(&self) -> impl Iterator<Item = (usize, &str)> {
        self.policy_hooks
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, h)| (i, h.url.as_str()))
    }
}

/// The stored shapes of these configurations (the agent's typed JSON columns). The wire
/// types above are strict (unknown fields refused, ranges checked); the stored ones read
/// whatever older rows hold. Both serialise identically.
pub use thruai_entities::values::agent as stored;

macro_rules! mirror_enum {
    ($($wire:ident { $($variant:ident),* }),* $(,)?) => {$(
        impl From<$wire> for stored::$wire {
            fn from(w: $wire) -> Self {
                match w { $($wire::$variant => Self::$variant),* }
            }
        }

        impl From<stored::$wire> for $wire {
            fn from(s: stored::$wire) -> Self {
                match s { $(stored::$wire::$variant => Self::$variant),* }
            }
        }
    )*};
}

mirror_enum!(
    NoiseReduction { NearField, FarField },
    TurnDetectionType { ServerVad, SemanticVad },
    Eagerness { Low, Medium, High },
    DataClassification {
        Public,
        Internal,
        Confidential,
        Restricted
    },
    NamespaceScope {
        Organization,
        Agent,
        Caller
    },
    HookEvent {
        BeforeRead,
        BeforeWrite,
        BeforeDelete
    },
);

/// Field-for-field conversions between a wire struct and its stored twin (each field's
/// own `Into`, `Option`s and `Vec`s element-wise).
trait Convert<T> {
    fn convert(self) -> T;
}

impl<A: Into<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Into::into)
    }
}

macro_rules! mirror_struct {
    ($($wire:ident { $($field:ident),* }),* $(,)?) => {$(
        impl From<$wire> for stored::$wire {
            fn from(w: $wire) -> Self {
                Self { $($field: w.$field.convert()),* }
            }
        }

        impl From<stored::$wire> for $wire {
            fn from(s: stored::$wire) -> Self {
                Self { $($field: s.$field.convert()),* }
            }
        }
    )*};
}

mirror_struct!(
    S2sConfig {
        noise_reduction,
        temperature,
        max_response_output_tokens,
        input_audio_transcription
    },
    S2sTurnDetection {
        kind,
        threshold,
        prefix_padding_ms,
        silence_duration_ms,
        eagerness
    },
    InterruptionSettings {
        enabled,
        sensitivity_ms,
        min_silence_ms,
        barge_in_during_greeting,
        barge_in_confidence,
        echo_confidence,
        false_interruption_timeout_ms
    },
    VoiceConfig {
        provider,
        voice_id,
        model,
        speed,
        stability,
        similarity_boost,
        language
    },
    LlmConfig {
        provider,
        model,
        temperature,
        max_tokens,
        top_p
    },
    SttConfig {
        provider,
        model,
        language,
        endpointing_ms,
        keywords
    },
);

/// `MemoryPolicy`'s fields, but `policyHooks` (a list, converted hook by hook).
macro_rules! memory_policy {
    ($from:expr) => {{
        let p = $from;
        Self {
            enabled: p.enabled,
            data_classification: p.data_classification.convert(),
            namespace_scope: p.namespace_scope.convert(),
            namespace: p.namespace,
            retention_days: p.retention_days,
            require_verification: p.require_verification,
            verification_fields: p.verification_fields,
            redact_pii: p.redact_pii,
            policy_hooks: p.policy_hooks.map(|hooks| hooks.into_iter().map(Into::into).collect()),
        }
    }};
}

impl From<MemoryPolicy> for stored::MemoryPolicy {
    fn from(p: MemoryPolicy) -> Self {
        memory_policy!(p)
    }
}

impl From<stored::MemoryPolicy> for MemoryPolicy {
    fn from(p: stored::MemoryPolicy) -> Self {
        memory_policy!(p)
    }
}

impl From<PolicyHook> for stored::PolicyHook {
    fn from(h: PolicyHook) -> Self {
        Self {
            event: h.event.into(),
            url: h.url,
            timeout_ms: h.timeout_ms,
        }
    }
}

impl From<stored::PolicyHook> for PolicyHook {
    fn from(h: stored::PolicyHook) -> Self {
        Self {
            event: h.event.into(),
            url: h.url,
            timeout_ms: h.timeout_ms,
        }
    }
}

#[cfg(test)]
mod stored_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_and_stored_shapes_serialise_alike() {
        let wire: MemoryPolicy = serde_json::from_value(json!({
            "enabled": true, "dataClassification": "internal", "namespaceScope": "caller",
            "retentionDays": 30, "policyHooks": [{ "event": "before_read", "url": "https://h.test" }]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let back = serde_json::to_value(stored::MemoryPolicy::from(wire.clone())).ok();
        assert_eq!(back, serde_json::to_value(&wire).ok());
        assert_eq!(MemoryPolicy::from(stored::MemoryPolicy::from(wire.clone())), wire);
        let s2s: S2sConfig = serde_json::from_value(json!({ "noiseReduction": null, "temperature": 0.7 }))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_value(stored::S2sConfig::from(s2s.clone())).ok(),
            serde_json::to_value(&s2s).ok()
        );
    }
}
