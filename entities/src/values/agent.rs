//! An agent's stored configuration: `s2sConfig`, `s2sTurnDetection`,
//! `interruptionSettings`, voice/LLM/STT configs and `memoryPolicy`, in the shape the API
//! serves them (the wire types in the application convert to and from these).

use serde::{Deserialize, Serialize};

use super::tolerant_json;
use sea_orm::FromJsonQueryResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseReduction {
    NearField,
    FarField,
}

fn near_field() -> Option<NoiseReduction> {
    Some(NoiseReduction::NearField)
}

/// Speech-to-speech session settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct S2sConfig {
    #[serde(default = "near_field")]
    pub noise_reduction: Option<NoiseReduction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_output_tokens: Option<u32>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnDetectionType {
    ServerVad,
    SemanticVad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eagerness {
    Low,
    Medium,
    High,
}

/// Voice activity detection for the S2S pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct S2sTurnDetection {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TurnDetectionType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_padding_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_duration_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eagerness: Option<Eagerness>,
}

/// Barge-in behaviour for the traditional pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct InterruptionSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_silence_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barge_in_during_greeting: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barge_in_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_interruption_timeout_ms: Option<u32>,
}

/// Text-to-speech settings (traditional pipeline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VoiceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Language model settings (traditional pipeline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct LlmConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
}

/// Speech recognition settings (traditional pipeline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct SttConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpointing_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClassification {
    Public,
    Internal,
    Confidential,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceScope {
    Organization,
    Agent,
    Caller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    BeforeRead,
    BeforeWrite,
    BeforeDelete,
}

/// A policy hook: the platform asks this endpoint before acting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyHook {
    pub event: HookEvent,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

/// What the agent may remember across calls, and under which rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct MemoryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<DataClassification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_scope: Option<NamespaceScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_verification: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_pii: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hooks: Option<Vec<PolicyHook>>,
}

tolerant_json!(
    S2sConfig,
    S2sTurnDetection,
    InterruptionSettings,
    VoiceConfig,
    LlmConfig,
    SttConfig,
    MemoryPolicy
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Option<T> {
        serde_json::from_value(v).ok()
    }

    #[test]
    fn old_shapes_read_with_defaults_and_unknown_keys_ignored() {
        assert_eq!(read::<S2sConfig>(json!(null)), Some(S2sConfig::default()));
        let s2s = read::<S2sConfig>(json!({ "temperature": 0.8, "legacy": true }));
        assert_eq!(
            s2s.as_ref().and_then(|c| c.noise_reduction),
            Some(NoiseReduction::NearField)
        );
        assert_eq!(s2s.and_then(|c| c.temperature), Some(0.8));
        let off = read::<S2sConfig>(json!({ "noiseReduction": null }));
        assert_eq!(off.and_then(|c| c.noise_reduction), None);
        assert_eq!(
            read::<VoiceConfig>(json!({ "speed": "fast" })),
            Some(VoiceConfig::default())
        );
        assert_eq!(read::<MemoryPolicy>(json!([1, 2])), Some(MemoryPolicy::default()));
    }

    #[test]
    fn writes_the_served_shape() {
        let v = VoiceConfig {
            voice_id: Some("v1".into()),
            speed: Some(1.1),
            ..VoiceConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&v).ok(),
            Some(json!({ "voiceId": "v1", "speed": 1.1 }))
        );
        assert_eq!(
            serde_json::to_value(S2sConfig::default()).ok(),
            Some(json!({ "noiseReduction": "near_field" }))
        );
    }
}
