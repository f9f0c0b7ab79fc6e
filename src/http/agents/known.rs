//! An agent's providers, models and voices checked against the provider catalogue.

use super::AgentOut;
use crate::{
    error::FieldError,
    http::core::validation::{self, Validator},
    providers::catalog::{self, Kind},
};

/// Providers, models and voices must exist in the catalogue for their kind.
pub(super) fn check_catalog(v: &mut Validator, a: &AgentOut) {
    let mut provider_of = |field: &str, id: Option<&str>, kind: Kind| {
        let id = id?;
        match catalog::find(id).filter(|p| p.has(kind)) {
            Some(p) => Some(p),
            None => {
                v.push(FieldError {
                    suggestion: validation::suggest(id, catalog::ids_for(kind)),
                    ..FieldError::new(
                        field,
                        format!(
                            "unknown {} provider '{id}'; one of: {}",
                            kind.as_str(),
                            catalog::ids_for(kind).join(", ")
                        ),
                    )
                });
                None
            }
        }
    };
    let s2s = provider_of("s2sProvider", a.s2s_provider.as_deref(), Kind::S2s);
    let tts = provider_of(
        "voiceConfig.provider",
        a.voice_config.as_ref().and_then(|c| c.provider.as_deref()),
        Kind::Tts,
    );
    let llm = provider_of(
        "llmConfig.provider",
        a.llm_config.as_ref().and_then(|c| c.provider.as_deref()),
        Kind::Llm,
    );
    let stt = provider_of(
        "sttConfig.provider",
        a.stt_config.as_ref().and_then(|c| c.provider.as_deref()),
        Kind::Stt,
    );
    let mut model_of = |field: &str, p: Option<&catalog::Provider>, model: Option<&str>, kind: Kind| {
        let (Some(p), Some(model)) = (p, model) else {
            return;
        };
        let known: Vec<&str> = if kind == Kind::Stt {
            p.stt_models.iter().map(|m| m.id).collect()
        } else {
            p.models_of(kind).map(|m| m.id).collect()
        };
        // A model's dated snapshots and aliases are the model (`gpt-4o-realtime-preview-2024-12-17`).
        let found = if kind == Kind::Stt {
            known.contains(&model)
        } else {
            p.model(kind, model).is_some()
        };
        if !found {
            v.push(FieldError {
                suggestion: validation::suggest(model, known.iter().copied()),
                ..FieldError::new(
                    field,
                    format!("unknown model '{model}' for {}; one of: {}", p.id, known.join(", ")),
                )
            });
        }
    };
    model_of("s2sModel", s2s, a.s2s_model.as_deref(), Kind::S2s);
    model_of(
        "voiceConfig.model",
        tts,
        a.voice_config.as_ref().and_then(|c| c.model.as_deref()),
        Kind::Tts,
    );
    model_of(
        "llmConfig.model",
        llm,
        a.llm_config.as_ref().and_then(|c| c.model.as_deref()),
        Kind::Llm,
    );
    model_of(
        "sttConfig.model",
        stt,
        a.stt_config.as_ref().and_then(|c| c.model.as_deref()),
        Kind::Stt,
    );
    if let (Some(p), Some(voice)) = (s2s, a.s2s_voice.as_deref())
        && p.voice(voice).is_none()
    {
        let known: Vec<&str> = p.voices.iter().map(|x| x.id).collect();
        v.push(FieldError {
            suggestion: validation::suggest(voice, known.iter().copied()),
            ..FieldError::new(
                "s2sVoice",
                format!("unknown voice '{voice}' for {}; one of: {}", p.id, known.join(", ")),
            )
        });
    }
}
