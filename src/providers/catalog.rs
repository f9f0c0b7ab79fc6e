//! The provider catalogue: every LLM, TTS, STT and speech-to-speech provider the platform
//! knows, with its models and voices. Data only, kept in this one place; availability
//! comes from the configured credentials (the sandbox is always available).

use serde::Serialize;

use crate::config::ProviderSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Llm,
    Tts,
    Stt,
    S2s,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Llm, Kind::Tts, Kind::Stt, Kind::S2s];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Llm => "llm",
            Kind::Tts => "tts",
            Kind::Stt => "stt",
            Kind::S2s => "s2s",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub id: &'static str,
    pub name: &'static str,
    /// What the model does: `llm`, `tts`, `s2s` (STT models are listed separately).
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    pub supports_tools: bool,
    /// Dated snapshots of the model the provider also answers to (accepted as this model;
    /// any `{id}-YYYY-MM-DD` or `{id}-YYYYMMDD` is, too).
    #[serde(skip_serializing_if = "<[Alias]>::is_empty")]
    pub aliases: &'static [Alias],
}

/// A dated snapshot of a model.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    pub id: &'static str,
    /// The provider deprecated this snapshot (it still works until the provider retires it).
    pub deprecated: bool,
}

const fn alias(id: &'static str) -> Alias {
    Alias { id, deprecated: false }
}

const fn deprecated(id: &'static str) -> Alias {
    Alias { id, deprecated: true }
}

/// `id` is `family` followed by a snapshot date (`-2024-12-17` or `-20241022`).
fn is_dated(id: &str, family: &str) -> bool {
    let Some(date) = id.strip_prefix(family).and_then(|d| d.strip_prefix('-')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match date.len() {
        8 => digits(date),
        10 => {
            let parts: Vec<&str> = date.split('-').collect();
            parts.len() == 3 && parts.iter().map(|p| p.len()).eq([4, 2, 2]) && parts.iter().all(|p| digits(p))
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Voice {
    pub id: &'static str,
    pub name: &'static str,
    pub gender: &'static str,
    pub language: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SttModel {
    pub id: &'static str,
    pub name: &'static str,
    pub languages: &'static [&'static str],
    pub streaming: bool,
}

/// Which configured credential makes a provider available.
#[derive(Debug, Clone, Copy)]
pub enum Credential {
    Always,
    OpenAi,
    Anthropic,
    Groq,
    ElevenLabs,
    Cartesia,
    Deepgram,
}

#[derive(Debug)]
pub struct Provider {
    pub id: &'static str,
    pub name: &'static str,
    pub kinds: &'static [Kind],
    pub credential: Credential,
    /// The settings key that makes it available, for error messages and preflight actions.
    pub config_key: &'static str,
    pub models: &'static [Model],
    pub voices: &'static [Voice],
    pub stt_models: &'static [SttModel],
}

impl Provider {
    pub fn is_sandbox(&self) -> bool {
        matches!(self.credential, Credential::Always)
    }

    pub fn available(&self, settings: &ProviderSettings) -> bool {
        match self.credential {
            Credential::Always => true,
            Credential::OpenAi => settings.openai.configured(),
            Credential::Anthropic => settings.anthropic.configured(),
            Credential::Groq => settings.groq.configured(),
            Credential::ElevenLabs => settings.elevenlabs.configured(),
            Credential::Cartesia => settings.cartesia.configured(),
            Credential::Deepgram => settings.deepgram.configured(),
        }
    }

    pub fn has(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn models_of(&self, kind: Kind) -> impl Iterator<Item = &'static Model> {
        self.models.iter().filter(move |m| m.kind == kind)
    }

    /// The model `id` names (its own id, an alias or a dated snapshot); an exact id wins
    /// over a dated snapshot of a shorter family (`gpt-4o-mini` is not `gpt-4o`'s).
    pub fn model(&self, kind: Kind, id: &str) -> Option<&'static Model> {
        let mut of_kind = self.models.iter().filter(|m| m.kind == kind);
        of_kind
            .clone()
            .find(|m| m.id == id || m.aliases.iter().any(|a| a.id == id))
            .or_else(|| of_kind.find(|m| is_dated(id, m.id)))
    }

    pub fn voice(&self, id: &str) -> Option<&'static Voice> {
        self.voices.iter().find(|v| v.id == id)
    }

    pub fn default_model(&self, kind: Kind) -> Option<&'static str> {
        self.models_of(kind).next().map(|m| m.id)
    }
}

const fn llm(id: &'static str, name: &'static str, context_window: u32) -> Model {
    Model {
        id,
        name,
        kind: Kind::Llm,
        context_window: Some(context_window),
        supports_tools: true,
        aliases: &[],
    }
}

const fn with_aliases(model: Model, aliases: &'static [Alias]) -> Model {
    Model { aliases, ..model }
}

const fn tts(id: &'static str, name: &'static str) -> Model {
    Model {
        id,
        name,
        kind: Kind::Tts,
        context_window: None,
        supports_tools: false,
        aliases: &[],
    }
}

const fn s2s(id: &'static str, name: &'static str) -> Model {
    Model {
        id,
        name,
        kind: Kind::S2s,
        context_window: Some(32_000),
        supports_tools: true,
        aliases: &[],
    }
}

const fn voice(id: &'static str, name: &'static str, gender: &'static str, description: &'static str) -> Voice {
    Voice {
        id,
        name,
        gender,
        language: "en",
        description,
    }
}

const EN: &[&str] = &["en"];
const MULTI: &[&str] = &["en", "es", "fr", "de", "it", "pt", "nl", "ja", "hi"];

const OPENAI_VOICES: &[Voice] = &[
    voice("alloy", "Alloy", "neutral", "Balanced and versatile"),
    voice("ash", "Ash", "male", "Clear and precise"),
    voice("ballad", "Ballad", "male", "Melodic and smooth"),
    voice("coral", "Coral", "female", "Warm and friendly"),
    voice("echo", "Echo", "male", "Resonant and calm"),
    voice("sage", "Sage", "female", "Calm and thoughtful"),
    voice("shimmer", "Shimmer", "female", "Bright and energetic"),
    voice("verse", "Verse", "male", "Versatile and expressive"),
    voice("marin", "Marin", "female", "Natural, conversational"),
    voice("cedar", "Cedar", "male", "Natural, grounded"),
];

/// The sandbox voices: tone-codec "speakers" with distinct pitch offsets.
const SANDBOX_VOICES: &[Voice] = &[
    voice(
        "sandbox-alto",
        "Sandbox Alto",
        "female",
        "Deterministic tone-codec voice (lower band)",
    ),
    voice(
        "sandbox-tenor",
        "Sandbox Tenor",
        "male",
        "Deterministic tone-codec voice (upper band)",
    ),
];

pub static CATALOG: &[Provider] = &[
    Provider {
        id: "sandbox",
        name: "ThruAI Sandbox",
        kinds: &[Kind::Llm, Kind::Tts, Kind::Stt, Kind::S2s],
        credential: Credential::Always,
        config_key: "",
        models: &[
            llm("sandbox-llm", "Sandbox deterministic responder", 32_000),
            tts("sandbox-tts", "Sandbox tone codec"),
            s2s("sandbox-s2s", "Sandbox speech to speech"),
        ],
        voices: SANDBOX_VOICES,
        stt_models: &[SttModel {
            id: "sandbox-stt",
            name: "Sandbox tone decoder",
            languages: EN,
            streaming: true,
        }],
    },
    Provider {
        id: "openai",
        name: "OpenAI",
        kinds: &[Kind::Llm, Kind::Tts, Kind::Stt],
        credential: Credential::OpenAi,
        config_key: "providers.openai.api_key",
        models: &[
            with_aliases(
                llm("gpt-4o", "GPT-4o", 128_000),
                &[
                    alias("gpt-4o-2024-11-20"),
                    alias("gpt-4o-2024-08-06"),
                    deprecated("gpt-4o-2024-05-13"),
                ],
            ),
            with_aliases(
                llm("gpt-4o-mini", "GPT-4o mini", 128_000),
                &[alias("gpt-4o-mini-2024-07-18")],
            ),
            with_aliases(llm("gpt-4.1", "GPT-4.1", 1_047_576), &[alias("gpt-4.1-2025-04-14")]),
            with_aliases(
                llm("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576),
                &[alias("gpt-4.1-mini-2025-04-14")],
            ),
            with_aliases(
                llm("gpt-5-mini", "GPT-5 mini", 400_000),
                &[alias("gpt-5-mini-2025-08-07")],
            ),
            tts("gpt-4o-mini-tts", "GPT-4o mini TTS"),
            tts("tts-1", "TTS-1"),
        ],
        voices: OPENAI_VOICES,
        stt_models: &[
            SttModel {
                id: "gpt-4o-transcribe",
                name: "GPT-4o Transcribe",
                languages: MULTI,
                streaming: true,
            },
            SttModel {
                id: "gpt-4o-mini-transcribe",
                name: "GPT-4o mini Transcribe",
                languages: MULTI,
                streaming: true,
            },
            SttModel {
                id: "whisper-1",
                name: "Whisper",
                languages: MULTI,
                streaming: false,
            },
        ],
    },
    Provider {
        id: "openai-realtime",
        name: "OpenAI Realtime",
        kinds: &[Kind::S2s],
        credential: Credential::OpenAi,
        config_key: "providers.openai.api_key",
        models: &[
            with_aliases(s2s("gpt-realtime", "GPT Realtime"), &[alias("gpt-realtime-2025-08-28")]),
            with_aliases(
                s2s("gpt-realtime-mini", "GPT Realtime mini"),
                &[alias("gpt-realtime-mini-2025-10-06")],
            ),
            with_aliases(
                s2s("gpt-4o-realtime-preview", "GPT-4o Realtime (preview)"),
                &[
                    alias("gpt-4o-realtime-preview-2025-06-03"),
                    deprecated("gpt-4o-realtime-preview-2024-12-17"),
                    deprecated("gpt-4o-realtime-preview-2024-10-01"),
                ],
            ),
        ],
        voices: OPENAI_VOICES,
        stt_models: &[],
    },
    Provider {
        id: "anthropic",
        name: "Anthropic",
        kinds: &[Kind::Llm],
        credential: Credential::Anthropic,
        config_key: "providers.anthropic.api_key",
        models: &[
            with_aliases(
                llm("claude-sonnet-4-5", "Claude Sonnet 4.5", 200_000),
                &[alias("claude-sonnet-4-5-20250929")],
            ),
            with_aliases(
                llm("claude-haiku-4-5", "Claude Haiku 4.5", 200_000),
                &[alias("claude-haiku-4-5-20251001")],
            ),
            with_aliases(
                llm("claude-opus-4-1", "Claude Opus 4.1", 200_000),
                &[alias("claude-opus-4-1-20250805")],
            ),
        ],
        voices: &[],
        stt_models: &[],
    },
    Provider {
        id: "groq",
        name: "Groq",
        kinds: &[Kind::Llm, Kind::Stt],
        credential: Credential::Groq,
        config_key: "providers.groq.api_key",
        models: &[
            llm("llama-3.3-70b-versatile", "Llama 3.3 70B Versatile", 131_072),
            llm("llama-3.1-8b-instant", "Llama 3.1 8B Instant", 131_072),
        ],
        voices: &[],
        stt_models: &[
            SttModel {
                id: "whisper-large-v3-turbo",
                name: "Whisper Large v3 Turbo",
                languages: MULTI,
                streaming: false,
            },
            SttModel {
                id: "whisper-large-v3",
                name: "Whisper Large v3",
                languages: MULTI,
                streaming: false,
            },
        ],
    },
    Provider {
        id: "elevenlabs",
        name: "ElevenLabs",
        kinds: &[Kind::Tts],
        credential: Credential::ElevenLabs,
        config_key: "providers.elevenlabs.api_key",
        models: &[
            tts("eleven_flash_v2_5", "Eleven Flash v2.5"),
            tts("eleven_turbo_v2_5", "Eleven Turbo v2.5"),
            tts("eleven_multilingual_v2", "Eleven Multilingual v2"),
            tts("eleven_v3", "Eleven v3"),
        ],
        voices: &[
            voice("21m00Tcm4TlvDq8ikWAM", "Rachel", "female", "Calm, young American"),
            voice("pNInz6obpgDQGcFmaJgB", "Adam", "male", "Deep, middle-aged American"),
            voice("ErXwobaYiN019PkySvjV", "Antoni", "male", "Well-rounded, young American"),
            voice("TxGEqnHWrfWFTfGW9XjX", "Josh", "male", "Deep, young American"),
            voice("AZnzlk1XvdvUeBnXmlld", "Domi", "female", "Strong, young American"),
        ],
        stt_models: &[],
    },
    Provider {
        id: "cartesia",
        name: "Cartesia",
        kinds: &[Kind::Tts],
        credential: Credential::Cartesia,
        config_key: "providers.cartesia.api_key",
        models: &[tts("sonic-3", "Sonic 3"), tts("sonic-2", "Sonic 2")],
        voices: &[
            voice(
                "a0e99841-438c-4a64-b679-ae501e7d6091",
                "Barbershop Man",
                "male",
                "Conversational, warm",
            ),
            voice(
                "694f9389-aac1-45b6-b726-9d9369183238",
                "Sarah",
                "female",
                "Friendly, clear",
            ),
        ],
        stt_models: &[],
    },
    Provider {
        id: "deepgram",
        name: "Deepgram",
        kinds: &[Kind::Stt, Kind::Tts],
        credential: Credential::Deepgram,
        config_key: "providers.deepgram.api_key",
        models: &[tts("aura-2", "Aura 2")],
        voices: &[
            voice("aura-2-thalia-en", "Thalia", "female", "Clear, confident"),
            voice("aura-2-orion-en", "Orion", "male", "Approachable, calm"),
        ],
        stt_models: &[
            SttModel {
                id: "nova-3",
                name: "Nova 3",
                languages: MULTI,
                streaming: true,
            },
            SttModel {
                id: "nova-2",
                name: "Nova 2",
                languages: MULTI,
                streaming: true,
            },
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Provider> {
    CATALOG.iter().find(|p| p.id == id)
}

/// Ids of the providers offering `kind`, for validation messages.
pub fn ids_for(kind: Kind) -> Vec<&'static str> {
    CATALOG.iter().filter(|p| p.has(kind)).map(|p| p.id).collect()
}

/// The provider of `kind` offering `model` and `voice` (either may be absent): `preferred`
/// when it does, else the first provider of the catalogue that does, configured or not (a
/// client asking for `gpt-realtime` and `alloy` gets OpenAI Realtime); `preferred` when
/// none does (validation then names what is unknown).
pub fn offering(
    kind: Kind,
    model: Option<&str>,
    voice: Option<&str>,
    preferred: &'static Provider,
) -> &'static Provider {
    let offers = |p: &Provider| {
        p.has(kind) && model.is_none_or(|m| p.model(kind, m).is_some()) && voice.is_none_or(|v| p.voice(v).is_some())
    };
    if offers(preferred) {
        return preferred;
    }
    CATALOG.iter().find(|p| offers(p)).unwrap_or(preferred)
}

/// The preferred provider for `kind`: the first configured real one, else the sandbox.
pub fn default_for(kind: Kind, settings: &ProviderSettings) -> &'static Provider {
    let preferred: &[&str] = match kind {
        Kind::S2s => &["openai-realtime"],
        Kind::Llm => &["openai", "anthropic", "groq"],
        Kind::Tts => &["elevenlabs", "cartesia", "openai", "deepgram"],
        Kind::Stt => &["deepgram", "openai", "groq"],
    };
    preferred
        .iter()
        .filter_map(|id| find(id))
        .find(|p| p.available(settings))
        .unwrap_or(&CATALOG[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_models_match_their_kinds() {
        let mut ids: Vec<_> = CATALOG.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        for p in CATALOG {
            for m in p.models {
                assert!(p.has(m.kind), "{} {}", p.id, m.id);
            }
            assert_eq!(p.has(Kind::Stt), !p.stt_models.is_empty(), "{}", p.id);
        }
        assert!(find("sandbox").is_some_and(Provider::is_sandbox));
    }

    #[test]
    fn the_provider_offering_a_model_and_voice_is_found() {
        let sandbox = find("sandbox").unwrap();
        assert_eq!(
            offering(Kind::S2s, Some("gpt-realtime"), Some("alloy"), sandbox).id,
            "openai-realtime"
        );
        assert_eq!(offering(Kind::S2s, None, Some("alloy"), sandbox).id, "openai-realtime");
        assert_eq!(offering(Kind::S2s, None, None, sandbox).id, "sandbox");
        assert_eq!(offering(Kind::S2s, Some("no-such-model"), None, sandbox).id, "sandbox");
    }

    #[test]
    fn dated_snapshots_are_their_family() {
        let realtime = find("openai-realtime").unwrap();
        let m = realtime.model(Kind::S2s, "gpt-4o-realtime-preview-2024-12-17").unwrap();
        assert_eq!(m.id, "gpt-4o-realtime-preview");
        assert!(
            m.aliases
                .iter()
                .any(|a| a.id == "gpt-4o-realtime-preview-2024-12-17" && a.deprecated)
        );
        assert_eq!(
            realtime.model(Kind::S2s, "gpt-realtime-2026-01-15").unwrap().id,
            "gpt-realtime"
        );
        let openai = find("openai").unwrap();
        assert_eq!(
            openai.model(Kind::Llm, "gpt-4o-mini-2024-07-18").unwrap().id,
            "gpt-4o-mini"
        );
        assert_eq!(openai.model(Kind::Llm, "gpt-4o-2025-01-31").unwrap().id, "gpt-4o");
        let anthropic = find("anthropic").unwrap();
        assert_eq!(
            anthropic.model(Kind::Llm, "claude-sonnet-4-5-20250929").unwrap().id,
            "claude-sonnet-4-5"
        );
        for bad in ["gpt-4o-latest-x", "gpt-4o-2024-1-17", "gpt-4o-20241", "gpt-4o-"] {
            assert!(openai.model(Kind::Llm, bad).is_none(), "{bad}");
        }
    }
}
