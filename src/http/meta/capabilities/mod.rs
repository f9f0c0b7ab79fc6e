//! `GET /capabilities` (no auth): what this server can do right now — endpoints and their
//! scopes (from the route table), the provider matrix (from the catalogue and the
//! configured credentials), pipeline modes, features, limits, compatibility and roadmap.
//! The policies (limits, compatibility, autonomous mode) live in `policies.rs`.

pub mod policies;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, http::Method, web};
use policies::{AutonomousMode, LimitsOut, MetadataCompatibility, autonomous_mode, limits, metadata_compatibility};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::discovery::CONTRACT_META;
use crate::{
    http::core::{
        envelope::{self, Sorted},
        route_spec::RouteSpec,
        routes,
    },
    providers::catalog::{self, Kind},
    state::AppState,
};

/// Default page size and maximum, as applied by every list.
pub(super) const PAGE_SIZE_DEFAULT: u64 = 50;
pub(super) const PAGE_SIZE_MAX: u64 = 100;

/// An operation, as capabilities list it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointCapability {
    pub operation: String,
    pub method: String,
    /// As served: the base path included, unless served at the root.
    pub path: String,
    pub domain: String,
    pub auth: bool,
    pub required_scope: Option<String>,
    pub safe: bool,
    /// Honours `Idempotency-Key`.
    pub idempotency_key: bool,
    /// `available`.
    pub status: String,
}

fn endpoints() -> Vec<EndpointCapability> {
    routes::table()
        .iter()
        .map(|s| EndpointCapability {
            operation: s.operation.into(),
            method: s.method.to_string(),
            path: s.full_path(),
            domain: s.domain.into(),
            auth: s.auth,
            required_scope: s.permission.map(str::to_string),
            safe: s.safe(),
            idempotency_key: s.idempotent(),
            status: "available".into(),
        })
        .collect()
}

/// Every scope, with the operations it unlocks.
fn scopes() -> BTreeMap<String, Vec<String>> {
    crate::auth::ALL_SCOPES
        .iter()
        .map(|scope| {
            let ops = routes::table()
                .iter()
                .filter(|s| s.permission == Some(*scope))
                .map(|s| s.operation.to_string())
                .collect();
            ((*scope).to_string(), ops)
        })
        .collect()
}

/// A feature: a contract domain, or something of this server.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FeatureOut {
    /// `available` or `planned`.
    pub status: String,
    pub description: String,
}

/// A contract domain is available once any of its routes is served; the rest are planned.
fn features() -> BTreeMap<String, FeatureOut> {
    let served: BTreeSet<&str> = routes::table().iter().map(|s| s.domain).collect();
    let mut map = BTreeMap::new();
    let feature = |status: &str, description: &str| FeatureOut {
        status: status.into(),
        description: description.into(),
    };
    if let Some(domains) = CONTRACT_META["domains"].as_object() {
        for (name, d) in domains {
            let status = if served.contains(name.as_str()) {
                "available"
            } else {
                "planned"
            };
            map.insert(
                name.clone(),
                feature(status, d["description"].as_str().unwrap_or_default()),
            );
        }
    }
    for (name, status, description) in [
        (
            "mcp",
            "available",
            "Model Context Protocol server: POST /mcp (Streamable HTTP) and `thruai mcp` (stdio)",
        ),
        (
            "openapi",
            "available",
            "OpenAPI 3.1 document at /openapi.json, interactive reference at /reference",
        ),
        ("metrics", "available", "Prometheus metrics at /metrics"),
        ("idempotency", "available", "Idempotency-Key on every mutating endpoint"),
        (
            "sandbox",
            "available",
            "Deterministic sandbox providers when no credentials are configured",
        ),
    ] {
        map.insert(name.into(), feature(status, description));
    }
    map
}

/// A provider's status in the matrix.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatusOut {
    pub id: String,
    /// Catalogue providers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `configured`, `not_configured` or `sandbox`.
    pub status: String,
    /// What to configure to use it: absent where nothing can be, null for the sandbox.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::core::validation::double_option"
    )]
    pub config_key: Option<Option<String>>,
    /// How an organisation brings its own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byoc: Option<String>,
    /// Where to see what the sandbox did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect: Option<String>,
}

/// One kind of provider: which is used by default and in which mode.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderMatrixOut {
    /// `configured` or `sandbox`.
    pub mode: String,
    pub default: String,
    pub providers: Vec<ProviderStatusOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn status_of(id: &str, status: &str) -> ProviderStatusOut {
    ProviderStatusOut {
        id: id.into(),
        name: None,
        status: status.into(),
        config_key: None,
        byoc: None,
        inspect: None,
    }
}

fn providers(state: &AppState) -> BTreeMap<String, ProviderMatrixOut> {
    let settings = &state.settings.providers;
    let mut matrix = BTreeMap::new();
    let mode = |sandbox: bool| if sandbox { "sandbox" } else { "configured" }.to_string();
    for kind in Kind::ALL {
        let list = catalog::CATALOG
            .iter()
            .filter(|p| p.has(kind))
            .map(|p| {
                let configured = p.available(settings) && !p.is_sandbox();
                let status = if p.is_sandbox() {
                    "sandbox"
                } else if configured {
                    "configured"
                } else {
                    "not_configured"
                };
                ProviderStatusOut {
                    name: Some(p.name.into()),
                    config_key: Some((!p.is_sandbox()).then(|| p.config_key.to_string())),
                    ..status_of(p.id, status)
                }
            })
            .collect();
        let default = catalog::default_for(kind, settings);
        matrix.insert(
            kind.as_str().into(),
            ProviderMatrixOut {
                mode: mode(default.is_sandbox()),
                default: default.id.into(),
                providers: list,
                note: None,
            },
        );
    }
    let twilio = settings.twilio.configured();
    matrix.insert(
        "telephony".into(),
        ProviderMatrixOut {
            mode: mode(!twilio),
            default: if twilio { "twilio" } else { "sandbox" }.into(),
            providers: vec![
                ProviderStatusOut {
                    config_key: Some(Some("providers.twilio.account_sid".into())),
                    byoc: Some("Organisations may bring their own Twilio account: PUT /telephony/credentials".into()),
                    ..status_of("twilio", if twilio { "configured" } else { "not_configured" })
                },
                status_of("sandbox", "sandbox"),
            ],
            note: None,
        },
    );
    let email_sandbox = state.email_is_sandbox();
    matrix.insert(
        "email".into(),
        ProviderMatrixOut {
            mode: mode(email_sandbox),
            default: if email_sandbox { "sandbox" } else { "resend" }.into(),
            providers: vec![
                ProviderStatusOut {
                    config_key: Some(Some("email.resend_api_key".into())),
                    ..status_of("resend", if email_sandbox { "not_configured" } else { "configured" })
                },
                ProviderStatusOut {
                    inspect: Some("GET /api/v1/public/_debug/sandbox/outbox?to=EMAIL (with email.sandbox_outbox on, from this machine only)".into()),
                    ..status_of("sandbox", "sandbox")
                },
            ],
            note: None,
        },
    );
    matrix.insert(
        "payment".into(),
        ProviderMatrixOut {
            mode: "sandbox".into(),
            default: "sandbox".into(),
            providers: vec![status_of("stripe", "not_configured"), status_of("sandbox", "sandbox")],
            note: Some("Billing endpoints are not served yet (features.billing)".into()),
        },
    );
    matrix
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NoiseReductionDefault {
    pub noise_reduction: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S2sDefaults {
    pub s2s_provider: String,
    pub s2s_model: Option<String>,
    pub s2s_config: NoiseReductionDefault,
}

/// An enumerated setting: its default and every value (null: off).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SettingValues {
    pub default: String,
    pub values: Vec<Option<String>>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S2sMode {
    pub description: String,
    pub defaults: S2sDefaults,
    pub noise_reduction: SettingValues,
    /// The agent fields this mode reads.
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TraditionalDefaults {
    pub stt_provider: String,
    pub llm_provider: String,
    pub llm_model: Option<String>,
    pub tts_provider: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TraditionalMode {
    pub description: String,
    pub defaults: TraditionalDefaults,
    /// The agent fields this mode reads.
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PipelineModes {
    pub s2s: S2sMode,
    pub traditional: TraditionalMode,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PipelineModesOut {
    /// `s2s`.
    pub default: String,
    pub modes: PipelineModes,
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// `near_field`, `far_field` or null (off).
pub(super) fn noise_reduction_values() -> Vec<Option<String>> {
    vec![Some("near_field".into()), Some("far_field".into()), None]
}

fn pipeline_modes(state: &AppState) -> PipelineModesOut {
    let settings = &state.settings.providers;
    let s2s = catalog::default_for(Kind::S2s, settings);
    let llm = catalog::default_for(Kind::Llm, settings);
    let stt = catalog::default_for(Kind::Stt, settings);
    let tts = catalog::default_for(Kind::Tts, settings);
    PipelineModesOut {
        default: "s2s".into(),
        modes: PipelineModes {
            s2s: S2sMode {
                description: "One speech-to-speech model hears and speaks (g711 μ-law over the media stream)".into(),
                defaults: S2sDefaults {
                    s2s_provider: s2s.id.into(),
                    s2s_model: s2s.default_model(Kind::S2s).map(str::to_string),
                    s2s_config: NoiseReductionDefault {
                        noise_reduction: "near_field".into(),
                    },
                },
                noise_reduction: SettingValues {
                    default: "near_field".into(),
                    values: noise_reduction_values(),
                },
                fields: strings(&[
                    "s2sProvider",
                    "s2sModel",
                    "s2sVoice",
                    "s2sConfig",
                    "s2sTurnDetection",
                    "interruptionSettings",
                ]),
            },
            traditional: TraditionalMode {
                description: "Speech-to-text, then an LLM, then text-to-speech, each chosen separately".into(),
                defaults: TraditionalDefaults {
                    stt_provider: stt.id.into(),
                    llm_provider: llm.id.into(),
                    llm_model: llm.default_model(Kind::Llm).map(str::to_string),
                    tts_provider: tts.id.into(),
                },
                fields: strings(&["sttConfig", "llmConfig", "voiceConfig", "interruptionSettings"]),
            },
        },
    }
}

/// A contract domain this server does not serve yet.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFeature {
    pub feature: String,
    pub description: String,
    /// `planned`.
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Roadmap {
    pub api_version: String,
    pub planned: Vec<PlannedFeature>,
    /// Announced deprecations (none yet).
    pub deprecations: Vec<Value>,
    pub policy: String,
}

fn roadmap() -> Roadmap {
    let served: BTreeSet<&str> = routes::table().iter().map(|s| s.domain).collect();
    let planned = CONTRACT_META["domains"]
        .as_object()
        .map(|d| {
            d.iter()
                .filter(|(name, _)| !served.contains(name.as_str()))
                .map(|(name, d)| PlannedFeature {
                    feature: name.clone(),
                    description: d["description"].as_str().unwrap_or_default().to_string(),
                    status: "planned".into(),
                })
                .collect()
        })
        .unwrap_or_default();
    Roadmap {
        api_version: envelope::API_VERSION.into(),
        planned,
        deprecations: Vec::new(),
        policy: "Deprecations are announced here and in the changelog at least 90 days before removal; removed fields keep answering VALIDATION_ERROR naming the replacement".into(),
    }
}

/// `GET /capabilities`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesOut {
    pub version: String,
    /// Telephony or e-mail runs on the sandbox.
    pub sandbox: bool,
    pub endpoints: Vec<EndpointCapability>,
    /// Every scope, with the operations it unlocks.
    pub scopes: BTreeMap<String, Vec<String>>,
    /// Keyed by kind: `llm`, `tts`, `stt`, `s2s`, `telephony`, `email`, `payment`.
    pub providers: BTreeMap<String, ProviderMatrixOut>,
    pub pipeline_modes: PipelineModesOut,
    /// Keyed by feature: the contract's domains and this server's own.
    pub features: BTreeMap<String, FeatureOut>,
    pub limits: LimitsOut,
    pub metadata_compatibility: MetadataCompatibility,
    pub autonomous_mode: AutonomousMode,
    pub roadmap: Roadmap,
}

pub fn capabilities_value(state: &AppState) -> CapabilitiesOut {
    CapabilitiesOut {
        version: envelope::API_VERSION.into(),
        sandbox: state.email_is_sandbox() || !state.settings.providers.twilio.configured(),
        endpoints: endpoints(),
        scopes: scopes(),
        providers: providers(state),
        pipeline_modes: pipeline_modes(state),
        features: features(),
        limits: limits(state),
        metadata_compatibility: metadata_compatibility(),
        autonomous_mode: autonomous_mode(),
        roadmap: roadmap(),
    }
}

pub async fn capabilities(state: web::Data<AppState>) -> HttpResponse {
    envelope::ok(&Sorted(capabilities_value(&state)))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/capabilities",
            "discovery",
            "get_capabilities",
            "Machine-readable capability discovery: endpoint availability, provider matrix, pipeline modes, feature status, required scopes, and operational limits",
            |r| r.to(capabilities),
        )
        .public()
        .returns::<CapabilitiesOut>(),
    ]
}
